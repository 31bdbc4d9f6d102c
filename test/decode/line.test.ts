import { describe, expect, it } from 'vitest';
import { decodeBytes, decodeLine, type DecodeOptions } from '../../src/decode/line.js';
import { parseTimestamp } from '../../src/decode/time.js';
import { NONE, TCP_ACK, TCP_CWR, TCP_ECE, TCP_SYN, type DecodeResult, type PacketEvent } from '../../src/pipeline/types.js';

const options: DecodeOptions = {
  verdictRules: [
    { prefix_contains: 'DROP', verdict: 'blocked' },
    { prefix_contains: 'ACCEPT', verdict: 'allowed' },
  ],
  useRawLabel: true,
  naiveTimestamps: 'utc', maxFutureMs: 300_000
};

const base = {
  timestamp: '2026-11-24T04:09:26.712651',
  dvc: 'fw',
  'oob.prefix': 'SSH Attempt',
  'oob.time.sec': 1795500566,
  'oob.time.usec': 712651,
  'oob.family': 2,
  'ip.protocol': 6,
  'ip.ttl': 103,
  'ip.totlen': 40,
  'ip.ihl': 5,
  'ip.id': 256,
  'ip.fragoff': 0,
  src_ip: '198.18.0.2',
  dest_ip: '198.18.0.1',
  src_port: 6000,
  dest_port: 22,
  'tcp.window': 16384,
  'tcp.seq': 9764864,
  'tcp.syn': 1,
  'tcp.ack': 0,
  action: 'allowed',
};

function decode(record: object, opts: DecodeOptions = options): DecodeResult {
  return decodeLine(JSON.stringify(record), 3, opts);
}

function packet(record: object, opts?: DecodeOptions): PacketEvent {
  const result = decode(record, opts);
  if (result.kind !== 'packet') throw new Error(`expected a packet, got ${JSON.stringify(result)}`);
  return result;
}

describe('decoding a ulogd line', () => {
  it('takes the event time from oob.time.sec/usec when present', () => {
    expect(packet(base).time).toBe(1795500566 * 1000 + 712);
  });

  it('tags the event with its source', () => {
    expect(packet(base).source).toBe(3);
  });

  it('reads the IPv4 DF bit out of ip.fragoff, which carries the flag bits', () => {
    expect(packet({ ...base, 'ip.fragoff': 0x4000 }).df).toBe(1);
    expect(packet({ ...base, 'ip.fragoff': 0 }).df).toBe(0);
    expect(packet({ ...base, 'ip.fragoff': undefined }).df).toBe(NONE);
  });

  it('turns ip.ihl (32-bit words) into a header length in bytes', () => {
    expect(packet(base).ipHeaderLength).toBe(20);
  });

  it('collects TCP flags into one bit set, ECE/CWR from tcp.res2', () => {
    expect(packet(base).tcpFlags).toBe(TCP_SYN);
    expect(packet({ ...base, 'tcp.ack': 1 }).tcpFlags).toBe(TCP_SYN | TCP_ACK);
    expect(packet({ ...base, 'tcp.res2': 3 }).tcpFlags).toBe(TCP_SYN | TCP_ECE | TCP_CWR);
  });

  it('leaves absent numbers as NONE, so every event has the same shape', () => {
    const p = packet({ ...base, 'ip.protocol': 17, 'tcp.window': undefined, 'tcp.syn': undefined, 'tcp.ack': undefined, 'tcp.seq': undefined });
    expect(p.tcpFlags).toBe(NONE);
    expect(p.tcpWindow).toBe(NONE);
    expect(p.icmpType).toBe(NONE);
    expect(Object.keys(p)).toEqual(Object.keys(packet(base)));
  });

  describe('verdict', () => {
    it('comes from `action` when the JSON plugin has boolean_label=1', () => {
      expect(packet({ ...base, action: 'blocked' }).verdict).toBe('blocked');
    });
    it('otherwise from the first prefix rule that matches', () => {
      expect(packet({ ...base, action: undefined, 'oob.prefix': 'Input IPv4 Default DROP' }).verdict).toBe('blocked');
      expect(packet({ ...base, action: undefined, 'oob.prefix': 'ACCEPT ssh' }).verdict).toBe('allowed');
    });
    it('otherwise from a numeric raw.label (numeric_label without boolean_label)', () => {
      expect(packet({ ...base, action: undefined, 'raw.label': 1 }).verdict).toBe('allowed');
      expect(packet({ ...base, action: undefined, 'raw.label': 0 }).verdict).toBe('blocked');
      expect(packet({ ...base, action: undefined, 'raw.label': 0 }, { ...options, useRawLabel: false }).verdict).toBe('unknown');
    });
    it('is unknown when nothing says', () => {
      expect(packet({ ...base, action: undefined }).verdict).toBe('unknown');
    });
  });

  it('decodes NFACCT records into counters', () => {
    const result = decode({ timestamp: '2026-11-24T06:47:11', dvc: 'Netfilter', 'sum.name': 'ipv4.http', 'sum.pkts': 7, 'sum.bytes': 420 });
    expect(result).toEqual({ kind: 'counter', source: 3, time: Date.UTC(2026, 10, 24, 6, 47, 11), name: 'ipv4.http', pkts: 7, bytes: 420 });
  });

  describe('refuses bad lines with a reason, never an exception', () => {
    const cases: Array<[string, string, string]> = [
      ['garbage', 'hello world', 'not_json'],
      ['a truncated line', JSON.stringify(base).slice(0, 300), 'not_json'],
      ['an empty line', '', 'not_json'],
      ['a JSON array', '[1,2,3]', 'not_object'],
      ['a JSON string', '"x"', 'not_object'],
      ['JSON null', 'null', 'not_object'],
      ['an object that is neither packet nor counter', '{"timestamp":"2026-11-24T06:47:11","dvc":"x"}', 'unknown_record'],
      ['a packet without any time', JSON.stringify({ ...base, timestamp: undefined, 'oob.time.sec': undefined }), 'no_timestamp'],
      ['a timestamp that is not ISO 8601', JSON.stringify({ ...base, timestamp: 'yesterday', 'oob.time.sec': undefined }), 'bad_timestamp'],
      ['a numeric timestamp', JSON.stringify({ ...base, timestamp: 12, 'oob.time.sec': undefined }), 'bad_timestamp'],
      ['a port that is a string', JSON.stringify({ ...base, dest_port: '22' }), 'wrong_type'],
      ['a prefix that is a number', JSON.stringify({ ...base, 'oob.prefix': 5 }), 'wrong_type'],
      ['negative NFACCT packets', '{"timestamp":"2026-11-24T06:47:11","sum.name":"a","sum.pkts":-1,"sum.bytes":0}', 'out_of_range'],
      ['an NFACCT name that is not a string', '{"timestamp":"2026-11-24T06:47:11","sum.name":7,"sum.pkts":1,"sum.bytes":0}', 'wrong_type'],
    ];
    it.each(cases)('%s', (_name, line, reason) => {
      const result = decodeLine(line, 0, options);
      expect(result.kind).toBe('error');
      expect(result.kind === 'error' && result.reason).toBe(reason);
      expect(result.kind === 'error' && result.detail.length).toBeGreaterThan(0);
    });
    it('says JSON null is null', () => {
      const result = decodeLine('null', 0, options);
      expect(result.kind === 'error' && result.detail).toBe('JSON null, not an object');
    });
  });

  // Every number that passes decoding fits its header field, so no later stage (metric paths,
  // ISO dates, the tracker) ever meets 1e308, -1, 2.5 or a year 275760: they are refused here.
  describe('refuses numbers a packet header or ulogd cannot hold, naming the key', () => {
    const nfacct = (patch: object) => JSON.stringify({ timestamp: '2026-11-24T06:47:11', 'sum.name': 'ipv4.ssh', 'sum.pkts': 1, 'sum.bytes': 60, ...patch });
    const cases: Array<[string, string, string, string]> = [
      ['an epoch of 1e20 seconds', JSON.stringify({ ...base, 'oob.time.sec': 1e20 }), 'out_of_range', 'oob.time.sec'],
      ['an epoch of 1e308 seconds', JSON.stringify({ ...base, 'oob.time.sec': 1e308 }), 'out_of_range', 'oob.time.sec'],
      ['an epoch of 2^53+1 seconds', JSON.stringify({ ...base }).replace(/"oob\.time\.sec": ?\d+/, '"oob.time.sec":9007199254740993'), 'out_of_range', 'oob.time.sec'],
      ['a negative epoch', JSON.stringify({ ...base, 'oob.time.sec': -5 }), 'out_of_range', 'oob.time.sec'],
      ['a fractional epoch', JSON.stringify({ ...base, 'oob.time.sec': 1795504501.5 }), 'out_of_range', 'oob.time.sec'],
      ['an epoch in 1970 (a clock never set)', JSON.stringify({ ...base, 'oob.time.sec': 86_400 }), 'out_of_range', 'oob.time.sec'],
      ['an epoch that is a string', JSON.stringify({ ...base, 'oob.time.sec': '1795504501' }), 'bad_timestamp', 'oob.time.sec'],
      ['microseconds beyond a second', JSON.stringify({ ...base, 'oob.time.usec': 10_000_000 }), 'out_of_range', 'oob.time.usec'],
      ['a timestamp on 30 February', JSON.stringify({ ...base, 'oob.time.sec': undefined, timestamp: '2026-02-30T10:00:00' }), 'bad_timestamp', '2026-02-30'],
      ['a timestamp with offset +99:99', JSON.stringify({ ...base, 'oob.time.sec': undefined, timestamp: '2026-11-24T10:00:00+99:99' }), 'bad_timestamp', '+99:99'],
      ['a timestamp in 1970', JSON.stringify({ ...base, 'oob.time.sec': undefined, timestamp: '1970-01-01T00:00:01' }), 'out_of_range', '1970'],
      ['port 65536', JSON.stringify({ ...base, dest_port: 65536 }), 'out_of_range', 'dest_port'],
      ['port -1', JSON.stringify({ ...base, src_port: -1 }), 'out_of_range', 'src_port'],
      ['port 1e308', JSON.stringify({ ...base, dest_port: 1e308 }), 'out_of_range', 'dest_port'],
      ['port 22.5', JSON.stringify({ ...base, dest_port: 22.5 }), 'out_of_range', 'dest_port'],
      ['protocol 256', JSON.stringify({ ...base, 'ip.protocol': 256 }), 'out_of_range', 'ip.protocol'],
      ['TTL 300', JSON.stringify({ ...base, 'ip.ttl': 300 }), 'out_of_range', 'ip.ttl'],
      ['a window of 70000', JSON.stringify({ ...base, 'tcp.window': 70_000 }), 'out_of_range', 'tcp.window'],
      ['a SYN flag of 7', JSON.stringify({ ...base, 'tcp.syn': 7 }), 'out_of_range', 'tcp.syn'],
      ['a source address that is markup', JSON.stringify({ ...base, src_ip: '<img src=x>' }), 'out_of_range', 'src_ip'],
      ['a source address of 100 characters', JSON.stringify({ ...base, src_ip: '1'.repeat(100) }), 'out_of_range', 'src_ip'],
      ['a source address of 46 characters', JSON.stringify({ ...base, src_ip: `${'a:'.repeat(22)}ab` }), 'out_of_range', 'src_ip'],
      ['a destination address with a space', JSON.stringify({ ...base, dest_ip: '198.51.100.7 ' }), 'out_of_range', 'dest_ip'],
      ['a destination address with a zone', JSON.stringify({ ...base, dest_ip: 'fe80::1%eth0' }), 'out_of_range', 'dest_ip'],
      ['a destination address with a letter past f', JSON.stringify({ ...base, dest_ip: 'fe80::g' }), 'out_of_range', 'dest_ip'],
      ['a source address with a non-ASCII digit', JSON.stringify({ ...base, src_ip: '198.51.100.\u0667' }), 'out_of_range', 'src_ip'],
      ['a prefix of 10,000 characters', JSON.stringify({ ...base, 'oob.prefix': 'A'.repeat(10_000) }), 'out_of_range', 'oob.prefix'],
      ['NFACCT packets of 2^53', nfacct({ 'sum.pkts': 2 ** 53 }), 'out_of_range', 'sum.pkts'],
      ['NFACCT bytes of 1.5', nfacct({ 'sum.bytes': 1.5 }), 'out_of_range', 'sum.bytes'],
      ['an NFACCT name of 1,000 characters', nfacct({ 'sum.name': 'x'.repeat(1000) }), 'out_of_range', 'sum.name'],
    ];
    it.each(cases)('%s', (_name, line, reason, named) => {
      const result = decodeLine(line, 0, options);
      // Read from the bytes (the line scanner, or JSON.parse where it leaves the line), the same.
      const bytes = Buffer.from(line);
      expect(decodeBytes(bytes, 0, bytes.length, 0, options)).toEqual(result);
      expect(result.kind).toBe('error');
      expect(result.kind === 'error' && result.reason).toBe(reason);
      expect(result.kind === 'error' && result.detail).toContain(named);
      // The detail quotes at most a short piece of the value.
      expect(result.kind === 'error' && result.detail.length).toBeLessThan(160);
    });
    it('still takes the edges: port 0 and 65535, protocol 255, a SYN flag of 1, the year 2000', () => {
      expect(packet({ ...base, src_port: 0, dest_port: 65_535, 'ip.protocol': 255 })).toMatchObject({ srcPort: 0, dstPort: 65_535, protocol: 255 });
      // The longest IPv6 text (45 characters, an IPv4 tail) and upper-case hex.
      const longest = 'ABCD:EF01:2345:6789:abcd:ef01:255.255.255.255';
      expect(packet({ ...base, src_ip: longest, dest_ip: 'FE80::1' })).toMatchObject({ srcIp: longest, dstIp: 'FE80::1' });
      expect(decodeLine(JSON.stringify({ ...base, 'oob.time.sec': 946_684_800, 'oob.time.usec': 999_999 }), 0, options)).toMatchObject({ kind: 'packet', time: 946_684_800_999 });
    });
  });
});

describe('ulogd timestamps', () => {
  it('reads 2.0.8 local time without offset in the configured zone', () => {
    expect(parseTimestamp('2026-11-24T04:09:26.712651', 'utc')).toBe(Date.UTC(2026, 10, 24, 4, 9, 26) + 712);
    expect(parseTimestamp('2026-11-24T04:09:26', 'local')).toBe(new Date(2026, 10, 24, 4, 9, 26).getTime());
  });
  it('honours an offset as later ulogd versions write it (+HHMM), and Z', () => {
    expect(parseTimestamp('2026-11-24T05:09:26+0100', 'local')).toBe(Date.UTC(2026, 10, 24, 4, 9, 26));
    expect(parseTimestamp('2026-11-24T02:39:26-01:30', 'local')).toBe(Date.UTC(2026, 10, 24, 4, 9, 26));
    expect(parseTimestamp('2026-11-24T04:09:26.5Z', 'local')).toBe(Date.UTC(2026, 10, 24, 4, 9, 26) + 500);
  });
  it('refuses what is not a time', () => {
    for (const bad of ['', '2026-13-01T00:00:00', '2026-11-24', 'T04:09:26', '2026-11-24T25:00:00', '2026-02-29T00:00:00', '2026-04-31T00:00:00', '2026-11-24T04:09:26+1500', '2026-11-24T04:09:26+01:60']) {
      expect(parseTimestamp(bad, 'utc')).toBeNaN();
    }
  });
});
