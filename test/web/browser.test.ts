// The scan-watch page in a real browser (Debian chromium driven by playwright-core) against the
// real web app (buildApp) and a real LiveHub, fed with real ulogd lines from test/fixtures/ulogd:
// decoded by the daemon's decoder, fingerprinted by the bundled signatures, observed by a Tracker,
// published through the hub — the path a packet takes in the daemon (src/wire.ts). Blocking is on,
// with one source in the real block set of nftables-examples/firewall.nft in a network namespace
// the test makes (so it needs root, and fails saying so without it).
//
// Source addresses are rewritten into the documentation ranges (RFC 5737) and given countries by
// hand, because the fixtures were captured between two lab namespaces (198.18.0.0/15); no packet
// is sent anywhere. The feed (~200 events/s) is more than the per-client limit the test sets
// (STREAM_LIMIT), so the stream is sampled as on a firewall under a scan. Some sources carry an owner
// (AS, organisation, cloud range) and threat lists as the owner and list enrichers would give them,
// and two lists are configured, one of them failing (test/web/live-owners-page.test.ts tests those
// in detail; here they are part of the scene the layout is checked with). Leaves screenshots in
// test/artifacts/: scan-watch.png (1440×900), scan-watch-1280x720.png, scan-watch-1920x1080.png.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { decodeLine } from '../../src/decode/line.js';
import { FingerprintEnricher } from '../../src/enrich/signatures.js';
import { decodeOptions } from '../../src/wire.js';
import { noDecodeErrors, type CounterEvent, type HealthSnapshot, type IntervalAggregate, type OwnerInfo, type PacketEvent } from '../../src/pipeline/types.js';
import type { ThreatListStats } from '../../src/enrich/threat-lists.js';
import { Tracker } from '../../src/track/query.js';
import { buildApp } from '../../src/web/app.js';
import { LiveHub } from '../../src/web/stream.js';
import { NFWATCH_VERSION } from '../../src/web/version.js';
import { IntervalHistory } from '../../src/web/history.js';
import { createLogger } from '../../src/util/log.js';
import { AUDIT_LAYOUT, RECORD_CANVAS_TEXT } from './page-audit.js';
import { randomBytes } from 'node:crypto';
import { Allowlist } from '../../src/respond/allowlist.js';
import { NftBlockSet } from '../../src/respond/nft-set.js';
import { Responder } from '../../src/respond/responder.js';
import { FIREWALL_NFT, requireRoot, run, runOk } from '../e2e/lab.js';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURES = fileURLToPath(new URL('../fixtures/ulogd/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const XSS = '<img src=x onerror=alert(1)>';
/** The page is opened once with ?token= (the server sets a cookie; the page keeps it for /stream). */
const TOKEN = 'browser-test-token-0123456789';
/** Events per second the stream sends the page: below the feed's rate, so the stream is sampled. */
const STREAM_LIMIT = 120;
/** The credits the bundled GeoIP database and the bundled AS data ask for. */
const CREDITS = [
  { text: 'IP Geolocation by DB-IP (CC BY 4.0)', url: 'https://db-ip.com' },
  { text: 'AS data by RouteViews, DB-IP and NRO (CC BY 4.0)', url: 'https://db-ip.com' },
];

// ---------------------------------------------------------------------------------------------
// Traffic: real fixture lines, rewritten sources

interface Actor {
  fixture: string;
  /** Source addresses this actor's lines are sent from (one per line, round robin). */
  sources: string[];
  country: string;
  /** Lines per round (taken round robin from the fixture). */
  perRound: (round: number) => number;
  /** Rewrites of the raw JSON record before decoding. */
  patch?: (record: Record<string, unknown>) => void;
  /** Who holds the sources and the threat lists they are on (the owner and list enrichers' answers). */
  owner?: OwnerInfo;
  listed?: readonly string[];
}

const CHINANET: OwnerInfo = { asn: 4134, org: 'CHINANET-BACKBONE No.31,Jin-rong Street', cloud: '' };

const range = (prefix: string, from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);

/** The scene: a port-6000 SSH scanner campaign (window 16384), nmap, masscan, normal clients. */
const ACTORS: Actor[] = [
  { fixture: 'syn-port6000.jsonl', sources: range('203.0.113.', 10, 6), country: 'CN', perRound: (r) => (r % 7 < 3 ? 6 : 1), owner: CHINANET, listed: ['firehol_level1'] },
  { fixture: 'syn-port6000.jsonl', sources: range('203.0.113.', 40, 3), country: 'RU', perRound: (r) => (r % 5 === 0 ? 3 : 0), owner: { asn: 12389, org: 'ROSTELECOM-AS', cloud: '' } },
  { fixture: 'nmap-syn.jsonl', sources: ['198.51.100.7'], country: 'US', perRound: (r) => (r % 4 === 1 ? 11 : 2), owner: { asn: 16509, org: 'AMAZON-02', cloud: 'aws/us-east-1/EC2' }, listed: ['firehol_level1', 'blocklist_de'] },
  { fixture: 'syn-masscan.jsonl', sources: ['192.0.2.66'], country: 'NL', perRound: (r) => (r % 6 < 2 ? 8 : 1), owner: { asn: 64496, org: 'EXAMPLE-TRANSIT', cloud: '' }, listed: ['blocklist_de'] },
  { fixture: 'syn-zmap.jsonl', sources: ['192.0.2.99'], country: 'DE', perRound: (r) => (r % 9 === 0 ? 1 : 0) },
  { fixture: 'ipv4-curl-linux.jsonl', sources: range('198.51.100.', 20, 3), country: 'DE', perRound: () => 2 },
  { fixture: 'ipv4-udp.jsonl', sources: ['198.51.100.53'], country: 'FR', perRound: () => 1 },
  { fixture: 'ipv4-icmp.jsonl', sources: ['192.0.2.8'], country: 'BR', perRound: (r) => r % 2 },
  { fixture: 'ipv6-tcp.jsonl', sources: ['2001:db8::66'], country: 'JP', perRound: (r) => r % 3 === 0 ? 1 : 0 },
  // A log string crafted to be HTML: the page must show it as text.
  {
    fixture: 'ipv4-tcp-dropped.jsonl',
    sources: ['192.0.2.13'],
    country: 'private',
    perRound: () => 1,
    patch: (r) => {
      r['oob.prefix'] = XSS;
      r['oob.in'] = XSS;
    },
  },
];

interface Feeder {
  /** Decoded, enriched events of one round, stamped at `time` (epoch ms) plus a few ms each. */
  round(time: number): PacketEvent[];
  counters(time: number): CounterEvent[];
}

function readLines(name: string): string[] {
  return readFileSync(join(FIXTURES, name), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

function makeFeeder(config: Config): Feeder {
  const options = decodeOptions(config);
  const fingerprint = FingerprintEnricher.fromConfig('');
  const actors = ACTORS.map((a) => ({ ...a, lines: readLines(a.fixture), next: 0 }));
  const nfacct = readLines('nfacct-deltas.jsonl');
  let round = 0;
  const decode = (line: string, time: number): PacketEvent | CounterEvent => {
    const e = decodeLine(line, 0, options);
    if (e.kind === 'error') throw new Error(`fixture line did not decode: ${e.reason} ${e.detail}`);
    e.time = time;
    return e;
  };
  return {
    round(time) {
      const out: PacketEvent[] = [];
      for (const a of actors) {
        const n = a.perRound(round);
        for (let i = 0; i < n; i++, a.next++) {
          const record = JSON.parse(a.lines[a.next % a.lines.length]!) as Record<string, unknown>;
          const src = a.sources[a.next % a.sources.length]!;
          record['src_ip'] = src;
          a.patch?.(record);
          const e = decode(JSON.stringify(record), time + out.length) as PacketEvent;
          fingerprint.enrich(e);
          e.geo = { country: a.country, city: '', location: null, asn: -1, asOrg: '' };
          e.owner = a.owner ?? null;
          if (a.listed) e.listed = a.listed;
          out.push(e);
        }
      }
      round++;
      return out;
    },
    counters(time) {
      const out = nfacct.slice(0, 3).map((l) => decode(l, time) as CounterEvent);
      // A counter name is a log string too.
      out.push({ ...out[0]!, name: `odd.${XSS}` });
      return out;
    },
  };
}

/** One interval of what the daemon's aggregator would count (verdicts, SYNs, NFACCT). */
function aggregate(start: number, length: number, events: PacketEvent[], counters: CounterEvent[]): IntervalAggregate {
  const a = emptyAggregate(start, length);
  for (const e of events) {
    a.verdicts[e.verdict].count++;
    if (e.fingerprint !== null) a.syns++;
    for (const list of e.listed) a.lists.set(list, (a.lists.get(list) ?? 0) + 1);
  }
  for (const c of counters) {
    const t = a.counters.get(c.name) ?? { pkts: 0, bytes: 0 };
    t.pkts += c.pkts;
    t.bytes += c.bytes;
    a.counters.set(c.name, t);
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Browser

function launchArgs(): string[] {
  return ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('scan-watch page in chromium', () => {
  let app: Awaited<ReturnType<typeof buildApp>>;
  let hub: LiveHub;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let base = '';
  let feeding = true;
  let feedLoop: Promise<void> = Promise.resolve();
  /** The block set of nftables-examples/firewall.nft, in a namespace of the test's own. */
  const blockNs = `nfw-page-${randomBytes(3).toString('hex')}`;
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  /** The text of the first `n` rows of the live table. */
  const firstRows = async (n: number): Promise<string[]> => (await page.locator('#events tbody tr').allTextContents()).slice(0, n);
  const status = () => page.locator('#ev-status').textContent();
  /** The pointer away from the live table (rows held under it are released). */
  const pointerAway = () => page.mouse.move(5, 5);

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (bash scripts/install-test-deps.sh, or apt-get install chromium)`);
    }
    const config = validateConfig({ web: { port: 0, token: TOKEN, client_events_per_second: STREAM_LIMIT } });
    const tracker = Tracker.fromConfig(config.track);
    // Blocking on, with one source in the real block set (root: a network namespace for the set).
    requireRoot();
    await runOk('ip', ['netns', 'add', blockNs]);
    await runOk('ip', ['netns', 'exec', blockNs, 'nft', '-f', FIREWALL_NFT]);
    const blockSet = new NftBlockSet({ command: ['ip', 'netns', 'exec', blockNs, 'nft'], family: 'inet', table: 'nfwatch_filter', setV4: 'nfwatch_block4', setV6: 'nfwatch_block6' });
    const responder = new Responder({ dryRun: false, minSeverity: 4, blockMs: 3_600_000, maxEntries: 100 }, new Allowlist({ allow: [], blockPrivate: true, ownAddresses: [] }), blockSet, createLogger('warn'));
    await responder.block('203.0.113.10', 3600, 'the test');
    const history = new IntervalHistory();
    const feeder = makeFeeder(config);
    const logger = createLogger('warn');

    // The two minutes before the page was opened: the tracker and the interval history have them.
    const now = Date.now();
    const start = Math.floor(now / 1000) * 1000 - 120_000;
    for (let t = start; t < start + 120_000; t += 1000) {
      const events = feeder.round(t);
      for (const e of events) tracker.observe(e);
      history.add(aggregate(t, 1000, events, feeder.counters(t)));
    }

    hub = new LiveHub(config.web, { sourceNames: ['ulogd'], version: NFWATCH_VERSION, logger });
    // Two threat lists: one in use, one whose newest file cannot be read (an older version is in use).
    const lists: ThreatListStats[] = [
      { name: 'firehol_level1', path: '/var/lib/nfwatch/lists/firehol_level1.netset', format: 'netset', entries: 4532, addresses: 612_000_000, loadedAt: now - 300_000, badLines: 0, error: '' },
      { name: 'blocklist_de', path: '/var/lib/nfwatch/lists/blocklist_de.txt', format: 'netset', entries: 23_901, addresses: 23_901, loadedAt: now - 7_200_000, badLines: 0, error: 'EACCES: permission denied, open \'/var/lib/nfwatch/lists/blocklist_de.txt\'' },
    ];
    app = await buildApp({ config: config.web, tracker, history, health: () => health(), geoCredits: () => CREDITS, lists: () => lists, responder, startedAt: now - 120_000, logger }, hub);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    base = `http://127.0.0.1:${address.port}`;

    // Live: a round every 100 ms, published through the hub; an interval into the history each second.
    feedLoop = (async () => {
      let second: PacketEvent[] = [];
      let secondStart = Date.now();
      const stop = Date.now() + 180_000; // bounded even if a test hangs
      while (feeding && Date.now() < stop) {
        const events = feeder.round(Date.now());
        for (const e of events) {
          tracker.observe(e);
          hub.publish(e);
        }
        second.push(...events);
        if (Date.now() - secondStart >= 1000) {
          history.add(aggregate(secondStart, 1000, second, feeder.counters(secondStart)));
          second = [];
          secondStart = Date.now();
          tracker.prune();
        }
        await sleep(100);
      }
    })();

    profile = mkdtempSync(join(tmpdir(), 'nfwatch-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: launchArgs(),
      viewport: { width: 1440, height: 900 },
    });
    await context.addInitScript(RECORD_CANVAS_TEXT);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${base}/?token=${TOKEN}`);
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    feeding = false;
    await feedLoop;
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await hub?.close();
    await app?.close();
    await run('ip', ['netns', 'del', blockNs]);
  });

  it('shows live rows, newest first, with the stream connected', async () => {
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
    await expect.poll(() => page.locator('#events tbody tr').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(20);
    const times = (await page.locator('#events tbody tr td.t').allTextContents()).slice(0, 20);
    expect([...times].sort().reverse()).toEqual(times);
    // The figures in the header come from stats frames and /api/summary.
    await expect.poll(() => page.locator('#fig-blocked').textContent(), { timeout: 5_000 }).not.toBe('–');
    await expect.poll(() => page.locator('#fig-sources').textContent(), { timeout: 5_000 }).not.toBe('–');
  });

  it('shows log strings as text, never as markup', async () => {
    await page.locator('#events td.prefix', { hasText: XSS }).first().waitFor({ timeout: 5_000 });
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('#counters').textContent()).toContain(`odd.${XSS}`);
    expect(dialogs).toEqual([]);
  });

  it('draws at most 100 rows of a larger buffer, and says so', async () => {
    // 120 events/s: after a few seconds the buffer holds more than the table draws.
    await expect.poll(() => page.locator('#ev-count').textContent(), { timeout: 10_000 }).toMatch(/^100 of \d+ rows$/);
    expect(await page.locator('#events tbody tr').count()).toBe(100);
    const buffered = Number(/of (\d+)/.exec((await page.locator('#ev-count').textContent()) ?? '')?.[1]);
    expect(buffered).toBeGreaterThan(100);
  });

  it('marks the newest rows with a static mark: no animation runs in the page', async () => {
    await expect.poll(() => page.locator('#events tbody tr.new').count(), { timeout: 5_000 }).toBeGreaterThan(0);
    // One update's rows: a quarter second of a 120 events/s stream, never the whole table.
    expect(await page.locator('#events tbody tr.new').count()).toBeLessThan(100);
    expect(await page.evaluate('document.getAnimations().length')).toBe(0);
  });

  it('says when the server samples the stream', async () => {
    await expect.poll(status, { timeout: 5_000 }).toMatch(/sampled: 120 of \d+\/s/);
    expect(await page.locator('#ev-status').getAttribute('data-level')).toBe('sampled');
    expect(await page.locator('#ev-status').getAttribute('title')).toContain('Counts and charts are complete');
  });

  it('holds the rows still while the pointer is over them, and shows what arrived on leave', async () => {
    await page.locator('#events tbody tr').nth(4).hover();
    await expect.poll(status, { timeout: 5_000 }).toMatch(/held under the pointer/);
    const held = await firstRows(5);
    await sleep(1000);
    expect(await firstRows(5)).toEqual(held);
    expect(await status()).toMatch(/\+\d+ new/);
    await pointerAway();
    await expect.poll(() => firstRows(5), { timeout: 5_000 }).not.toEqual(held);
    expect(await status()).not.toMatch(/held/);
  });

  it('pauses and resumes the table', async () => {
    await page.locator('#pause').click();
    await pointerAway();
    expect(await page.locator('#pause').getAttribute('aria-pressed')).toBe('true');
    const paused = await firstRows(5);
    await expect.poll(() => page.locator('#pause').textContent(), { timeout: 5_000 }).toMatch(/^Resume \(\+\d+\)$/);
    expect(await firstRows(5)).toEqual(paused);
    expect(await status()).toMatch(/paused · \+\d+ new/);
    await page.locator('#pause').click();
    await pointerAway();
    expect(await page.locator('#pause').textContent()).toBe('Pause');
    await expect.poll(() => firstRows(5), { timeout: 5_000 }).not.toEqual(paused);
  });

  it('filters on a clicked window size (16384) and shows the filter chip', async () => {
    await page.locator('#events tbody .win', { hasText: /^16384$/ }).first().click();
    await expect.poll(() => page.locator('#chips .chip').count()).toBe(1);
    expect(await page.locator('#chips .chip').textContent()).toContain('16384');
    // More live rows arrive under the filter once the pointer leaves the table.
    const first = await firstRows(1);
    await pointerAway();
    await expect.poll(() => firstRows(1), { timeout: 5_000 }).not.toEqual(first);
    // Every row, with or without a window cell: a row without one has '' here and fails the check.
    const windows = await page.locator('#events tbody tr td:nth-child(6)').allTextContents();
    expect(windows.length).toBeGreaterThan(0);
    expect(new Set(windows)).toEqual(new Set(['16384']));
    await page.screenshot({ path: join(ARTIFACTS, 'scan-watch-filtered.png') });
  });

  it('draws the rate chart and the SYN window / TTL histograms', async () => {
    for (const id of ['rate-chart', 'win-chart', 'ttl-chart']) {
      const box = await page.locator(`#${id} canvas`).boundingBox();
      expect(box, `#${id} has a canvas`).not.toBeNull();
      expect(box!.width).toBeGreaterThan(50);
      expect(box!.height).toBeGreaterThan(50);
    }
    // The rate chart has points (uPlot draws series paths into the canvas: some pixels are set).
    // (In-page code as a string: the test program is compiled without DOM types.)
    const painted = await page.evaluate(`(() => {
      const canvas = document.querySelector('#rate-chart canvas');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    })()`);
    expect(painted).toBeGreaterThan(1000);
  });

  it('lists top sources by severity and the port-6000 campaign', async () => {
    await page.locator('#sources tbody tr .scan').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('#sources tbody tr').count()).toBeGreaterThan(3);
    await expect.poll(() => page.locator('#sources tbody').textContent(), { timeout: 5_000 }).toContain('198.51.100.7');
    // The port-6000 scanners: nine sources, one fingerprint, one target port, one source port.
    const campaign = page.locator('#campaigns tbody tr', { hasText: 'win=16384' });
    await campaign.first().waitFor({ timeout: 10_000 });
    expect(await campaign.first().textContent()).toContain('sport 6000');
  });

  it('shows how many sources the block set holds, and which, when blocking is on', async () => {
    const figure = page.locator('#fig-blocks');
    await expect.poll(() => figure.textContent(), { timeout: 10_000 }).toBe('1');
    expect(await figure.isVisible()).toBe(true);
    const title = (await figure.getAttribute('title')) ?? '';
    expect(title).toMatch(/^203\.0\.113\.10 {2}\d+ s left {2}nfwatch by the test$/m);
    expect(title).toContain('decisions: 1 blocked');
  });

  it('removes the filter with the chip and saves a screenshot', async () => {
    await page.locator('#chips .chip-x').click();
    await expect.poll(() => page.locator('#chips .chip').count()).toBe(0);
    await expect.poll(async () => (await page.locator('#events tbody .win').allTextContents()).some((w) => w !== '16384'), { timeout: 5_000 }).toBe(true);
    await sleep(3500); // one more poll of every panel
    await page.screenshot({ path: join(ARTIFACTS, 'scan-watch.png') });
  });

  it('shows who holds the sources and the lists they are on, and the threat lists figure', async () => {
    await expect.poll(() => page.locator('#sources .owner-line', { hasText: 'AS16509 AMAZON-02' }).count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => page.locator('#events td.own .lb', { hasText: 'firehol_level1' }).count(), { timeout: 5_000 }).toBeGreaterThan(0);
    const figure = page.locator('#lists-fig');
    expect(await figure.isVisible()).toBe(true);
    expect(await figure.locator('.lf-i.warn').getAttribute('data-list')).toBe('blocklist_de');
    expect(await figure.locator('.lf-i[data-list="firehol_level1"] .lf-pkts').textContent()).not.toBe('0');
  });

  it('credits every data source whose answers it shows', async () => {
    const links = page.locator('#attribution a');
    await expect.poll(() => links.allTextContents(), { timeout: 5_000 }).toEqual(CREDITS.map((c) => c.text));
    for (const [i, credit] of (await links.all()).entries()) {
      expect(await credit.getAttribute('href')).toBe(CREDITS[i]!.url);
      expect(await credit.isVisible()).toBe(true);
      const box = await credit.boundingBox();
      expect(box!.y + box!.height).toBeLessThanOrEqual(900);
      expect(box!.x + box!.width).toBeLessThanOrEqual(1440);
    }
  });

  for (const [width, height] of [[1280, 720], [1920, 1080]] as const) {
    it(`fits ${width}×${height}: nothing overflows, no chart text overlaps, every credit is on screen`, async () => {
      await page.setViewportSize({ width, height });
      // The charts refit on resize and the panels refresh every few seconds: poll until it settles.
      await expect.poll(() => page.evaluate(AUDIT_LAYOUT), { timeout: 10_000, interval: 500 }).toEqual([]);
      // With the threat lists figure and the owner column shown.
      expect(await page.locator('#lists-fig').isVisible()).toBe(true);
      expect(await page.locator('#events th', { hasText: 'lists · owner' }).isVisible()).toBe(true);
      for (const credit of await page.locator('#attribution a').all()) {
        const box = await credit.boundingBox();
        expect(box!.y + box!.height).toBeLessThanOrEqual(height);
        expect(box!.x + box!.width).toBeLessThanOrEqual(width);
      }
      await page.screenshot({ path: join(ARTIFACTS, `scan-watch-${width}x${height}.png`) });
    });
  }

  it('raised no error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});

function health(): HealthSnapshot {
  return {
    time: Date.now(),
    elapsed: 1,
    lines: 0,
    events: 0,
    eventsPerSecond: 0,
    oversizedLines: 0,
    decodeErrors: { ...noDecodeErrors(), not_json: 0 },
    lateEvents: 0,
    counterResets: 0,
    openIntervals: 0,
    sinks: {},
    tracker: null,
  };
}
