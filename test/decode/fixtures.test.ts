// Real ulogd2 2.0.8 lines captured in the namespace lab (test/fixtures/ulogd/README.md says how).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeLine, type DecodeOptions } from '../../src/decode/line.js';
import { parseTimestamp } from '../../src/decode/time.js';
import { NONE, TCP_SYN, type CounterEvent, type PacketEvent } from '../../src/pipeline/types.js';

const options: DecodeOptions = {
  verdictRules: [{ prefix_contains: 'DROP', verdict: 'blocked' }],
  useRawLabel: true,
  // The fixtures were captured on a machine whose zone is UTC.
  naiveTimestamps: 'utc', maxFutureMs: 300_000
};

function lines(name: string): Array<Record<string, unknown> & { raw: string }> {
  return readFileSync(new URL(`../fixtures/ulogd/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((raw) => ({ ...(JSON.parse(raw) as Record<string, unknown>), raw }));
}

function packets(name: string): PacketEvent[] {
  return lines(name).map(({ raw }) => {
    const r = decodeLine(raw, 0, options);
    if (r.kind !== 'packet') throw new Error(`${name}: expected a packet, got ${JSON.stringify(r)}`);
    return r;
  });
}

function counters(name: string): CounterEvent[] {
  return lines(name)
    .filter((l) => 'sum.name' in l)
    .map(({ raw }) => {
      const r = decodeLine(raw, 0, options);
      if (r.kind !== 'counter') throw new Error(`${name}: expected a counter, got ${JSON.stringify(r)}`);
      return r;
    });
}

describe('decoding real ulogd2 2.0.8 output', () => {
  it('the raw-socket SSH scanner shape: source port 6000, window 16384, TTL 103, no options', () => {
    const events = packets('ipv4-tcp-syn-port6000.jsonl');
    expect(events).toHaveLength(3);
    for (const e of events) {
      expect(e).toMatchObject({
        verdict: 'allowed', prefix: 'SSH Attempt', device: 'Netfilter', family: 4, protocol: 6,
        srcIp: '198.18.0.2', dstIp: '198.18.0.1', srcPort: 6000, dstPort: 22, tcpFlags: TCP_SYN,
        tcpWindow: 16384, ttl: 103, df: 0, ipTotalLength: 40, ipHeaderLength: 20, inIf: 'veth-fw', outIf: '',
        icmpType: NONE,
      });
      expect(e.mac).toBe('02:6e:66:00:00:01:02:6e:66:00:00:02:08:00');
    }
  });

  it('takes the exact time from oob.time.sec/usec, which agrees with `timestamp`', () => {
    for (const file of ['ipv4-tcp-syn-port6000.jsonl', 'ipv4-udp.jsonl', 'nfacct-deltas.jsonl', 'eventv1.jsonl', 'json-with-offset.jsonl']) {
      for (const line of lines(file)) {
        const event = decodeLine(line.raw, 0, options);
        if (event.kind === 'error') throw new Error(event.detail);
        const sec = line['oob.time.sec'] as number;
        const usec = line['oob.time.usec'] as number;
        expect(event.time).toBe(sec * 1000 + Math.floor(usec / 1000));
        const stamp = (line['timestamp'] ?? line['@timestamp']) as string;
        expect(parseTimestamp(stamp, 'utc')).toBe(event.time);
      }
    }
  });

  it('a default-drop SYN is blocked', () => {
    const events = packets('ipv4-tcp-dropped.jsonl');
    expect(events.map((e) => [e.verdict, e.prefix, e.dstPort])).toEqual(Array(3).fill(['blocked', 'Input Default DROP', 8080]));
  });

  it('UDP: ports, no TCP fields', () => {
    const events = packets('ipv4-udp.jsonl');
    expect(events.map((e) => [e.verdict, e.prefix, e.protocol, e.dstPort])).toEqual([
      ['allowed', 'DNS', 17, 53],
      ['allowed', 'DNS', 17, 53],
      ['blocked', 'Input Default DROP', 17, 5000],
      ['blocked', 'Input Default DROP', 17, 5000],
    ]);
    for (const e of events) expect([e.tcpFlags, e.tcpWindow, e.tcpSeq]).toEqual([NONE, NONE, NONE]);
  });

  it('ICMP echo: type and code, no ports', () => {
    for (const e of packets('ipv4-icmp.jsonl')) {
      expect(e).toMatchObject({ protocol: 1, icmpType: 8, icmpCode: 0, srcPort: NONE, dstPort: NONE, verdict: 'allowed', prefix: 'ICMP Echo' });
    }
  });

  it('IPv6 TCP: hop limit as TTL, payload length + 40 as total length, no IP ID or DF', () => {
    const [curl, nmap] = packets('ipv6-tcp.jsonl');
    expect(curl).toMatchObject({ family: 6, protocol: 6, srcIp: 'fd00:6e66::2', dstIp: 'fd00:6e66::1', dstPort: 22, ttl: 64, ipTotalLength: 80, ipHeaderLength: 40, ipId: NONE, df: NONE, tcpWindow: 64800, verdict: 'allowed' });
    expect(nmap).toMatchObject({ family: 6, dstPort: 23, ttl: 255, ipTotalLength: 64, verdict: 'blocked' });
  });

  it('ICMPv6 echo: icmpv6.type 128', () => {
    for (const e of packets('ipv6-icmp.jsonl')) expect(e).toMatchObject({ family: 6, protocol: 58, icmpType: 128, icmpCode: 0, verdict: 'allowed' });
  });

  it('a real Linux client SYN: TTL 64, DF set, 20 bytes of TCP options', () => {
    for (const e of packets('ipv4-curl-linux.jsonl')) {
      expect(e).toMatchObject({ ttl: 64, df: 1, tcpWindow: 64240, ipTotalLength: 60, ipHeaderLength: 20, tcpFlags: TCP_SYN });
    }
  });

  it('an nmap SYN scan: one source port, window 1024, one line per port', () => {
    const events = packets('nmap-syn.jsonl');
    expect(events).toHaveLength(11);
    expect(new Set(events.map((e) => e.srcPort)).size).toBe(1);
    expect(new Set(events.map((e) => e.dstPort))).toEqual(new Set([20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]));
    expect(events.filter((e) => e.verdict === 'allowed').map((e) => e.dstPort)).toEqual([22]);
    for (const e of events) expect(e.tcpWindow).toBe(1024);
  });

  it('a rule without prefix gives an empty prefix', () => {
    for (const e of packets('ipv4-tcp-no-prefix.jsonl')) expect(e.prefix).toBe('');
  });

  it('NFACCT records with zerocounter=1, =0 and without timestamp=1', () => {
    const deltas = counters('nfacct-deltas.jsonl');
    expect(deltas.map((c) => c.name)).toEqual(['ipv4.http', 'ipv6.http', 'ipv4.ssh', 'ipv6.ssh', 'ipv4.http', 'ipv6.http', 'ipv4.ssh', 'ipv6.ssh']);
    expect(deltas[2]).toMatchObject({ kind: 'counter', name: 'ipv4.ssh', pkts: 10, bytes: 400 });
    const totals = counters('nfacct-totals.jsonl');
    expect(totals[4]!.pkts).toBeGreaterThan(totals[0]!.pkts); // running totals grow
    const plain = lines('nfacct-no-timestamp.jsonl');
    const decoded = counters('nfacct-no-timestamp.jsonl');
    decoded.forEach((c, i) => expect(c.time).toBe(Date.parse(`${plain[i]!['timestamp'] as string}Z`)));
  });

  it('eventv1=1 lines (@timestamp, @version) decode like the others', () => {
    const all = lines('eventv1.jsonl').map(({ raw }) => decodeLine(raw, 0, options));
    expect(all.every((e) => e.kind !== 'error')).toBe(true);
    expect(all.filter((e) => e.kind === 'packet')).toHaveLength(2);
    const withoutOob = lines('eventv1.jsonl')[0]!;
    delete withoutOob['oob.time.sec'];
    const { raw: _raw, ...record } = withoutOob;
    const event = decodeLine(JSON.stringify(record), 0, options);
    expect(event.kind === 'packet' && event.time).toBe(Date.parse(`${withoutOob['@timestamp'] as string}Z`));
  });
});
