import { describe, expect, it } from 'vitest';
import { NONE, TCP_ACK, TCP_SYN, type PacketEvent, type RecorderSlot } from '../../src/pipeline/types.js';
import { batchRows, type BatchRow, type SightingBatch } from '../../src/store/batch.js';
import { historyOptions, type HistoryOptions } from '../../src/store/options.js';
import { FOLD_IPV4_BITS, FOLD_IPV6_WIDE_BITS, MAX_IPV6_FOLD_NETWORKS, Sightings, hourOf } from '../../src/store/sightings.js';
import { ipv6Network } from '../../src/util/ip.js';
import { HOUR, T0, packet } from './helpers.js';

function recorder(overrides: Partial<HistoryOptions> = {}): { s: Sightings; batches: SightingBatch[]; rows: () => BatchRow[] } {
  const batches: SightingBatch[] = [];
  const s = new Sightings(historyOptions({ path: 'unused', ...overrides }), (b) => batches.push(b));
  return { s, batches, rows: () => batches.flatMap(batchRows) };
}

describe('sightings recorder', () => {
  it('adds up one source-hour: packets by verdict, SYNs without ACK, first and last event time', () => {
    const { s, rows } = recorder();
    s.record(packet({ time: T0 + 5000, verdict: 'blocked' }), NONE);
    s.record(packet({ time: T0 + 1000, verdict: 'allowed', flags: TCP_SYN | TCP_ACK }), NONE);
    s.record(packet({ time: T0 + 9000, verdict: 'unknown', protocol: 17 }), NONE);
    s.record(packet({ time: T0 + 7000, verdict: 'blocked' }), NONE);
    expect(s.pending).toBe(1);
    s.flush();
    expect(s.pending).toBe(0);
    const [row] = rows();
    expect(row).toMatchObject({ key: '203.0.113.7', hour: T0, first: T0 + 1000, last: T0 + 9000, allowed: 1, blocked: 2, unknown: 1, syns: 2 });
  });

  it('keeps distinct ports, hosts, SYN windows, fingerprints, tools, OS, lists and the source facts', () => {
    const { s, rows } = recorder();
    s.record(packet({ dport: 22, dst: '198.51.100.1', window: 16384, ttl: 103, olen: 0, df: 0, tool: 'port6000-scanner', os: 'crafted', country: 'CN', asn: 4134, org: 'CHINANET', cloud: 'aws/us-east-1/EC2', listed: ['spamhaus'] }), NONE);
    // An address's GeoIP and owner answers do not change within a batch: its first ones are kept.
    s.record(packet({ dport: 23, dst: '198.51.100.2', window: 65535, ttl: 50, olen: 20, df: 1, os: 'linux', country: 'HK', asn: 4809, org: 'CN2', listed: ['spamhaus', 'abuse'] }), NONE);
    s.record(packet({ dport: 22, dst: '198.51.100.1', window: 16384, ttl: 103, olen: 0, df: 0, tool: 'port6000-scanner', os: 'crafted' }), NONE);
    s.flush();
    const [row] = rows();
    expect(row).toMatchObject({
      ports: [22, 23],
      hosts: ['198.51.100.1', '198.51.100.2'],
      windows: [16384, 65535],
      fingerprints: ['ittl=128,win=16384,olen=0,df=0', 'ittl=64,win=65535,olen=20,df=1'],
      tools: ['port6000-scanner'],
      os: ['crafted', 'linux'],
      lists: ['spamhaus', 'abuse'],
      country: 'CN',
      asn: 4134,
      org: 'CHINANET',
      cloud: 'aws/us-east-1/EC2',
      portsCapped: false,
      hostsCapped: false,
    });
  });

  it('keeps each tool and OS a row meets when labels alternate from packet to packet, past the 31 labels that get a bit of their own', () => {
    const { s, rows } = recorder({ maxValuesPerRow: 64 });
    const labels = Array.from({ length: 40 }, (_, k) => `os-${k}`);
    for (let round = 0; round < 2; round++) {
      for (const os of labels) {
        s.record(packet({ src: '192.0.2.1', os, tool: `tool-${os}` }), NONE);
        // Another row meets the same labels in another order: a row's bits are its own.
        s.record(packet({ src: '192.0.2.2', os: labels[39 - labels.indexOf(os)]! }), NONE);
      }
    }
    s.flush();
    const [a, b] = rows();
    expect(a!.os).toEqual(labels);
    expect(a!.tools).toEqual(labels.map((os) => `tool-${os}`));
    expect(b!.os).toEqual([...labels].reverse());
  });

  it('takes no window or fingerprint from packets that are not a SYN without ACK', () => {
    const { s, rows } = recorder();
    s.record(packet({ flags: TCP_SYN | TCP_ACK, window: 512 }), NONE);
    s.record(packet({ protocol: 1 }), NONE);
    s.flush();
    const [row] = rows();
    expect(row).toMatchObject({ syns: 0, windows: [], fingerprints: [], ports: [22], asn: NONE });
  });

  it('caps ports and hosts per row and says so; the small sets stop at their cap quietly', () => {
    const { s, rows } = recorder({ maxPortsPerRow: 4, maxHostsPerRow: 2, maxValuesPerRow: 2 });
    for (let p = 1; p <= 10; p++) s.record(packet({ dport: p, dst: `198.51.100.${p}`, window: 1000 + p }), NONE);
    s.flush();
    const [row] = rows();
    expect(row).toMatchObject({ ports: [1, 2, 3, 4], portsCapped: true, hosts: ['198.51.100.1', '198.51.100.2'], hostsCapped: true, windows: [1001, 1002] });
  });

  it('keeps each row\'s ports and hosts, first seen first, up to their caps, over many rows and repeats', () => {
    const { s, rows } = recorder({ maxPortsPerRow: 16, maxHostsPerRow: 8 });
    let seed = 7;
    const next = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const expected = new Map<string, { ports: number[]; hosts: string[] }>();
    for (let i = 0; i < 30_000; i++) {
      const src = `10.1.${next(8)}.${next(250)}`;
      const dport = next(3) === 0 ? next(40) : [22, 80, 443][next(3)]!;
      const dst = `198.51.100.${next(12)}`;
      s.record(packet({ src, dport, dst }), NONE);
      let e = expected.get(src);
      if (e === undefined) expected.set(src, (e = { ports: [], hosts: [] }));
      if (!e.ports.includes(dport) && e.ports.length <= 16) e.ports.push(dport);
      if (!e.hosts.includes(dst) && e.hosts.length <= 8) e.hosts.push(dst);
    }
    s.flush();
    const got = rows();
    expect(got.length).toBe(expected.size);
    for (const row of got) {
      const e = expected.get(row.key)!;
      expect({ ports: row.ports, portsCapped: row.portsCapped, hosts: row.hosts, hostsCapped: row.hostsCapped }, row.key).toEqual({
        ports: e.ports.slice(0, 16),
        portsCapped: e.ports.length > 16,
        hosts: e.hosts.slice(0, 8),
        hostsCapped: e.hosts.length > 8,
      });
    }
  });

  it('is not capped by repeats of the ports it has', () => {
    const { s, rows } = recorder({ maxPortsPerRow: 2 });
    for (const p of [80, 443, 80, 443, 443, 80]) s.record(packet({ dport: p }), NONE);
    s.flush();
    expect(rows()[0]).toMatchObject({ ports: [80, 443], portsCapped: false });
  });

  it('starts a new row when the event time enters another hour, and takes late events back to theirs', () => {
    const { s, rows } = recorder();
    s.record(packet({ time: T0 + HOUR - 1, dport: 1 }), NONE);
    s.record(packet({ time: T0 + HOUR, dport: 2 }), NONE);
    s.record(packet({ time: T0 + HOUR - 2, dport: 3 }), NONE); // late, from the hour before
    expect(s.pending).toBe(3);
    s.flush();
    expect(rows().map((r) => [r.hour, r.ports, r.first, r.last])).toEqual([
      [T0, [1], T0 + HOUR - 1, T0 + HOUR - 1],
      [T0 + HOUR, [2], T0 + HOUR, T0 + HOUR],
      [T0, [3], T0 + HOUR - 2, T0 + HOUR - 2],
    ]);
  });

  it('groups IPv6 sources by their network (/64 by default, configurable)', () => {
    const { s, rows } = recorder();
    s.record(packet({ src: '2001:db8:1:2::5', dport: 1 }), NONE);
    s.record(packet({ src: '2001:db8:1:2:aaaa::9', dport: 2 }), NONE);
    s.record(packet({ src: '2001:db8:1:3::5', dport: 3 }), NONE);
    s.flush();
    expect(rows().map((r) => [r.key, r.ports])).toEqual([
      ['2001:db8:1:2::/64', [1, 2]],
      ['2001:db8:1:3::/64', [3]],
    ]);
    const wide = recorder({ ipv6PrefixLength: 48 });
    wide.s.record(packet({ src: '2001:db8:1:2::5' }), NONE);
    wide.s.record(packet({ src: '2001:db8:1:3::5' }), NONE);
    wide.s.flush();
    expect(wide.rows().map((r) => [r.key, r.allowed + r.blocked])).toEqual([['2001:db8:1::/48', 2]]);
    // /128: every address its own source, named as logged (as the tracker names it).
    const each = recorder({ ipv6PrefixLength: 128 });
    each.s.record(packet({ src: '2001:db8:1:2::5' }), NONE);
    each.s.record(packet({ src: '2001:db8:1:2::6' }), NONE);
    each.s.flush();
    expect(each.rows().map((r) => r.key)).toEqual(['2001:db8:1:2::5', '2001:db8:1:2::6']);
  });

  it('keeps one row per network when its addresses cross an hour in turn', () => {
    const { s, rows } = recorder();
    s.record(packet({ src: '2001:db8::1', time: T0 }), NONE);
    s.record(packet({ src: '2001:db8::2', time: T0 + 10 }), NONE);
    s.record(packet({ src: '2001:db8::1', time: T0 + HOUR }), NONE);
    s.record(packet({ src: '2001:db8::2', time: T0 + HOUR + 10 }), NONE);
    s.flush();
    expect(rows().map((r) => [r.key, r.hour, r.blocked])).toEqual([
      ['2001:db8::/64', T0, 2],
      ['2001:db8::/64', T0 + HOUR, 2],
    ]);
  });

  it("keeps an IPv6 network's rows as it keeps an IPv4 source's: over hours, late events, early hand-overs and a writer behind", () => {
    // Each /64 (any address in it) stands for one IPv4 address: both recorders keep the same rows.
    const options = { maxPendingSources: 40, foldAfter: 0 };
    const v6 = recorder(options);
    const v4 = recorder(options);
    let seed = 7;
    const random = (n: number): number => Math.floor(((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * n);
    for (let k = 0; k < 20_000; k++) {
      if (k % 1500 === 0) v6.s.admitting = v4.s.admitting = random(3) !== 0;
      const network = random(120);
      const half = random(3);
      const time = T0 + Math.floor(k / 5000) * HOUR + random(1000) - (random(50) === 0 ? HOUR : 0);
      const spec = { time, dport: random(30), verdict: random(4) === 0 ? ('allowed' as const) : ('blocked' as const) };
      v6.s.record(packet({ ...spec, src: `2001:db8:${network.toString(16)}:${half}:${random(65536).toString(16)}::${random(9)}` }), NONE);
      v4.s.record(packet({ ...spec, src: `10.${half}.0.${network}` }), NONE);
    }
    v6.s.flush();
    v4.s.flush();
    // The IPv4 address of 10.X.0.N is the network 2001:db8:N:X::/64.
    const named = (r: BatchRow): BatchRow => {
      const [, x, , n] = r.key.split('.').map(Number);
      return { ...r, key: ipv6Network(`2001:db8:${n!.toString(16)}:${x!}::`, 64, new Uint16Array(8))! };
    };
    expect(v6.s.refused).toBe(v4.s.refused);
    expect(v6.s.refused).toBeGreaterThan(0);
    expect(v6.batches.map((b) => b.rows)).toEqual(v4.batches.map((b) => b.rows));
    expect(v6.batches.length).toBeGreaterThan(5);
    expect(v6.rows()).toEqual(v4.rows().map(named));
  });

  it('keeps IPv4-mapped IPv6 sources as their IPv4 address', () => {
    const { s, rows } = recorder();
    s.record(packet({ src: '::ffff:192.0.2.9' }), NONE);
    s.flush();
    expect(rows()[0]!.key).toBe('192.0.2.9');
  });

  it('hands the pending sources over early when maxPendingSources is reached', () => {
    const { s, batches, rows } = recorder({ maxPendingSources: 100 });
    for (let i = 0; i < 250; i++) s.record(packet({ src: `10.0.${i >> 8}.${i & 255}` }), NONE);
    expect(batches.map((b) => b.rows)).toEqual([100, 100]);
    expect(s.pending).toBe(50);
    s.flush();
    expect(rows()).toHaveLength(250);
    expect(new Set(rows().map((r) => r.key)).size).toBe(250);
  });

  it('while not admitting and not folding, records only the sources of this batch and the previous one, counting the packets turned away', () => {
    const { s, rows } = recorder({ foldAfter: 0 });
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.record(packet({ src: '2001:db8::1' }), NONE);
    s.flush();
    s.admitting = false;
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.record(packet({ src: '2001:db8::2' }), NONE); // another address of a network seen before
    s.record(packet({ src: '192.0.2.2' }), NONE);
    s.record(packet({ src: '192.0.2.2' }), NONE);
    expect(s.refused).toBe(2);
    s.flush();
    expect(rows().map((r) => r.key)).toEqual(['192.0.2.1', '2001:db8::/64', '192.0.2.1', '2001:db8::/64']);
  });

  it('while not admitting, folds a source new to the recorder into its network\'s row instead: every packet still counted, each source once', () => {
    const { s, rows } = recorder({ foldAfter: 1000 });
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.flush();
    s.admitting = false;
    s.record(packet({ src: '192.0.2.1', dport: 80 }), NONE); // handed over before: keeps its row
    s.record(packet({ src: '198.51.100.7', dport: 22 }), NONE);
    s.record(packet({ src: '198.51.100.7', dport: 23 }), NONE); // the same source again: packets, not a source
    s.record(packet({ src: '198.51.100.8', dport: 22 }), NONE);
    s.record(packet({ src: '2001:db8:5::1', dport: 22 }), NONE);
    s.record(packet({ src: '203.0.113.9', time: T0 - HOUR }), NONE); // a late event of an hour gone is not folded
    expect(s.refused).toBe(1);
    expect(s.foldedSources).toBe(3);
    s.flush();
    const byKey = new Map(rows().slice(1).map((r) => [r.key, r]));
    expect([...byKey.keys()].sort()).toEqual(['192.0.2.1', '198.0.0.0/8', '2001:db8::/32']);
    expect(byKey.get('198.0.0.0/8')).toMatchObject({ folded: 2, blocked: 3, ports: [22, 23] });
    expect(byKey.get('2001:db8::/32')).toMatchObject({ folded: 1, blocked: 1 });
    expect(byKey.get('192.0.2.1')).toMatchObject({ folded: 0, blocked: 1, ports: [80] });
  });

  it('when full while not admitting, hands nothing over and puts what needs a new row into its network\'s row: every packet counted, the open table no larger', () => {
    const { s, batches, rows } = recorder({ maxPendingSources: 100, foldAfter: 1000 });
    const address = (i: number): string => `10.0.${i >> 8}.${i & 255}`;
    for (let i = 0; i < 100; i++) s.record(packet({ src: address(i) }), NONE);
    s.admitting = false;
    for (let i = 0; i < 100; i++) s.record(packet({ src: address(i), dport: 23 }), NONE); // rows of this batch: kept
    for (let i = 100; i < 300; i++) s.record(packet({ src: address(i) }), NONE); // no room: their network's row
    s.record(packet({ src: address(150) }), NONE); // again: a packet, not another source
    s.record(packet({ src: '2001:db8::1' }), NONE); // an IPv6 network with no row yet: its /32's row
    s.record(packet({ src: address(5), time: T0 + HOUR }), NONE); // a row of its own, but of another hour
    expect(batches).toHaveLength(0);
    expect(s.refused).toBe(0);
    expect(s.pending).toBe(103);
    s.admitting = true;
    s.flush();
    const all = rows();
    expect(all.reduce((n, r) => n + r.blocked, 0)).toBe(403);
    expect(all.find((r) => r.key === '2001:db8::/32')).toMatchObject({ folded: 1, blocked: 1 });
    expect(all.filter((r) => r.key === '10.0.0.0/8').map((r) => [r.hour, r.folded, r.blocked])).toEqual([[T0, 200, 201], [T0 + HOUR, 1, 1]]);
    expect(all.find((r) => r.key === address(99))).toMatchObject({ blocked: 2, ports: [22, 23] });
  });

  it('flushes nothing when nothing was recorded, and forgets what it handed over', () => {
    const { s, batches } = recorder();
    s.flush();
    expect(batches).toHaveLength(0);
    s.record(packet(), NONE);
    s.flush();
    s.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.packets).toBe(1);
  });

  it('puts an hour by event time, not by arrival', () => {
    expect(hourOf(T0 + HOUR + 59 * 60_000)).toBe(T0 + HOUR);
    expect(hourOf(T0)).toBe(T0);
  });

  describe('folding a flood of sources seen once', () => {
    /** `n` distinct IPv4 sources, one packet each, from 10.0.0.0 on. */
    const flood = (s: Sightings, n: number, from = 0, time = T0 + 1000): void => {
      for (let i = from; i < from + n; i++) s.record(packet({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, time, dport: 80 + (i % 3) }), NONE);
    };

    it('keeps every source in its own row up to foldAfter sources in the hour', () => {
      const { s, rows } = recorder({ foldAfter: 100 });
      flood(s, 100);
      s.flush();
      expect(rows()).toHaveLength(100);
      expect(rows().every((r) => r.folded === 0)).toBe(true);
      expect(s.foldedSources).toBe(0);
    });

    it('past it, keeps a new source in the row of its IPv4 /8, counting the sources it stands for; every packet counted once', () => {
      const { s, rows } = recorder({ foldAfter: 100 });
      flood(s, 100);
      s.record(packet({ src: '198.51.100.1', dport: 22, window: 16384 }), NONE);
      s.record(packet({ src: '198.51.100.2', dport: 23, window: 1024 }), NONE);
      flood(s, 50, 100);
      s.flush();
      const folded = rows().filter((r) => r.folded > 0);
      expect(folded.map((r) => [r.key, r.folded, r.blocked])).toEqual([
        [`198.0.0.0/${FOLD_IPV4_BITS}`, 2, 2],
        ['10.0.0.0/8', 50, 50],
      ]);
      expect(folded[0]).toMatchObject({ hour: T0, ports: [22, 23], windows: [16384, 1024] });
      expect(rows()).toHaveLength(102);
      expect(rows().reduce((n, r) => n + r.blocked, 0)).toBe(152);
      expect(s.foldedSources).toBe(52);
    });

    it('gives a source that sends again a row of its own from its second packet (its first stays folded)', () => {
      const { s, rows } = recorder({ foldAfter: 10 });
      flood(s, 10);
      const scanner = '192.0.2.66';
      for (let port = 1; port <= 5; port++) s.record(packet({ src: scanner, dport: port, time: T0 + port * 1000 }), NONE);
      s.flush();
      const own = rows().find((r) => r.key === scanner);
      expect(own).toMatchObject({ folded: 0, blocked: 4, ports: [2, 3, 4, 5], first: T0 + 2000 });
      expect(rows().find((r) => r.key === '192.0.0.0/8')).toMatchObject({ folded: 1, blocked: 1, ports: [1] });
    });

    it('also once the source was handed over earlier in the hour: it is not new to the hour', () => {
      const { s, rows } = recorder({ foldAfter: 10 });
      s.record(packet({ src: '192.0.2.1' }), NONE);
      flood(s, 20);
      s.flush();
      s.record(packet({ src: '192.0.2.1' }), NONE);
      s.flush();
      expect(rows().filter((r) => r.key === '192.0.2.1').map((r) => r.folded)).toEqual([0, 0]);
    });

    it('counts again from zero in a new hour; a late event of an hour gone is never folded', () => {
      const { s, rows } = recorder({ foldAfter: 10 });
      flood(s, 15);
      flood(s, 5, 1000, T0 + HOUR + 1000);
      s.record(packet({ src: '192.0.2.9', time: T0 + 2000 }), NONE);
      s.flush();
      expect(rows().filter((r) => r.hour === T0 + HOUR).every((r) => r.folded === 0)).toBe(true);
      expect(rows().find((r) => r.key === '192.0.2.9')).toMatchObject({ hour: T0, folded: 0 });
      expect(rows().find((r) => r.key === '10.0.0.0/8')).toMatchObject({ hour: T0, folded: 5 });
    });

    it('counts a source with a row of the hour before among the sources of its next hour, and keeps its new row past foldAfter', () => {
      const { s, rows } = recorder({ foldAfter: 10 });
      const scanner = '192.0.2.66';
      s.record(packet({ src: scanner, dport: 1, time: T0 + 1000 }), NONE);
      s.record(packet({ src: scanner, dport: 2, time: T0 + HOUR + 1000 }), NONE);
      flood(s, 12, 0, T0 + HOUR + 2000);
      s.record(packet({ src: scanner, dport: 3, time: T0 + HOUR + 3000 }), NONE);
      s.flush();
      expect(rows().filter((r) => r.key === scanner).map((r) => [r.hour, r.ports, r.folded])).toEqual([
        [T0, [1], 0],
        [T0 + HOUR, [2, 3], 0],
      ]);
      // The scanner was the hour's first source: 9 of the flood have rows, 3 are folded.
      expect(rows().find((r) => r.key === '10.0.0.0/8')).toMatchObject({ hour: T0 + HOUR, folded: 3 });
      expect(rows().reduce((n, r) => n + r.blocked, 0)).toBe(15);
    });

    it('finds the row of every source that has one among a flood folded around it', () => {
      const { s, rows } = recorder({ foldAfter: 5 });
      const own = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
      for (const src of own) s.record(packet({ src, dport: 22 }), NONE);
      for (let round = 0; round < 4; round++) {
        flood(s, 100, round * 100);
        for (const src of own) s.record(packet({ src, dport: 22 }), NONE);
      }
      s.flush();
      expect(own.map((src) => rows().filter((r) => r.key === src).map((r) => r.blocked))).toEqual([[5], [5], [5]]);
      expect(rows().reduce((n, r) => n + r.blocked, 0)).toBe(415);
    });

    it('folds IPv6 sources into their /32', () => {
      const { s, rows } = recorder({ foldAfter: 1 });
      s.record(packet({ src: '2001:db8:1::1' }), NONE);
      s.record(packet({ src: '2001:db8:2::1' }), NONE);
      s.record(packet({ src: '2001:db8:3::1' }), NONE);
      s.flush();
      expect(rows().map((r) => [r.key, r.folded])).toEqual([
        ['2001:db8:1::/64', 0],
        ['2001:db8::/32', 2],
      ]);
    });

    it(`folds a spoofed IPv6 flood into at most ${MAX_IPV6_FOLD_NETWORKS} /32 rows a batch, then each new /32 into its /${FOLD_IPV6_WIDE_BITS}: rows bounded, every packet and source counted once`, () => {
      const { s, batches, rows } = recorder({ foldAfter: 10, maxPendingSources: 100 });
      // Every packet from a /32 of its own, as random spoofed sources are: 3,000 of them, over 512 /12s.
      const address = (i: number): string => `${(0x2000 + ((i * 16) % 0x2000)).toString(16)}:${(i >> 9).toString(16)}::1`;
      for (let i = 0; i < 3000; i++) s.record(packet({ src: address(i) }), NONE);
      // Sources that send again get rows of their own, wherever their first packet went.
      for (const i of [11, 300, 2999]) s.record(packet({ src: address(i), dport: 23 }), NONE);
      expect(batches).toHaveLength(0); // network rows never hand the batch over early
      s.flush();
      const all = rows();
      const by32 = all.filter((r) => r.key.endsWith('/32'));
      const by12 = all.filter((r) => r.key.endsWith(`/${FOLD_IPV6_WIDE_BITS}`));
      expect(by32).toHaveLength(MAX_IPV6_FOLD_NETWORKS);
      expect(by32[1]).toMatchObject({ key: '20b0::/32', folded: 1, blocked: 1, ports: [22] });
      expect(by12).toHaveLength(512);
      // i = 300, 812, 1324, 1836, 2348 and 2860 share 32c0::/12.
      expect(by12.find((r) => r.key === '32c0::/12')).toMatchObject({ folded: 6, blocked: 6 });
      expect(all.filter((r) => r.ports.includes(23)).map((r) => [r.key, r.folded])).toEqual([['20b0::/64', 0], ['32c0::/64', 0], ['3b70:5::/64', 0]]);
      expect(all).toHaveLength(10 + MAX_IPV6_FOLD_NETWORKS + 512 + 3);
      expect(all.reduce((n, r) => n + r.blocked, 0)).toBe(3003);
      expect(all.reduce((n, r) => n + r.folded, 0)).toBe(2990);
      expect(s.foldedSources).toBe(2990);
      expect(s.refused).toBe(0);
    });

    it('does not hand over early for the IPv4 network rows (at most 256 an hour), only for sources of their own', () => {
      const { s, batches } = recorder({ foldAfter: 100, maxPendingSources: 150 });
      for (let i = 0; i < 5000; i++) s.record(packet({ src: `${i % 256}.1.${(i >> 8) & 255}.${i & 255}` }), NONE);
      expect(batches).toHaveLength(0);
      expect(s.pending).toBe(100 + 256);
    });

    it('never folds with foldAfter 0', () => {
      const { s, rows } = recorder({ foldAfter: 0 });
      flood(s, 500);
      s.flush();
      expect(rows()).toHaveLength(500);
      expect(s.foldedSources).toBe(0);
    });
  });

  describe("with the tracker's slot for each source", () => {
    /** Slots as the tracker keeps them: one per IPv4 address (or address as logged), one per IPv6 /64. */
    const trackerSlots = (): ((src: string) => RecorderSlot) => {
      const slots = new Map<string, RecorderSlot>();
      return (src) => {
        const key = src.includes(':') && !src.startsWith('::ffff:') ? src.split(':').slice(0, 4).join(':') : src;
        let slot = slots.get(key);
        if (slot === undefined) slots.set(key, (slot = { recorderRow: 0 }));
        return slot;
      };
    };
    /** Sources that come back across hours, late events, IPv6 networks, IPv4-mapped addresses and a fold past 20 sources. */
    const mixed = (): PacketEvent[] => {
      const events: PacketEvent[] = [];
      for (let i = 0; i < 60; i++) {
        const time = T0 + (i % 7 === 0 ? HOUR + i : i * 1000) - (i % 11 === 0 ? HOUR : 0);
        const src = i % 5 === 0 ? `2001:db8:${i % 3}::${i}` : i % 13 === 0 ? `::ffff:192.0.2.${i % 4}` : `10.0.${i % 2}.${(i * 7) % 31}`;
        events.push(packet({ src, time, dport: 20 + (i % 9), dst: `198.51.100.${i % 3}`, verdict: i % 4 === 0 ? 'allowed' : 'blocked' }));
      }
      return events;
    };

    it('records exactly what it records without them, over hours, late events, networks, folds and early hand-overs', () => {
      const options = { foldAfter: 20, maxPendingSources: 25 };
      const plain = recorder(options);
      const slotted = recorder(options);
      const slotOf = trackerSlots();
      for (let round = 0; round < 3; round++) {
        for (const e of mixed()) {
          plain.s.record(e, NONE);
          slotted.s.record(e, NONE, slotOf(e.srcIp));
        }
        plain.s.flush();
        slotted.s.flush();
      }
      expect(slotted.rows()).toEqual(plain.rows());
      expect(slotted.batches.map((b) => b.rows)).toEqual(plain.batches.map((b) => b.rows));
      expect(slotted.s.foldedSources).toBe(plain.s.foldedSources);
    });

    it("names only an address's own row in its slot, never a network's or a fold row", () => {
      const { s } = recorder({ foldAfter: 1 });
      const own = { recorderRow: 0 };
      const network = { recorderRow: 0 };
      const folded = { recorderRow: 0 };
      s.record(packet({ src: '192.0.2.1' }), NONE, own);
      s.record(packet({ src: '2001:db8::1' }), NONE, network);
      s.record(packet({ src: '192.0.2.2' }), NONE, folded);
      expect(own.recorderRow).not.toBe(0);
      expect(network.recorderRow).toBe(0);
      expect(folded.recorderRow).toBe(0);
    });

    it('takes no row from a slot set before a hand-over: the next batch numbers its rows anew', () => {
      const { s, rows } = recorder();
      const first = { recorderRow: 0 };
      s.record(packet({ src: '192.0.2.1', dport: 1 }), NONE, first);
      s.flush();
      // Row 0 of the new batch is another source's; the old slot must not lead there.
      s.record(packet({ src: '192.0.2.2', dport: 2 }), NONE, { recorderRow: 0 });
      s.record(packet({ src: '192.0.2.1', dport: 3 }), NONE, first);
      s.flush();
      expect(rows().map((r) => [r.key, r.ports])).toEqual([
        ['192.0.2.1', [1]],
        ['192.0.2.2', [2]],
        ['192.0.2.1', [3]],
      ]);
    });
  });
});
