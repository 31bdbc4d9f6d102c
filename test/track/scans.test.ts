import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../../src/pipeline/types.js';
import { hostRanges, portRanges } from '../../src/track/scans.js';
import { TECHNIQUES, probeTechnique } from '../../src/track/sources.js';
import { FIREWALL, T0, packet, seqs, tracker } from './helpers.js';

describe('scan detection', () => {
  it('detects a vertical scan: an nmap-like run of SYNs to 1000 ports of one host', () => {
    const t = tracker();
    const seq = seqs(7);
    for (let i = 0; i < 1000; i++) {
      // nmap -sS: one raw-socket source port, dropped by the firewall, ~100 probes a second.
      t.observe(packet({ time: T0 + i * 10, src: '192.0.2.66', sport: 54321, dport: 1 + ((i * 7919) % 65535), seq: seq(), window: 1024, olen: 4, df: 0, ttl: 45 }));
    }
    const [row] = t.sources({ sort: 'severity', limit: 1 });
    expect(row?.address).toBe('192.0.2.66');
    expect(row?.scan.state).toBe('detected');
    expect(row?.scan.types).toEqual(['vertical']);
    expect(row?.scan.evidence).toMatchObject({ ports: 1000, hosts: 1, probes: 1000 });
    // 1000 probes: psad danger level 3 (150 ≤ n < 1500), one more for the reused raw-socket port.
    expect(row?.sourcePortReuse).toEqual({ port: 54321, targets: 1000 });
    expect(row?.scan.severity).toBe(4);
    expect(row?.scan.since).toBe(new Date(T0 + 19 * 10).toISOString()); // the 20th distinct port
    expect(t.stats().newScans.vertical).toBe(1);
  });

  it('marks a source suspected before it is detected', () => {
    const t = tracker();
    for (let port = 1; port <= 6; port++) t.observe(packet({ time: T0 + port, src: '192.0.2.67', dport: port }));
    const [row] = t.sources();
    expect(row?.scan).toMatchObject({ state: 'suspected', types: ['vertical'], severity: 1 });
  });

  it('detects a horizontal sweep: port 22 on 50 hosts', () => {
    const t = tracker();
    for (let h = 1; h <= 50; h++) {
      t.observe(packet({ time: T0 + h * 100, src: '192.0.2.80', dst: `198.51.100.${h}`, dport: 22, sport: 40000 + h, seq: h * 7777 }));
    }
    const [row] = t.sources();
    expect(row?.scan.state).toBe('detected');
    expect(row?.scan.types).toEqual(['horizontal']);
    expect(row?.scan.evidence).toMatchObject({ ports: 1, hosts: 50 });
    // 50 hosts: psad DL4_UNIQUE_HOSTS is 100, DL3 is 50 → level 3.
    expect(row?.scan.severity).toBe(3);
    expect(t.summary().scans.byType.horizontal).toEqual({ suspected: 0, detected: 1 });
  });

  it('does not call a client that browses many web servers a sweep (accepted packets do not count by default)', () => {
    const t = tracker();
    for (let h = 1; h <= 60; h++) {
      t.observe(packet({ time: T0 + h * 1000, src: '10.0.0.5', dst: `192.0.2.${h}`, dport: 443, sport: 50000 + h, seq: h * 31337, verdict: 'allowed', outIf: 'eth1' }));
    }
    expect(t.sources()[0]?.scan.state).toBe('none');
    const counting = tracker({ scan_count_allowed: true });
    for (let h = 1; h <= 60; h++) {
      counting.observe(packet({ time: T0 + h * 1000, src: '10.0.0.5', dst: `192.0.2.${h}`, dport: 443, sport: 50000 + h, verdict: 'allowed' }));
    }
    expect(counting.sources()[0]?.scan.types).toEqual(['horizontal']);
  });

  it('detects SSH brute force from many accepted SYNs to port 22 (leaky bucket)', () => {
    const t = tracker();
    // A new connection every 2 s for a minute: 30 SYNs; the bucket (20, one leaks per 10 s) overflows.
    for (let i = 0; i < 30; i++) {
      t.observe(packet({ time: T0 + i * 2000, src: '192.0.2.22', dport: 22, sport: 41000 + i * 3, seq: i * 99991, verdict: 'allowed' }));
    }
    const [row] = t.sources();
    expect(row?.scan.state).toBe('detected');
    expect(row?.scan.types).toEqual(['ssh_bruteforce']);
    expect(row?.scan.evidence.sshSyns).toBe(30);
    expect(row?.scan.severity).toBe(2); // 30 SYNs: psad levels 15 ≤ n < 150
    expect(t.stats().scans.ssh_bruteforce).toBe(1);
  });

  it('fills the SSH bucket only with SYNs that come back to a host: one SYN to each of 40 hosts is no brute force, 30 over two hosts are', () => {
    const t = tracker();
    for (let h = 0; h < 40; h++) t.observe(packet({ time: T0 + h * 500, src: '192.0.2.24', dst: `198.51.100.${h + 1}`, dport: 22, sport: 42000 + h * 3, seq: h * 7919, verdict: 'allowed' }));
    for (let i = 0; i < 30; i++) t.observe(packet({ time: T0 + i * 2000, src: '192.0.2.25', dst: `198.51.100.${(i % 2) + 1}`, dport: 22, sport: 43000 + i * 3, seq: i * 7919, verdict: 'allowed' }));
    const bySource = new Map(t.sources().map((r) => [r.address, r]));
    expect(bySource.get('192.0.2.24')?.scan.levels.ssh_bruteforce).toBe('none');
    expect(bySource.get('192.0.2.24')?.scan.evidence.sshSyns).toBe(40);
    expect(bySource.get('192.0.2.25')?.scan.types).toEqual(['ssh_bruteforce']);
  });

  it('counts accepted probes towards scans when they are crafted: a recognised tool or a reused source port', () => {
    const t = tracker();
    for (let h = 1; h <= 25; h++) {
      // The port-6000 scanner's SYNs, accepted by an open SSH port.
      t.observe(packet({ time: T0 + h * 100, src: '192.0.2.26', dst: `198.51.100.${h}`, dport: 22, sport: 6000, seq: h * 7777, verdict: 'allowed', tool: 'port6000-ssh-scanner' }));
      // An unrecognised raw-socket tool: no signature, but one source port to every target.
      t.observe(packet({ time: T0 + h * 100, src: '192.0.2.27', dst: `198.51.100.${h}`, dport: 443, sport: 31000, seq: h * 7777, verdict: 'allowed' }));
    }
    const bySource = new Map(t.sources().map((r) => [r.address, r]));
    expect(bySource.get('192.0.2.26')?.scan).toMatchObject({ state: 'detected', types: ['horizontal'] });
    // Counted from the probe after the source port's reuse reached reuse_min_targets (10).
    expect(bySource.get('192.0.2.27')?.scan.evidence.hosts).toBe(25 - 10);
    expect(bySource.get('192.0.2.27')?.scan.types).toEqual(['horizontal']);
  });

  it('does not flag a slow, steady SSH user: the bucket leaks faster than it fills', () => {
    const t = tracker();
    for (let i = 0; i < 30; i++) t.observe(packet({ time: T0 + i * 15_000, src: '192.0.2.23', dport: 22, sport: 41000 + i, seq: i * 7, verdict: 'allowed' }));
    expect(t.sources()[0]?.scan.state).toBe('none');
  });

  it('does not flag a normal Linux client making a few connections', () => {
    const t = tracker();
    const seq = seqs(3);
    const ports = [22, 443, 443, 80, 22, 443];
    ports.forEach((dport, i) => {
      // Kernel-made SYNs: a new ephemeral port and a random ISN per connection, DF set, options.
      t.observe(packet({ time: T0 + i * 5_000, src: '203.0.113.10', dst: FIREWALL, dport, sport: 43512 + i * 2, seq: seq(), ttl: 61, window: 64240, olen: 20, df: 1, verdict: 'allowed', os: 'linux' }));
      // and one retransmission of the same SYN
      t.observe(packet({ time: T0 + i * 5_000 + 1000, src: '203.0.113.10', dst: FIREWALL, dport, sport: 43512 + i * 2, seq: 1, ttl: 61, verdict: 'allowed' }));
    });
    const [row] = t.sources();
    expect(row?.scan.state).toBe('none');
    expect(row?.scan.severity).toBe(0);
    expect(row?.sourcePortReuse).toBeNull();
    expect(row?.seqReuse).toBeNull();
    expect(row?.os).toEqual(['linux']);
    expect(row?.fingerprints).toEqual(['ittl=64,win=64240,olen=20,df=1']);
    expect(t.summary().scans).toMatchObject({ suspected: 0, detected: 0 });
  });

  it('lets a scan decay once its activity has left the window', () => {
    const t = tracker({ window_seconds: 60 });
    for (let port = 1; port <= 30; port++) t.observe(packet({ time: T0 + port * 100, src: '192.0.2.90', dport: port }));
    expect(t.stats().scans.vertical).toBe(1);
    t.prune(T0 + 30_000);
    expect(t.stats().scans.vertical).toBe(1);
    t.prune(T0 + 70_000); // the source is silent for more than a window: dropped
    expect(t.stats()).toMatchObject({ scans: { vertical: 0 }, suspected: 0, tracked: 0, expired: 1 });
  });
});

describe('ports and hosts as ranges', () => {
  it('writes ports sorted, runs as a-b, at most 32 ranges then …', () => {
    expect(portRanges([])).toBe('');
    expect(portRanges([80, 22, 21, 20, 22, 443])).toBe('20-22,80,443');
    expect(portRanges([0, 65535])).toBe('0,65535');
    expect(portRanges([7, 7, 7])).toBe('7');
    expect(portRanges([6, 5, 5, 9, 6])).toBe('5-6,9');
    expect(portRanges(Array.from({ length: 40 }, (_, i) => i * 2))).toBe(`${Array.from({ length: 32 }, (_, i) => i * 2).join(',')},…`);
  });
  it('writes IPv4 hosts sorted by address, runs as a-b (the last octet only within one /24), then other addresses', () => {
    expect(hostRanges(['198.18.0.97', '198.18.0.96', '198.18.0.98', '10.0.0.1', 'fd00::1', '198.18.1.0', '198.18.0.255'])).toEqual([
      '10.0.0.1',
      '198.18.0.96-98',
      '198.18.0.255-198.18.1.0',
      'fd00::1',
    ]);
  });
});

describe('probe techniques', () => {
  const tcp = (flags: number, verdict: 'allowed' | 'blocked' = 'blocked') => packet({ flags, verdict });
  it('names TCP probes by their flags, ACK and FIN+ACK only when the firewall did not accept them', () => {
    const name = (e: ReturnType<typeof packet>): string => TECHNIQUES[probeTechnique(e)] ?? 'none';
    expect(name(tcp(TCP_SYN))).toBe('syn');
    expect(name(tcp(TCP_SYN | TCP_ECE | TCP_CWR))).toBe('syn');
    expect(name(tcp(0))).toBe('null');
    expect(name(tcp(TCP_FIN))).toBe('fin');
    expect(name(tcp(TCP_FIN | TCP_PSH | TCP_URG))).toBe('xmas');
    expect(name(tcp(TCP_ACK))).toBe('ack');
    expect(name(tcp(TCP_ACK, 'allowed'))).toBe('none');
    // A late ACK of a closed connection, dropped, to the client's ephemeral port: no probe.
    expect(name(packet({ flags: TCP_ACK, dport: 41234 }))).toBe('none');
    expect(name(packet({ flags: TCP_ACK | TCP_FIN, dport: 52000 }))).toBe('none');
    expect(name(tcp(TCP_FIN | TCP_ACK))).toBe('maimon');
    expect(name(tcp(TCP_SYN | TCP_FIN))).toBe('odd_flags');
    expect(name(tcp(TCP_SYN | TCP_ACK))).toBe('none');
    expect(name(tcp(TCP_RST))).toBe('none');
    expect(name(packet({ protocol: 17 }))).toBe('udp');
    expect(name(packet({ protocol: 1, icmpType: 8 }))).toBe('icmp');
    expect(name(packet({ protocol: 1, icmpType: 0 }))).toBe('none');
    // What the firewall sends itself (OUTPUT) is never a probe.
    expect(name(packet({ inIf: '', outIf: 'eth0' }))).toBe('none');
  });
});
