/**
 * Exact on STOCK carbon: Debian's unchanged /etc/carbon files (storage-schemas.conf 60s:1d,5m:30d,
 * 1h:3y, no storage-aggregation.conf = average with xFilesFactor 0.5, MAX_CREATES_PER_MINUTE = 50),
 * copied into a temp dir with only paths, ports, user and listen addresses changed, and nfwatch with
 * its shipped defaults (only state dir, source, carbon port and prefix set). A port scan runs in
 * the lab from the first minute on. Whisper totals (finest archive, whisper-fetch) must equal what
 * ulogd logged, events.blocked.count must hold the first minute's count, and carbon must not have
 * dropped a single create. Needs root and network namespaces: fails loudly without them.
 * Takes about three minutes (nfwatch's default interval is carbon's 60 s slot).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { decodeLine } from '../../src/decode/line.js';
import { decodeOptions } from '../../src/wire.js';
import { fileSource, nfacctSince, send, SETTLE_MS, type Counts } from './expect.js';
import {
  canConnect,
  createLab,
  freePort,
  isPacketLine,
  nfacctReported,
  requireRoot,
  requireTools,
  sendTraffic,
  sleep,
  startUlogd,
  terminate,
  waitFor,
  whisperFetch,
  whisperSum,
  type Lab,
  type Ulogd,
} from './lab.js';
import { ensureStopped, requireBuild, startNfwatch, type Nfwatch } from './nfwatch.js';

const PREFIX = 'e2e.stock';
const STOCK = '/etc/carbon';

interface StockCarbon {
  port: number;
  storageDir: string;
  stop(): Promise<void>;
  log(): string;
}

/** Debian's carbon.conf with only where it keeps things, where it listens and as whom it runs changed. */
async function startStockCarbon(dir: string): Promise<StockCarbon> {
  const storageDir = join(dir, 'storage');
  const confDir = join(dir, 'conf');
  for (const d of [storageDir, join(storageDir, 'whisper'), join(storageDir, 'log'), confDir]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  const queryPort = await freePort();
  const pickle = await freePort();
  const changes: Record<string, string> = {
    STORAGE_DIR: `${storageDir}/`,
    LOCAL_DATA_DIR: `${storageDir}/whisper/`,
    CONF_DIR: `${confDir}/`,
    LOG_DIR: `${storageDir}/log/`,
    PID_DIR: `${storageDir}/`,
    USER: '',
    LINE_RECEIVER_INTERFACE: '127.0.0.1',
    LINE_RECEIVER_PORT: String(port),
    PICKLE_RECEIVER_INTERFACE: '127.0.0.1',
    PICKLE_RECEIVER_PORT: String(pickle),
    CACHE_QUERY_INTERFACE: '127.0.0.1',
    CACHE_QUERY_PORT: String(queryPort),
  };
  let section = '';
  const conf = readFileSync(join(STOCK, 'carbon.conf'), 'utf8')
    .split('\n')
    .map((l) => {
      const s = /^\[(\w+)\]/.exec(l);
      if (s) section = s[1]!;
      const m = /^([A-Z_]+)\s*=/.exec(l);
      return section === 'cache' && m && m[1]! in changes ? `${m[1]} = ${changes[m[1]!]}` : l;
    })
    .join('\n');
  writeFileSync(join(confDir, 'carbon.conf'), conf);
  // Stock retention and aggregation files exactly as Debian ships them (storage-aggregation.conf: none).
  for (const f of readdirSync(STOCK)) if (f !== 'carbon.conf') copyFileSync(join(STOCK, f), join(confDir, f));
  let output = '';
  const child: ChildProcess = spawn('carbon-cache', [`--config=${join(confDir, 'carbon.conf')}`, `--pidfile=${join(storageDir, 'carbon-cache.pid')}`, '--debug', 'start'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(
    `stock carbon-cache on 127.0.0.1:${port}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`carbon-cache exited (code ${child.exitCode}):\n${output}`);
      return (await canConnect(port)) ? true : undefined;
    },
    30_000,
    100,
  );
  return { port, storageDir, stop: () => terminate(child, 15_000), log: () => output };
}

/** Metric paths (dotted) of every whisper file under `prefix`. */
function seriesUnder(storageDir: string, prefix: string): string[] {
  const root = join(storageDir, 'whisper');
  const base = join(root, ...prefix.split('.'));
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.wsp')) out.push(relative(root, p).slice(0, -4).split('/').join('.'));
    }
  };
  walk(base);
  return out;
}

describe('exact on stock Debian carbon with nfwatch\'s shipped defaults, during a port scan', () => {
  let lab: Lab | undefined;
  let carbon: StockCarbon | undefined;
  let ulogd: Ulogd | undefined;
  let nfwatch: Nfwatch | undefined;
  let tmp = '';

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'nft', 'nfacct', 'iptables-nft', 'ip6tables-nft', 'ulogd', 'hping3', 'nmap', 'carbon-cache', 'whisper-fetch']);
    requireBuild();
    if (!existsSync(join(STOCK, 'carbon.conf')) || !existsSync(join(STOCK, 'storage-schemas.conf'))) throw new Error(`precondition: Debian's graphite-carbon files in ${STOCK}`);
    tmp = mkdtempSync(join(tmpdir(), 'nfw-stock-carbon-'));
    lab = await createLab();
    carbon = await startStockCarbon(join(tmp, 'carbon'));
  }, 120_000);

  afterAll(async () => {
    await ensureStopped(nfwatch);
    await ulogd?.stop();
    await carbon?.stop();
    await lab?.destroy();
    if (tmp && !process.env.NFW_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('whisper sums equal what ulogd logged, events.blocked.count exists from the first minute, carbon drops no create', { timeout: 240_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'run-'));
    const nfacctBefore = await nfacctReported(lab);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(dir, 'ulogd') });
    // Shipped defaults: no [aggregate] and no creation settings; web off so nothing listens.
    const toml = `[general]\nstate_dir = "${join(dir, 'state')}"\n\n${fileSource(ulogd.outputPath)}\n\n[web]\nenabled = false\n\n[outputs.graphite]\nport = ${carbon.port}\nprefix = "${PREFIX}"\n`;
    const config = parseConfigText(toml);
    expect(config.aggregate.interval_seconds).toBe(60);
    expect(config.outputs.graphite.max_creates_per_minute).toBeLessThan(50);
    nfwatch = await startNfwatch(dir, toml);
    const startedAt = Date.now();
    const firstMinute = Math.floor(startedAt / 60_000) * 60;

    // Minute 1: a SYN scan of 600 ports (one new dport series per port if nothing bounded them),
    // plus traffic whose counts are known from the tool.
    const expected: Counts = new Map();
    const scanMinute = Math.floor(Date.now() / 60_000) * 60;
    const scan1 = await sendTraffic(lab, { kind: 'nmap', ports: '1-600' });
    await send(lab, expected, 'ssh6000', 30);
    await send(lab, expected, 'drop23', 20);
    await send(lab, expected, 'dns', 10);
    // Minute 2: the scan goes on over 600 more ports.
    await sleep(Math.max(0, startedAt + 62_000 - Date.now()));
    const scan2 = await sendTraffic(lab, { kind: 'nmap', ports: '601-1200' });
    await send(lab, expected, 'udpDrop', 15);
    const lastTraffic = Date.now();
    await sleep(SETTLE_MS);

    // The truth: every packet line ulogd logged, classified by nfwatch's own verdict rules.
    const opts = decodeOptions(config);
    const truth: Counts = new Map();
    const bump = (k: string, n = 1) => truth.set(k, (truth.get(k) ?? 0) + n);
    let logged = 0;
    for (const line of readFileSync(ulogd.outputPath, 'utf8').split('\n').filter(isPacketLine)) {
      const e = decodeLine(line, 0, opts);
      if (e.kind !== 'packet') throw new Error(`ulogd line not decoded: ${line.slice(0, 200)}`);
      logged++;
      bump(`events.${e.verdict}.count`);
      if (e.dstPort >= 0) bump(`dport:${e.verdict}`);
    }
    expect(logged).toBeGreaterThanOrEqual(1200); // the scans, plus the 75 known packets, give or take nmap's own
    // The known traffic is in there (the scan adds its own hits on 22, 23 and 53).
    for (const v of ['allowed', 'blocked'] as const) expect(truth.get(`events.${v}.count`)).toBeGreaterThanOrEqual(expected.get(`events.${v}.count`) ?? 0);
    const nfacct = await nfacctSince(lab, nfacctBefore);

    // Wait until the interval with the last traffic is closed (60 s + 2 s grace) and written.
    const lastMinuteEnd = (Math.floor(lastTraffic / 60_000) + 1) * 60_000;
    await sleep(Math.max(0, lastMinuteEnd + 2_000 + 3_000 - Date.now()));
    const from = firstMinute - 60;
    const until = Math.ceil(Date.now() / 1000) + 60;
    const sum = (path: string) => whisperSum(carbon!.storageDir, `${PREFIX}.${path}`, from, until);

    const want: Record<string, number> = {};
    const got: Record<string, number | null> = {};
    const check = async () => {
      for (const v of ['allowed', 'blocked'] as const) {
        want[`events.${v}.count`] = truth.get(`events.${v}.count`) ?? 0;
        got[`events.${v}.count`] = await sum(`events.${v}.count`);
        // Every dport.* of a verdict (named and other) adds up to its events with a port.
        want[`events.${v}.dport.*`] = truth.get(`dport:${v}`) ?? 0;
        let ports = 0;
        for (const p of seriesUnder(carbon!.storageDir, `${PREFIX}.events.${v}.dport`)) ports += (await whisperSum(carbon!.storageDir, p, from, until)) ?? 0;
        got[`events.${v}.dport.*`] = ports;
      }
      want['events.input.ulogd'] = logged;
      got['events.input.ulogd'] = await sum('events.input.ulogd');
      // NFACCT: a counter whose series is not created yet is summed into nfacct.other: the
      // family's total is what must match (per name too, once created; reported below).
      for (const field of ['pkts', 'bytes']) {
        want[`nfacct.*.${field}`] = [...nfacct].filter(([k]) => k.endsWith(`.${field}`)).reduce((a, [, n]) => a + n, 0);
        let total = 0;
        for (const p of seriesUnder(carbon!.storageDir, `${PREFIX}.nfacct`)) if (p.endsWith(`.${field}`)) total += (await whisperSum(carbon!.storageDir, p, from, until)) ?? 0;
        got[`nfacct.*.${field}`] = total;
      }
    };
    await waitFor('whisper sums to equal what ulogd logged', async () => {
      await check();
      return JSON.stringify(got) === JSON.stringify(want) ? true : undefined;
    }, 20_000, 1000).catch(() => undefined);
    console.log(`stock carbon: logged ${logged} packet lines (nmap sent ${scan1.sent} + ${scan2.sent}); whisper vs logged:`, JSON.stringify({ want, got }));
    expect(got).toEqual(want);

    // events.blocked.count has the first minute's count: created at once, not dropped by carbon.
    const blocked = await whisperFetch(carbon.storageDir, `${PREFIX}.events.blocked.count`, scanMinute, scanMinute + 59);
    expect(blocked).not.toBeNull();
    expect(blocked!.step).toBe(60);
    expect(blocked!.values[0]).toBeGreaterThan(0);

    // Bounded series: far fewer than the 1,200 ports scanned; and carbon dropped no create.
    const series = seriesUnder(carbon.storageDir, PREFIX);
    const dports = series.filter((p) => p.includes('.dport.'));
    const perName: Record<string, number | null> = {};
    for (const [path] of nfacct) perName[path] = await sum(path);
    console.log(`stock carbon: ${series.length} nfwatch series (${dports.length} dport) created; nfacct per name (whisper):`, JSON.stringify(perName), 'truth:', JSON.stringify(Object.fromEntries(nfacct)));
    // At most 30 (burst) + 40 a minute over the ~3 minutes, not one per scanned port.
    expect(series.length).toBeLessThanOrEqual(30 + 40 * Math.ceil((Date.now() - startedAt) / 60_000));
    expect(dports.length).toBeLessThan(1200 / 4);
    // carbon's own count of creates it refused (recorded every minute, also when 0).
    const dropped = seriesUnder(carbon.storageDir, 'carbon.agents').filter((p) => p.endsWith('.droppedCreates'));
    expect(dropped.length).toBe(1);
    const droppedCreates = await whisperSum(carbon.storageDir, dropped[0]!, from, until);
    console.log(`stock carbon: droppedCreates = ${droppedCreates}; dport series: ${dports.join(' ')}`);
    expect(droppedCreates).toBe(0);

    expect(await nfwatch.stop()).toBe(0);
    expect(nfwatch.log()).not.toMatch(/ error /);
  });
});
