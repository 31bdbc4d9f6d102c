// The investigate page in a real browser (Debian chromium driven by playwright-core) against the
// real web app listening on port 0, with a HistoryReader double that answers fixed data and
// records every question (history-double.ts): the form and the URL, the results, the map, the
// timeline, the exports, the layout at two screen sizes; and the live page's map. Leaves
// screenshots in test/artifacts/: investigate-1280x720.png, investigate-1920x1080.png.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/web/app.js';
import type { LiveHub } from '../../src/web/stream.js';
import { deps, hub, packet, T0, webConfig } from './helpers.js';
import { RecordingReader, SOURCES } from './history-double.js';
import { AUDIT_LAYOUT, RECORD_CANVAS_TEXT } from './page-audit.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const TOKEN = 'investigate-page-token-0123456789';
const HOUR = 3_600_000;
/** A custom range around the double's sightings (H0 and the two hours after it). */
const DAY_OF_DATA = 'from=2026-11-24T00:00:00.000Z&to=2026-11-25T00:00:00.000Z';
const SHANGHAI = { lat: 31.2222, lon: 121.4581 };
const ASHBURN = { lat: 39.0437, lon: -77.4875 };

describe('investigate page in chromium', () => {
  let app: Awaited<ReturnType<typeof buildApp>>;
  let liveHub: LiveHub;
  let context: BrowserContext;
  let page: Page;
  let profile = '';
  let base = '';
  const reader = new RecordingReader();
  const pageErrors: string[] = [];
  let refusalExpected = false;

  /** The page's URL query as an object (the state it shares). */
  const query = () => Object.fromEntries(new URL(page.url()).searchParams);
  const value = (id: string) => page.locator(`#${id}`).inputValue();
  const searches = () => reader.of('search').length;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    const config = webConfig({ token: TOKEN });
    const d = deps(config);
    // The live map's figures: sources in three countries (and a private one) in the window; two
    // of them placed in a city, as with a City database.
    for (let i = 0; i < 30; i++) d.tracker!.observe(packet({ src: '203.0.113.7', dport: 1000 + i, time: T0 + i * 100, country: 'CN', city: 'Shanghai', location: SHANGHAI }));
    d.tracker!.observe(packet({ src: '198.51.100.9', dport: 22, time: T0 + 4000, country: 'US', city: 'Ashburn', location: ASHBURN }));
    d.tracker!.observe(packet({ src: '192.0.2.8', dport: 22, time: T0 + 4000, country: 'BR', verdict: 'allowed' }));
    d.tracker!.observe(packet({ src: '192.168.1.5', dport: 22, time: T0 + 4500, country: 'private', verdict: 'allowed' }));
    liveHub = hub(config);
    app = await buildApp({ ...d, historyReader: reader }, liveHub);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    base = `http://127.0.0.1:${address.port}`;

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
      // The one search the server is meant to refuse: chromium logs its 400 as an error.
      if (m.type() === 'error' && !(refusalExpected && /status of 400/.test(m.text()))) pageErrors.push(m.text());
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await liveHub?.close();
    await app?.close();
  });

  it('opens with ?token= (then out of the address bar), searches the last 24 h and lists the rows the store returned', async () => {
    await page.goto(`${base}/investigate?token=${TOKEN}`);
    await expect.poll(() => page.locator('#results tbody tr[data-source]').count(), { timeout: 10_000 }).toBe(SOURCES.length);
    expect(page.url()).toBe(`${base}/investigate`);
    expect(await page.locator('#timeline').isVisible()).toBe(false);
    const q = reader.last('search')!.query;
    expect(q.to - q.from).toBe(24 * HOUR);
    expect(q).toMatchObject({ sort: 'packets', limit: 100 });
    const first = page.locator('#results tbody tr').first();
    expect(await first.getAttribute('data-source')).toBe('203.0.113.7');
    const text = (await first.textContent()) ?? '';
    for (const part of ['203.0.113.7', 'US', 'AS16509', 'AMAZON-02', 'aws', 'firehol_level1', '22-23,80-82,443', '16384', '65535', 'port6000-scanner', 'windows']) expect(text).toContain(part);
    expect(await page.locator('#results tbody tr').nth(1).getAttribute('data-source')).toBe('2001:db8:1:2::/64');
    // Totals count every match, not only the rows shown.
    expect(await page.locator('#fig-sources').textContent()).toBe('1234');
    expect(await page.locator('#fig-packets').textContent()).toBe('98.8k');
    expect(await page.locator('#fig-blocked').textContent()).toBe('54.3k');
    expect(await page.locator('#results-hint').textContent()).toMatch(/^4 of 1234 by packets/);
    // A network's row says how many sources seen once it stands for.
    const network = page.locator('#results tbody tr[data-source="45.0.0.0/8"]');
    expect(await network.locator('.folded').textContent()).toBe('4321 seen once');
    expect(await network.locator('td.src').getAttribute('title')).toMatch(/^45\.0\.0\.0\/8: 4321 sources seen once each, kept in their network's row/);
    expect(await first.locator('.folded').count()).toBe(0);
  });

  it('round-trips the form through the URL: a search is a shareable link, and back restores the form', async () => {
    // Sort and rows sit beside the results and ask again at once.
    await page.selectOption('#f-sort', 'last_seen');
    await expect.poll(() => reader.last('search')!.query.sort).toBe('last_seen');
    await page.selectOption('#f-limit', '500');
    await expect.poll(() => reader.last('search')!.query.limit).toBe(500);
    expect(query()).toEqual({ sort: 'last_seen', limit: '500' });
    await page.fill('#f-address', '203.0.113.0/24');
    await page.fill('#f-window', '16384');
    await page.fill('#f-tool', 'port6000-scanner');
    await page.selectOption('#f-os', 'windows');
    await page.fill('#f-port', '22');
    await page.selectOption('#f-verdict', 'blocked');
    await page.selectOption('#f-range', '7d');
    const before = searches();
    await page.locator('#f-port').press('Enter');
    await expect.poll(searches).toBe(before + 1);
    const shared = { address: '203.0.113.0/24', window: '16384', tool: 'port6000-scanner', os: 'windows', port: '22', verdict: 'blocked', range: '7d', sort: 'last_seen', limit: '500' };
    expect(query()).toEqual(shared);
    const q = reader.last('search')!.query;
    expect(q).toMatchObject({ address: '203.0.113.0/24', window: 16384, tool: 'port6000-scanner', os: 'windows', port: 22, verdict: 'blocked', sort: 'last_seen', limit: 500 });
    expect(q.to - q.from).toBe(7 * 24 * HOUR);

    // The link opened afresh fills the form the same way.
    const link = page.url();
    await page.goto('about:blank');
    await page.goto(link);
    await expect.poll(() => value('f-address')).toBe('203.0.113.0/24');
    expect(await value('f-window')).toBe('16384');
    expect(await value('f-tool')).toBe('port6000-scanner');
    expect(await value('f-os')).toBe('windows');
    expect(await value('f-verdict')).toBe('blocked');
    expect(await value('f-range')).toBe('7d');
    expect(await value('f-sort')).toBe('last_seen');
    expect(await value('f-limit')).toBe('500');
    await expect.poll(() => page.locator('#results tbody tr[data-source]').count()).toBe(SOURCES.length);

    // A custom range: from and to in the URL as ISO times, to the store in epoch ms.
    await page.selectOption('#f-range', 'custom');
    expect(await page.locator('#f-from').isDisabled()).toBe(false);
    await page.fill('#f-from', '2026-11-24T06:00');
    await page.fill('#f-to', '2026-11-25T06:00');
    await page.locator('#submit').click();
    await expect.poll(() => query().range).toBe('custom');
    const from = await page.evaluate(`new Date('2026-11-24T06:00').getTime()`);
    const to = await page.evaluate(`new Date('2026-11-25T06:00').getTime()`);
    expect(Date.parse(query().from!)).toBe(from);
    expect(Date.parse(query().to!)).toBe(to);
    await expect.poll(() => reader.last('search')!.query.from).toBe(from);
    expect(reader.last('search')!.query.to).toBe(to);

    // Back: the 7 d search again, in the form and asked of the store.
    const n = searches();
    await page.goBack();
    await expect.poll(() => value('f-range')).toBe('7d');
    expect(await page.locator('#f-from').isDisabled()).toBe(true);
    await expect.poll(searches).toBe(n + 1);
    expect(reader.last('search')!.query.to - reader.last('search')!.query.from).toBe(7 * 24 * HOUR);

    await page.locator('#clear-filters').click();
    await expect.poll(query).toEqual({ range: '7d', sort: 'last_seen', limit: '500' });
    expect(await value('f-address')).toBe('');
  });

  it('export links carry the same filters and range, and download with the page\'s cookie', async () => {
    await page.fill('#f-country', 'us');
    await page.fill('#f-asn', '16509');
    await page.locator('#submit').click();
    await expect.poll(() => query().country).toBe('US');
    const csv = new URL((await page.locator('#export-csv').getAttribute('href'))!, base);
    const json = new URL((await page.locator('#export-json').getAttribute('href'))!, base);
    expect(csv.pathname).toBe('/api/history/search');
    expect(Object.fromEntries(csv.searchParams)).toMatchObject({ country: 'US', asn: '16509', sort: 'last_seen', limit: '500', format: 'csv' });
    expect(Number(csv.searchParams.get('to')) - Number(csv.searchParams.get('from'))).toBe(7 * 24 * HOUR);
    expect(Object.fromEntries(json.searchParams)).toEqual({ ...Object.fromEntries(csv.searchParams), format: 'json' });
    // What a click on the link gets (same origin: the HttpOnly cookie goes along, no header).
    const got = (await page.evaluate(`fetch(${JSON.stringify(csv.pathname + csv.search)}).then(async (r) => [r.status, r.headers.get('content-disposition'), await r.text()])`)) as [number, string, string];
    expect(got[0]).toBe(200);
    expect(got[1]).toMatch(/^attachment; filename="nfwatch-history-\d{8}T\d{4}Z-\d{8}T\d{4}Z\.csv"$/);
    expect(got[2].split('\r\n')[0]).toMatch(/^source,country,city,asn,org,/);
    expect(reader.last('search')!.query).toMatchObject({ country: 'US', asn: 16509 });
  });

  it('draws the world map (more than 100 countries, shaded from /api/history/countries); a click sets the country filter and asks again, a second clears it', async () => {
    await page.locator('#clear-filters').click();
    await expect.poll(() => page.locator('#inv-map path.wm-c').count(), { timeout: 10_000 }).toBeGreaterThan(100);
    await expect.poll(() => page.locator('#inv-map path.wm-c.has').count()).toBe(4); // US, DE, CN, SG
    expect(await page.locator('#inv-map path[data-code="CN"] title').textContent()).toBe('China (CN): 25 sources, 7000 packets, 6900 blocked');
    // What has no shape is named under the map.
    const note = (await page.locator('#inv-map .wmap-note').textContent()) ?? '';
    expect(note).toContain('LAN 2');
    expect(note).toContain('unknown 1');
    expect(await page.locator('#country-top li').count()).toBe(6);

    const before = searches();
    await page.locator('#inv-map path[data-code="CN"]').click();
    await expect.poll(() => query().country).toBe('CN');
    expect(await value('f-country')).toBe('CN');
    await expect.poll(searches).toBe(before + 1);
    expect(reader.last('search')!.query.country).toBe('CN');
    // Asked for at the same time as the search: it may come after it.
    await expect.poll(() => reader.last('countries')?.query.country).toBe('CN');
    await expect.poll(() => page.locator('#inv-map .wm-sel').count()).toBe(1);
    expect(await page.locator('#inv-map path[data-code="CN"]').getAttribute('aria-pressed')).toBe('true');

    await page.locator('#inv-map path[data-code="CN"]').click();
    await expect.poll(() => query().country).toBeUndefined();
    expect(await value('f-country')).toBe('');
    await expect.poll(() => page.locator('#inv-map .wm-sel').count()).toBe(0);
    expect(reader.last('search')!.query.country).toBeUndefined();

    // By keyboard: a shaded country is in the tab order and Enter chooses it.
    await page.locator('#inv-map path[data-code="US"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => query().country).toBe('US');
    // Shaded by blocked packets instead of sources.
    await page.locator('#map-by-blocked').click();
    expect(await page.locator('#inv-map .wmap-legend').textContent()).toContain('blocked packets');
    await page.locator('#map-by-sources').click();
    await page.locator('#clear-filters').click();
    await expect.poll(() => query().country).toBeUndefined();
  });

  it('draws the places a City database located the sources at; a click narrows to that city and its country, a second clears it', async () => {
    await page.locator('#clear-filters').click();
    await expect.poll(() => page.locator('#inv-map circle.wm-p').count(), { timeout: 10_000 }).toBe(3);
    const london = page.locator('#inv-map circle.wm-p[data-city="London"]');
    expect(await london.locator('title').textContent()).toBe('London (GB): 9 sources, 1200 packets, 1100 blocked');
    // Area by the measure: London's 9 sources against Amsterdam's 4.
    expect(Number(await london.getAttribute('r'))).toBeGreaterThan(Number(await page.locator('#inv-map circle.wm-p[data-city="Amsterdam"]').getAttribute('r')));
    const before = searches();
    await london.click();
    await expect.poll(() => query().city).toBe('London');
    expect(query().country).toBe('GB');
    await expect.poll(searches).toBe(before + 1);
    expect(reader.last('search')!.query).toMatchObject({ country: 'GB', city: 'London' });
    // The page asks for the search, the countries and the cities at once: the cities may come last.
    await expect.poll(() => reader.last('cities')?.query).toMatchObject({ country: 'GB', city: 'London' });
    await expect.poll(() => page.locator('#map-hint').textContent()).toBe('London (GB) chosen: click it again to clear');
    await expect.poll(() => page.locator('#inv-map circle.wm-p.sel').getAttribute('data-city')).toBe('London');
    expect(await page.locator('#inv-map .wm-sel').count()).toBe(0); // the place is chosen, not the country
    await page.locator('#inv-map circle.wm-p[data-city="London"]').click();
    await expect.poll(() => query().city).toBeUndefined();
    expect(query().country).toBeUndefined();
    expect(reader.last('search')!.query.city).toBeUndefined();
    // The hint follows the map's next drawing, which may come after the URL changed.
    await expect.poll(() => page.locator('#map-hint').textContent()).toBe('click a country to filter, again to clear');
  });

  it('opens a source\'s timeline: hours as bars, the fingerprint change highlighted, incidents; back closes it', async () => {
    await page.goto(`${base}/investigate?${DAY_OF_DATA}`);
    await page.locator('#results .src-btn', { hasText: '203.0.113.7' }).click();
    await expect.poll(() => page.locator('#timeline').isVisible()).toBe(true);
    expect(query().source).toBe('203.0.113.7');
    await expect.poll(() => reader.last('timeline')?.source).toBe('203.0.113.7');
    const t = reader.last('timeline')!;
    expect([t.from, t.to]).toEqual([Date.UTC(2026, 10, 24), Date.UTC(2026, 10, 25)]);
    expect(query()).toMatchObject({ range: 'custom', from: '2026-11-24T00:00:00.000Z', source: '203.0.113.7' });
    await expect.poll(() => page.locator('#tl-hours tbody tr').count()).toBe(3);
    expect(await page.locator('#tl-chart rect').count()).toBe(6); // 3 hours × allowed and blocked
    expect(await page.locator('#tl-chart line.tl-change').count()).toBe(1);
    expect(await page.locator('#tl-changes').textContent()).toContain('win 16384 → 65535');
    expect(await page.locator('#tl-hours tbody tr.fp-changed').count()).toBe(1);
    expect(await page.locator('#tl-incidents li').count()).toBe(2);
    expect(await page.locator('#tl-incidents').textContent()).toContain('detected vertical scan (severity 4)');
    expect(await page.locator('#tl-who').textContent()).toContain('AS16509');
    expect(await page.locator('#results tbody tr.sel').getAttribute('data-source')).toBe('203.0.113.7');

    await page.goBack();
    await expect.poll(() => page.locator('#timeline').isVisible()).toBe(false);
    expect(query().source).toBeUndefined();
    // The link with the source opens with the timeline.
    await page.goto(`${base}/investigate?${DAY_OF_DATA}&source=${encodeURIComponent('2001:db8:1:2::/64')}`);
    await expect.poll(() => page.locator('#timeline').isVisible(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => reader.last('timeline')?.source).toBe('2001:db8:1:2::/64');
    await page.locator('#tl-close').click();
    await expect.poll(() => page.locator('#timeline').isVisible()).toBe(false);
  });

  it('says what is wrong with a search the server refuses', async () => {
    refusalExpected = true;
    await page.fill('#f-address', 'not-an-address');
    await page.locator('#submit').click();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^address must be an IPv4 or IPv6 address or CIDR network/);
    refusalExpected = false;
    expect(await page.locator('#status').getAttribute('data-level')).toBe('error');
    await page.locator('#clear-filters').click();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/sources found$/);
  });

  for (const [width, height] of [[1280, 720], [1920, 1080]] as const) {
    it(`fits ${width}×${height}: nothing overflows, the map and the timeline fit their panels`, async () => {
      await page.setViewportSize({ width, height });
      await page.goto(`${base}/investigate?${DAY_OF_DATA}&source=203.0.113.7`);
      await expect.poll(() => page.locator('#tl-hours tbody tr').count(), { timeout: 10_000 }).toBe(3);
      await expect.poll(() => page.locator('#inv-map path.wm-c.has').count(), { timeout: 10_000 }).toBe(4);
      await expect.poll(() => page.evaluate(AUDIT_LAYOUT), { timeout: 10_000, interval: 500 }).toEqual([]);
      const inside = await page.evaluate(`(() => {
        const out = [];
        for (const [inner, outer] of [['#inv-map svg', '.inv-map'], ['#tl-chart svg', '#timeline'], ['#search .inv-fields', '#search']]) {
          const a = document.querySelector(inner).getBoundingClientRect();
          const b = document.querySelector(outer).getBoundingClientRect();
          if (a.width < 50 || a.height < 50) out.push(inner + ' is too small');
          if (a.left < b.left - 1 || a.right > b.right + 1 || a.top < b.top - 1 || a.bottom > b.bottom + 1) out.push(inner + ' leaves ' + outer);
        }
        return out;
      })()`);
      expect(inside).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, `investigate-${width}x${height}.png`), fullPage: true });
    });
  }

  it('the live page links to the investigate page and draws its live map; a country or a place click filters the live view', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(`${base}/`);
    expect(await page.locator('#nav-investigate').getAttribute('href')).toBe('/investigate');
    await expect.poll(() => page.locator('#live-map path.wm-c').count(), { timeout: 10_000 }).toBeGreaterThan(100);
    await expect.poll(() => page.locator('#live-map path.wm-c.has').count(), { timeout: 10_000 }).toBe(2); // CN, US blocked; BR allowed only
    expect(await page.locator('#live-map .wmap-note').textContent()).toBe('');
    await page.locator('#map-by-sources').click();
    await expect.poll(() => page.locator('#live-map path.wm-c.has').count()).toBe(3);
    expect(await page.locator('#live-map .wmap-note').textContent()).toContain('LAN 1');
    await page.locator('#live-map path[data-code="CN"]').click();
    await expect.poll(() => page.locator('#chips .chip').count()).toBe(1);
    expect(await page.locator('#chips .chip').textContent()).toContain('CN');
    expect(await page.locator('#chips .chip .inv-link').getAttribute('href')).toBe('/investigate?country=CN');
    await page.locator('#live-map path[data-code="CN"]').click();
    await expect.poll(() => page.locator('#chips .chip').count()).toBe(0);
    // With a City database the places are circles over the countries; a click filters by the place.
    await expect.poll(() => page.locator('#live-map circle.wm-p').count(), { timeout: 15_000 }).toBe(2);
    const shanghai = page.locator('#live-map circle.wm-p[data-city="Shanghai"]');
    expect(await shanghai.locator('title').textContent()).toBe('Shanghai (CN): 1 source (1 scanning), 30 packets, 30 blocked');
    // Sized by the map's measure: by blocked packets, Shanghai's 30 outweigh Ashburn's one.
    await page.locator('#map-by-blocked').click();
    expect(Number(await shanghai.getAttribute('r'))).toBeGreaterThan(Number(await page.locator('#live-map circle.wm-p[data-city="Ashburn"]').getAttribute('r')));
    await shanghai.click();
    await expect.poll(() => page.locator('#chips .chip').count()).toBe(2);
    expect((await page.locator('#chips .chip').allTextContents()).join(' ')).toMatch(/CN.*Shanghai|Shanghai.*CN/);
    expect(await page.locator('#chips .chip .inv-link').last().getAttribute('href')).toBe('/investigate?city=Shanghai');
    await expect.poll(() => page.locator('#live-map circle.wm-p.sel').getAttribute('data-city')).toBe('Shanghai');
    await page.locator('#live-map circle.wm-p[data-city="Shanghai"]').click();
    await expect.poll(() => page.locator('#chips .chip').count()).toBe(0);
    // Each top source links to its history.
    await expect.poll(() => page.locator('#sources .inv-link').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('#sources .inv-link').first().getAttribute('href')).toMatch(/^\/investigate\?address=/);
    await page.screenshot({ path: join(ARTIFACTS, 'scan-watch-map.png') });
  });

  it('raised no error in the pages', () => {
    expect(pageErrors).toEqual([]);
  });
});
