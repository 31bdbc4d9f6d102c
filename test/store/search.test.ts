import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_SYN } from '../../src/pipeline/types.js';
import { accessFor, searchSql } from '../../src/store/search.js';
import type { HistoryIncident, HistorySearch } from '../../src/store/types.js';
import { FOLD_IPV6_WIDE_BITS, MAX_IPV6_FOLD_NETWORKS } from '../../src/store/sightings.js';
import { HOUR, SyncStore, T0, packet, tempDir, type EventSpec } from './helpers.js';

// Five sources over four hours:
//   203.0.113.7    hour 0: 10 blocked SYNs to 22 and 23, win 16384 (a crafted tool), CN, AS4134, on "drop"
//                  hour 2: 2 allowed SYNs to 443, win 65535, linux
//   203.0.113.200  hour 1: 3 blocked to 80, US, AS15169
//   198.51.100.9   hour 0: 1 allowed SYN+ACK to 22, NL
//   2001:db8:1:2::5 (its /64) hour 1: 4 blocked to 22, DE, on "drop"
//   2001:db8:ffff::1 (its /64) hour 3: 1 blocked to 3389, FR
const A = '203.0.113.7';
const B = '203.0.113.200';
const C = '198.51.100.9';
const D = '2001:db8:1:2::/64';
const E = '2001:db8:ffff::/64';
const FP_A = 'ittl=128,win=16384,olen=0,df=0';

const tmp = tempDir();
let store: SyncStore;

function times(n: number, spec: EventSpec): EventSpec[] {
  return Array.from({ length: n }, (_, i) => ({ ...spec, time: (spec.time ?? T0) + i * 1000 }));
}

beforeAll(() => {
  store = new SyncStore(tmp.file());
  const a0: EventSpec = { src: A, time: T0 + 60_000, verdict: 'blocked', window: 16384, ttl: 103, olen: 0, df: 0, tool: 'port6000-scanner', os: 'crafted', country: 'CN', asn: 4134, org: 'CHINANET', listed: ['drop'] };
  const specs: EventSpec[] = [
    ...times(5, { ...a0, dport: 22 }),
    ...times(5, { ...a0, dport: 23, time: T0 + 120_000 }),
    ...times(2, { src: A, time: T0 + 2 * HOUR + 5000, verdict: 'allowed', dport: 443, window: 65535, os: 'linux', country: 'CN', asn: 4134, org: 'CHINANET' }),
    ...times(3, { src: B, time: T0 + HOUR + 10_000, verdict: 'blocked', dport: 80, country: 'US', asn: 15169, org: 'GOOGLE' }),
    { src: C, time: T0 + 30_000, verdict: 'allowed', dport: 22, flags: TCP_SYN | TCP_ACK, country: 'NL' },
    ...times(4, { src: '2001:db8:1:2::5', time: T0 + HOUR + 20_000, verdict: 'blocked', dport: 22, country: 'DE', listed: ['drop'] }),
    { src: '2001:db8:ffff::1', time: T0 + 3 * HOUR + 1, verdict: 'blocked', dport: 3389, country: 'FR' },
  ];
  store.record(...specs.map(packet)).flush();
  const incidents: HistoryIncident[] = [
    { time: T0 + 200_000, kind: 'detection', subject: A, severity: 4, text: 'detected vertical scan (severity 4)', detail: {} },
    { time: T0 + 300_000, kind: 'detection', subject: A, severity: 2, text: 'detected vertical scan (severity 2)', detail: {} },
    { time: T0 + HOUR + 30_000, kind: 'detection', subject: D, severity: 5, text: 'detected vertical scan (severity 5)', detail: {} },
    { time: T0 + HOUR + 40_000, kind: 'block', subject: D, severity: 0, text: 'blocked', detail: {} },
  ];
  store.db.write(null, incidents);
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

const ALL = { from: T0, to: T0 + 4 * HOUR };
const sources = (q: Partial<HistorySearch>): string[] => store.db.search({ ...ALL, ...q }).sources.map((s) => s.source);

describe('history search', () => {
  it('sums every matching source over the range, busiest first, with totals over all matches', () => {
    const r = store.db.search(ALL);
    expect(r.sources.map((s) => s.source)).toEqual([A, D, B, C, E]);
    expect(r.totals).toEqual({ sources: 5, packets: 21, blocked: 18 });
    expect(r.truncated).toBe(false);
    const a = r.sources[0]!;
    expect(a).toEqual({
      source: A,
      firstSeen: T0 + 60_000,
      lastSeen: T0 + 2 * HOUR + 6000,
      packets: { allowed: 2, blocked: 10, unknown: 0, total: 12 },
      syns: 12,
      folded: 0,
      ports: [22, 23, 443],
      portsCapped: false,
      hosts: 1,
      hostsCapped: false,
      windows: [16384, 65535],
      fingerprints: [FP_A, 'ittl=64,win=65535,olen=20,df=1'],
      tools: ['port6000-scanner'],
      os: ['crafted', 'linux'],
      country: 'CN',
      city: '',
      asn: 4134,
      org: 'CHINANET',
      cloud: '',
      lists: ['drop'],
      detections: 2,
      maxSeverity: 4,
      hours: 2,
    });
  });

  it('returns `limit` rows and says more matched; the totals still count them all', () => {
    const r = store.db.search({ ...ALL, limit: 2 });
    expect(r.sources.map((s) => s.source)).toEqual([A, D]);
    expect(r.totals).toEqual({ sources: 5, packets: 21, blocked: 18 });
    expect(r.truncated).toBe(true);
    expect(store.db.search({ ...ALL, limit: 5 }).truncated).toBe(false);
  });

  it('sorts by last seen, first seen (newest first) and severity', () => {
    expect(sources({ sort: 'last_seen' })).toEqual([E, A, D, B, C]);
    expect(sources({ sort: 'first_seen' })).toEqual([E, D, B, A, C]);
    expect(sources({ sort: 'severity' })).toEqual([D, A, B, C, E]);
  });

  it('finds one IPv4 address or a CIDR network', () => {
    expect(sources({ address: A })).toEqual([A]);
    expect(sources({ address: '203.0.113.0/24' })).toEqual([A, B]);
    expect(sources({ address: '203.0.113.128/25' })).toEqual([B]);
    expect(sources({ address: '0.0.0.0/0' })).toEqual([A, B, C]);
    expect(sources({ address: '203.0.113.8' })).toEqual([]);
  });

  it('finds IPv6 sources by an address in their network, the network, or a wider CIDR', () => {
    expect(sources({ address: '2001:db8:1:2::77' })).toEqual([D]);
    expect(sources({ address: D })).toEqual([D]);
    expect(sources({ address: '2001:db8:1::/48' })).toEqual([D]);
    expect(sources({ address: '2001:db8::/32' })).toEqual([D, E]);
    expect(sources({ address: '2001:db8:1:3::1' })).toEqual([]);
    expect(sources({ address: '::/0' })).toEqual([D, E]);
  });

  it('refuses an address that is not one', () => {
    expect(() => store.db.search({ ...ALL, address: '203.0.113.0/33' })).toThrow('address: not an address or CIDR network: 203.0.113.0/33');
  });

  it('filters by SYN window, fingerprint, tool and OS, summing the whole range of each source found', () => {
    const byWindow = store.db.search({ ...ALL, window: 16384 });
    expect(byWindow.sources.map((s) => [s.source, s.packets.total, s.hours])).toEqual([[A, 12, 2]]);
    expect(sources({ window: 65535 })).toEqual([A]);
    expect(sources({ window: 64240 })).toEqual([D, B, E]);
    expect(sources({ window: 1 })).toEqual([]);
    expect(sources({ fingerprint: FP_A })).toEqual([A]);
    expect(sources({ fingerprint: 'ittl=128,win=16384' })).toEqual([]); // whole keys only
    expect(sources({ tool: 'port6000-scanner' })).toEqual([A]);
    expect(sources({ os: 'linux' })).toEqual([A]);
    expect(sources({ os: 'windows' })).toEqual([]);
  });

  it('filters by country, AS number and threat list', () => {
    expect(sources({ country: 'CN' })).toEqual([A]);
    expect(sources({ country: 'DE' })).toEqual([D]);
    expect(sources({ asn: 15169 })).toEqual([B]);
    expect(sources({ list: 'drop' })).toEqual([A, D]);
    expect(sources({ list: 'dro' })).toEqual([]);
  });

  it('filters by destination port and by verdict', () => {
    expect(sources({ port: 22 })).toEqual([A, D, C]);
    expect(sources({ port: 2 })).toEqual([]);
    expect(sources({ port: 3389 })).toEqual([E]);
    expect(sources({ verdict: 'allowed' })).toEqual([A, C]);
    expect(sources({ verdict: 'blocked' })).toEqual([A, D, B, E]);
  });

  it('combines filters (all must hold)', () => {
    expect(sources({ port: 22, list: 'drop', address: '2001:db8::/32' })).toEqual([D]);
    // The verdict is of the source's whole range: 203.0.113.7's allowed packets came in another hour than its port 22.
    expect(sources({ port: 22, verdict: 'allowed' })).toEqual([A, C]);
    expect(sources({ port: 23, verdict: 'allowed' })).toEqual([A]);
    expect(sources({ port: 80, verdict: 'allowed' })).toEqual([]);
    // One hour has port 443, another window 16384: a filter holds of one hour, not of the range.
    expect(sources({ port: 443, window: 16384 })).toEqual([]);
  });

  it('counts an hour that overlaps the range, and no hour at or after its end', () => {
    expect(sources({ from: T0 + HOUR, to: T0 + 2 * HOUR })).toEqual([D, B]);
    expect(sources({ from: T0 + HOUR + 59 * 60_000, to: T0 + HOUR + 59 * 60_000 + 1 })).toEqual([D, B]);
    expect(sources({ from: T0 + HOUR, to: T0 + 2 * HOUR + 1 })).toEqual([D, B, A]);
    expect(sources({ from: T0 + 4 * HOUR, to: T0 + 5 * HOUR })).toEqual([]);
    expect(sources({ from: T0, to: T0 })).toEqual([]);
    const firstHour = store.db.search({ from: T0, to: T0 + HOUR, address: A }).sources[0]!;
    expect(firstHour.packets.total).toBe(10);
    expect(firstHour.ports).toEqual([22, 23]);
  });

  it('counts detections in the range only', () => {
    const r = store.db.search({ from: T0 + 250_000, to: T0 + HOUR, address: A });
    expect(r.sources[0]).toMatchObject({ detections: 1, maxSeverity: 2 });
  });

  it('gives sources and packets per country for the same filters', () => {
    expect(store.db.countries(ALL)).toEqual([
      { country: 'CN', sources: 1, packets: 12, blocked: 10 },
      { country: 'DE', sources: 1, packets: 4, blocked: 4 },
      { country: 'US', sources: 1, packets: 3, blocked: 3 },
      { country: 'FR', sources: 1, packets: 1, blocked: 1 },
      { country: 'NL', sources: 1, packets: 1, blocked: 0 },
    ]);
    expect(store.db.countries({ ...ALL, port: 22 }).map((c) => c.country)).toEqual(['CN', 'DE', 'NL']);
  });
});

describe('search parameters', () => {
  it('reads an address search by address, a wide range whole in source order, a narrow one by hour', () => {
    expect(accessFor(searchSql({ ...ALL, address: '192.0.2.0/24' }, 64), 1)).toBe('address');
    expect(accessFor(searchSql(ALL, 64), 0.9)).toBe('all');
    expect(accessFor(searchSql({ ...ALL, window: 5 }, 64), 0.05)).toBe('hours');
  });

  it('limits to 100 by default and 10 000 at most', () => {
    expect(searchSql(ALL, 64).limit).toBe(100);
    expect(searchSql({ ...ALL, limit: 50_000 }, 64).limit).toBe(10_000);
  });

  it('refuses values that are not what the field holds', () => {
    expect(() => searchSql({ ...ALL, port: 70000 }, 64)).toThrow('port: an integer from 0 to 65535, not 70000');
    expect(() => searchSql({ ...ALL, limit: 0 }, 64)).toThrow(/limit/);
    expect(() => searchSql({ ...ALL, sort: 'nope' as 'packets' }, 64)).toThrow(/sort/);
    expect(() => searchSql({ from: Number.NaN, to: 1 }, 64)).toThrow(/from and to/);
  });
});

describe('history search over a flood folded into network rows', () => {
  // foldAfter 2: 198.51.100.1 and .2 get rows of their own; .3 and .4 (one packet each) are
  // folded into 198.0.0.0/8, and 2001:db8:9::1 into 2001:db8::/32 (past two sources in the
  // hour); 10.0.0.0 is a source of its own at the start of a /8 with no folded row.
  const tmp2 = tempDir();
  let flood: SyncStore;
  beforeAll(() => {
    flood = new SyncStore(tmp2.file(), { foldAfter: 2 });
    for (const src of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '2001:db8:9::1']) flood.record(packet({ src, dport: 80 }));
    flood.record(packet({ src: '10.0.0.0', time: T0 + HOUR }));
    flood.flush();
  });
  afterAll(() => {
    flood.close();
    tmp2.cleanup();
  });
  const found = (address: string): Array<[string, number]> =>
    flood.db.search({ ...ALL, address }).sources.map((s) => [s.source, s.folded]);

  it('finds the network row (with the sources it stands for) for an address inside it, beside the address rows', () => {
    expect(found('198.51.100.3')).toEqual([['198.0.0.0/8', 2]]);
    expect(found('198.51.100.0/24')).toEqual([['198.0.0.0/8', 2], ['198.51.100.1', 0], ['198.51.100.2', 0]]);
    expect(found('198.0.0.0/8')).toEqual([['198.0.0.0/8', 2], ['198.51.100.1', 0], ['198.51.100.2', 0]]);
    expect(found('2001:db8:9::77')).toEqual([['2001:db8::/32', 1]]);
  });

  it(`finds the /${FOLD_IPV6_WIDE_BITS} row an IPv6 source was folded into once a batch had ${MAX_IPV6_FOLD_NETWORKS} /32 rows`, () => {
    const wide = new SyncStore(tmp2.file(), { foldAfter: 1 });
    try {
      // 2001:db8::1 has a row of its own; then one packet from each of 257 /32s of 2400::/12.
      wide.record(packet({ src: '2001:db8::1' }));
      for (let i = 0; i <= MAX_IPV6_FOLD_NETWORKS; i++) wide.record(packet({ src: `2400:${i.toString(16)}::1` }));
      wide.flush();
      const at = (address: string): Array<[string, number]> => wide.db.search({ ...ALL, address }).sources.map((s) => [s.source, s.folded]);
      // Both network rows may hold a source of 2400::/32 (its /32 had a row in this batch, not in
      // every one); the /32 row starting where the /12 does holds none of 2400:100::/32.
      expect(at('2400:0:1::9')).toEqual([['2400::/12', 1], ['2400::/32', 1]]);
      expect(at(`2400:${MAX_IPV6_FOLD_NETWORKS.toString(16)}::1`)).toEqual([['2400::/12', 1]]);
      expect(wide.db.search({ ...ALL, address: '2400::/12', limit: 1000 }).sources).toHaveLength(MAX_IPV6_FOLD_NETWORKS + 1);
    } finally {
      wide.close();
    }
  });

  it('does not take a source of its own at a network start for a network row', () => {
    expect(found('10.1.2.3')).toEqual([]);
    expect(found('10.0.0.0')).toEqual([['10.0.0.0', 0]]);
  });

  it('sums the folded sources over the hours, and shows them per hour in the timeline', () => {
    const row = flood.db.search({ ...ALL, address: '198.0.0.0/8' }).sources[0]!;
    expect(row).toMatchObject({ source: '198.0.0.0/8', folded: 2, packets: { blocked: 2, total: 2 }, ports: [80] });
    expect(flood.db.timeline('198.0.0.0/8', T0, T0 + 4 * HOUR).hours.map((h) => h.folded)).toEqual([2]);
  });
});

describe('the map by city (a City database placed the sources)', () => {
  // Five sources over four hours:
  //   192.0.2.1  hour 0: 3 blocked, London; hour 2: 2 allowed, Amsterdam (its newest place)
  //   192.0.2.2  hour 1: 4 blocked, win 16384, Amsterdam
  //   192.0.2.3  hour 0: 1 blocked, London; hour 3: 2 blocked, GB without a place (London stays its newest place)
  //   192.0.2.4  hour 1: 6 blocked, CN, never placed
  //   192.0.2.5  hour 1: 1 blocked, the centre of the US (coordinates, no city name)
  const LONDON = { lat: 51.5142, lon: -0.0931 };
  const AMSTERDAM = { lat: 52.3759, lon: 4.8975 };
  const US = { lat: 37.751, lon: -97.822 };
  const tmp3 = tempDir();
  let placed: SyncStore;
  beforeAll(() => {
    placed = new SyncStore(tmp3.file());
    const specs: EventSpec[] = [
      ...times(3, { src: '192.0.2.1', time: T0 + 10_000, country: 'GB', city: 'London', location: LONDON }),
      ...times(2, { src: '192.0.2.1', time: T0 + 2 * HOUR, verdict: 'allowed', country: 'NL', city: 'Amsterdam', location: AMSTERDAM }),
      ...times(4, { src: '192.0.2.2', time: T0 + HOUR, window: 16384, country: 'NL', city: 'Amsterdam', location: AMSTERDAM }),
      { src: '192.0.2.3', time: T0 + 20_000, country: 'GB', city: 'London', location: LONDON },
      ...times(2, { src: '192.0.2.3', time: T0 + 3 * HOUR, country: 'GB' }),
      ...times(6, { src: '192.0.2.4', time: T0 + HOUR, country: 'CN' }),
      { src: '192.0.2.5', time: T0 + HOUR, country: 'US', location: US },
    ];
    placed.record(...specs.map(packet)).flush();
  });
  afterAll(() => {
    placed.close();
    tmp3.cleanup();
  });

  it('sums the sources per place, each at its newest place in the range with all its packets; sources never placed are left out', () => {
    expect(placed.db.cities(ALL)).toEqual([
      { country: 'NL', city: 'Amsterdam', ...AMSTERDAM, sources: 2, packets: 9, blocked: 7 },
      { country: 'GB', city: 'London', ...LONDON, sources: 1, packets: 3, blocked: 3 },
      { country: 'US', city: '', ...US, sources: 1, packets: 1, blocked: 1 },
    ]);
  });

  it('places a source by the hours in the range only', () => {
    expect(placed.db.cities({ from: T0, to: T0 + 2 * HOUR })).toEqual([
      { country: 'GB', city: 'London', ...LONDON, sources: 2, packets: 4, blocked: 4 },
      { country: 'NL', city: 'Amsterdam', ...AMSTERDAM, sources: 1, packets: 4, blocked: 4 },
      { country: 'US', city: '', ...US, sources: 1, packets: 1, blocked: 1 },
    ]);
    expect(placed.db.cities({ from: T0 + 3 * HOUR, to: T0 + 4 * HOUR })).toEqual([]);
  });

  it('takes the search filters', () => {
    expect(placed.db.cities({ ...ALL, window: 16384 })).toEqual([{ country: 'NL', city: 'Amsterdam', ...AMSTERDAM, sources: 1, packets: 4, blocked: 4 }]);
    expect(placed.db.cities({ ...ALL, verdict: 'allowed' })).toEqual([{ country: 'NL', city: 'Amsterdam', ...AMSTERDAM, sources: 1, packets: 5, blocked: 3 }]);
    expect(placed.db.cities({ ...ALL, address: '192.0.2.3' })).toEqual([{ country: 'GB', city: 'London', ...LONDON, sources: 1, packets: 3, blocked: 3 }]);
    expect(placed.db.cities({ ...ALL, country: 'CN' })).toEqual([]);
  });

  it('filters by city: sources with an hour there, summed over the whole range (search, countries and cities alike)', () => {
    const found = (q: Partial<HistorySearch>): Array<[string, string, number]> => placed.db.search({ ...ALL, ...q }).sources.map((s) => [s.source, s.city, s.packets.total]);
    expect(found({ city: 'Amsterdam' })).toEqual([
      ['192.0.2.1', 'Amsterdam', 5],
      ['192.0.2.2', 'Amsterdam', 4],
    ]);
    // 192.0.2.3's newest hour names no city.
    expect(found({ city: 'London' })).toEqual([
      ['192.0.2.1', 'Amsterdam', 5],
      ['192.0.2.3', '', 3],
    ]);
    expect(found({ city: 'london' })).toEqual([]);
    // With the other filters, in one hour: 192.0.2.1 was in London and in NL, but not in the same hour.
    expect(found({ city: 'London', country: 'NL' })).toEqual([]);
    expect(found({ city: 'Amsterdam', window: 16384 })).toEqual([['192.0.2.2', 'Amsterdam', 4]]);
    expect(placed.db.countries({ ...ALL, city: 'Amsterdam' })).toEqual([{ country: 'NL', sources: 2, packets: 9, blocked: 7 }]);
    expect(placed.db.cities({ ...ALL, city: 'London' })).toEqual([
      { country: 'NL', city: 'Amsterdam', ...AMSTERDAM, sources: 1, packets: 5, blocked: 3 },
      { country: 'GB', city: 'London', ...LONDON, sources: 1, packets: 3, blocked: 3 },
    ]);
  });

  it('answers the busiest 1000 places at most', () => {
    const tmp4 = tempDir();
    const many = new SyncStore(tmp4.file());
    // 1001 places of one source each; the last one has a second source, so it is the busiest.
    for (let i = 0; i <= 1000; i++) many.record(packet({ src: `10.0.${i >> 8}.${i & 255}`, country: 'NL', city: `Place ${i}`, location: { lat: i / 100, lon: 0 } }));
    many.record(packet({ src: '10.9.9.9', country: 'NL', city: 'Place 1000', location: { lat: 10, lon: 0 } })).flush();
    const cities = many.db.cities(ALL);
    expect(cities).toHaveLength(1000);
    expect(cities[0]).toEqual({ country: 'NL', city: 'Place 1000', lat: 10, lon: 0, sources: 2, packets: 2, blocked: 2 });
    expect(cities.slice(1, 3).map((c) => c.city)).toEqual(['Place 0', 'Place 1']);
    many.close();
    tmp4.cleanup();
  });
});
