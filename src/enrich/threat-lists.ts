// Threat lists: named files of addresses and networks (FireHOL, Spamhaus DROP, Emerging Threats,
// the admin's own), merged into one table whose answer for an address is the names of every list
// it is on: a frozen array shared by all addresses with the same lists (address-ranges.ts), so
// enrich() stores a reference and allocates nothing.
//
// The files are refreshed by a timer outside nfwatch (a download, then a rename over the old
// file). Each is watched (fs.watch on its directory, which sees a rename, plus a slow stat poll)
// and read again when it changes and on reload() (SIGHUP). A version that cannot be read, or in
// which nothing is understood, is refused, said once, and the list keeps the version it had: a
// failed download must not empty a list. A list that cannot be read at start is empty until it can
// (the timer that fetches it may not have run yet); that does not stop nfwatch.
import path from 'node:path';
import { NOT_LISTED, type AddressEnricher, type PacketEvent } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { AddressRanges, addressCount, mergeNamedRanges, type AddressRange } from './address-ranges.js';
import { parseList, type KnownListFormat, type ListFormat } from './list-formats.js';
import { FileWatch, type WatchOptions } from './watched-files.js';

export interface ThreatListConfig {
  /** Lower-case letters, digits, `_` and `-`, 1–32 characters: it becomes a metric path part. */
  name: string;
  path: string;
  format?: ListFormat;
}

/** A list name: it becomes a Graphite metric path part (events.listed.<name>). */
export const LIST_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface ThreatListStats {
  name: string;
  path: string;
  /** The format the version in use was read as; '' before one was. */
  format: KnownListFormat | '';
  /** Ranges (addresses, networks, a-b ranges) in the version in use. */
  entries: number;
  /** Addresses they cover, overlaps once; capped at 2^53 − 1 (an IPv6 /64 alone is 2^64). */
  addresses: number;
  /** When the version in use was read, epoch ms; 0: none yet. */
  loadedAt: number;
  /** Lines of the version in use that were not understood. */
  badLines: number;
  /** Why the newest version of the file is not in use; '' when it is. */
  error: string;
}

interface ListState extends ThreatListStats {
  readonly requested: ListFormat;
  ranges: readonly AddressRange[];
}

export class ThreatListEnricher implements AddressEnricher {
  readonly name = 'lists';
  /** Goes up when a list is replaced (AddressEnricher). */
  generation = 0;
  private readonly lists: ListState[];
  private table: AddressRanges<readonly string[]> = AddressRanges.empty();
  /** The name arrays by set, kept across rebuilds so an answer stays the same object. */
  private readonly interned = new Map<string, readonly string[]>();
  private readonly files: FileWatch;
  /** During reload(): rebuild once at the end rather than after each list. */
  private batching = false;

  /** Checks the configuration (throws an Error naming the list at fault); start() reads the files. */
  constructor(
    lists: readonly ThreatListConfig[],
    private readonly logger: Logger,
    options: WatchOptions = {},
  ) {
    const names = new Set<string>();
    lists.forEach((list, i) => {
      if (!LIST_NAME.test(list.name)) {
        throw new Error(`lists[${i}].name: "${list.name}" is not a list name (1–32 lower-case letters, digits, "_" and "-", starting with a letter or digit: it becomes a metric path part)`);
      }
      if (names.has(list.name)) throw new Error(`lists[${i}].name: "${list.name}" is used by another list (names must be unique)`);
      names.add(list.name);
      if (list.path === '') throw new Error(`lists[${i}].path: empty (list "${list.name}")`);
    });
    this.lists = lists.map((l) => ({
      name: l.name,
      path: path.resolve(l.path),
      requested: l.format ?? 'auto',
      format: '',
      ranges: [],
      entries: 0,
      addresses: 0,
      loadedAt: 0,
      badLines: 0,
      error: '',
    }));
    this.files = new FileWatch(
      this.lists.map((l) => l.path),
      { watch: options.watch ?? true, pollMs: options.pollMs ?? 60_000, debounceMs: options.debounceMs ?? 500 },
      logger,
      {
        load: (i, data) => this.load(i, data),
        failed: (i, why) => this.failed(i, why),
      },
    );
  }

  /** Reads every list (one that cannot be read stays empty, and is logged) and starts watching them. */
  async start(): Promise<void> {
    await this.reload();
    this.files.start();
  }

  enrich(event: PacketEvent): void {
    event.listed = this.table.lookup(event.srcIp) ?? NOT_LISTED;
  }

  /** The names of the lists `ip` is on (NOT_LISTED when none). */
  lookup(ip: string): readonly string[] {
    return this.table.lookup(ip) ?? NOT_LISTED;
  }

  stats(): ThreatListStats[] {
    return this.lists.map(({ name, path: file, format, entries, addresses, loadedAt, badLines, error }) => ({ name, path: file, format, entries, addresses, loadedAt, badLines, error }));
  }

  /** SIGHUP: read every list file again. */
  async reload(): Promise<void> {
    this.batching = true;
    try {
      await Promise.all(this.lists.map((_, i) => this.files.check(i, true)));
    } finally {
      this.batching = false;
    }
    this.rebuild();
  }

  async close(): Promise<void> {
    await this.files.close();
  }

  private load(i: number, data: Buffer): string {
    const list = this.lists[i]!;
    const parsed = parseList(data.toString('utf8'), list.requested);
    const example = parsed.bad.slice(0, 3).map((b) => `line ${b.line} "${b.excerpt}": ${b.reason}`).join('; ');
    if (parsed.ranges.length === 0 && parsed.badLines > 0) {
      return `nothing in it is an address, network or range (read as ${parsed.format}: ${parsed.badLines} lines not understood, ${example})`;
    }
    // An empty download (a provider's bad moment) must not silently unlist everyone.
    if (parsed.ranges.length === 0 && list.entries > 0) return 'the new version is empty';
    list.ranges = parsed.ranges;
    list.format = parsed.format;
    list.entries = parsed.ranges.length;
    list.addresses = addressCount(parsed.ranges);
    list.loadedAt = Date.now();
    list.badLines = parsed.badLines;
    list.error = '';
    this.logger.info(`list ${list.name}: ${list.entries} entries, ${list.addresses >= Number.MAX_SAFE_INTEGER ? 'more than 2^53' : list.addresses} addresses (${parsed.format}) from ${list.path}`);
    if (parsed.badLines > 0) this.logger.warn(`list ${list.name}: skipped ${parsed.badLines} lines of ${list.path} that are not addresses: ${example}`);
    if (!this.batching) this.rebuild();
    return '';
  }

  private failed(i: number, why: string): void {
    const list = this.lists[i]!;
    list.error = why;
    const keeping = list.loadedAt === 0 ? 'the list is empty until it can be read' : `still using the version read before (${list.entries} entries)`;
    this.logger.error(`list ${list.name}: cannot use ${list.path}: ${why}; ${keeping}`);
  }

  private rebuild(): void {
    // The swap: enrich() is synchronous, so no event sees half of it.
    this.table = mergeNamedRanges(this.lists, this.interned);
    this.generation++;
  }
}

/**
 * The threat-list enricher for a configuration, with its lists read and watched; null when no list
 * is configured. Rejects with an Error naming the list when a name is unusable.
 */
export async function createThreatLists(lists: readonly ThreatListConfig[], logger: Logger, options: WatchOptions = {}): Promise<ThreatListEnricher | null> {
  if (lists.length === 0) return null;
  const enricher = new ThreatListEnricher(lists, logger.child('lists'), options);
  await enricher.start();
  return enricher;
}
