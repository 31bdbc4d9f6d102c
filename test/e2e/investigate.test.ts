// Threat lists and the history against the real daemon: the bundled capture (real ulogd2 output
// from the lab, its sources on public addresses; demo/README.md) replayed into the file nfwatch
// follows, with two threat lists that name some of its scanners. Listed sources must be flagged in
// the stream, /api/sources, /metrics, Graphite (real carbon-cache, read back with whisper-fetch)
// and the history; after a restart the investigate page in Debian's chromium must answer
// "window 16384, last 24 h" with the port-6000 scanners, and its map must filter by country.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { replay } from '../../src/demo/replay.js';
import { ensureStopped, startNfwatch, type Nfwatch } from './nfwatch.js';
import { freePort, startCarbon, waitFor, waitForWhisperSum, type Carbon } from './lab.js';

const CHROMIUM = '/usr/bin/chromium';
const CAPTURE = fileURLToPath(new URL('../../demo/ulogd-lab-capture.jsonl', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const INTERVAL_S = 10;

/** The capture's port-6000 SSH scanners (source port 6000, window 16384, TTL ~103): six in China, two in Hong Kong. */
const PORT6000 = ['183.136.225.42', '122.226.181.166', '58.218.92.37', '222.186.30.112', '112.85.42.88', '116.31.116.9', '119.236.44.17', '42.2.118.51'];
const PORT6000_CN = PORT6000.slice(0, 6);
/** "ET compromised" names three of them; a Spamhaus DROP network holds the nmap scanner 5.188.10.3. */
const ET = ['183.136.225.42', '122.226.181.166', '58.218.92.37'];
const DROP_NET = '5.188.10.0/24';
const DROP = ['5.188.10.3'];

interface CaptureLine {
  src: string;
}

/** The capture's packet lines' sources, in order (NFACCT lines have none). */
function captureSources(): CaptureLine[] {
  return readFileSync(CAPTURE, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"src_ip"'))
    .map((l) => ({ src: String((JSON.parse(l) as Record<string, unknown>)['src_ip']) }));
}

interface Scrape {
  get(series: string): number;
}

async function scrape(base: string): Promise<Scrape> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+)$/.exec(line);
    if (m && !line.startsWith('#')) values.set(m[1]!, Number(m[2]));
  }
  return { get: (series) => values.get(series) ?? NaN };
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status, `${url}: ${res.status}`).toBe(200);
  return (await res.json()) as T;
}

describe('threat lists and the history, on the daemon fed by the bundled capture', () => {
  let tmp = '';
  let carbon: Carbon | undefined;
  let nfwatch: Nfwatch | undefined;
  let context: BrowserContext | undefined;
  let base = '';
  const streamed: Array<{ src: string; listed: string[] }> = [];
  const sources = captureSources();
  const fromEt = sources.filter((l) => ET.includes(l.src)).length;
  const fromDrop = sources.filter((l) => DROP.includes(l.src)).length;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/install-test-deps.sh does)`);
    tmp = mkdtempSync(join(tmpdir(), 'nfw-investigate-'));
    carbon = await startCarbon(join(tmp, 'carbon'), `${INTERVAL_S}s:1d`);
    const lists = join(tmp, 'lists');
    mkdirSync(lists);
    // The formats as the providers publish them.
    writeFileSync(join(lists, 'compromised-ips.txt'), `${ET.join('\n')}\n`);
    writeFileSync(join(lists, 'drop_v4.json'), `{"cidr":"${DROP_NET}","sblid":"SBL000001","rir":"ripencc"}\n{"type":"metadata","timestamp":1796000000,"size":1,"records":1}\n`);
    const ulogdJson = join(tmp, 'ulogd.json');
    writeFileSync(ulogdJson, '');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    nfwatch = await startNfwatch(
      tmp,
      [
        '[general]',
        'hostname = "fw"',
        `state_dir = "${tmp}/state"`,
        '[[sources.file]]',
        `path = "${ulogdJson}"`,
        'from = "beginning"',
        'poll_ms = 50',
        '[aggregate]',
        `interval_seconds = ${INTERVAL_S}`,
        'grace_seconds = 1',
        '[outputs.graphite]',
        'enabled = true',
        'host = "127.0.0.1"',
        `port = ${carbon.port}`,
        '[web]',
        `port = ${port}`,
        'client_events_per_second = 10000',
        '[history]',
        'flush_seconds = 0.5',
        '[[lists]]',
        'name = "et_compromised"',
        `path = "${join(lists, 'compromised-ips.txt')}"`,
        '[[lists]]',
        'name = "spamhaus_drop"',
        `path = "${join(lists, 'drop_v4.json')}"`,
        '',
      ].join('\n'),
    );

    // A stream client that wants only sources on the ET list, subscribed before any line is read.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/stream`);
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as { type: string; filter?: Record<string, unknown>; events?: Array<{ src: string; listed: string[] }> };
        if (frame.type === 'hello' && frame.filter?.['list'] === 'et_compromised') resolve();
        if (frame.type === 'events') streamed.push(...frame.events!);
      });
      ws.once('open', () => ws.send(JSON.stringify({ type: 'subscribe', filter: { list: 'et_compromised' } })));
    });

    // The capture at 50× its pace, every line's time moved to now (src/demo/replay.ts).
    await replay({ capture: CAPTURE, output: ulogdJson, speed: 50, loops: 1 });
    await waitFor('every line read and the history written', async () => {
      const s = await scrape(base);
      return s.get('nfwatch_lines_total') >= readFileSync(CAPTURE, 'utf8').trim().split('\n').length &&
        s.get('nfwatch_history_pending_sources') === 0 && s.get('nfwatch_history_queued_batches') === 0 && s.get('nfwatch_history_rows_written_total') > 0
        ? true
        : undefined;
    }, 30_000, 200);
    await waitFor('the stream to deliver the listed sources\' events', () => (streamed.length >= fromEt ? true : undefined), 10_000);
    ws.close();
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await ensureStopped(nfwatch);
    await carbon?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('streams only the listed sources to a client filtering on the list, each event naming its lists', () => {
    expect(fromEt).toBeGreaterThan(0);
    expect(streamed).toHaveLength(fromEt);
    for (const e of streamed) {
      expect(ET).toContain(e.src);
      expect(e.listed).toEqual(['et_compromised']);
    }
  });

  it('lists them in /api/sources, alone with ?list=', async () => {
    const body = await json<{ sources: Array<{ address: string; listed: string[]; country: string }> }>(`${base}/api/sources?list=et_compromised&limit=1000`);
    expect(body.sources.map((s) => s.address).sort()).toEqual([...ET].sort());
    for (const s of body.sources) expect(s.listed).toEqual(['et_compromised']);
    const drop = await json<{ sources: Array<{ address: string; listed: string[] }> }>(`${base}/api/sources?list=spamhaus_drop&limit=1000`);
    expect(drop.sources.map((s) => s.address)).toEqual(DROP);
  });

  it('counts their packets per list in /metrics and in Graphite, exactly', async () => {
    const s = await scrape(base);
    expect(s.get('nfwatch_list_entries{list="et_compromised"}')).toBe(3);
    expect(s.get('nfwatch_list_up_to_date{list="spamhaus_drop"}')).toBe(1);
    // Closed intervals only: stopping the daemon closes the rest, so wait for the figure.
    await nfwatch!.stop();
    await nfwatch!.restart();
    const since = Math.floor(Date.now() / 1000) - 3600;
    const until = Math.floor(Date.now() / 1000) + 60;
    expect(await waitForWhisperSum(carbon!.storageDir, 'netfilter.fw.events.listed.et_compromised', since, until, fromEt)).toBe(fromEt);
    expect(await waitForWhisperSum(carbon!.storageDir, 'netfilter.fw.events.listed.spamhaus_drop', since, until, fromDrop)).toBe(fromDrop);
  }, 60_000);

  it('keeps them in the history across the restart: searched by list, with their packets', async () => {
    const now = Date.now();
    const et = await json<{ totals: { sources: number; packets: number }; sources: Array<{ source: string; lists: string[]; packets: { total: number } }> }>(
      `${base}/api/history/search?list=et_compromised&from=${now - 86_400_000}&to=${now + 60_000}`,
    );
    expect(et.sources.map((s) => s.source).sort()).toEqual([...ET].sort());
    expect(et.totals.packets).toBe(fromEt);
    for (const s of et.sources) expect(s.lists).toEqual(['et_compromised']);
  });

  it("tells the port-6000 scanner's story: the SYN window 16384 sweep, then the brute force with window 65535", async () => {
    const now = Date.now();
    const t = await json<{ hours: Array<{ windows: number[] }>; incidents: Array<{ kind: string; text: string }> }>(
      `${base}/api/history/timeline?source=183.136.225.42&from=${now - 86_400_000}&to=${now + 60_000}`,
    );
    expect(t.hours.flatMap((h) => h.windows)).toEqual(expect.arrayContaining([16384, 65535]));
    expect(t.incidents.filter((i) => i.kind === 'detection').length).toBeGreaterThanOrEqual(1);
  });

  it('answers "window 16384, last 24 h" on the investigate page after the restart, and its map filters by country', { timeout: 90_000 }, async () => {
    context = await chromium.launchPersistentContext(join(tmp, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/investigate`);
    await page.locator('#f-range').selectOption({ label: 'last 24 h' });
    await page.locator('#f-window').fill('16384');
    await page.locator('#submit').click();
    const rows = () => page.locator('#results tbody tr[data-source]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-source')));
    await expect.poll(async () => (await rows()).sort(), { timeout: 15_000 }).toEqual([...PORT6000].sort());
    expect(await page.locator('#results tbody').textContent()).toContain('port6000-ssh-scanner');
    expect(page.url()).toContain('window=16384');
    // The map: the countries drawn, China and Hong Kong shaded; a click on China keeps its six.
    await expect.poll(() => page.locator('#inv-map path.wm-c').count(), { timeout: 10_000 }).toBeGreaterThan(100);
    await expect.poll(() => page.locator('#inv-map path.wm-c.has').count()).toBeGreaterThanOrEqual(1);
    await page.locator('#inv-map path[data-code="CN"]').click();
    await expect.poll(async () => (await rows()).sort(), { timeout: 15_000 }).toEqual([...PORT6000_CN].sort());
    expect(page.url()).toContain('country=CN');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'investigate-daemon.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
