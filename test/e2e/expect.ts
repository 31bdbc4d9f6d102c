// Traffic with known counts, and the check that Graphite holds exactly those counts: shared by the
// end-to-end tests.
import { expect } from 'vitest';
import { sendTraffic, sleep, whisperSum, type Carbon, type Lab } from './lab.js';

/** nfwatch's interval and carbon's finest retention must match (carbon keeps one value per slot). */
export const INTERVAL_S = 2;
/** NFLOG batches packets for up to 1 s; NFACCT is polled every 2 s: wait this long after traffic. */
export const SETTLE_MS = 3_000;

export type Counts = Map<string, number>;

function add(into: Counts, path: string, n: number): void {
  into.set(path, (into.get(path) ?? 0) + n);
}

/** hping3/python send exactly the count asked for (the lab smoke test checks it against ulogd). */
export async function send(lab: Lab, expected: Counts, what: 'ssh6000' | 'drop23' | 'dns' | 'udpDrop' | 'icmp' | 'icmp6', count: number, intervalUs = 20_000): Promise<void> {
  switch (what) {
    case 'ssh6000': {
      // The classic raw-socket scanner shape: source port 6000, window 16384, TTL 103.
      const r = await sendTraffic(lab, { kind: 'tcp', count, dport: 22, sport: 6000, window: 16384, ttl: 103, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.tcp', count);
      add(expected, 'events.allowed.dport.22', count);
      add(expected, 'events.prefix.SSH_Attempt', count);
      return;
    }
    case 'drop23': {
      const r = await sendTraffic(lab, { kind: 'tcp', count, dport: 23, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.blocked.count', count);
      add(expected, 'events.blocked.proto.tcp', count);
      add(expected, 'events.blocked.dport.23', count);
      add(expected, 'events.prefix.Input_Default_DROP', count);
      return;
    }
    case 'dns': {
      const r = await sendTraffic(lab, { kind: 'udp', count, dport: 53, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.udp', count);
      add(expected, 'events.allowed.dport.53', count);
      add(expected, 'events.prefix.DNS', count);
      return;
    }
    case 'udpDrop': {
      const r = await sendTraffic(lab, { kind: 'udp', count, dport: 5353, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.blocked.count', count);
      add(expected, 'events.blocked.proto.udp', count);
      add(expected, 'events.blocked.dport.5353', count);
      add(expected, 'events.prefix.Input_Default_DROP', count);
      return;
    }
    case 'icmp': {
      const r = await sendTraffic(lab, { kind: 'icmp', count, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.icmp', count);
      add(expected, 'events.prefix.ICMP_Echo', count);
      return;
    }
    case 'icmp6': {
      await sendTraffic(lab, { kind: 'icmp6', count, intervalMs: Math.max(1, intervalUs / 1000) });
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.icmpv6', count);
      add(expected, 'events.prefix.ICMP_Echo', count);
      return;
    }
  }
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

export function nfwatchToml(opts: { stateDir: string; carbonPort: number; prefix: string; source: string }): string {
  return `
[general]
state_dir = "${opts.stateDir}"
log_level = "debug"

[aggregate]
interval_seconds = ${INTERVAL_S}
grace_seconds = 1.5

${opts.source}

[outputs.graphite]
port = ${opts.carbonPort}
prefix = "${opts.prefix}"
reconnect_min_ms = 100
reconnect_max_ms = 1000
`;
}

export function nfacctExpected(before: Map<string, { pkts: number; bytes: number }>, after: Map<string, { pkts: number; bytes: number }>): Counts {
  const out: Counts = new Map();
  for (const [name, end] of after) {
    const start = before.get(name) ?? { pkts: 0, bytes: 0 };
    out.set(`nfacct.${name}.pkts`, end.pkts - start.pkts);
    out.set(`nfacct.${name}.bytes`, end.bytes - start.bytes);
  }
  return out;
}
