// Traffic with known counts, and the check that Graphite holds exactly those counts: shared by the
// end-to-end tests.
import { expect } from 'vitest';
import { join } from 'node:path';
import { nfacctReported, sendTraffic, sleep, whisperSum, type Carbon, type Lab } from './lab.js';
import { startNfwatch, type Nfwatch } from './nfwatch.js';

/** nfwatch's interval and carbon's finest retention must match (carbon keeps one value per slot). */
export const INTERVAL_S = 2;
/** NFLOG batches packets for up to 1 s; NFACCT is polled every 2 s: wait this long after traffic. */
export const SETTLE_MS = 3_000;

export type Counts = Map<string, number>;

function add(into: Counts, path: string, n: number): void {
  into.set(path, (into.get(path) ?? 0) + n);
}

/** Traffic the example firewalls treat in a known way, and the metrics each packet adds to. */
const TRAFFIC = {
  // The classic raw-socket scanner shape: source port 6000, window 16384, TTL 103.
  ssh6000: { spec: { kind: 'tcp', dport: 22, sport: 6000, window: 16384, ttl: 103 }, verdict: 'allowed', proto: 'tcp', port: 22, prefix: 'SSH_Attempt' },
  drop23: { spec: { kind: 'tcp', dport: 23 }, verdict: 'blocked', proto: 'tcp', port: 23, prefix: 'Input_Default_DROP' },
  dns: { spec: { kind: 'udp', dport: 53 }, verdict: 'allowed', proto: 'udp', port: 53, prefix: 'DNS' },
  udpDrop: { spec: { kind: 'udp', dport: 5353 }, verdict: 'blocked', proto: 'udp', port: 5353, prefix: 'Input_Default_DROP' },
  icmp: { spec: { kind: 'icmp' }, verdict: 'allowed', proto: 'icmp', port: undefined, prefix: 'ICMP_Echo' },
  icmp6: { spec: { kind: 'icmp6' }, verdict: 'allowed', proto: 'icmpv6', port: undefined, prefix: 'ICMP_Echo' },
} as const;

/** Sends `count` packets and adds what they must count to `expected`. hping3 sends exactly the count. */
export async function send(lab: Lab, expected: Counts, what: keyof typeof TRAFFIC, count: number, intervalUs = 20_000): Promise<void> {
  const t = TRAFFIC[what];
  const r = t.spec.kind === 'icmp6'
    ? await sendTraffic(lab, { kind: 'icmp6', count, intervalMs: Math.max(1, intervalUs / 1000) })
    : await sendTraffic(lab, { ...t.spec, count, intervalUs });
  expect(r.sent).toBe(count);
  add(expected, `events.${t.verdict}.count`, count);
  add(expected, `events.${t.verdict}.proto.${t.proto}`, count);
  if (t.port !== undefined) add(expected, `events.${t.verdict}.dport.${t.port}`, count);
  add(expected, `events.prefix.${t.prefix}`, count);
}

/** Everything a packet adds is also counted by source name. */
export function withInput(expected: Counts, source: string): Counts {
  const out = new Map(expected);
  out.set(`events.input.${source}`, (expected.get('events.allowed.count') ?? 0) + (expected.get('events.blocked.count') ?? 0));
  return out;
}

async function readSums(carbon: Carbon, prefix: string, paths: Iterable<string>, from: number): Promise<Record<string, number | null>> {
  const until = Math.ceil(Date.now() / 1000) + 60;
  const out: Record<string, number | null> = {};
  for (const path of paths) out[path] = await whisperSum(carbon.storageDir, `${prefix}.${path}`, from, until);
  return out;
}

/**
 * Waits until carbon holds exactly the expected sums, then waits one more interval plus carbon's
 * write delay and checks they stay exact (nothing counted twice by a late write).
 */
export async function expectExactInGraphite(carbon: Carbon, prefix: string, expected: Counts, from: number, timeoutMs = 45_000): Promise<void> {
  const want = Object.fromEntries(expected);
  const deadline = Date.now() + timeoutMs;
  let got = await readSums(carbon, prefix, expected.keys(), from);
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
    await sleep(500);
    got = await readSums(carbon, prefix, expected.keys(), from);
  }
  expect(got).toEqual(want);
  await sleep(INTERVAL_S * 1000 + 2_500);
  expect(await readSums(carbon, prefix, expected.keys(), from)).toEqual(want);
}

function nfwatchToml(opts: { stateDir: string; carbonPort: number; prefix: string; source: string }): string {
  return `
[general]
state_dir = "${opts.stateDir}"
log_level = "debug"

[aggregate]
interval_seconds = ${INTERVAL_S}
grace_seconds = 1.5

${opts.source}

[web]
port = 0

[outputs.graphite]
port = ${opts.carbonPort}
prefix = "${opts.prefix}"
# The lab's carbon creates without limit (MAX_CREATES_PER_MINUTE = inf), and these specs count
# every port and prefix series: no pacing here; stock-carbon.test.ts specifies the pacing.
max_creates_per_minute = 0
reconnect_min_ms = 100
reconnect_max_ms = 1000
`;
}

export const fileSource = (path: string): string => `[[sources.file]]\nname = "ulogd"\npath = "${path}"\nfrom = "beginning"`;
export const socketSource = (name: string, path: string): string => `[[sources.socket]]\nname = "${name}"\nunix_path = "${path}"`;

/** Starts nfwatch in `dir` with one source, writing to `carbon` under `prefix`. */
export function startDaemon(dir: string, carbon: Carbon, prefix: string, source: string): Promise<Nfwatch> {
  return startNfwatch(dir, nfwatchToml({ stateDir: join(dir, 'state'), carbonPort: carbon.port, prefix, source }));
}

/** What ulogd reported per nfacct counter since `before` (a nfacctReported() reading), as metric paths. */
export async function nfacctSince(lab: Lab, before: Map<string, { pkts: number; bytes: number }>): Promise<Counts> {
  const after = await nfacctReported(lab);
  const out: Counts = new Map();
  for (const [name, end] of after) {
    const start = before.get(name) ?? { pkts: 0, bytes: 0 };
    out.set(`nfacct.${name}.pkts`, end.pkts - start.pkts);
    out.set(`nfacct.${name}.bytes`, end.bytes - start.bytes);
  }
  return out;
}
