// Carbon as Debian ships it: the unchanged /etc/carbon files (storage-schemas.conf 60s:1d,5m:30d,
// 1h:3y, no storage-aggregation.conf = average, MAX_CREATES_PER_MINUTE = 50) with only where it
// keeps things, where it listens and as whom it runs changed. Used by the stock-carbon spec and the
// installed-package run.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { decodeLine, type DecodeOptions } from '../../src/decode/line.js';
import type { Counts } from './expect.js';
import { canConnect, freePort, isPacketLine, terminate, waitFor, whisperSum } from './lab.js';

export const STOCK = '/etc/carbon';

/** Fails loudly where Debian's graphite-carbon files are missing. */
export function requireStockCarbon(): void {
  if (!existsSync(join(STOCK, 'carbon.conf')) || !existsSync(join(STOCK, 'storage-schemas.conf'))) throw new Error(`precondition: Debian's graphite-carbon files in ${STOCK}`);
}

export interface StockCarbon {
  port: number;
  storageDir: string;
  stop(): Promise<void>;
  log(): string;
}

/** Starts carbon-cache on Debian's carbon.conf with only where it keeps things, where it listens and as whom it runs changed. */
export async function startStockCarbon(dir: string): Promise<StockCarbon> {
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
export function seriesUnder(storageDir: string, prefix: string): string[] {
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

/** What ulogd logged, classified by nfwatch's own verdict rules: packet lines, events and events with a port per verdict. */
export function loggedTruth(jsonPath: string, opts: DecodeOptions): { logged: number; counts: Counts } {
  const counts: Counts = new Map();
  const bump = (k: string): void => void counts.set(k, (counts.get(k) ?? 0) + 1);
  let logged = 0;
  for (const line of readFileSync(jsonPath, 'utf8').split('\n').filter(isPacketLine)) {
    const e = decodeLine(line, 0, opts);
    if (e.kind !== 'packet') throw new Error(`ulogd line not decoded: ${line.slice(0, 200)}`);
    logged++;
    bump(`events.${e.verdict}.count`);
    if (e.dstPort >= 0) bump(`dport:${e.verdict}`);
  }
  return { logged, counts };
}

/**
 * The totals whisper must hold (want) and holds (got) between `from` and `until`: events per
 * verdict, every dport.* series of a verdict together (named and `other`), the input count, and
 * per NFACCT field the whole family (a counter whose own series is not created yet is summed
 * into nfacct.other, so the family's total is what must match).
 */
export async function whisperTotals(
  storageDir: string,
  prefix: string,
  truth: { logged: number; counts: Counts },
  nfacct: Counts,
  from: number,
  until: number,
): Promise<{ want: Record<string, number>; got: Record<string, number | null> }> {
  const want: Record<string, number> = {};
  const got: Record<string, number | null> = {};
  const sumAll = async (under: string, suffix: string): Promise<number> => {
    let total = 0;
    for (const p of seriesUnder(storageDir, under)) if (p.endsWith(suffix)) total += (await whisperSum(storageDir, p, from, until)) ?? 0;
    return total;
  };
  for (const v of ['allowed', 'blocked'] as const) {
    want[`events.${v}.count`] = truth.counts.get(`events.${v}.count`) ?? 0;
    got[`events.${v}.count`] = await whisperSum(storageDir, `${prefix}.events.${v}.count`, from, until);
    want[`events.${v}.dport.*`] = truth.counts.get(`dport:${v}`) ?? 0;
    got[`events.${v}.dport.*`] = await sumAll(`${prefix}.events.${v}.dport`, '');
  }
  want['events.input.ulogd'] = truth.logged;
  got['events.input.ulogd'] = await whisperSum(storageDir, `${prefix}.events.input.ulogd`, from, until);
  for (const field of ['pkts', 'bytes']) {
    want[`nfacct.*.${field}`] = [...nfacct].filter(([k]) => k.endsWith(`.${field}`)).reduce((a, [, n]) => a + n, 0);
    got[`nfacct.*.${field}`] = await sumAll(`${prefix}.nfacct`, `.${field}`);
  }
  return { want, got };
}
