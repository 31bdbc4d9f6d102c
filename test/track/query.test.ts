import { describe, expect, it } from 'vitest';
import { DETECTED, NOT_SCANNING } from '../../src/track/scans.js';
import type { Tracker } from '../../src/track/query.js';
import { T0, packet, tracker } from './helpers.js';

describe('query API', () => {
  it('returns plain JSON-able rows sorted by last_seen, packets, ports and severity', () => {
    const t = tracker();
    for (let p = 1; p <= 40; p++) t.observe(packet({ time: T0 + p, src: '192.0.2.1', dport: p })); // vertical scan
    for (let i = 0; i < 100; i++) t.observe(packet({ time: T0 + 100 + i, src: '192.0.2.2', dport: 443, verdict: 'allowed', flags: 0x18 })); // busy, no probes
    t.observe(packet({ time: T0 + 500, src: '192.0.2.3', dport: 22, verdict: 'allowed' }));
    const order = (sort: 'last_seen' | 'packets' | 'ports' | 'severity') => t.sources({ sort }).map((r) => r.address);
    expect(order('last_seen')).toEqual(['192.0.2.3', '192.0.2.2', '192.0.2.1']);
    expect(order('packets')).toEqual(['192.0.2.2', '192.0.2.1', '192.0.2.3']);
    expect(order('ports')[0]).toBe('192.0.2.1');
    expect(order('severity')[0]).toBe('192.0.2.1');
    expect(t.sources({ limit: 2 })).toHaveLength(2);
    const rows = t.sources();
    expect(JSON.parse(JSON.stringify(rows))).toEqual(rows);
  });

  it('says who holds each source and which threat lists it is on, and lists only the sources on one list', () => {
    const t = tracker();
    const listed = packet({ time: T0, src: '192.0.2.1' });
    listed.listed = ['spamhaus_drop'];
    listed.owner = { asn: 16509, org: 'AMAZON-02', cloud: 'aws/us-east-1/EC2' };
    t.observe(listed);
    t.observe(packet({ time: T0 + 1, src: '192.0.2.2' }));
    const [row] = t.sources({ list: 'spamhaus_drop' });
    expect(row).toMatchObject({ address: '192.0.2.1', asn: 16509, asOrg: 'AMAZON-02', cloud: 'aws/us-east-1/EC2', listed: ['spamhaus_drop'] });
    expect(t.sources({ list: 'spamhaus_drop', sort: 'packets' }).map((r) => r.address)).toEqual(['192.0.2.1']);
    expect(t.sources({ list: 'et_compromised' })).toEqual([]);
    expect(t.sources().find((r) => r.address === '192.0.2.2')).toMatchObject({ asn: null, cloud: '', listed: [] });
  });

  it('gives the SYN fingerprint histogram over the window by key, TCP window and initial TTL', () => {
    const t = tracker({ window_seconds: 80 });
    for (let i = 0; i < 5; i++) t.observe(packet({ time: T0 + i, src: `218.2.22.${i}`, sport: 6000, window: 16384, olen: 0, df: 0, ttl: 103, tool: 'port6000-ssh-scanner' }));
    for (let i = 0; i < 3; i++) t.observe(packet({ time: T0 + i, src: `203.0.113.${i}`, window: 64240, ttl: 60, os: 'linux' }));
    t.observe(packet({ time: T0, flags: 0x12 })); // SYN-ACK: no fingerprint
    const h = t.fingerprints();
    expect(h.total).toBe(8);
    expect(h.byKey).toEqual([
      { key: 'ittl=128,win=16384,olen=0,df=0', count: 5, os: '', tool: 'port6000-ssh-scanner' },
      { key: 'ittl=64,win=64240,olen=20,df=1', count: 3, os: 'linux', tool: '' },
    ]);
    expect(h.byWindow).toEqual([{ window: 16384, count: 5 }, { window: 64240, count: 3 }]);
    expect(h.byInitialTtl).toEqual([{ initialTtl: 128, count: 5 }, { initialTtl: 64, count: 3 }]);
    // A window later, only what came since counts.
    t.observe(packet({ time: T0 + 85_000, src: '203.0.113.50', window: 29200, ttl: 60 }));
    expect(t.fingerprints().byWindow).toEqual([{ window: 29200, count: 1 }]);
    // A window and a TTL that left come back counted from one.
    t.observe(packet({ time: T0 + 85_001, src: '218.2.22.9', sport: 6000, window: 16384, olen: 0, df: 0, ttl: 103, tool: 'port6000-ssh-scanner' }));
    expect(t.fingerprints().byWindow).toEqual([{ window: 29200, count: 1 }, { window: 16384, count: 1 }]);
    expect(t.fingerprints().byInitialTtl).toEqual([{ initialTtl: 64, count: 1 }, { initialTtl: 128, count: 1 }]);
  });

  it('counts SYN windows past its key limit as other keys, and lists them again once the window has room', () => {
    const t = tracker({ window_seconds: 80, max_fingerprints: 2 });
    for (const window of [1024, 2048, 4096, 4096]) t.observe(packet({ time: T0, src: '203.0.113.7', window, ttl: 60 }));
    expect(t.fingerprints().byWindow).toEqual([{ window: 1024, count: 1 }, { window: 2048, count: 1 }]);
    t.observe(packet({ time: T0 + 85_000, src: '203.0.113.7', window: 4096, ttl: 60 }));
    expect(t.fingerprints().byWindow).toEqual([{ window: 4096, count: 1 }]);
  });

  it('summarises tracked sources, evictions, scans by type and severity, campaigns', () => {
    const t = tracker({ max_sources: 100 });
    for (let p = 1; p <= 40; p++) t.observe(packet({ time: T0 + p, src: '192.0.2.1', dport: p }));
    for (let h = 1; h <= 12; h++) t.observe(packet({ time: T0 + 100 + h, src: '192.0.2.9', dst: `198.51.100.${h}`, dport: 3389, sport: 1000 + h }));
    for (let i = 0; i < 200; i++) t.observe(packet({ time: T0 + 1000 + i, src: `10.9.${i >> 8}.${i & 255}`, dport: 443, verdict: 'allowed', sport: 40000 + i }));
    const s = t.summary();
    expect(s.sources).toEqual({ tracked: 100, max: 100, evicted: 102, expired: 0 });
    // The two scanners were the least recently seen: evicted, and their scans with them.
    expect(s.scans.detected + s.scans.suspected).toBe(0);
    expect(s.packets).toBe(40 + 12 + 200);
    // 100 clients of one fingerprint, accepted to 443: the web server's users, no campaign.
    expect(s.campaigns.active).toBe(0);
  });

  it('reports scans active by type and severity, and new scans once per stats() call', () => {
    const t = tracker();
    for (let p = 1; p <= 40; p++) t.observe(packet({ time: T0 + p, src: '192.0.2.1', dport: p }));
    for (let h = 1; h <= 12; h++) t.observe(packet({ time: T0 + 100 + h, src: '192.0.2.9', dst: `198.51.100.${h}`, dport: 3389, sport: 1000 + h, seq: h * 7919 }));
    const s = t.summary();
    // Vertical: 40 probes → level 2, +1 for the one source port reused → 3. Horizontal: 12 probes, 12 hosts → 1.
    expect(s.scans).toEqual({
      suspected: 1,
      detected: 1,
      byType: { vertical: { suspected: 0, detected: 1 }, horizontal: { suspected: 1, detected: 0 }, ssh_bruteforce: { suspected: 0, detected: 0 } },
      bySeverity: { '1': 1, '2': 0, '3': 1, '4': 0, '5': 0 },
    });
    expect(t.stats()).toMatchObject({ tracked: 2, scans: { vertical: 1, horizontal: 0 }, newScans: { vertical: 1 }, suspected: 1 });
    expect(t.stats().newScans.vertical).toBe(0);
  });
});

describe('the scan figures of stats() (kept as states change, not counted per call)', () => {
  // What stats() says, counted the slow way over every tracked source.
  const counted = (t: Tracker): { suspected: number; scans: { vertical: number; horizontal: number; ssh_bruteforce: number } } => {
    const scans = { vertical: 0, horizontal: 0, ssh_bruteforce: 0 };
    let suspected = 0;
    for (const s of t.sourceTable.values()) {
      if (s.scanState === NOT_SCANNING) continue;
      if (s.scanState !== DETECTED) suspected++;
      if (s.vertical === DETECTED) scans.vertical++;
      if (s.horizontal === DETECTED) scans.horizontal++;
      if (s.sshBruteforce === DETECTED) scans.ssh_bruteforce++;
    }
    return { suspected, scans };
  };

  it('match a count over the sources through scans starting, growing, decaying, evicted and expired', () => {
    const t = tracker({ max_sources: 60, window_seconds: 60 });
    let x = 7;
    const next = (n: number): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n;
    let checks = 0;
    let seen = 0;
    for (let step = 0; step < 6000; step++) {
      const time = T0 + step * 50;
      const who = next(90);
      // Sources 0-29 sweep ports, 30-59 sweep hosts, 60-89 knock on SSH (accepted) or browse.
      if (who < 30) t.observe(packet({ time, src: `192.0.2.${who}`, dport: 1 + next(200), verdict: 'blocked' }));
      else if (who < 60) t.observe(packet({ time, src: `192.0.2.${who}`, dst: `198.51.100.${1 + next(200)}`, dport: 23, verdict: 'blocked' }));
      else t.observe(packet({ time, src: `192.0.2.${who}`, dport: next(2) === 0 ? 22 : 443, verdict: 'allowed', sport: 30000 + next(30000) }));
      if (step % 500 === 499) t.prune(time + next(2) * 90_000);
      if (step % 97 === 0) {
        const stats = t.stats();
        const slow = counted(t);
        expect({ suspected: stats.suspected, scans: stats.scans }, `step ${step}`).toEqual(slow);
        seen += slow.suspected + slow.scans.vertical + slow.scans.horizontal;
        checks++;
      }
    }
    expect(checks).toBeGreaterThan(60);
    // The walk went through scans of both kinds, and evictions and expiries.
    expect(seen).toBeGreaterThan(100);
    expect(t.stats()).toMatchObject({ evicted: expect.any(Number), expired: expect.any(Number) });
    expect(t.stats().evicted).toBeGreaterThan(0);
    expect(t.stats().expired).toBeGreaterThan(0);
  });
});

describe('live figures per country (Tracker.countries)', () => {
  it('sums the tracked sources with packets in the window; most sources first', () => {
    const t = tracker();
    t.observe(packet({ src: '203.0.113.1', time: T0, country: 'NL' }));
    t.observe(packet({ src: '203.0.113.2', time: T0 + 1, country: 'CN' }));
    t.observe(packet({ src: '203.0.113.3', time: T0 + 2, country: 'CN', verdict: 'allowed' }));
    t.observe(packet({ src: '203.0.113.4', time: T0 + 3 }));
    expect(t.countries()).toEqual([
      { country: 'CN', sources: 2, packets: 2, blocked: 1, scanning: 0 },
      { country: '', sources: 1, packets: 1, blocked: 1, scanning: 0 },
      { country: 'NL', sources: 1, packets: 1, blocked: 1, scanning: 0 },
    ]);
  });

  it('leaves out sources whose packets have left the window', () => {
    const t = tracker({ window_seconds: 60 });
    t.observe(packet({ src: '203.0.113.1', time: T0, country: 'NL' }));
    t.observe(packet({ src: '203.0.113.2', time: T0 + 90_000, country: 'CN' }));
    expect(t.countries().map((c) => c.country)).toEqual(['CN']);
  });
});

describe('live figures per place (Tracker.cities)', () => {
  const LONDON = { lat: 51.5142, lon: -0.0931 };
  const AMSTERDAM = { lat: 52.3759, lon: 4.8975 };

  it('sums the located sources per city, most sources first; unlocated ones are not on it', () => {
    const t = tracker();
    t.observe(packet({ src: '203.0.113.1', time: T0, country: 'GB', city: 'London', location: LONDON }));
    t.observe(packet({ src: '203.0.113.2', time: T0 + 1, country: 'NL', city: 'Amsterdam', location: AMSTERDAM }));
    t.observe(packet({ src: '203.0.113.3', time: T0 + 2, country: 'NL', city: 'Amsterdam', location: AMSTERDAM, verdict: 'allowed' }));
    t.observe(packet({ src: '203.0.113.3', time: T0 + 3, country: 'NL', city: 'Amsterdam', location: AMSTERDAM }));
    t.observe(packet({ src: '203.0.113.4', time: T0 + 4, country: 'CN' }));
    expect(t.cities()).toEqual([
      { country: 'NL', city: 'Amsterdam', ...AMSTERDAM, sources: 2, packets: 3, blocked: 2, scanning: 0 },
      { country: 'GB', city: 'London', ...LONDON, sources: 1, packets: 1, blocked: 1, scanning: 0 },
    ]);
  });

  it('counts a source at the place it was last located, and is empty without a City database', () => {
    const t = tracker();
    t.observe(packet({ src: '203.0.113.1', time: T0, country: 'GB', city: 'London', location: LONDON }));
    t.observe(packet({ src: '203.0.113.1', time: T0 + 1, country: 'NL', city: 'Amsterdam', location: AMSTERDAM }));
    t.observe(packet({ src: '203.0.113.1', time: T0 + 2, country: 'NL' }));
    expect(t.cities().map((c) => [c.city, c.sources, c.packets])).toEqual([['Amsterdam', 1, 3]]);
    const plain = tracker();
    plain.observe(packet({ src: '203.0.113.1', time: T0, country: 'NL' }));
    expect(plain.cities()).toEqual([]);
  });

  it('leaves out sources whose packets have left the window', () => {
    const t = tracker({ window_seconds: 60 });
    t.observe(packet({ src: '203.0.113.1', time: T0, country: 'GB', city: 'London', location: LONDON }));
    t.observe(packet({ src: '203.0.113.2', time: T0 + 90_000, country: 'NL', city: 'Amsterdam', location: AMSTERDAM }));
    expect(t.cities().map((c) => c.city)).toEqual(['Amsterdam']);
  });
});
