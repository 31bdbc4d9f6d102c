import { describe, expect, it } from 'vitest';
import { NO_SHAPE } from '../../src/enrich/fingerprint.js';
import type { CampaignLink } from '../../src/track/campaigns.js';
import { T0, packet, seqs, tracker } from './helpers.js';

const SCANNER = 'ittl=128,win=16384,olen=0,df=0';

/**
 * The raw-socket SSH scanner of the port-6000 case: win 16384, no options, no DF, TTL ~103, sport
 * 6000, accepted (the SSH port is open), named by the bundled signature as the enricher names it.
 */
function scannerSyn(i: number, time: number, country: string) {
  return packet({ time, src: `218.2.${i >> 8}.${(i & 255) + 1}`, sport: 6000, dport: 22, window: 16384, olen: 0, df: 0, ttl: 103, seq: 9764864, verdict: 'allowed', country, tool: 'port6000-ssh-scanner' });
}

describe('campaigns', () => {
  it('groups the port-6000 case — 30 sources, one fingerprint, port 22 — into ONE campaign', () => {
    const t = tracker();
    const countries = ['CN', 'CN', 'CN', 'HK', 'KR'];
    for (let i = 0; i < 30; i++) t.observe(scannerSyn(i, T0 + i * 60_000, countries[i % countries.length]!));
    // Background: ordinary Linux clients to 443, each with its own fingerprint-free ACK traffic too.
    const seq = seqs(5);
    for (let i = 0; i < 3; i++) t.observe(packet({ time: T0 + i * 1000, src: `203.0.113.${i + 1}`, dport: 443, sport: 45000 + i, seq: seq(), ttl: 60, verdict: 'allowed' }));

    const campaigns = t.campaigns();
    expect(campaigns).toHaveLength(1);
    const [c] = campaigns;
    expect(c).toMatchObject({
      fingerprint: SCANNER,
      ports: [22],
      manyPorts: false,
      sources: 30,
      sharedSourcePort: 6000,
      syns: 30,
      firstSeen: new Date(T0).toISOString(),
      lastSeen: new Date(T0 + 29 * 60_000).toISOString(),
    });
    expect(c?.addresses).toHaveLength(30);
    expect(c?.countries).toEqual([
      { country: 'CN', sources: 18 },
      { country: 'HK', sources: 6 },
      { country: 'KR', sources: 6 },
    ]);
    expect(c?.sourcePorts).toEqual([{ port: 6000, sources: 30 }]);
    expect(t.summary().campaigns.active).toBe(1);
    // None of the scanners did enough alone to be a scan: the campaign is what shows them.
    expect(t.summary().scans.detected).toBe(0);
  });

  it("leaves out the SYNs the firewall accepted from an OS's own stack (its services' clients), and takes the same SYNs dropped", () => {
    // 30 Linux clients of the web server: one fingerprint, one port, every SYN accepted.
    const client = (i: number, verdict: 'allowed' | 'blocked') =>
      packet({ time: T0 + i * 1000, src: `203.0.${i >> 8}.${(i & 255) + 1}`, dport: 443, sport: 40000 + i, window: 64240, olen: 20, ttl: 60, verdict, os: 'linux' });
    const accepted = tracker();
    for (let i = 0; i < 30; i++) accepted.observe(client(i, 'allowed'));
    expect(accepted.campaigns()).toEqual([]);
    expect(accepted.summary().campaigns.groups).toBe(0);
    // Their SYN window histogram still counts every SYN.
    expect(accepted.fingerprints().byWindow).toEqual([{ window: 64240, count: 30 }]);

    // The same 30 sources with their SYNs dropped: a campaign.
    const dropped = tracker();
    for (let i = 0; i < 30; i++) dropped.observe(client(i, 'blocked'));
    expect(dropped.campaigns().map((c) => [c.fingerprint, c.ports, c.sources])).toEqual([['ittl=64,win=64240,olen=20,df=1', [443], 30]]);

    // Accepted, with scan_count_allowed: a campaign too, as every accepted packet then counts.
    const counted = tracker({ scan_count_allowed: true });
    for (let i = 0; i < 30; i++) counted.observe(client(i, 'allowed'));
    expect(counted.campaigns().map((c) => c.sources)).toEqual([30]);
  });

  it('takes an accepted SYN once its source is crafted: a source port reused across targets', () => {
    const t = tracker({ campaign_min_sources: 2, reuse_min_targets: 3 });
    // Two sources, each SYNs to four hosts from one source port, accepted: three targets shared the
    // port before the fourth SYN, which is crafted and joins; the first three stay out.
    for (const src of ['192.0.2.10', '192.0.2.11'])
      for (let h = 1; h <= 4; h++) t.observe(packet({ time: T0 + h, src, dst: `198.51.100.${h}`, dport: 22, sport: 31337, window: 1024, olen: 0, df: 0, ttl: 250, verdict: 'allowed' }));
    expect(t.campaigns().map((c) => [c.fingerprint, c.ports, c.sources, c.sharedSourcePort, c.syns])).toEqual([['ittl=255,win=1024,olen=0,df=0', [22], 2, 31337, 2]]);
  });

  it('does not report a group below campaign_min_sources', () => {
    const t = tracker({ campaign_min_sources: 5 });
    for (let i = 0; i < 4; i++) t.observe(scannerSyn(i, T0 + i, 'CN'));
    expect(t.campaigns()).toEqual([]);
    t.observe(scannerSyn(4, T0 + 10, 'CN'));
    expect(t.campaigns()[0]?.sources).toBe(5);
  });

  it('moves a source to another campaign when its port set grows, and separates port sets', () => {
    const t = tracker({ campaign_min_sources: 2 });
    for (let i = 0; i < 3; i++) t.observe(scannerSyn(i, T0 + i, 'CN'));
    for (let i = 3; i < 6; i++) {
      t.observe(scannerSyn(i, T0 + i, 'CN'));
      t.observe({ ...scannerSyn(i, T0 + i + 1, 'CN'), dstPort: 2222 });
    }
    const byPorts = new Map(t.campaigns().map((c) => [c.ports.join(','), c.sources]));
    expect(byPorts).toEqual(new Map([['22', 3], ['22,2222', 3]]));
  });

  it('keeps a campaign bounded: addresses listed up to the limit, the total beyond', () => {
    const t = tracker({ campaign_max_listed: 10 });
    for (let i = 0; i < 300; i++) t.observe(scannerSyn(i, T0 + i, 'CN'));
    const [c] = t.campaigns();
    expect(c?.sources).toBe(300);
    expect(c?.addresses).toHaveLength(10);
  });

  it('takes a member that moves on off the list (if it was on it) and lists the next one to join in its place', () => {
    const t = tracker({ campaign_max_listed: 10 });
    for (let i = 0; i < 30; i++) t.observe(scannerSyn(i, T0 + i, 'CN'));
    const address = (i: number): string => `218.2.0.${i + 1}`;
    // Five listed members (0-4) and five that never were (20-24) move on to ports 22 and 2222.
    for (const i of [0, 1, 2, 3, 4, 20, 21, 22, 23, 24]) t.observe({ ...scannerSyn(i, T0 + 100 + i, 'CN'), dstPort: 2222 });
    const byPorts = (): Map<string, { sources: number; addresses: string[] }> => new Map(t.campaigns().map((c) => [c.ports.join(','), { sources: c.sources, addresses: c.addresses }]));
    expect(byPorts().get('22')).toEqual({ sources: 20, addresses: [5, 6, 7, 8, 9].map(address) });
    expect(byPorts().get('22,2222')?.addresses).toEqual([0, 1, 2, 3, 4, 20, 21, 22, 23, 24].map(address));
    // New members of port 22 alone take the five places made.
    for (let i = 30; i < 40; i++) t.observe(scannerSyn(i, T0 + 200 + i, 'CN'));
    expect(byPorts().get('22')).toEqual({ sources: 30, addresses: [5, 6, 7, 8, 9, 30, 31, 32, 33, 34].map(address) });
  });

  it('ends a campaign that stays silent for a campaign window', () => {
    const t = tracker({ campaign_window_seconds: 600 });
    for (let i = 0; i < 10; i++) t.observe(scannerSyn(i, T0 + i, 'CN'));
    t.observe(packet({ time: T0 + 700_000, src: '203.0.113.99', dport: 443, verdict: 'allowed' }));
    t.prune();
    expect(t.campaigns()).toEqual([]);
    // The Linux client is alone with its fingerprint and port: it waits, and is no group.
    expect(t.summary().campaigns.groups).toBe(0);
  });

  it('forms a group when a second source shows the fingerprint and port a lone source waits with, counting the first one\'s SYNs', () => {
    const t = tracker({ campaign_min_sources: 2 });
    t.observe(scannerSyn(0, T0, 'CN'));
    t.observe(scannerSyn(0, T0 + 1000, 'CN')); // a retransmission while alone
    expect(t.summary().campaigns.groups).toBe(0);
    t.observe(scannerSyn(1, T0 + 5000, 'KR'));
    const [c] = t.campaigns();
    expect(c).toMatchObject({ sources: 2, syns: 3, ports: [22], firstSeen: new Date(T0).toISOString(), lastSeen: new Date(T0 + 5000).toISOString() });
    expect(c?.addresses).toEqual(['218.2.0.1', '218.2.0.2']);
    expect(c?.countries).toEqual([
      { country: 'CN', sources: 1 },
      { country: 'KR', sources: 1 },
    ]);
    // The first source is a member now: its next SYN counts once, and it does not join again.
    t.observe(scannerSyn(0, T0 + 6000, 'CN'));
    expect(t.campaigns()[0]).toMatchObject({ sources: 2, syns: 4 });
  });

  it('gives a source that takes an evicted one\'s place (and its object) none of its campaign membership', () => {
    const t = tracker({ max_sources: 1, campaign_min_sources: 2 });
    const waiting = t.observe(scannerSyn(0, T0, 'CN')) as unknown as CampaignLink;
    expect(waiting).toMatchObject({ ports: [22], joinedCountry: 'CN', sport: 6000, linkSeen: T0 });
    expect(waiting.candidate).toBeGreaterThanOrEqual(0);
    const next = t.observe(packet({ time: T0 + 1000, src: '192.0.2.90', protocol: 17, dport: 53 })) as unknown as CampaignLink;
    expect(next).toBe(waiting);
    expect(next).toMatchObject({ shape: NO_SHAPE, ports: [], key: '', campaignId: 0, joinedCountry: '', candidate: -1, linkSeen: 0 });
    // The evicted source's wait is over: a second scanner SYN waits alone rather than forming a group with it.
    t.observe(scannerSyn(1, T0 + 2000, 'KR'));
    expect(t.summary().campaigns.groups).toBe(0);
  });

  it('keeps a formed campaign through a spoofed flood of one-SYN sources with random fingerprints', () => {
    const t = tracker({ campaign_min_sources: 5, max_campaigns: 100 });
    for (let i = 0; i < 10; i++) t.observe(scannerSyn(i, T0 + i, 'CN'));
    const seq = seqs(7);
    for (let i = 0; i < 50_000; i++) {
      const r = seq();
      t.observe(packet({ time: T0 + 100 + (i >> 4), src: `100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dport: 1 + (r & 1023), window: r >>> 16, ttl: 40 + (r & 15), olen: 0, df: 0, verdict: 'blocked' }));
    }
    // Ten more scanners: the campaign they join is the one formed before the flood.
    for (let i = 10; i < 20; i++) t.observe(scannerSyn(i, T0 + 4000 + i, 'CN'));
    const scanners = t.campaigns().filter((c) => c.fingerprint === SCANNER);
    expect(scanners).toHaveLength(1);
    expect(scanners[0]).toMatchObject({ sources: 20, firstSeen: new Date(T0).toISOString() });
    expect(t.summary().campaigns.groups).toBeLessThanOrEqual(100);
  });

  /** Campaign i of a full table: two scanner sources SYN to port 1000 + i. */
  function formCampaign(t: ReturnType<typeof tracker>, i: number, time: number): void {
    for (const member of [2 * i, 2 * i + 1]) t.observe({ ...scannerSyn(member, time, 'CN'), dstPort: 1000 + i });
  }

  it('drops the least recently active campaign from a full table, where activity is its members\' SYNs', () => {
    const t = tracker({ campaign_min_sources: 2, max_campaigns: 10 });
    for (let i = 0; i < 10; i++) formCampaign(t, i, T0 + i);
    // Campaign 0's members stay busy; campaigns 1-9 go quiet.
    for (let s = 1; s <= 5; s++) t.observe({ ...scannerSyn(0, T0 + s * 2000, 'CN'), dstPort: 1000 });
    formCampaign(t, 10, T0 + 20_000);
    const ports = t.campaigns().map((c) => c.ports[0]);
    expect(ports).toContain(1000);
    expect(ports).not.toContain(1001);
    expect(ports).toHaveLength(10);
    expect(t.campaigns().find((c) => c.ports[0] === 1000)).toMatchObject({ sources: 2, syns: 7 });
  });

  it('counts nothing into a campaign the table dropped: its members join again as new sources', () => {
    const t = tracker({ campaign_min_sources: 2, max_campaigns: 10 });
    for (let i = 0; i < 11; i++) formCampaign(t, i, T0 + i * 2000);
    expect(t.campaigns().map((c) => c.ports[0])).not.toContain(1000);
    // Both members of the dropped campaign come back: the first waits alone, the second forms it anew.
    t.observe({ ...scannerSyn(0, T0 + 30_000, 'CN'), dstPort: 1000 });
    expect(t.campaigns().map((c) => c.ports[0])).not.toContain(1000);
    t.observe({ ...scannerSyn(1, T0 + 31_000, 'CN'), dstPort: 1000 });
    const again = t.campaigns().find((c) => c.ports[0] === 1000);
    expect(again).toMatchObject({ sources: 2, syns: 2, firstSeen: new Date(T0 + 30_000).toISOString() });
    expect(again?.addresses).toEqual(['218.2.0.1', '218.2.0.2']);
  });
});
