// Who holds a source address: its autonomous system and organisation (asn-table.ts: the bundled
// RouteViews + DB-IP data, or the admin's CSV) and, where cloud providers' range files are given,
// the cloud range it is in (cloud-ranges.ts), e.g. {asn: 16509, org: "Amazon.com, Inc.",
// cloud: "aws/us-east-1/EC2"}.
//
// Hot path: the address is parsed once and looked up in both tables by binary search; the answer
// is a frozen OwnerInfo interned by (AS answer, cloud label) slots, so a hit allocates nothing.
// Private and reserved addresses (ip-ranges.ts) answer null without a lookup.
// Configured files are watched and read again when they change and on reload() (SIGHUP); a new
// version replaces the old one only once it loaded cleanly. The bundled data is not watched: it
// changes with nfwatch's own dependencies.
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { NONE, type AddressEnricher, type OwnerInfo, type PacketEvent } from '../pipeline/types.js';
import { errorCode, errorText } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { AddressRanges, parseAddress } from './address-ranges.js';
import { ASN_CACHE_FILE, asnCacheSignature, readAsnCache, SHIPPED_ASN_TABLE, writeAsnCache } from './asn-cache.js';
import { ASN_CREDIT, AsnTable, bundledAsnCsvPaths, bundledAsnVersion, readAsnCsv, type AsnCsv } from './asn-table.js';
import { cloudRangesTable, parseCloudRanges, type ParsedCloudRanges } from './cloud-ranges.js';
import type { GeoCredit } from './geoip.js';
import { classifyIp, classifyIpv4 } from './ip-ranges.js';
import { FileWatch, MISSING, type WatchOptions } from './watched-files.js';

export type OwnerConfig = Config['owner'];

export interface OwnerOptions extends WatchOptions {
  /** CSV of AS ranges (`start,end,asn,org`); '' for the bundled files. */
  asnCsv: string;
  /** Cloud providers' range files (AWS ip-ranges.json, GCP cloud.json, Azure Service Tags). */
  cloudFiles: readonly string[];
  /** The bundled CSV files (tests); default: @ip-location-db/asn's IPv4 and IPv6 files. */
  bundledAsnCsv?: readonly string[];
  /** Where the bundled data is kept parsed between starts (asn-cache.ts); '' or absent: parsed every start. */
  stateDir?: string;
  /** Whether a table parsed from the CSV is written there (default true); false only reads it (replay leaves the daemon's state alone). */
  keepParsed?: boolean;
  /**
   * The table the build made (asn-cache.ts), read when state_dir has none that matches. Default:
   * SHIPPED_ASN_TABLE for the package's own files, none for `bundledAsnCsv` (tests give both).
   */
  shippedAsnTable?: string;
}

export interface OwnerStats {
  /** AS ranges and cloud ranges in use. */
  asnRanges: number;
  cloudRanges: number;
  /** Distinct answers held (one per AS and cloud label met). */
  answers: number;
  /** Files read again after a change or reload() and taken (cumulative). */
  reloads: number;
  /** File versions that could not be used (cumulative). */
  errors: number;
}

/** The answer for a global address no table knows. */
export const OWNER_UNKNOWN: OwnerInfo = Object.freeze({ asn: NONE, org: '', cloud: '' });

/** Interned answers kept at most; beyond, they are forgotten and made again (the data, not the answers, is the memory). */
const MAX_ANSWERS = 1 << 18;

export class OwnerEnricher implements AddressEnricher {
  readonly name = 'owner';
  /** Goes up when the AS data or a cloud file is replaced (AddressEnricher). */
  generation = 0;
  private asn: AsnTable = AsnTable.empty();
  private cloud: AddressRanges<string> = AddressRanges.empty();
  private cloudRanges = 0;
  private readonly cloudFiles: Array<ParsedCloudRanges | null>;
  /** Answers by cloud slot + 1, then by AS slot + 1. */
  private answers: Array<Map<number, OwnerInfo> | undefined> = [];
  /**
   * Answers outside every cloud range (nearly all), by AS slot: an array read, not a Map lookup
   * (measured on a flood of random sources: 3-5 % of the CPU per line). At most one per AS.
   * Made with a slot for every AS answer of the table (forgetAnswers()): filled at random slots
   * from empty, V8 keeps such an array as a dictionary, and each read is a hash lookup.
   */
  private byAsnSlot: Array<OwnerInfo | undefined> = [];
  private answerCount = 0;
  private readonly words = new Uint32Array(4);
  private readonly watched: string[];
  private readonly files: FileWatch;
  private bundled = false;
  private reloads = 0;
  private errors = 0;
  private starting = true;
  /** Why each watched file's newest version is not in use (read at start). */
  private readonly problems: string[];

  private constructor(
    private readonly options: OwnerOptions,
    private readonly logger: Logger,
  ) {
    this.watched = [...(options.asnCsv === '' ? [] : [options.asnCsv]), ...options.cloudFiles].map((f) => path.resolve(f));
    this.cloudFiles = options.cloudFiles.map(() => null);
    this.problems = this.watched.map(() => '');
    this.files = new FileWatch(
      this.watched,
      { watch: options.watch ?? true, pollMs: options.pollMs ?? 60_000, debounceMs: options.debounceMs ?? 500 },
      logger,
      {
        load: (i, data) => this.load(i, data),
        failed: (i, why) => this.failed(i, why),
      },
    );
  }

  /**
   * Reads the AS data and the cloud range files and starts watching the configured ones. Rejects
   * with an Error naming the setting when a configured file cannot be used; bundled AS data that is
   * not installed only logs a warning.
   */
  static async open(options: OwnerOptions, logger: Logger): Promise<OwnerEnricher> {
    const enricher = new OwnerEnricher(options, logger);
    if (options.asnCsv === '') await enricher.loadBundled();
    await Promise.all(enricher.watched.map((_, i) => enricher.files.check(i, true)));
    enricher.starting = false;
    for (let i = 0; i < enricher.watched.length; i++) {
      if (enricher.files.isLoaded(i)) continue;
      await enricher.close();
      throw new Error(`${enricher.setting(i)}: cannot use ${enricher.watched[i]}: ${enricher.problems[i]}`);
    }
    enricher.files.start();
    return enricher;
  }

  /** The credits of the data in use (the bundled AS data's; an admin's own files are the admin's to credit). */
  credits(): GeoCredit[] {
    return this.bundled ? [ASN_CREDIT] : [];
  }

  enrich(event: PacketEvent): void {
    event.owner = this.lookup(event.srcIp);
  }

  /** Who holds `ip`; null for private and reserved addresses and for text that is no address. */
  lookup(ip: string): OwnerInfo | null {
    const w = this.words;
    const family = parseAddress(ip, w);
    if (family === 4) {
      const v4 = w[0]!;
      if (classifyIpv4(v4) !== '') return null;
      return this.answer(this.asn.slotOfIpv4(v4), this.cloud.slotOfIpv4(v4));
    }
    if (family === 0 || classifyIp(ip) !== '') return null;
    return this.answer(this.asn.slotOfIpv6(w[0]!, w[1]!, w[2]!, w[3]!), this.cloud.slotOfIpv6(w[0]!, w[1]!, w[2]!, w[3]!));
  }

  private answer(asnSlot: number, cloudSlot: number): OwnerInfo {
    if (cloudSlot < 0) {
      if (asnSlot < 0) return OWNER_UNKNOWN;
      let owner = this.byAsnSlot[asnSlot];
      if (owner === undefined) {
        const as = this.asn.answer(asnSlot);
        owner = this.byAsnSlot[asnSlot] = Object.freeze({ asn: as.asn, org: as.org, cloud: '' });
        this.answerCount++;
      }
      return owner;
    }
    let byAsn = this.answers[cloudSlot + 1];
    if (byAsn === undefined) {
      byAsn = new Map();
      this.answers[cloudSlot + 1] = byAsn;
    }
    let owner = byAsn.get(asnSlot + 1);
    if (owner === undefined) {
      if (this.answerCount >= MAX_ANSWERS) {
        this.forgetAnswers();
        return this.answer(asnSlot, cloudSlot);
      }
      const as = asnSlot < 0 ? null : this.asn.answer(asnSlot);
      owner = Object.freeze({ asn: as?.asn ?? NONE, org: as?.org ?? '', cloud: this.cloud.value(cloudSlot) });
      byAsn.set(asnSlot + 1, owner);
      this.answerCount++;
    }
    return owner;
  }

  private forgetAnswers(): void {
    this.answers = [];
    this.byAsnSlot = new Array<OwnerInfo | undefined>(this.asn.answers).fill(undefined);
    this.answerCount = 0;
  }

  stats(): OwnerStats {
    return { asnRanges: this.asn.ranges, cloudRanges: this.cloudRanges, answers: this.answerCount, reloads: this.reloads, errors: this.errors };
  }

  /** SIGHUP: read every configured file again; one that fails keeps the data read before. */
  async reload(): Promise<void> {
    await Promise.all(this.watched.map((_, i) => this.files.check(i, true)));
  }

  async close(): Promise<void> {
    await this.files.close();
  }

  private setting(i: number): string {
    return this.options.asnCsv === '' ? `owner.cloud[${i}]` : i === 0 ? 'owner.asn_csv' : `owner.cloud[${i - 1}]`;
  }

  private async loadBundled(): Promise<void> {
    const paths = this.options.bundledAsnCsv ?? bundledAsnCsvPaths();
    if (paths.length === 0) {
      this.logger.warn('the bundled AS data (@ip-location-db/asn) is not installed: no AS numbers or organisations (npm ci installs it)');
      return;
    }
    const started = performance.now();
    const names = `the bundled ${paths.map((p) => path.basename(p)).join(' and ')} (RouteViews, DB-IP, NRO; CC BY 4.0)`;
    const cacheFile = this.options.stateDir ? path.join(this.options.stateDir, ASN_CACHE_FILE) : '';
    const fromPackage = this.options.bundledAsnCsv === undefined;
    const shipped = this.options.shippedAsnTable ?? (fromPackage ? SHIPPED_ASN_TABLE : '');
    let signature = '';
    let table: AsnTable | null = null;
    let keptIn = '';
    try {
      signature = await asnCacheSignature(paths, fromPackage ? bundledAsnVersion() : '');
    } catch {
      // A CSV that cannot be looked at is reported by reading it, below.
    }
    // state_dir's table first (what this machine made), then the build's: either saves the parse.
    for (const file of signature === '' ? [] : [cacheFile, shipped]) {
      if (file === '') continue;
      const kept = await readAsnCache(file, signature);
      if (typeof kept !== 'string') {
        table = kept;
        keptIn = file;
        break;
      }
      // The build's table not matching is expected after the package was updated: said at debug only.
      if (kept !== MISSING) this.logger[file === cacheFile ? 'info' : 'debug'](`not using the parsed AS data in ${file}: ${kept}`);
    }
    if (table === null) {
      let files: AsnCsv[];
      try {
        files = await readAsnCsv(paths);
      } catch (error) {
        const why = errorCode(error) === 'ENOENT' ? MISSING : errorText(error);
        this.logger.warn(`cannot read the bundled AS data: ${why}; no AS numbers or organisations`);
        return;
      }
      table = AsnTable.fromCsv(files);
      if (signature !== '' && cacheFile !== '' && this.options.keepParsed !== false) {
        try {
          await writeAsnCache(cacheFile, table, signature);
        } catch (error) {
          this.logger.warn(`cannot keep the parsed AS data in ${cacheFile}: ${errorText(error)}; the next start reads the CSV again`);
        }
      }
    }
    this.asn = table;
    this.forgetAnswers();
    this.bundled = true;
    const ms = Math.round(performance.now() - started);
    this.logger.info(`AS data: ${table.ranges} ranges from ${names}, read in ${ms} ms${keptIn !== '' ? ` (kept parsed in ${keptIn})` : ''}`);
    if (table.badLines > 0) this.logger.warn(`skipped ${table.badLines} lines of the bundled AS data: ${badExamples(table)}`);
  }

  private load(i: number, data: Buffer): string {
    const file = this.watched[i]!;
    // The watched files: the configured AS CSV (if any) first, then the cloud files.
    const cloudIndex = this.options.asnCsv === '' ? i : i - 1;
    if (cloudIndex < 0) {
      const table = AsnTable.fromCsv([{ file, data }]);
      if (table.ranges === 0 && table.badLines > 0) return `no line in it is an AS range (${table.badLines} lines not understood: ${badExamples(table)})`;
      this.asn = table;
      if (table.badLines > 0) this.logger.warn(`skipped ${table.badLines} lines of ${file}: ${badExamples(table)}`);
      this.logger.info(`AS data: ${table.ranges} ranges from ${file}`);
    } else {
      let parsed: ParsedCloudRanges;
      try {
        parsed = parseCloudRanges(data.toString('utf8'));
      } catch (error) {
        return errorText(error);
      }
      if (parsed.ranges.length === 0 && parsed.bad.length > 0) return `no prefix in it is a network (${parsed.bad.length} not understood, e.g. ${parsed.bad[0]!.entry} "${parsed.bad[0]!.excerpt}": ${parsed.bad[0]!.reason})`;
      this.cloudFiles[cloudIndex] = parsed;
      const loaded = this.cloudFiles.filter((f): f is ParsedCloudRanges => f !== null);
      this.cloud = cloudRangesTable(loaded);
      this.cloudRanges = loaded.reduce((n, f) => n + f.ranges.length, 0);
      if (parsed.bad.length > 0) this.logger.warn(`skipped ${parsed.bad.length} prefixes of ${file}, e.g. ${parsed.bad[0]!.entry} "${parsed.bad[0]!.excerpt}": ${parsed.bad[0]!.reason}`);
      this.logger.info(`cloud ranges: ${parsed.ranges.length} ${parsed.provider} prefixes from ${file}`);
    }
    // Slots changed with the table.
    this.forgetAnswers();
    this.generation++;
    if (!this.starting) this.reloads++;
    this.problems[i] = '';
    return '';
  }

  private failed(i: number, why: string): void {
    this.problems[i] = why;
    if (this.starting) return; // open() throws with it
    this.errors++;
    this.logger.error(`cannot reload ${this.watched[i]}: ${why}; still using the data read before`);
  }
}

function badExamples(table: AsnTable): string {
  return table.bad
    .slice(0, 3)
    .map((b) => `${path.basename(b.file)} line ${b.line} "${b.excerpt}": ${b.reason}`)
    .join('; ');
}

/**
 * The owner enricher for a configuration, or null when `owner.enabled` is false. Rejects with an
 * Error naming the setting when a configured file is missing or unusable.
 */
export async function createOwner(config: OwnerConfig, logger: Logger, options: WatchOptions & Pick<OwnerOptions, 'bundledAsnCsv' | 'stateDir' | 'keepParsed'> = {}): Promise<OwnerEnricher | null> {
  if (!config.enabled) return null;
  return OwnerEnricher.open({ ...options, asnCsv: config.asn_csv, cloudFiles: config.cloud }, logger.child('owner'));
}
