// The bench's corpus generator: deterministic for a seed, ulogd 2.0.8's exact line format (key
// order and spacing of the real lab capture), and a truth that matches what it generated.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CORPUS_KINDS, END_AGE_SECONDS, generateCorpus, type CorpusKind, type CorpusTruth } from '../../src/bench/corpus.js';
import { ipv6Network } from '../../src/util/ip.js';

type Json = Record<string, unknown>;

const CAPTURE = readFileSync(new URL('../../demo/ulogd-lab-capture.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l !== '');

/** A NOW in the past, so every run of the suite generates the same bytes. */
const NOW_USEC = Date.UTC(2026, 10, 24, 8, 30, 0) * 1000;

function generate(kind: CorpusKind, seed: number, lines: number): { lines: string[]; truth: CorpusTruth } {
  const chunks: string[] = [];
  const truth = generateCorpus(kind, { seed, lines, nowUsec: NOW_USEC }, (text) => chunks.push(text));
  const all = chunks.join('');
  expect(all.endsWith('\n')).toBe(true);
  return { lines: all.slice(0, -1).split('\n'), truth };
}

/** Which kind of line a record is, so generated lines are compared with real ones of the same shape. */
function shape(r: Json): string {
  return 'sum.name' in r ? 'nfacct' : `family ${String(r['oob.family'])} proto ${String(r['ip.protocol'])}`;
}

/** ulogd's JSON plugin (jansson) writes `{"key": value, "key": value}`: ", " and ": " separators. */
function ulogdText(r: Json): string {
  return `{${Object.entries(r).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;
}

const captureKeys = new Map<string, string[]>();
for (const line of CAPTURE) {
  const r = JSON.parse(line) as Json;
  if (!captureKeys.has(shape(r))) captureKeys.set(shape(r), Object.keys(r));
}

const samples = new Map(CORPUS_KINDS.map((kind) => [kind, generate(kind, 7, 4_000)]));

describe('bench corpora', () => {
  it('are the same bytes for the same seed and different for another', () => {
    const again = generate('normal', 7, 4_000);
    expect(again.lines).toEqual(samples.get('normal')!.lines);
    expect(again.truth).toEqual(samples.get('normal')!.truth);
    expect(generate('normal', 8, 2_000).lines.slice(0, 50)).not.toEqual(again.lines.slice(0, 50));
  });

  it('have the same truth whatever "now" is (only the event times move)', () => {
    const later = generateCorpus('normal', { seed: 7, lines: 4_000, nowUsec: NOW_USEC + 3_723_456_789 }, () => undefined);
    const { firstEventUsec, lastEventUsec, ...rest } = samples.get('normal')!.truth;
    expect(later).toMatchObject(rest);
    expect(later.lastEventUsec - later.firstEventUsec).toBe(lastEventUsec - firstEventUsec);
  });

  it("write every line in the key order and spacing of the real capture's lines of the same shape", () => {
    // The format check itself holds for the real lines. Mismatches are collected: one expect per line is slow.
    expect(CAPTURE.filter((line) => ulogdText(JSON.parse(line) as Json) !== line)).toEqual([]);
    const seen = new Set<string>();
    const wrong: string[] = [];
    for (const [kind, { lines }] of samples) {
      for (const line of lines) {
        const r = JSON.parse(line) as Json;
        if (ulogdText(r) !== line) wrong.push(`${kind} spacing: ${line}`);
        const real = captureKeys.get(shape(r));
        if (real) {
          if (Object.keys(r).join() !== real.join()) wrong.push(`${kind} ${shape(r)} keys: ${Object.keys(r).join()}`);
          seen.add(shape(r));
        }
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    // Every shape of the capture is generated: NFACCT, TCP/UDP/ICMP over IPv4, TCP and ICMPv6 over IPv6.
    expect([...seen].sort()).toEqual([...captureKeys.keys()].sort());
  });

  it('are ~900-byte packet lines with local-time timestamps matching oob.time, in time order, never after now', () => {
    const { lines } = samples.get('flood')!;
    const wrong: string[] = [];
    let previous = 0;
    for (const line of lines) {
      const r = JSON.parse(line) as Json;
      const usec = Number(r['oob.time.sec']) * 1e6 + Number(r['oob.time.usec']);
      if (usec < previous || usec > NOW_USEC - END_AGE_SECONDS * 1e6 + 1e6) wrong.push(`time ${usec} after ${previous}: ${line}`);
      previous = usec;
      const d = new Date(usec / 1000);
      const two = (n: number) => String(n).padStart(2, '0');
      const local = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(r['oob.time.usec']).padStart(6, '0')}`;
      if (r.timestamp !== local) wrong.push(`timestamp ${String(r.timestamp)}, oob.time says ${local}`);
      if (!('sum.name' in r) && line.length < 850) wrong.push(`short line: ${line}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('count their truth exactly', () => {
    for (const [kind, { lines, truth }] of samples) {
      const sources = new Set<string>();
      const counted = { lines: lines.length, allowed: 0, blocked: 0, nfacctLines: 0, ipv6Packets: 0 };
      const nfacct: Record<string, { pkts: number; bytes: number }> = {};
      for (const line of lines) {
        const r = JSON.parse(line) as Json;
        if ('sum.name' in r) {
          counted.nfacctLines++;
          const c = (nfacct[String(r['sum.name'])] ??= { pkts: 0, bytes: 0 });
          c.pkts += Number(r['sum.pkts']);
          c.bytes += Number(r['sum.bytes']);
          continue;
        }
        counted[r.action === 'allowed' ? 'allowed' : 'blocked']++;
        if (r['oob.family'] === 10) counted.ipv6Packets++;
        sources.add(String(r.src_ip));
      }
      expect(truth, kind).toMatchObject({ ...counted, packets: counted.allowed + counted.blocked, nfacct, distinctSources: sources.size });
      expect(truth.bytes).toBe(lines.reduce((n, l) => n + l.length + 1, 0));
    }
  });

  it('have the traffic each kind stands for', () => {
    const normal = samples.get('normal')!.truth;
    expect(normal.distinctSources).toBeGreaterThan(500);
    expect(normal.distinctSources).toBeLessThanOrEqual(1000);
    expect(normal.allowed / normal.packets).toBeGreaterThan(0.6);
    expect(normal.ipv6Packets / normal.packets).toBeGreaterThan(0.02);
    // The same mix from a hundred times the sources: 4,000 lines already meet more than the normal mix has.
    const busy = samples.get('normal100k')!.truth;
    expect(busy.distinctSources).toBeGreaterThan(1000);
    expect(busy.allowed / busy.packets).toBeGreaterThan(0.6);
    expect(busy.ipv6Packets / busy.packets).toBeGreaterThan(0.02);
    const flood = samples.get('flood')!.truth;
    expect(flood.allowed).toBe(0);
    expect(flood.distinctSources).toBe(flood.packets); // a new source for every packet
    expect(samples.get('sources100k')!.truth.distinctSources).toBe(samples.get('sources100k')!.truth.packets);
  });

  it('make the IPv6 flood from a new /64 of 2000::/3 for every packet, written as inet_ntop writes it', () => {
    const { lines, truth } = samples.get('flood6')!;
    expect(truth).toMatchObject({ allowed: 0, ipv6Packets: truth.packets, distinctSources: truth.packets });
    const groups = new Uint16Array(8);
    const networks = new Set<string>();
    const wrong: string[] = [];
    for (const line of lines) {
      const r = JSON.parse(line) as Json;
      if ('sum.name' in r) continue;
      const src = String(r.src_ip);
      if (ipv6Network(src, 128, groups) !== `${src}/128` || (groups[0]! & 0xe000) !== 0x2000) wrong.push(src);
      networks.add(ipv6Network(src, 64, groups)!);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(networks.size).toBe(truth.packets);
  });
});
