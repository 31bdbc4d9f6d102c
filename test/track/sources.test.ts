import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_FIN, TCP_SYN } from '../../src/pipeline/types.js';
import { addressSlot, ipv6Network } from '../../src/util/ip.js';
import { FIREWALL, T0, packet, seqs, tracker } from './helpers.js';

describe('per-source tracking', () => {
  it('counts every packet by verdict, first/last seen by event time, country, tools and last ports', () => {
    const t = tracker();
    t.observe(packet({ time: T0 + 5_000, dport: 23, verdict: 'blocked', country: 'CN', tool: 'masscan' }));
    t.observe(packet({ time: T0, dport: 22, verdict: 'allowed', flags: TCP_ACK })); // late, and not a probe
    t.observe(packet({ time: T0 + 9_000, dport: 80, verdict: 'unknown', country: 'HK' }));
    const [row] = t.sources();
    expect(row).toMatchObject({
      address: '203.0.113.7',
      firstSeen: new Date(T0).toISOString(),
      lastSeen: new Date(T0 + 9_000).toISOString(),
      packets: { allowed: 1, blocked: 1, unknown: 1, total: 3 },
      window: { allowed: 1, blocked: 1, unknown: 1, probes: 2 },
      ports: { distinct: 2, atLeast: false },
      hosts: { distinct: 1, atLeast: false },
      lastPorts: [80, 23],
      tools: ['masscan'],
      country: 'HK',
    });
  });

  it('caps the distinct ports kept per source and reports the count as "at least"', () => {
    const t = tracker({ max_ports_per_source: 64 });
    for (let port = 1; port <= 500; port++) t.observe(packet({ time: T0 + port, dport: port }));
    const [row] = t.sources();
    expect(row?.ports).toEqual({ distinct: 64, atLeast: true, ranges: '1-64' });
    expect(row?.scan.state).toBe('detected');
  });

  it('sees one source port reused across many targets (hping3 -k, the port-6000 scanner, nmap)', () => {
    const t = tracker();
    for (let h = 1; h <= 12; h++) t.observe(packet({ time: T0 + h, src: '192.0.2.6', dst: `198.51.100.${h}`, sport: 6000, seq: h * 1111 }));
    // The same SYN retransmitted to one target is no reuse.
    for (let i = 0; i < 12; i++) t.observe(packet({ time: T0 + i * 1000, src: '192.0.2.7', sport: 51000, seq: 5 }));
    const rows = new Map(t.sources().map((r) => [r.address, r]));
    expect(rows.get('192.0.2.6')?.sourcePortReuse).toEqual({ port: 6000, targets: 12 });
    expect(rows.get('192.0.2.6')?.seqReuse).toBeNull();
    expect(rows.get('192.0.2.7')?.sourcePortReuse).toBeNull();
    expect(rows.get('192.0.2.7')?.seqReuse).toBeNull();
  });

  it('tolerates a few other source ports in between (nmap retransmits from another port)', () => {
    const t = tracker();
    for (let p = 1; p <= 20; p++) {
      t.observe(packet({ time: T0 + p, dport: p, sport: 33333, seq: p }));
      if (p % 5 === 0) t.observe(packet({ time: T0 + p, dport: p, sport: 33334, seq: p }));
    }
    expect(t.sources()[0]?.sourcePortReuse).toEqual({ port: 33333, targets: 20 });
  });

  it('sees one TCP sequence number shared by SYNs to many targets (Mirai: seq = destination address)', () => {
    const t = tracker();
    const mirai = (198 << 24) + (51 << 16) + (100 << 8) + 1; // 198.51.100.1 as a 32-bit number
    for (let i = 0; i < 15; i++) t.observe(packet({ time: T0 + i * 50, src: '192.0.2.23', dport: i % 2 === 0 ? 23 : 2323, sport: 30000 + i * 17, seq: mirai >>> 0 }));
    const [row] = t.sources();
    expect(row?.seqReuse).toEqual({ seq: mirai >>> 0, syns: 15 });
    expect(row?.sourcePortReuse).toBeNull();
  });

  it('does not see seq reuse in a client whose kernel picks a fresh ISN per connection', () => {
    const t = tracker();
    const seq = seqs(11);
    for (let i = 0; i < 30; i++) t.observe(packet({ time: T0 + i * 1000, src: '203.0.113.10', dport: 443, dst: `192.0.2.${i + 1}`, sport: 40000 + i, seq: seq(), verdict: 'allowed' }));
    expect(t.sources()[0]).toMatchObject({ seqReuse: null, sourcePortReuse: null });
  });

  it('treats NULL/FIN/Xmas probes as probes and acknowledgements as not', () => {
    const t = tracker();
    t.observe(packet({ dport: 1, flags: TCP_FIN }));
    t.observe(packet({ dport: 2, flags: 0 }));
    t.observe(packet({ dport: 3, flags: TCP_SYN | TCP_ACK }));
    t.observe(packet({ dport: 4, protocol: 17 }));
    t.observe(packet({ protocol: 1, icmpType: 8 }));
    t.observe(packet({ protocol: 1, icmpType: 0 })); // echo reply
    t.observe(packet({ dport: 5, src: '203.0.113.7', inIf: '', outIf: 'eth0' })); // sent by the firewall itself
    expect(t.sources()[0]?.window.probes).toBe(4); // FIN, NULL, UDP, echo request
    expect(t.sources()[0]?.ports.distinct).toBe(3);
  });

  it('stops counting activity older than the window while the source stays active', () => {
    const t = tracker({ window_seconds: 80 }); // slots of 10 s
    for (let port = 1; port <= 30; port++) t.observe(packet({ time: T0 + port * 10, src: '192.0.2.50', dst: FIREWALL, dport: port }));
    expect(t.sources()[0]?.scan.state).toBe('detected');
    // Then one packet to port 80 every 10 s for two windows.
    for (let i = 1; i <= 16; i++) t.observe(packet({ time: T0 + i * 10_000, src: '192.0.2.50', dport: 80, verdict: 'allowed' }));
    const [row] = t.sources();
    expect(row?.packets.total).toBe(46); // lifetime counts stay
    expect(row?.ports.distinct).toBe(1); // the 30 scanned ports have left the window
    expect(row?.window.blocked).toBe(0);
    expect(row?.window.allowed).toBeGreaterThanOrEqual(7);
    expect(row?.window.allowed).toBeLessThanOrEqual(8);
    expect(row?.scan.state).toBe('none');
    expect(t.stats()).toMatchObject({ scans: { vertical: 0 }, suspected: 0 });
  });

  it('prune() lets the scan state of a silent source decay without new packets', () => {
    const t = tracker({ window_seconds: 80 });
    for (let port = 1; port <= 30; port++) t.observe(packet({ time: T0 + port, src: '192.0.2.51', dport: port }));
    t.observe(packet({ time: T0 + 75_000, src: '192.0.2.52', dport: 80, verdict: 'allowed' })); // keeps time moving
    t.prune(T0 + 75_000);
    expect(t.stats().scans.vertical).toBe(1);
    t.prune(T0 + 90_000);
    expect(t.summary().scans.detected).toBe(0);
  });

  it('keeps a source\'s one port and host until a second comes, counted as they were, and lets them leave the window', () => {
    const t = tracker({ window_seconds: 80 }); // slots of 10 s
    t.observe(packet({ time: T0, src: '192.0.2.60', dport: 22 })); // dropped: counts towards scans
    let [row] = t.sources();
    expect(row).toMatchObject({ ports: { distinct: 1, ranges: '22' }, hosts: { distinct: 1, ranges: [FIREWALL] } });
    expect(row?.scan.evidence).toMatchObject({ ports: 1, hosts: 1 });
    // An accepted SYN from a TCP stack does not count; the first port stays counted.
    t.observe(packet({ time: T0 + 1_000, src: '192.0.2.60', dport: 443, dst: '198.51.100.2', verdict: 'allowed' }));
    [row] = t.sources();
    expect(row).toMatchObject({ ports: { distinct: 2, ranges: '22,443' }, hosts: { distinct: 2 } });
    expect(row?.scan.evidence).toMatchObject({ ports: 1, hosts: 1 });
    // A source that only ever had one: its port and host leave the window, the source stays.
    t.observe(packet({ time: T0, src: '192.0.2.61', dport: 23 }));
    t.observe(packet({ time: T0 + 95_000, src: '192.0.2.61', protocol: 1, dst: '198.51.100.3' }));
    const later = t.sources({ limit: 10 }).find((r) => r.address === '192.0.2.61');
    expect(later).toMatchObject({ ports: { distinct: 0, ranges: '' }, hosts: { distinct: 1, ranges: ['198.51.100.3'] } });
  });

  it('gives a source that takes an evicted one\'s place none of its times, scan state or SSH bucket', () => {
    const t = tracker({ max_sources: 1, ssh_capacity: 4 });
    for (let i = 0; i < 8; i++) t.observe(packet({ time: T0 + i * 100, src: '192.0.2.70', dport: 22, verdict: 'allowed', sport: 41000 + i }));
    const [brute] = t.sources();
    expect(brute?.scan).toMatchObject({ state: 'detected', since: new Date(T0 + 400).toISOString() });
    expect(brute?.scan.evidence.sshBucket).toBeGreaterThan(4);
    t.observe(packet({ time: T0 + 5_000, src: '192.0.2.71', dport: 80 }));
    const [next] = t.sources();
    expect(next).toMatchObject({
      address: '192.0.2.71',
      firstSeen: new Date(T0 + 5_000).toISOString(),
      lastSeen: new Date(T0 + 5_000).toISOString(),
      scan: { state: 'none', since: null, evidence: { sshBucket: 0 } },
    });
  });

  it('evicts the least recently seen source beyond max_sources and counts it', () => {
    const t = tracker({ max_sources: 100 });
    for (let i = 0; i < 150; i++) t.observe(packet({ time: T0 + i, src: `10.1.${i >> 8}.${i & 255}` }));
    t.observe(packet({ time: T0 + 200, src: '10.1.0.60' })); // touch one of the tracked
    for (let i = 150; i < 160; i++) t.observe(packet({ time: T0 + 300 + i, src: `10.1.${i >> 8}.${i & 255}` }));
    const s = t.stats();
    expect(s.tracked).toBe(100);
    expect(s.evicted).toBe(60);
    expect(t.sources({ limit: 1000 }).some((r) => r.address === '10.1.0.60')).toBe(true);
    expect(t.sources({ limit: 1000 }).some((r) => r.address === '10.1.0.50')).toBe(false);
  });

  it('counts each source exactly while far more sources than it keeps come, go and come back, as the same strings and as equal new ones', () => {
    // More addresses than the table's direct-mapped front has slots (many share one), with
    // evictions: a source found in the front must be the one of that address, and one removed must
    // not be found there again.
    const t = tracker({ max_sources: 3_000 });
    const addresses = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const model = new Map<string, number>();
    let seed = 7;
    for (let i = 0; i < 60_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // Most packets from a few hundred sources, the rest from anywhere.
      const index = seed % 4 !== 0 ? (seed >>> 8) % 400 : (seed >>> 8) % addresses.length;
      const address = i % 2 === 0 ? addresses[index]! : `${addresses[index]!} `.trimEnd();
      t.observe(packet({ time: T0 + i, src: address }));
      const count = model.get(address) ?? 0;
      model.delete(address);
      model.set(address, count + 1);
      if (model.size > 3_000) model.delete(model.keys().next().value!);
    }
    const rows = t.sources({ limit: 10_000 });
    expect(rows).toHaveLength(model.size);
    expect(new Map(rows.map((r) => [r.address, r.packets.total]))).toEqual(model);
  });

  it('counts each source exactly through a spoofed flood, while its front stands aside, and after', () => {
    const t = tracker({ max_sources: 2_000 });
    const model = new Map<string, number>();
    const see = (address: string, time: number): void => {
      t.observe(packet({ time, src: address }));
      const count = model.get(address) ?? 0;
      model.delete(address);
      model.set(address, count + 1);
      if (model.size > 2_000) model.delete(model.keys().next().value!);
    };
    const regular = (i: number): string => `192.0.2.${i % 200}`;
    let time = T0;
    // Regulars, then a flood of new sources (with regulars among them) long enough to make the
    // front stand aside and come back, then regulars again, some evicted by the flood.
    for (let i = 0; i < 5_000; i++) see(regular(i), time++);
    for (let i = 0; i < 280_000; i++) see(i % 50 === 0 ? regular(i) : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, time++);
    for (let i = 0; i < 5_000; i++) see(regular(i * 7), time++);
    const rows = t.sources({ limit: 10_000 });
    expect(rows).toHaveLength(model.size);
    expect(new Map(rows.map((r) => [r.address, r.packets.total]))).toEqual(model);
  });

  it('starts anew a source that expired while its front stood aside for a flood', () => {
    const t = tracker({ window_seconds: 80, max_sources: 500_000 });
    const address = '198.51.100.78';
    t.observe(packet({ time: T0, src: address }));
    t.observe(packet({ time: T0 + 1, src: address }));
    // Expires after it: the object kept for reuse is this one's, not the address's.
    t.observe(packet({ time: T0 + 2, src: '198.51.100.79' }));
    // A flood of new sources long enough to make the front stand aside (after 4,096) and come
    // back (262,144 later), none of them in the address's front slot; the address expires while
    // the front stands aside, and comes back once it is in use again.
    const slot = addressSlot(address, 32 - 12); // the front's 4,096 slots
    let time = T0 + 3;
    for (let i = 0, flood = 0; flood < 268_000; i++) {
      const source = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      if (addressSlot(source, 32 - 12) === slot) continue;
      if (++flood === 10_000) {
        time += 100_000;
        t.prune(time);
      }
      t.observe(packet({ time: time++, src: source }));
    }
    t.observe(packet({ time, src: address }));
    expect(t.sources({ limit: 1_000_000 }).filter((r) => r.address === address)).toMatchObject([{ firstSeen: new Date(time).toISOString(), packets: { total: 1 } }]);
  });

  it('starts a source anew when its address comes back after it expired, as the same string', () => {
    const t = tracker({ window_seconds: 80 });
    const address = '198.51.100.77';
    t.observe(packet({ time: T0, src: address }));
    t.observe(packet({ time: T0 + 1, src: address }));
    t.prune(T0 + 200_000);
    expect(t.stats().tracked).toBe(0);
    t.observe(packet({ time: T0 + 200_000, src: address }));
    expect(t.stats().tracked).toBe(1);
    expect(t.sources()).toMatchObject([{ address, firstSeen: new Date(T0 + 200_000).toISOString(), packets: { total: 1 } }]);
  });

  it('tracks IPv6 sources per /64 by default: an attacker rotating through its /64 is one source', () => {
    const t = tracker();
    for (let i = 1; i <= 30; i++) t.observe(packet({ time: T0 + i, src: `2001:db8:1:2::${i.toString(16)}`, dport: 1000 + i }));
    t.observe(packet({ time: T0 + 100, src: '2001:db8:1:3::1', dport: 22 }));
    const rows = t.sources();
    expect(rows.map((r) => r.address).sort()).toEqual(['2001:db8:1:2::/64', '2001:db8:1:3::/64']);
    const rotating = rows.find((r) => r.address === '2001:db8:1:2::/64')!;
    expect(rotating.packets.total).toBe(30);
    expect(rotating.scan).toMatchObject({ state: 'detected', types: ['vertical'] });
    // Per address when asked.
    const perAddress = tracker({ ipv6_prefix_length: 128 });
    for (let i = 1; i <= 30; i++) perAddress.observe(packet({ time: T0 + i, src: `2001:db8:1:2::${i.toString(16)}`, dport: 1000 + i }));
    expect(perAddress.sources({ limit: 100 })).toHaveLength(30);
    expect(perAddress.sources()[0]?.scan.state).toBe('none');
  });

  it.each([1, 20, 32, 33, 48, 63, 64, 96])('groups IPv6 sources by their first %i bits, as the network\'s text says', (bits) => {
    const t = tracker({ ipv6_prefix_length: bits });
    const next = seqs(bits);
    const groups = new Uint16Array(8);
    const expected = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      // Few distinct values per group, so that addresses share networks of every length.
      const src = Array.from({ length: 8 }, (_, g) => (g === 0 ? 0x2001 + (next() % 2) : next() % 3).toString(16)).join(':');
      t.observe(packet({ time: T0 + i, src, dport: 80 }));
      const key = ipv6Network(src, bits, groups)!;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const rows = t.sources({ limit: 1_000_000 });
    expect(new Map(rows.map((r) => [r.address, r.packets.total]))).toEqual(expected);
  });

  it('turns a spoofed IPv6 flood over within max_sources, every packet a new /64, and keeps counting a network seen again', () => {
    const t = tracker({ max_sources: 1000 });
    const next = seqs(5);
    const hex = (): string => (next() >>> 16).toString(16);
    for (let i = 0; i < 20_000; i++) t.observe(packet({ time: T0 + i, src: `2${(next() & 0xfff).toString(16).padStart(3, '0')}:${hex()}:${hex()}:${hex()}::${hex()}`, dport: 443 }));
    for (let i = 0; i < 5; i++) t.observe(packet({ time: T0 + 30_000 + i, src: `2001:db8:7:8::${i + 1}`, dport: 22 + i }));
    const stats = t.stats();
    expect(stats.tracked).toBe(1000);
    expect(stats.evicted).toBe(20_001 - 1000);
    const rows = t.sources({ limit: 1_000_000 });
    expect(rows).toHaveLength(1000);
    expect(rows.find((r) => r.address === '2001:db8:7:8::/64')).toMatchObject({ packets: { total: 5 } });
  });
});
