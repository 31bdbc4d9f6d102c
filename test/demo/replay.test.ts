import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLine, type DecodeOptions } from '../../src/decode/line.js';
import {
  formatUlogdTimestamp,
  lineTimeUsec,
  parseCapture,
  replaceJsonValue,
  replay,
  replayTimeUsec,
  replayTiming,
  retimeLine,
} from '../../src/demo/replay.js';
import { classifyIp } from '../../src/enrich/ip-ranges.js';
import { FingerprintEnricher } from '../../src/enrich/signatures.js';
import type { PacketEvent } from '../../src/pipeline/types.js';
import { ADDRESS_MAP, addressWords, ipv4HeaderChecksumOk, rewriteLine, updateChecksum } from '../e2e/record-demo.js';

const options: DecodeOptions = {
  verdictRules: [{ prefix_contains: 'DROP', verdict: 'blocked' }],
  useRawLabel: true,
  naiveTimestamps: 'utc', maxFutureMs: 300_000
};

const CAPTURE = new URL('../../demo/ulogd-lab-capture.jsonl', import.meta.url);
const fixture = (name: string): string[] =>
  readFileSync(new URL(`../fixtures/ulogd/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean);

// Real ulogd 2.0.8 lines (test/fixtures/ulogd): a packet, an NFACCT record, eventv1, a +0100 offset.
const PACKET = fixture('syn-port6000.jsonl')[0]!;
const NFACCT = fixture('nfacct-deltas.jsonl')[0]!;
const EVENTV1 = fixture('eventv1.jsonl').find((l) => l.includes('@timestamp') && l.includes('src_ip'))!;
const WITH_OFFSET = fixture('json-with-offset.jsonl')[0]!;
const NFACCT_NO_OOB = fixture('nfacct-no-timestamp.jsonl')[0]!;

const tmp = mkdtempSync(join(tmpdir(), 'nfw-demo-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('time rewriting (pure)', () => {
  it('replaces one key textually and leaves the rest of the line alone', () => {
    const line = '{"timestamp": "2026-11-24T07:42:11.610594", "oob.time.sec": 1795506131, "oob.time.usec": 610594, "src_ip": "198.18.0.13"}';
    expect(replaceJsonValue(line, 'oob.time.sec', '1800000000')).toBe(line.replace('1795506131', '1800000000'));
    expect(replaceJsonValue(line, 'src_ip', '"203.0.113.9"')).toBe(line.replace('198.18.0.13', '203.0.113.9'));
    // "oob.time.sec" must not match "oob.time.secX" or another key containing it
    expect(replaceJsonValue('{"xoob.time.sec": 1, "oob.time.sec": 2}', 'oob.time.sec', '3')).toBe('{"xoob.time.sec": 1, "oob.time.sec": 3}');
    expect(replaceJsonValue(line, 'absent', '1')).toBe(line);
  });

  it('reads a line time from oob.time.* in µs, else from its timestamp', () => {
    expect(lineTimeUsec(PACKET)).toBe((JSON.parse(PACKET) as { 'oob.time.sec': number })['oob.time.sec'] * 1e6 + (JSON.parse(PACKET) as { 'oob.time.usec': number })['oob.time.usec']);
    expect(lineTimeUsec('{"timestamp": "2026-11-24T06:47:11", "sum.name": "x"}')).toBe(Date.UTC(2026, 10, 24, 6, 47, 11) * 1000);
    expect(lineTimeUsec('{"timestamp": "2026-11-24T06:47:11.123456+0100", "sum.name": "x"}')).toBe(Date.UTC(2026, 10, 24, 5, 47, 11) * 1000 + 123456);
    expect(lineTimeUsec('not json')).toBeNull();
    expect(lineTimeUsec('{"sum.name": "x"}')).toBeNull();
  });

  it('formats timestamps the way ulogd writes them', () => {
    const usec = Date.UTC(2026, 10, 24, 23, 59, 58) * 1000 + 7;
    expect(formatUlogdTimestamp(usec, 0, { micros: true, offset: false })).toBe('2026-11-24T23:59:58.000007');
    expect(formatUlogdTimestamp(usec, 60, { micros: true, offset: true })).toBe('2026-11-25T00:59:58.000007+0100');
    expect(formatUlogdTimestamp(usec, -330, { micros: false, offset: true })).toBe('2026-11-24T18:29:58-0530');
    expect(formatUlogdTimestamp(usec, 0, { micros: false, offset: false })).toBe('2026-11-24T23:59:58');
  });

  it('moves oob.time.* and the timestamp of every kind of line, keeping their style', () => {
    const usec = 1_900_000_000_123_456;
    const p = JSON.parse(retimeLine(PACKET, usec, 0)) as Record<string, unknown>;
    expect(p['oob.time.sec']).toBe(1_900_000_000);
    expect(p['oob.time.usec']).toBe(123_456);
    expect(p['timestamp']).toBe('2030-03-17T17:46:40.123456');
    // everything else byte for byte
    const strip = (l: string): string => l.replace(/"(oob\.time\.sec|oob\.time\.usec|timestamp)":\s*("[^"]*"|\d+)/g, '');
    expect(strip(retimeLine(PACKET, usec, 0))).toBe(strip(PACKET));

    const n = JSON.parse(retimeLine(NFACCT, usec, 120)) as Record<string, unknown>;
    expect(n['oob.time.sec']).toBe(1_900_000_000);
    expect(n['timestamp']).toBe('2030-03-17T19:46:40.123456');

    const e = JSON.parse(retimeLine(EVENTV1, usec, 0)) as Record<string, unknown>;
    expect(e['@timestamp']).toMatch(/^2030-03-17T17:46:40/);
    expect(e['oob.time.sec']).toBe(1_900_000_000);

    expect((JSON.parse(retimeLine(WITH_OFFSET, usec, 60)) as Record<string, unknown>)['timestamp']).toBe('2030-03-17T18:46:40.123456+0100');
    // NFACCT without timestamp=1: second-precision timestamp only, and no oob.time.* is added
    const plain = retimeLine(NFACCT_NO_OOB, usec, 0);
    expect(plain).not.toContain('oob.time');
    expect((JSON.parse(plain) as Record<string, unknown>)['timestamp']).toBe('2030-03-17T17:46:40');
  });

  it('maps recorded times to loop times: relative to the earliest line, divided by speed, one period per loop', () => {
    const lines = parseCapture(['{"oob.time.sec": 100, "oob.time.usec": 500000, "src_ip": "a"}', '', '{"oob.time.sec": 110, "oob.time.usec": 500000, "src_ip": "a"}'].join('\n'));
    expect(lines.map((l) => l.usec)).toEqual([100_500_000, 110_500_000]);
    const timing = replayTiming(lines, 5_000_000_000, 2, 1_000_000);
    expect(timing.periodUsec).toBe(5_000_000 + 1_000_000);
    expect(replayTimeUsec(100_500_000, 0, timing)).toBe(5_000_000_000);
    expect(replayTimeUsec(110_500_000, 0, timing)).toBe(5_005_000_000);
    expect(replayTimeUsec(100_500_000, 1, timing)).toBe(5_006_000_000);
    expect(replayTimeUsec(110_500_000, 3, timing)).toBe(5_023_000_000);
    expect(() => replayTiming(lines, 0, 0, 0)).toThrow(/speed/);
  });
});

describe('pacing', () => {
  it('appends a tiny capture at its pace (×10) with rewritten, increasing times, loop after loop', async () => {
    const capture = join(tmp, 'tiny.jsonl');
    const base = JSON.parse(PACKET) as Record<string, unknown>;
    const t0 = 1_700_000_000;
    const tiny = [0, 300_000, 600_000, 900_000].map((dt, i) =>
      JSON.stringify({ ...base, 'oob.time.sec': t0 + Math.floor(dt / 1e6), 'oob.time.usec': dt % 1e6, src_port: 6000 + i }),
    );
    writeFileSync(capture, tiny.join('\n') + '\n');
    const output = join(tmp, 'out', 'ulogd.json');
    const writes: Array<{ at: number; lines: number }> = [];
    const started = Date.now();
    const r = await replay({ capture, output, speed: 10, loops: 2, gapSeconds: 0.05, truncate: true, onWrite: (n) => writes.push({ at: Date.now(), lines: n }) });
    const elapsed = Date.now() - started;
    expect(r).toEqual({ lines: 8, loops: 2 });
    // one loop lasts 0.9 s / 10 + 0.05 s: the second loop's last line is due 0.14 + 0.09 s after the start
    expect(elapsed).toBeGreaterThanOrEqual(220);
    expect(elapsed).toBeLessThan(5000);
    const out = readFileSync(output, 'utf8').split('\n').filter(Boolean);
    expect(out).toHaveLength(8);
    const times = out.map((l) => {
      const d = decodeLine(l, 0, options);
      if (d.kind !== 'packet') throw new Error(`not a packet: ${l}`);
      return d.time;
    });
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
    // rewritten to "now": the first line's time is the start of the replay, the rest follow at 1/10 pace
    expect(Math.abs(times[0]! - started)).toBeLessThan(50);
    expect(times[3]! - times[0]!).toBe(90);
    expect(times[4]! - times[0]!).toBe(140);
    // and each line was written no earlier than its (rewritten) time
    expect(writes.at(-1)!.at).toBeGreaterThanOrEqual(times[7]! - 5);
    // the source ports show the order is kept
    expect(out.map((l) => (JSON.parse(l) as { src_port: number }).src_port)).toEqual([6000, 6001, 6002, 6003, 6000, 6001, 6002, 6003]);
    // everything but the time keys is the capture's line
    const strip = (l: string): string => l.replace(/"(oob\.time\.sec|oob\.time\.usec|timestamp)":\s*("[^"]*"|\d+)/g, '');
    expect(out.map(strip)).toEqual([...tiny, ...tiny].map(strip));
  });

  it('stops when aborted', async () => {
    const capture = join(tmp, 'slow.jsonl');
    writeFileSync(capture, [PACKET, retimeLine(PACKET, (lineTimeUsec(PACKET) ?? 0) + 60_000_000, 0)].join('\n') + '\n');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await replay({ capture, output: join(tmp, 'slow-out.jsonl'), signal: ac.signal });
    expect(r.lines).toBe(1);
  });
});

describe('the address rewriting of the recording', () => {
  const map = new Map(ADDRESS_MAP.map((m) => [m.lab, m.public]));
  const dec = (l: string): PacketEvent => {
    const d = decodeLine(l, 0, options);
    if (d.kind !== 'packet') throw new Error(`not a packet: ${l}`);
    return d;
  };

  it('updates checksums incrementally (RFC 1624) and keeps IPv4 header checksums valid', () => {
    // 0x0000 + 0x1234 word change on a header whose checksum is known
    const words = [0x4500, 0x0028, 0x1c46, 0x4000, 0x4006, 0x0000, 0xac10, 0x0a63, 0xac10, 0x0a0c];
    const full = (ws: number[]): number => {
      let s = ws.reduce((a, w) => a + w, 0);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      return ~s & 0xffff;
    };
    const c = full(words);
    const changed = [...words];
    changed[6] = 0xcb00;
    changed[7] = 0x7101;
    changed[5] = 0;
    expect(updateChecksum(c, [0xac10, 0x0a63], [0xcb00, 0x7101])).toBe(full(changed));
    expect(addressWords('2001:db8:6e66::1')).toEqual([0x2001, 0x0db8, 0x6e66, 0, 0, 0, 0, 1]);
    for (const name of ['syn-mirai-like.jsonl', 'syn-masscan.jsonl', 'ipv4-udp.jsonl', 'ipv4-icmp.jsonl', 'syn-port6000.jsonl']) {
      for (const line of fixture(name)) {
        const out = rewriteLine(line, map);
        expect(ipv4HeaderChecksumOk(JSON.parse(line) as Record<string, unknown>)).toBe(true);
        expect(ipv4HeaderChecksumOk(JSON.parse(out) as Record<string, unknown>)).toBe(true);
      }
    }
  });

  it('keeps Mirai (seq = destination) and masscan (IP ID = dst ^ dport ^ seq) recognisable', () => {
    const fp = FingerprintEnricher.fromConfig('');
    for (const [name, tool] of [['syn-mirai-like.jsonl', 'mirai'], ['syn-masscan.jsonl', 'masscan']] as const) {
      for (const line of fixture(name)) {
        const e = dec(rewriteLine(line, map));
        expect(e.dstIp).toBe('203.0.113.1');
        fp.enrich(e);
        expect(e.tool).toBe(tool);
      }
    }
    const mirai = dec(rewriteLine(fixture('syn-mirai-like.jsonl')[0]!, map));
    expect(mirai.tcpSeq).toBe(203 * 2 ** 24 + 113 * 256 + 1);
  });

  it('refuses an address it has no mapping for', () => {
    expect(() => rewriteLine(PACKET.replace('198.18.0.12', '198.18.0.99'), map)).toThrow(/no mapping/);
  });
});

describe('the bundled capture demo/ulogd-lab-capture.jsonl', () => {
  let text = '';
  let lines: string[] = [];
  let decoded: ReturnType<typeof decodeLine>[] = [];
  let packets: PacketEvent[] = [];
  beforeAll(() => {
    text = readFileSync(CAPTURE, 'utf8');
    lines = text.split('\n').filter(Boolean);
    decoded = lines.map((l) => decodeLine(l, 0, options));
    packets = decoded.filter((d): d is PacketEvent => d.kind === 'packet');
  });

  it('is small and decodes fully, packets and NFACCT counters', () => {
    expect(lines.length).toBeGreaterThan(500);
    expect(lines.length).toBeLessThan(5000);
    expect(Buffer.byteLength(text)).toBeLessThan(2 * 1024 * 1024);
    expect(decoded.filter((d) => d.kind === 'error')).toEqual([]);
    expect(decoded.filter((d) => d.kind === 'counter').length).toBeGreaterThan(100);
    expect(packets.some((p) => p.verdict === 'allowed') && packets.some((p) => p.verdict === 'blocked')).toBe(true);
    expect(new Set(packets.map((p) => p.protocol))).toEqual(new Set([1, 6, 17, 58]));
    // 3–5 minutes of event time
    const times = decoded.map((d) => (d.kind === 'error' ? 0 : d.time));
    const span = (Math.max(...times) - Math.min(...times)) / 1000;
    expect(span).toBeGreaterThan(180);
    expect(span).toBeLessThan(330);
  });

  it('contains the scanners', () => {
    const fp = FingerprintEnricher.fromConfig('');
    const bySource = new Map<string, Set<string>>();
    for (const p of packets) {
      fp.enrich(p);
      if (p.tool === '') continue;
      const s = bySource.get(p.tool) ?? new Set<string>();
      s.add(p.srcIp);
      bySource.set(p.tool, s);
    }
    for (const tool of ['port6000-ssh-scanner', 'nmap-syn', 'masscan', 'zmap', 'mirai']) expect(bySource.get(tool)?.size ?? 0, tool).toBeGreaterThan(0);
    expect(bySource.get('port6000-ssh-scanner')?.size).toBe(8);
    // minutes later, one of them brute-forces SSH with another fingerprint
    const brute = packets.filter((p) => p.srcIp === '183.136.225.42' && p.tcpWindow === 65535 && p.dstPort === 22 && p.verdict === 'allowed');
    expect(brute.length).toBeGreaterThanOrEqual(40);
    const firstScan = Math.min(...packets.filter((p) => p.srcIp === '183.136.225.42' && p.srcPort === 6000).map((p) => p.time));
    expect(Math.min(...brute.map((p) => p.time)) - firstScan).toBeGreaterThan(60_000);
  });

  it('has public source addresses only, all from the documented mapping, and no lab address left', () => {
    const documented = new Set(ADDRESS_MAP.map((m) => m.public));
    const sources = new Set(packets.map((p) => p.srcIp));
    for (const ip of sources) {
      expect(classifyIp(ip), ip).toBe('');
      expect(documented.has(ip), ip).toBe(true);
    }
    expect(sources.size).toBeGreaterThanOrEqual(20);
    expect(new Set(packets.map((p) => p.dstIp))).toEqual(new Set(['203.0.113.1', '2001:db8:6e66::1']));
    expect(text).not.toMatch(/198\.18\.|fd00:6e66/);
  });

  it('still decodes to the same events when replayed at another time', () => {
    const shift = 123_456_789_012;
    for (const l of lines.slice(0, 200)) {
      const t = lineTimeUsec(l)!;
      const a = decodeLine(l, 0, options);
      const b = decodeLine(retimeLine(l, t + shift, 0), 0, options);
      if (a.kind === 'error' || b.kind === 'error') throw new Error(l);
      expect(b.time - a.time).toBe(Math.floor((t + shift) / 1000) - Math.floor(t / 1000));
      expect({ ...b, time: 0 }).toEqual({ ...a, time: 0 });
    }
  });
});
