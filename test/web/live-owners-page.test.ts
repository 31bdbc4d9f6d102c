// The scan-watch page's owners and threat lists in a real browser (Debian chromium driven by
// playwright-core) against the real web app listening on port 0, with a real Tracker and LiveHub
// fed by synthetic packets that carry what the owner and threat-list enrichers give them (AS,
// organisation, cloud range, lists): who holds each source in the top sources and the live rows,
// the list badges as a live filter (the stream's `list` field and /api/sources?list=), the header's
// threat lists figure with a list in use, one whose newest file cannot be read and one never loaded,
// every data credit in the footer, and the layout at 1280×720 and 1920×1080 with all of it shown.
// Leaves screenshots in test/artifacts/: owners-1280x720.png, owners-1920x1080.png.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import type { ThreatListStats } from '../../src/enrich/threat-lists.js';
import type { OwnerInfo, PacketEvent } from '../../src/pipeline/types.js';
import { buildApp } from '../../src/web/app.js';
import type { LiveHub } from '../../src/web/stream.js';
import { deps, hub, packet, sleep, webConfig } from './helpers.js';
import { AUDIT_LAYOUT, RECORD_CANVAS_TEXT } from './page-audit.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const TOKEN = 'owners-page-token-0123456789';
const XSS = '<img src=x onerror=alert(1)>';
const MINUTE = 60_000;

/** The credits the page is given: the bundled GeoIP database's and the bundled AS data's. */
const CREDITS = [
  { text: 'IP Geolocation by DB-IP (CC BY 4.0)', url: 'https://db-ip.com' },
  { text: 'AS data by RouteViews, DB-IP and NRO (CC BY 4.0)', url: 'https://db-ip.com' },
];

/** The live table's owner cells of the actors below. */
const CN_OWNER = 'firehol_level1 spamhaus_drop AS4134 CHINANET-BACKBONE N…';
const US_OWNER = 'firehol_level1 AS16509 AMAZON-02 aws/us-east-1/EC2';
const ODD_OWNER = `AS64496 ${XSS.slice(0, 19)}… x/${XSS}`;

const ENOENT = "ENOENT: no such file or directory, open '/var/lib/nfwatch/lists/spamhaus_drop.txt'";

interface Actor {
  src: string;
  country: string;
  owner: OwnerInfo | null;
  listed: readonly string[];
  /** Destination ports probed round robin (many: a scan). */
  ports: number;
  window: number;
}

const ACTORS: Actor[] = [
  // On two lists; an organisation name longer than a row shows.
  { src: '203.0.113.7', country: 'CN', owner: { asn: 4134, org: 'CHINANET-BACKBONE No.31,Jin-rong Street', cloud: '' }, listed: ['firehol_level1', 'spamhaus_drop'], ports: 40, window: 16384 },
  // In a cloud range, on one list.
  { src: '198.51.100.9', country: 'US', owner: { asn: 16509, org: 'AMAZON-02', cloud: 'aws/us-east-1/EC2' }, listed: ['firehol_level1'], ports: 12, window: 1024 },
  // Strings from data files are text, never markup.
  { src: '192.0.2.66', country: 'NL', owner: { asn: 64496, org: XSS, cloud: `x/${XSS}` }, listed: [], ports: 3, window: 65535 },
  // Nobody known, on no list.
  { src: '198.51.100.20', country: 'DE', owner: null, listed: [], ports: 1, window: 64240 },
];

describe('scan-watch page: owners and threat lists in chromium', () => {
  let app: Awaited<ReturnType<typeof buildApp>>;
  let liveHub: LiveHub;
  let context: BrowserContext;
  let page: Page;
  let profile = '';
  let base = '';
  let feeding = true;
  let feedLoop: Promise<void> = Promise.resolve();
  const pageErrors: string[] = [];
  const dialogs: string[] = [];
  /** Frames the page sent on the stream and the hellos it got, parsed. */
  const sent: Array<Record<string, unknown>> = [];
  const hellos: Array<Record<string, unknown>> = [];
  /** What deps.lists() answers (a test empties it). */
  let lists: ThreatListStats[] = [];

  const subscribes = () => sent.filter((f) => f['type'] === 'subscribe').map((f) => f['filter']);
  const ownCells = () => page.locator('#events tbody td.own').allTextContents();
  const sourceAddresses = async () => (await page.locator('#sources tbody tr .addr-line > span:first-child').allTextContents()).sort();
  const pointerAway = () => page.mouse.move(5, 5);
  const attributes = async (nodes: Locator, name: string) => Promise.all((await nodes.all()).map((n) => n.getAttribute(name)));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    const config = webConfig({ token: TOKEN });
    const d = deps(config);
    const tracker = d.tracker!;
    const now = Date.now();
    lists = [
      { name: 'firehol_level1', path: '/var/lib/nfwatch/lists/firehol_level1.netset', format: 'netset', entries: 4532, addresses: 1_234_567, loadedAt: now - 5 * MINUTE, badLines: 0, error: '' },
      { name: 'spamhaus_drop', path: '/var/lib/nfwatch/lists/spamhaus_drop.txt', format: 'netset', entries: 1200, addresses: 9_000_000, loadedAt: now - 120 * MINUTE, badLines: 3, error: ENOENT },
      { name: 'tor_exits', path: '/var/lib/nfwatch/lists/tor_exits.txt', format: '', entries: 0, addresses: 0, loadedAt: 0, badLines: 0, error: '' },
    ];
    // Packets from sources on each list in closed intervals (what /api/summary counts per list).
    const a = emptyAggregate(now - 10_000, 10_000);
    a.lists.set('firehol_level1', 312);
    a.lists.set('spamhaus_drop', 40);
    d.history.add(a);

    let round = 0;
    const events = (time: number): PacketEvent[] =>
      ACTORS.map((actor, i) => {
        const e = packet({ src: actor.src, dport: 1000 + ((round + i) % actor.ports), time: time + i, country: actor.country, window: actor.window });
        e.owner = actor.owner;
        e.listed = actor.listed;
        return e;
      });
    for (let t = now - 20_000; t < now; t += 250, round++) for (const e of events(t)) tracker.observe(e);

    liveHub = hub(config);
    app = await buildApp({ ...d, geoCredits: () => CREDITS, lists: () => lists }, liveHub);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    base = `http://127.0.0.1:${address.port}`;

    // Live: a packet from every actor every 150 ms (bounded even if a test hangs).
    feedLoop = (async () => {
      const stop = Date.now() + 180_000;
      while (feeding && Date.now() < stop) {
        for (const e of events(Date.now())) {
          tracker.observe(e);
          liveHub.publish(e);
        }
        round++;
        await sleep(150);
      }
    })();

    profile = mkdtempSync(join(tmpdir(), 'nfwatch-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 900 },
    });
    await context.addInitScript(RECORD_CANVAS_TEXT);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => {
        if (typeof f.payload === 'string') sent.push(JSON.parse(f.payload) as Record<string, unknown>);
      });
      ws.on('framereceived', (f) => {
        if (typeof f.payload !== 'string') return;
        const frame = JSON.parse(f.payload) as Record<string, unknown>;
        if (frame['type'] === 'hello') hellos.push(frame);
      });
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.goto(`${base}/?token=${TOKEN}`);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
  });

  afterAll(async () => {
    feeding = false;
    await feedLoop;
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await liveHub?.close();
    await app?.close();
  });

  it('shows who holds each top source, its cloud range and its lists as badges', async () => {
    await expect.poll(sourceAddresses, { timeout: 10_000 }).toEqual(ACTORS.map((a) => a.src).sort());
    const row = (src: string) => page.locator('#sources tbody tr', { has: page.locator('.addr-line', { hasText: src }) });

    const amazon = row('198.51.100.9').locator('.owner-line');
    expect(await amazon.locator('.owner').textContent()).toBe('AS16509 AMAZON-02');
    expect(await amazon.locator('.cloud').textContent()).toBe('aws/us-east-1/EC2');
    expect(await amazon.locator('.lb').allTextContents()).toEqual(['firehol_level1']);
    expect(await amazon.isVisible()).toBe(true);

    // A long organisation is shortened; its full name is in the title (the owner's and the cell's).
    const china = row('203.0.113.7');
    const owner = china.locator('.owner-line .owner');
    expect(await owner.textContent()).toBe('AS4134 CHINANET-BACKBONE N…');
    expect(await owner.getAttribute('title')).toBe('AS4134 CHINANET-BACKBONE No.31,Jin-rong Street');
    expect(await china.locator('td.stack').getAttribute('title')).toContain('AS4134 CHINANET-BACKBONE No.31,Jin-rong Street · on firehol_level1, spamhaus_drop');
    expect(await china.locator('.owner-line .lb').allTextContents()).toEqual(['firehol_level1', 'spamhaus_drop']);

    // Organisation and cloud label from a data file are text.
    const odd = row('192.0.2.66').locator('.owner-line');
    expect(await odd.locator('.owner').textContent()).toBe(`AS64496 ${XSS.slice(0, 19)}…`);
    expect(await odd.locator('.owner').getAttribute('title')).toBe(`AS64496 ${XSS}`);
    expect(await odd.locator('.cloud').textContent()).toBe(`x/${XSS}`);
    // Nobody known, on no list: no owner line.
    expect(await row('198.51.100.20').locator('.owner-line').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
  });

  it('shows the owner and list badges in the live rows', async () => {
    await expect.poll(() => page.locator('#events tbody tr').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(8);
    expect(new Set(await ownCells())).toEqual(new Set([CN_OWNER, US_OWNER, ODD_OWNER, '']));
    const amazon = page.locator('#events tbody tr', { hasText: '198.51.100.9' }).first().locator('td.own');
    expect(await amazon.getAttribute('title')).toBe('AS16509 AMAZON-02 · cloud aws/us-east-1/EC2 · on firehol_level1');
    expect(await amazon.locator('.lb').isVisible()).toBe(true);
    expect(await page.locator('img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('filters the live view by a list when a badge in a live row is clicked, with a chip, and the top sources too', async () => {
    const before = subscribes().length;
    await page.locator('#events tbody tr', { hasText: '198.51.100.9' }).first().locator('td.own .lb', { hasText: 'firehol_level1' }).click();
    await pointerAway();
    await expect.poll(() => subscribes().slice(before), { timeout: 5_000 }).toEqual([{ list: 'firehol_level1' }]);
    // The server took it: its hello echoes the filter in force.
    await expect.poll(() => hellos.at(-1)?.['filter'], { timeout: 5_000 }).toEqual({ list: 'firehol_level1' });
    const chip = page.locator('#chips .chip[data-field="list"]');
    expect(await chip.locator('.chip-k').textContent()).toBe('list');
    expect(await chip.locator('.chip-v').textContent()).toBe('firehol_level1');
    expect(await chip.locator('a.inv-link').getAttribute('href')).toBe('/investigate?list=firehol_level1');
    // Only rows of the two sources on that list, in the live table and among the top sources.
    await expect.poll(async () => new Set(await ownCells()), { timeout: 5_000 }).toEqual(new Set([CN_OWNER, US_OWNER]));
    await expect.poll(sourceAddresses, { timeout: 5_000 }).toEqual(['198.51.100.9', '203.0.113.7']);
    expect(await page.locator('#sources-hint').textContent()).toBe('by scan severity · on firehol_level1');
  });

  it('clears the list filter when its chip is removed', async () => {
    const before = subscribes().length;
    await page.locator('#chips .chip[data-field="list"] .chip-x').click();
    await pointerAway();
    await expect.poll(() => subscribes().slice(before), { timeout: 5_000 }).toEqual([{}]);
    await expect.poll(() => hellos.at(-1)?.['filter'], { timeout: 5_000 }).toEqual({});
    expect(await page.locator('#chips .chip').count()).toBe(0);
    await expect.poll(async () => new Set(await ownCells()), { timeout: 5_000 }).toEqual(new Set([CN_OWNER, US_OWNER, ODD_OWNER, '']));
    await expect.poll(sourceAddresses, { timeout: 5_000 }).toEqual(ACTORS.map((a) => a.src).sort());
    expect(await page.locator('#sources-hint').textContent()).toBe('by scan severity');
  });

  it('filters by a list from a badge in the top sources too', async () => {
    const before = subscribes().length;
    await page.locator('#sources tbody tr', { has: page.locator('.addr-line', { hasText: '198.51.100.9' }) }).locator('.owner-line .lb').click();
    await pointerAway();
    await expect.poll(() => subscribes().slice(before), { timeout: 5_000 }).toEqual([{ list: 'firehol_level1' }]);
    expect(await page.locator('#chips .chip[data-field="list"] .chip-v').textContent()).toBe('firehol_level1');
    await page.locator('#chips .chip[data-field="list"] .chip-x').click();
    await expect.poll(() => subscribes().slice(before), { timeout: 5_000 }).toEqual([{ list: 'firehol_level1' }, {}]);
  });

  it('shows each threat list in the header: entries, packets from listed sources, when loaded, and problems', async () => {
    const figure = page.locator('#lists-fig');
    await figure.waitFor({ state: 'visible', timeout: 5_000 });
    const item = (name: string) => figure.locator(`.lf-i[data-list="${name}"]`);
    // Problems first: the list whose newest file cannot be read, the list never loaded.
    expect(await attributes(figure.locator('.lf-i'), 'data-list')).toEqual(['spamhaus_drop', 'tor_exits', 'firehol_level1']);

    const ok = item('firehol_level1');
    expect(await ok.textContent()).toMatch(/^firehol_level1 312 pkts · 4532 entries · [56]m ago$/);
    expect(await ok.getAttribute('class')).toBe('lf-i');
    const title = (await ok.getAttribute('title')) ?? '';
    expect(title).toContain('threat list firehol_level1: 4532 entries covering 1234567 addresses');
    expect(title).toContain('312 packets from sources on it since start');

    const broken = item('spamhaus_drop');
    expect(await broken.getAttribute('class')).toBe('lf-i warn');
    expect(await broken.textContent()).toBe(`⚠ spamhaus_drop 40 pkts · 1200 entries · 2h ago · ${ENOENT}`);
    expect(await broken.locator('.lf-at').textContent()).toBe('2h ago');
    expect(await broken.locator('.lf-err').isVisible()).toBe(true);
    expect(await broken.getAttribute('title')).toContain(`its newest file is not in use: ${ENOENT}`);
    expect(await broken.getAttribute('title')).toContain('3 lines not understood');

    const never = item('tor_exits');
    expect(await never.getAttribute('class')).toBe('lf-i warn');
    expect(await never.textContent()).toBe('⚠ tor_exits 0 pkts · 0 entries · not loaded');

    // The warning colour, not the plain one.
    const colour = (name: string) => page.evaluate(`getComputedStyle(document.querySelector('#lists-fig .lf-i[data-list="${name}"]')).color`);
    expect(await colour('spamhaus_drop')).not.toBe(await colour('firehol_level1'));
    expect(await colour('tor_exits')).toBe(await colour('spamhaus_drop'));
  });

  it('filters by a list from the figure too', async () => {
    const before = subscribes().length;
    await page.locator('#lists-fig .lf-i[data-list="spamhaus_drop"] .lf-name').click();
    await pointerAway();
    await expect.poll(() => subscribes().slice(before), { timeout: 5_000 }).toEqual([{ list: 'spamhaus_drop' }]);
    await expect.poll(async () => new Set(await ownCells()), { timeout: 5_000 }).toEqual(new Set([CN_OWNER]));
    await expect.poll(sourceAddresses, { timeout: 5_000 }).toEqual(['203.0.113.7']);
    await page.locator('#chips .chip[data-field="list"] .chip-x').click();
    await expect.poll(() => subscribes().slice(before), { timeout: 5_000 }).toEqual([{ list: 'spamhaus_drop' }, {}]);
    await expect.poll(sourceAddresses, { timeout: 5_000 }).toEqual(ACTORS.map((a) => a.src).sort());
  });

  it('credits every data source it is given, each link whole and on screen', async () => {
    const links = page.locator('#attribution a');
    await expect.poll(() => links.allTextContents(), { timeout: 5_000 }).toEqual(CREDITS.map((c) => c.text));
    expect(await attributes(links, 'href')).toEqual(CREDITS.map((c) => c.url));
    expect(await page.evaluate(`(() => { const n = document.getElementById('attribution'); return n.scrollWidth <= n.clientWidth; })()`)).toBe(true);
  });

  for (const [width, height] of [[1280, 720], [1920, 1080]] as const) {
    it(`fits ${width}×${height} with the lists figure and the owner column shown`, async () => {
      await page.setViewportSize({ width, height });
      await pointerAway();
      await expect.poll(() => page.evaluate(AUDIT_LAYOUT), { timeout: 10_000, interval: 500 }).toEqual([]);
      // The figure sits in the header's first line: the header is no taller than without it.
      const header = (await page.locator('header.top').boundingBox())!;
      const figure = (await page.locator('#lists-fig').boundingBox())!;
      expect(figure.width).toBeGreaterThan(100);
      expect(figure.y).toBeGreaterThanOrEqual(header.y);
      expect(figure.y + figure.height).toBeLessThanOrEqual(header.y + header.height);
      expect(header.height).toBeLessThan(50);
      // Every list's name and the problem marks are in view.
      for (const name of ['spamhaus_drop', 'tor_exits', 'firehol_level1']) {
        expect(await page.locator(`#lists-fig .lf-i[data-list="${name}"] .lf-name`).isVisible()).toBe(true);
      }
      const own = (await page.locator('#events thead th', { hasText: 'lists · owner' }).boundingBox())!;
      expect(own.width).toBeGreaterThan(90);
      expect(own.x + own.width).toBeLessThanOrEqual(width);
      // Every credit is on screen.
      for (const box of await Promise.all((await page.locator('#attribution a').all()).map((a) => a.boundingBox()))) {
        expect(box!.y + box!.height).toBeLessThanOrEqual(height);
        expect(box!.x + box!.width).toBeLessThanOrEqual(width);
      }
      await page.screenshot({ path: join(ARTIFACTS, `owners-${width}x${height}.png`) });
    });
  }

  it('hides the figure when no list is configured', async () => {
    const saved = lists;
    lists = [];
    try {
      await expect.poll(() => page.locator('#lists-fig').isVisible(), { timeout: 8_000 }).toBe(false);
      expect(await page.evaluate(AUDIT_LAYOUT)).toEqual([]);
    } finally {
      lists = saved;
    }
    await expect.poll(() => page.locator('#lists-fig').isVisible(), { timeout: 8_000 }).toBe(true);
  });

  it('raised no error in the page', () => {
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
