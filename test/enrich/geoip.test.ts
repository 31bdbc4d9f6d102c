// GeoIP enrichment (src/enrich/geoip.ts): source addresses get a country from the bundled DB-IP
// Lite database, city and AS from configured City/ASN databases; private and reserved addresses
// are labelled; answers are cached within a bound; database files are reloaded when they change.
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bundledCountryDbPath, createGeoIp, geoCreditOf, type GeoIpConfig, type GeoIpEnricher, type GeoIpOptions } from '../../src/enrich/geoip.js';
import { NONE, type GeoInfo, type PacketEvent } from '../../src/pipeline/types.js';
import { memoryLogger } from '../../src/util/log.js';
import { fixturePath } from '../fixtures/geoip/fixtures.js';

function packet(srcIp: string): PacketEvent {
  return {
    kind: 'packet', source: 0, time: 0, device: '', prefix: '', verdict: 'blocked', family: srcIp.includes(':') ? 6 : 4, protocol: 6,
    srcIp, dstIp: '192.0.2.1', srcPort: 40000, dstPort: 22, tcpFlags: 2, tcpWindow: 1024, tcpSeq: 1, ttl: 50, ipId: 1, df: 0,
    ipTotalLength: 40, ipHeaderLength: 20, icmpType: NONE, icmpCode: NONE, inIf: 'eth0', outIf: '', mac: '', nflogGroup: 2,
    fingerprint: null, os: '', tool: '', classification: null, geo: null, owner: null, listed: [],
  };
}

const config = (overrides: Partial<GeoIpConfig> = {}): GeoIpConfig => ({ enabled: true, country_db: '', city_db: '', asn_db: '', cache_size: 1000, ...overrides });

const open: GeoIpEnricher[] = [];
async function geoip(overrides: Partial<GeoIpConfig> = {}, options: GeoIpOptions = {}, logger = memoryLogger()): Promise<GeoIpEnricher> {
  const enricher = await createGeoIp(config(overrides), logger, options);
  if (enricher === null) throw new Error('GeoIP disabled');
  open.push(enricher);
  return enricher;
}

function geoOf(enricher: GeoIpEnricher, ip: string): GeoInfo | null {
  const event = packet(ip);
  enricher.enrich(event);
  return event.geo;
}

/** 20,000 seeded random IPv4 addresses (a tenth in the reserved 192.0.0-2.0/24s) answer as uncached lookups. */
function expectFloodAnsweredAsUncached(enricher: GeoIpEnricher): void {
  let seed = 7;
  const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed);
  for (let i = 0; i < 20_000; i++) {
    const v = random();
    const ip = i % 10 === 0 ? `192.0.${i % 3}.${v & 255}` : `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
    expect(geoOf(enricher, ip), ip).toEqual(enricher.lookup(ip));
  }
}

/** 20,000 seeded random IPv6 addresses (global ones, and a tenth each ULA, documentation and IPv4-mapped) answer as uncached lookups. */
function expectIpv6FloodAnsweredAsUncached(enricher: GeoIpEnricher): void {
  let seed = 11;
  const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed);
  const group = (): string => (random() >>> 16).toString(16);
  for (let i = 0; i < 20_000; i++) {
    const tail = `${group()}:${group()}:${group()}:${group()}:${group()}:${group()}`;
    const v = random();
    const ip = [`fd${(v & 0xff).toString(16)}:1:${tail}`, `2001:db8:${tail}`, `::ffff:${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`][i % 10] ?? `${(0x2000 + (v & 0x1fff)).toString(16)}:${group()}:${tail}`;
    expect(geoOf(enricher, ip), ip).toEqual(enricher.lookup(ip));
  }
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'nfwatch-geoip-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Replaces `target` by `source` the way database updaters do: write beside it, rename over it. */
function replaceByRename(source: string, target: string): void {
  const temporary = `${target}.new`;
  copyFileSync(source, temporary);
  renameSync(temporary, target);
}

describe('GeoIP with the bundled DB-IP Lite country database', () => {
  it('is installed with nfwatch (no download)', () => {
    expect(bundledCountryDbPath()).toMatch(/dbip-country\.mmdb$/);
  });

  // Addresses of long-lived infrastructure whose country has not moved (checked in the database).
  it.each([
    ['8.8.8.8', 'US'], // Google Public DNS
    ['193.0.6.139', 'NL'], // RIPE NCC, Amsterdam
    ['200.160.0.8', 'BR'], // NIC.br, São Paulo
    ['202.12.27.33', 'JP'], // M-root, WIDE Project
    ['195.113.144.201', 'CZ'], // CESNET, Prague
    ['2001:67c:2e8:22::c100:68b', 'NL'], // RIPE NCC over IPv6
    ['2001:200::1', 'JP'], // WIDE Project over IPv6
    ['::ffff:8.8.8.8', 'US'], // IPv4-mapped: looked up as 8.8.8.8
  ])('%s is in %s', async (ip, country) => {
    const enricher = await geoip();
    expect(geoOf(enricher, ip)).toEqual({ country, city: '', location: null, asn: NONE, asOrg: '' });
  });

  it.each([
    ['10.1.2.3', 'private'],
    ['172.20.0.5', 'private'],
    ['192.168.100.1', 'private'],
    ['100.100.100.100', 'private'],
    ['127.0.0.1', 'private'],
    ['169.254.0.1', 'private'],
    ['fd00::1', 'private'],
    ['fe80::1', 'private'],
    ['::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['0.0.0.0', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.1', 'reserved'],
    ['203.0.113.1', 'reserved'],
    ['198.18.5.5', 'reserved'],
    ['224.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['ff02::1', 'reserved'],
    ['64:ff9b::808:808', 'reserved'],
    ['::', 'reserved'],
  ])('%s is labelled %s without a lookup', async (ip, label) => {
    const enricher = await geoip();
    expect(geoOf(enricher, ip)).toEqual({ country: label, city: '', location: null, asn: NONE, asOrg: '' });
  });

  it('answers unknown for addresses no database knows and for text that is no address', async () => {
    const enricher = await geoip();
    for (const text of ['', 'not-an-ip', '999.1.1.1', '3ffe::1' /* the returned 6bone block */]) expect(geoOf(enricher, text)).toEqual({ country: '', city: '', location: null, asn: NONE, asOrg: '' });
  });

  it('shares one frozen answer between events and addresses (no allocation per event)', async () => {
    const enricher = await geoip();
    const a = geoOf(enricher, '8.8.8.8');
    expect(Object.isFrozen(a)).toBe(true);
    expect(geoOf(enricher, '8.8.8.8')).toBe(a); // a cache hit
    expect(geoOf(enricher, '8.8.4.4')).toBe(a); // another address, the same answer
    expect(geoOf(enricher, '10.0.0.1')).toBe(geoOf(enricher, '192.168.0.1'));
  });

  it('keeps at most cache_size IPv6 addresses, the most recently seen, with more than one database', async () => {
    const enricher = await geoip({ cache_size: 100, asn_db: fixturePath('test-asn.mmdb') });
    const addresses = Array.from({ length: 1000 }, (_, i) => `2001:4860:4860::${i.toString(16)}`);
    for (const ip of addresses) geoOf(enricher, ip);
    expect(enricher.stats()).toMatchObject({ entries: 100, hits: 0, misses: 1000 });
    for (const ip of addresses.slice(-100)) geoOf(enricher, ip);
    expect(enricher.stats()).toMatchObject({ entries: 100, hits: 100, misses: 1000 });
    geoOf(enricher, addresses[0] ?? '');
    expect(enricher.stats()).toMatchObject({ entries: 100, hits: 100, misses: 1001 });
  });

  it.each([
    // Four /24s; the flood's private and reserved ranges go down to /24s such as 192.0.2.0/24.
    { family: 'IPv4', address: (i: number) => `8.8.${i >> 8}.${i & 255}`, flood: expectFloodAnsweredAsUncached, records: 400 },
    // One network; the flood's special ranges are ULA, documentation and IPv4-mapped addresses.
    { family: 'IPv6', address: (i: number) => `2001:4860:4860::${i.toString(16)}`, flood: expectIpv6FloodAnsweredAsUncached, records: 2000 },
  ])('answers $family by database record: one lookup per answer, the same answer as an uncached lookup', async ({ address, flood, records }) => {
    const enricher = await geoip({ cache_size: 1000 });
    // 1,000 addresses, all in the database's one record for the US: one lookup.
    for (let i = 0; i < 1000; i++) geoOf(enricher, address(i));
    expect(enricher.stats()).toMatchObject({ hits: 999, misses: 1 });
    // A spoofed flood: 20,000 random addresses, each answered as an uncached lookup answers it,
    // with one lookup per record met.
    const misses = enricher.stats().misses;
    flood(enricher);
    expect(enricher.stats().misses - misses).toBeLessThan(records);
    // At most cache_size answers are kept.
    const small = await geoip({ cache_size: 100 });
    flood(small);
    expect(small.stats().entries).toBeLessThanOrEqual(100);
  });

  it('answers IPv4 by network with more than one database: one lookup per network', async () => {
    const enricher = await geoip({ cache_size: 100, asn_db: fixturePath('test-asn.mmdb') });
    const addresses = Array.from({ length: 1000 }, (_, i) => `8.8.${i >> 8}.${i & 255}`);
    for (const ip of addresses) geoOf(enricher, ip);
    expect(enricher.stats()).toMatchObject({ hits: 996, misses: 4 });
    expectFloodAnsweredAsUncached(enricher);
    // At most 65,536 /16 networks, cache_size /24 networks and cache_size longer-prefix addresses.
    expect(enricher.stats().entries).toBeLessThanOrEqual(65_536 + 100 + 100);
  });

  it('works without a cache (cache_size = 0)', async () => {
    const enricher = await geoip({ cache_size: 0 });
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('US');
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('US');
    expect(enricher.stats()).toMatchObject({ entries: 0, hits: 0, misses: 2 });
  });

  it('is not created when geoip.enabled is false', async () => {
    expect(await createGeoIp(config({ enabled: false }), memoryLogger())).toBeNull();
  });

  it('warns and labels private/reserved only when the bundled database is absent', async () => {
    const logger = memoryLogger();
    const enricher = await geoip({}, { bundledCountryDb: path.join(dir, 'absent.mmdb') }, logger);
    expect(logger.lines.join('\n')).toMatch(/warn \[geoip\] cannot open the bundled country database .*absent\.mmdb: it does not exist/);
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('');
    expect(geoOf(enricher, '10.0.0.1')?.country).toBe('private');
  });
});

describe('GeoIP with City and ASN databases', () => {
  it('adds city and AS (GeoLite2 City/ASN layouts)', async () => {
    const enricher = await geoip({ city_db: fixturePath('test-city.mmdb'), asn_db: fixturePath('test-asn.mmdb') });
    expect(geoOf(enricher, '81.2.69.142')).toEqual({ country: 'GB', city: 'London', location: { lat: 51.5142, lon: -0.0931 }, asn: NONE, asOrg: '' });
    expect(geoOf(enricher, '89.160.20.115')).toEqual({ country: 'SE', city: 'Linköping', location: { lat: 58.4167, lon: 15.6167 }, asn: NONE, asOrg: '' });
    expect(geoOf(enricher, '193.0.6.139')).toEqual({ country: 'NL', city: 'Amsterdam', location: { lat: 52.3759, lon: 4.8975 }, asn: 3333, asOrg: 'Reseaux IP Europeens Network Coordination Centre (RIPE NCC)' });
    expect(geoOf(enricher, '2001:67c:2e8:22::c100:68b')).toEqual({ country: 'NL', city: 'Amsterdam', location: { lat: 52.3759, lon: 4.8975 }, asn: 3333, asOrg: 'Reseaux IP Europeens Network Coordination Centre (RIPE NCC)' });
    // Not in the City database: the country comes from the bundled database, the AS from the ASN one.
    expect(geoOf(enricher, '8.8.8.8')).toEqual({ country: 'US', city: '', location: null, asn: 15169, asOrg: 'GOOGLE' });
    // Only a registered country in the City database.
    expect(geoOf(enricher, '202.12.27.33')).toEqual({ country: 'JP', city: '', location: null, asn: NONE, asOrg: '' });
    // Private addresses are never looked up.
    expect(geoOf(enricher, '10.0.0.1')).toEqual({ country: 'private', city: '', location: null, asn: NONE, asOrg: '' });
  });

  it("takes the City database's country over the country database's", async () => {
    const enricher = await geoip({ city_db: fixturePath('test-city.mmdb') });
    expect(geoOf(enricher, '195.113.144.201')).toEqual({ country: 'SK', city: 'Bratislava', location: { lat: 48.1482, lon: 17.1067 }, asn: NONE, asOrg: '' });
    const countryOnly = await geoip();
    expect(geoOf(countryOnly, '195.113.144.201')?.country).toBe('CZ');
  });

  it("reads ip-location-db's flat City layout (country_code, city)", async () => {
    const enricher = await geoip({ city_db: fixturePath('test-city-flat.mmdb') });
    expect(geoOf(enricher, '81.2.69.142')).toEqual({ country: 'GB', city: 'London', location: { lat: 51.5142, lon: -0.0931 }, asn: NONE, asOrg: '' });
  });

  it('does not ask an IPv4-only database about IPv6 addresses', async () => {
    const enricher = await geoip({ country_db: fixturePath('test-country-v4.mmdb') });
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('ZZ');
    expect(geoOf(enricher, '::ffff:8.8.8.8')?.country).toBe('ZZ');
    expect(geoOf(enricher, '2001:67c:2e8:22::c100:68b')?.country).toBe('');
  });
});

describe('GeoIP credits (shown on the page beside the answers)', () => {
  const DBIP = { text: 'IP Geolocation by DB-IP (CC BY 4.0)', url: 'https://db-ip.com' };
  const MAXMIND = { text: 'GeoLite2 data created by MaxMind', url: 'https://www.maxmind.com' };

  it('credits DB-IP for the bundled database and for DB-IP files, MaxMind for GeoLite2, nobody for an unknown file', () => {
    expect(geoCreditOf('/x/dbip-country.mmdb', 'country', true)).toEqual(DBIP);
    expect(geoCreditOf('/srv/geo/dbip-city-lite-2026-11.mmdb', 'DBIP-City-Lite', false)).toEqual(DBIP);
    expect(geoCreditOf('/srv/geo/country.mmdb', 'DB-IP Country Lite', false)).toEqual(DBIP);
    expect(geoCreditOf('/var/lib/GeoIP/GeoLite2-ASN.mmdb', 'GeoLite2-ASN', false)).toEqual(MAXMIND);
    expect(geoCreditOf('/srv/geo/own.mmdb', 'Our-Internal-Map', false)).toBeNull();
  });

  it('lists each credit once for the databases in use', async () => {
    expect((await geoip()).credits()).toEqual([DBIP]);
    const withCity = await geoip({ city_db: fixturePath('test-city.mmdb'), asn_db: fixturePath('test-asn.mmdb') });
    // The bundled country database, and two test files typed GeoLite2-City and GeoLite2-ASN.
    expect(withCity.credits()).toEqual([MAXMIND, DBIP]);
  });
});

describe('GeoIP configuration errors', () => {
  it('refuses to start when a configured database file is missing', async () => {
    const missing = path.join(dir, 'GeoLite2-City.mmdb');
    await expect(createGeoIp(config({ city_db: missing }), memoryLogger())).rejects.toThrow(`geoip.city_db: cannot use ${missing}: it does not exist`);
    await expect(createGeoIp(config({ asn_db: missing }), memoryLogger())).rejects.toThrow(/^geoip\.asn_db: .* does not exist/);
    await expect(createGeoIp(config({ country_db: missing }), memoryLogger())).rejects.toThrow(/^geoip\.country_db: .* does not exist/);
  });

  it('refuses a file that is not a MaxMind DB', async () => {
    const text = path.join(dir, 'country.mmdb');
    writeFileSync(text, 'this is not a database\n'.repeat(100));
    await expect(createGeoIp(config({ country_db: text }), memoryLogger())).rejects.toThrow(/^geoip\.country_db: cannot use .*country\.mmdb: it is not a MaxMind DB \(\.mmdb\) file/);
  });

  it('refuses a gzip-compressed download, saying to unpack it', async () => {
    const gz = path.join(dir, 'GeoLite2-ASN.tar.gz');
    writeFileSync(gz, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    await expect(createGeoIp(config({ asn_db: gz }), memoryLogger())).rejects.toThrow(/geoip\.asn_db: .* gzip-compressed: unpack it/);
  });

  it('refuses a truncated database', async () => {
    const truncated = path.join(dir, 'truncated.mmdb');
    const whole = (await import('node:fs')).readFileSync(fixturePath('test-city.mmdb'));
    writeFileSync(truncated, whole.subarray(0, 1000));
    await expect(createGeoIp(config({ city_db: truncated }), memoryLogger())).rejects.toThrow(/^geoip\.city_db: cannot use .*truncated\.mmdb: it is not a MaxMind DB/);
  });
});

describe('GeoIP database reloading', () => {
  const fast: GeoIpOptions = { debounceMs: 20, pollMs: 0 };

  it('reloads a database replaced by rename (fs.watch), and forgets cached answers', async () => {
    const db = path.join(dir, 'country.mmdb');
    copyFileSync(bundledCountryDbPath(), db);
    const logger = memoryLogger();
    const enricher = await geoip({ country_db: db }, fast, logger);
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('US');
    expect(geoOf(enricher, '193.0.6.139')?.country).toBe('NL');
    replaceByRename(fixturePath('test-country-v4.mmdb'), db);
    await vi.waitFor(() => expect(geoOf(enricher, '8.8.8.8')?.country).toBe('ZZ'), { timeout: 5000, interval: 20 });
    expect(geoOf(enricher, '193.0.6.139')?.country).toBe('ZY');
    expect(enricher.stats().reloads).toBe(1);
    expect(logger.lines.join('\n')).toMatch(/info \[geoip\] reloaded the country database .*country\.mmdb \(country ipv4, IPv4, built 2026-01-01\)/);
  });

  it('reloads a database overwritten in place', async () => {
    const db = path.join(dir, 'country.mmdb');
    copyFileSync(fixturePath('test-country-v4.mmdb'), db);
    const enricher = await geoip({ country_db: db }, fast);
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('ZZ');
    copyFileSync(bundledCountryDbPath(), db);
    await vi.waitFor(() => expect(geoOf(enricher, '8.8.8.8')?.country).toBe('US'), { timeout: 5000, interval: 20 });
  });

  it('finds changes by polling when watching is off', async () => {
    const db = path.join(dir, 'asn.mmdb');
    copyFileSync(fixturePath('test-asn.mmdb'), db);
    const enricher = await geoip({ asn_db: db }, { watch: false, pollMs: 30 });
    expect(geoOf(enricher, '8.8.8.8')?.asn).toBe(15169);
    replaceByRename(fixturePath('test-city.mmdb'), db); // an "ASN" database without AS numbers
    await vi.waitFor(() => expect(geoOf(enricher, '8.8.8.8')?.asn).toBe(NONE), { timeout: 5000, interval: 20 });
  });

  it('keeps the database it has when the new file is corrupt, and takes the next good one', async () => {
    const db = path.join(dir, 'country.mmdb');
    copyFileSync(fixturePath('test-country-v4.mmdb'), db);
    const logger = memoryLogger();
    const enricher = await geoip({ country_db: db }, fast, logger);
    writeFileSync(`${db}.new`, 'garbage'.repeat(1000));
    renameSync(`${db}.new`, db);
    await vi.waitFor(() => expect(logger.lines.join('\n')).toMatch(/error \[geoip\] cannot reload .*country\.mmdb: it is not a MaxMind DB .*still using the database read before/), { timeout: 5000, interval: 20 });
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('ZZ');
    replaceByRename(bundledCountryDbPath(), db);
    await vi.waitFor(() => expect(geoOf(enricher, '8.8.8.8')?.country).toBe('US'), { timeout: 5000, interval: 20 });
  });

  it('keeps the database it has while the file is gone', async () => {
    const db = path.join(dir, 'city.mmdb');
    copyFileSync(fixturePath('test-city.mmdb'), db);
    const logger = memoryLogger();
    const enricher = await geoip({ city_db: db }, fast, logger);
    rmSync(db);
    await vi.waitFor(() => expect(logger.lines.join('\n')).toMatch(/warn \[geoip\] .*city\.mmdb: gone; still using the database read before/), { timeout: 5000, interval: 20 });
    expect(geoOf(enricher, '81.2.69.142')?.city).toBe('London');
  });

  it('reopens configured databases on reload() (SIGHUP)', async () => {
    const db = path.join(dir, 'country.mmdb');
    copyFileSync(fixturePath('test-country-v4.mmdb'), db);
    const enricher = await geoip({ country_db: db }, { watch: false, pollMs: 0 });
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('ZZ');
    replaceByRename(bundledCountryDbPath(), db);
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('ZZ'); // not watching: nothing changes by itself
    await enricher.reload();
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('US');
    expect(enricher.stats()).toMatchObject({ reloads: 1, entries: 1 });
  });

  it('stops watching on close()', async () => {
    const db = path.join(dir, 'country.mmdb');
    copyFileSync(fixturePath('test-country-v4.mmdb'), db);
    const enricher = await geoip({ country_db: db }, { debounceMs: 10, pollMs: 10 });
    await enricher.close();
    replaceByRename(bundledCountryDbPath(), db);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(geoOf(enricher, '8.8.8.8')?.country).toBe('ZZ');
    expect(enricher.stats().reloads).toBe(0);
  });
});
