// The hot path of the history store: every packet event is added to its source's row for the
// hour its event time falls in. One table lookup (address as logged → row number, an IPv6
// address by its network's two words; none at all when the tracker's slot names the row), then a
// few typed-array updates: strings become dictionary indexes, looked up only when they differ
// from the previous event's; a row takes the first GeoIP and owner answers of its batch (the
// writer keeps the latest batch's). A set's first member sits in its column; a row gets a `More`
// only when a second member comes. A source whose hour changes gets a new row (the old one stays,
// finished). flush() hands the columns over as the batch and starts new ones; reaching
// maxPendingSources flushes early. No I/O, no timers: the owner (history.ts) decides when to
// flush and where batches go.
//
// Exactly once across restarts: a replaying source (a file resuming at its last checkpoint)
// passes lines again that were recorded before. The store hands over, by source name, the
// highest position it has written; while a source replays, its lines up to there are skipped
// (counted), and from its first line past it the source is not checked again. A source not
// replaying costs one typed-array read and a compare per event (and one more for the batch's
// highest position).
//
// Folding: a flood of spoofed or one-packet sources would cost a row (and a disk write) per
// packet. Past foldAfter distinct sources in an hour (told apart by a SeenFilter), a source new
// to the hour goes into its network's row instead: IPv4 /8, IPv6 /32, the row counting the
// sources it stands for (`folded`). A source that sends again gets a row of its own from its
// second packet (its first stays in the network's row): scanners and brute forces, which send
// many, keep theirs. Every packet is still counted once. Network rows are bounded and do not
// count towards maxPendingSources: at most 256 IPv4 /8s a batch, and MAX_IPV6_FOLD_NETWORKS
// IPv6 /32s, past which a new /32 goes into its /12 (at most 4,096): spoofed IPv6 sources are
// each in a /32 of their own, and a row each would be a row a packet again. While the writer
// is behind, a source new to the recorder is folded too, whatever the hour's count, rather than
// turned away (`admitting`); a network's row counts such a source only once (one the filter has
// seen adds packets, not a source).
import { NONE, type EventRecorder, type GeoInfo, type OwnerInfo, type PacketEvent, type RecorderSlot } from '../pipeline/types.js';
import { ipv4Number, ipv6Network, ipv6NetworkText, parseIPv6 } from '../util/ip.js';
import { ABSENT } from '../util/ipv4-index.js';
import { Network64Index, Network64Key } from '../util/network64-index.js';
import {
  F_FINGERPRINTS_FULL, F_HOSTS_CAPPED, F_OS_FULL, F_OWN_ROW, F_PORTS_CAPPED, F_TOOLS_FULL, F_WINDOWS_FULL, KEY_CHUNK, More, emptyBatch, grow, keyOf,
  type SightingBatch,
} from './batch.js';
import { AddressRows } from './address-rows.js';
import { MAX_ROWS, MAX_VALUE, RowMembers } from './row-members.js';
import { SeenFilter, hashText, hashWords } from './seen-filter.js';

export const HOUR_MS = 3_600_000;

/** The hour an event time falls in (its start, epoch ms). */
export function hourOf(time: number): number {
  return Math.floor(time / HOUR_MS) * HOUR_MS;
}

export interface SightingsOptions {
  ipv6PrefixLength: number;
  maxPendingSources: number;
  maxPortsPerRow: number;
  maxHostsPerRow: number;
  maxValuesPerRow: number;
  /** Distinct sources in an hour past which sources seen once are folded into their network's row; 0: never. */
  foldAfter: number;
  /** Source names by source index: what positions are kept by. */
  sourceNames: readonly string[];
}

/**
 * A row's set of members when its second comes, holding its first. Made by Array.of rather than as
 * an array literal `[first]`: V8 tracks a literal's allocation site and, once enough of its arrays
 * outlive a young-generation collection (these live until the batch is flushed), decides to
 * allocate them in the old generation, and throws away the compiled code that allocates there.
 * With the literal, record() was compiled three times over a normal corpus (~70 ms of compiler
 * time); with Array.of, once (traced, four runs).
 */
function firstMembers(first: number): number[] {
  return Array.of(first);
}

/** Rows a new batch has room for at first (then the previous batch's size, up to the bound). */
const MIN_CAPACITY = 256;

/** newAndFolded(): the source keeps (or gets) a row of its own, being new to the hour within foldAfter sources, */
const OWN_ROW_NEW = -2;
/** or seen before in the hour, */
const OWN_ROW_SEEN = -3;
/** or of an hour gone (never folded). */
const OWN_ROW_LATE = -4;

/**
 * RecorderSlot values: each batch numbers its rows from a base ROW_BASE_STEP above the previous
 * batch's, of any recorder in the process, and only rows below the step are put in slots, so a
 * slot set in an earlier batch, or 0, names no row of this one. Past 2^53 the values would not be
 * exact: from then on recorders find rows by their maps alone (base 0).
 */
const ROW_BASE_STEP = 2 ** 24;
let lastRowBase = 0;
function nextRowBase(): number {
  if (lastRowBase > Number.MAX_SAFE_INTEGER - 2 * ROW_BASE_STEP) return 0;
  lastRowBase += ROW_BASE_STEP;
  return lastRowBase;
}

/** Labels given a bit of their own in a row (labelBit): the bits of an int32 but its sign. */
const LABEL_BITS = 31;

/** The networks sources are folded into: IPv4 /8, IPv6 /32 and, past MAX_IPV6_FOLD_NETWORKS of those in a batch, /12. */
export const FOLD_IPV4_BITS = 8;
export const FOLD_IPV6_BITS = 32;
export const FOLD_IPV6_WIDE_BITS = 12;
/** IPv6 /32 fold rows in one batch at most; as many as IPv4 /8s. */
export const MAX_IPV6_FOLD_NETWORKS = 256;
/** The seen filter's size: 2^25 bits (4 MiB); measured 0.4 % false "seen" at a million sources in an hour. */
const SEEN_FILTER_LOG2_BITS = 25;

/** Values to dictionary indexes for one batch, remembering the last one asked (events mostly repeat it). */
class Dictionary<T> {
  readonly values: T[] = [];
  private readonly index = new Map<T, number>();
  private last: T | undefined = undefined;
  private lastIndex = NONE;

  constructor(shared?: Dictionary<T>) {
    // String dictionaries of one batch share one values array (hosts, tools, OS).
    if (shared !== undefined) {
      this.values = shared.values;
      this.index = shared.index;
    }
  }

  of(value: T): number {
    if (value === this.last) return this.lastIndex;
    let i = this.index.get(value);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      this.index.set(value, i);
    }
    this.last = value;
    this.lastIndex = i;
    return i;
  }
}

/** Adds `value` to a set of more than one member unless present or full; whether it is full now. */
function addTo<T>(set: T[], value: T, cap: number): boolean {
  if (set.length < cap && !set.includes(value)) set.push(value);
  return set.length >= cap;
}

export class Sightings implements EventRecorder {
  /** Row of each source address as logged; the addresses of one IPv6 network share rows. */
  private open = new AddressRows();
  /** The current row of each IPv6 network of more than 64 bits (and IPv4-mapped address), by its key. */
  private networks = new Map<string, number>();
  /**
   * The current row of each IPv6 network of up to 64 bits (net6Of()), by its two words: an IPv6
   * source is found by its network, not by its address (a spoofed IPv6 flood's every packet is a
   * new address in a new network, and each made its network's text and missed two Maps with it).
   */
  private openNet6 = new Network64Index();
  /** The previous batch's tables: its sources are still admitted while the writer is behind. */
  private known = new AddressRows();
  private knownNetworks = new Map<string, number>();
  private knownNet6 = new Network64Index();
  /** Whether IPv6 rows are kept by their network's words (ipv6PrefixLength ≤ 64). */
  private readonly net6Indexed: boolean;
  /** The network net6Of() last found, as two words. */
  private readonly net6: Network64Key;
  private b!: SightingBatch;
  /** What a RecorderSlot holds for row i of the pending batch: rowBase + i (nextRowBase); 0: slots are not used. */
  private rowBase = 0;
  /** The pending batch's More sets by row (its `more` map, without a hash lookup per packet). */
  private moreOf: (More | undefined)[] = [];
  /** The ports and hosts of the pending batch's More sets, to find a member without its row's array. */
  private members = new RowMembers();
  private hosts!: Dictionary<string>;
  private tools!: Dictionary<string>;
  private oses!: Dictionary<string>;
  private geos!: Dictionary<GeoInfo>;
  private owners!: Dictionary<OwnerInfo>;
  private lists!: Dictionary<readonly string[]>;
  private readonly scratch = new Uint16Array(8);
  /** Tool and OS labels by their bit in a row's toolBits or osBits (labelBit). */
  private readonly labelBits = new Map<string, number>();
  private lastLabel = '';
  private lastLabelBit = 0;
  /**
   * Whether sources of neither this batch nor the previous one get a row. The owner turns it
   * off while the writer is behind: a flood of new sources then goes into its networks' rows (when
   * folding is on), not a row each, and the sources seen before it keep their rows.
   */
  admitting = true;
  /** Packets not recorded because their source was new while admitting was off and they could not be folded (folding off, or a late event). */
  refused = 0;
  /** Packets not recorded because a replaying source passed them again (stored before). */
  skippedReplayed = 0;
  /** Sources (each one packet) recorded in their network's row rather than a row of their own. */
  foldedSources = 0;
  /** Sources new to the hour, approximately (folding's test); made when folding is first needed. */
  private seen: SeenFilter | null = null;
  /** The hour `seen` and `sourcesThisHour` are of (events of an earlier hour are never folded). */
  private seenHour = -Infinity;
  /** How often `seen` had been emptied when its hour began (emptied since: its "not seen" is no longer certain). */
  private seenEmptiedBefore = 0;
  private sourcesThisHour = 0;
  /**
   * In the pending batch: the fold row of each IPv4 /8 (NONE: none yet), of each IPv6 /32 (by its
   * first 32 bits) and of each IPv6 /12 (by its first 12).
   */
  private readonly ipv4Folds = new Int32Array(1 << FOLD_IPV4_BITS);
  private ipv6Folds = new Map<number, number>();
  private readonly ipv6WideFolds = new Int32Array(1 << FOLD_IPV6_WIDE_BITS);
  /** Fold rows in the pending batch (not bounded by maxPendingSources: at most 256 + 256 + 4,096). */
  private foldRows = 0;
  /**
   * By source index: +Infinity while the source replays (each event takes the slow path,
   * replayed()), -Infinity once it does not (no position compares above it).
   */
  private readonly gate: Float64Array;
  /** By source index: the highest position stored for the source's name, NONE for none. */
  private readonly stored: Float64Array;
  private readonly skippedOf: Float64Array;

  constructor(
    private readonly options: SightingsOptions,
    /** Takes each batch flushed (by flush() or early, when full); it is the taker's from then on. */
    private readonly ship: (batch: SightingBatch) => void,
    /** The highest position stored, by source name (what the store read at open). */
    storedPositions: Readonly<Record<string, number>> = {},
    /** Says when a source starts and ends skipping what was stored (an info line in the log). */
    private readonly notice: ((message: string) => void) | null = null,
  ) {
    const names = options.sourceNames;
    this.net6Indexed = options.ipv6PrefixLength <= 64;
    this.net6 = new Network64Key(options.ipv6PrefixLength);
    this.gate = new Float64Array(names.length).fill(-Infinity);
    this.stored = new Float64Array(names.length).fill(NONE);
    this.skippedOf = new Float64Array(names.length);
    for (let i = 0; i < names.length; i++) {
      const p: unknown = storedPositions[names[i]!];
      if (typeof p === 'number' && p >= 0) {
        this.stored[i] = p;
        this.gate[i] = Infinity;
      }
    }
    this.begin(MIN_CAPACITY);
  }

  /** Source-hours held (rows of the pending batch). */
  get pending(): number {
    return this.b.rows;
  }

  record(e: PacketEvent, position: number, slot: RecorderSlot | null = null): void {
    const source = e.source;
    if (position <= this.gate[source]! && this.replayed(source, position)) return;
    const t = e.time;
    // The tracker's slot names the source's own row when it was set in this batch; else the open table.
    let i: number | undefined = slot !== null && this.rowBase !== 0 ? slot.recorderRow - this.rowBase : -1;
    let renew = i < 0 || i >= this.b.rows;
    if (renew) {
      if (e.family === 6 && this.net6Of(e)) {
        const row = this.openNet6.get(this.net6.high, this.net6.low);
        i = row === ABSENT ? undefined : row;
      } else i = this.mayHaveRow(e.srcIp, t) ? this.open.get(e.srcIp) : undefined;
    }
    if (i === undefined || t < this.b.hour[i]! || t >= this.b.hour[i]! + HOUR_MS) {
      i = this.admit(e, i);
      if (i < 0) return;
      renew = true;
    }
    const b = this.b;
    // Only a row of the address's own: a network's row (IPv6, folded) stands for more than one
    // source. A row found or made here for e.srcIp with that flag has it as its key (start()),
    // so the key is not read: on a flood a folded packet's row key was a cache miss.
    if (renew && slot !== null && this.rowBase !== 0 && i < ROW_BASE_STEP && (b.flags[i]! & F_OWN_ROW) !== 0) slot.recorderRow = this.rowBase + i;
    // After admit(): a batch it flushed early does not claim this event's position.
    if (position > b.positions[source]!) b.positions[source] = position;
    if (t < b.first[i]!) b.first[i] = t;
    if (t > b.last[i]!) b.last[i] = t;
    b.packets++;
    const verdict = e.verdict;
    if (verdict === 'blocked') b.blocked[i] = b.blocked[i]! + 1;
    else if (verdict === 'allowed') b.allowed[i] = b.allowed[i]! + 1;
    else b.unknown[i] = b.unknown[i]! + 1;
    const flags = e.tcpFlags;
    // A set at its cap is not looked at: a network's row in a flood fills its sets at once.
    const full = b.flags[i]!;
    if (flags !== NONE && (flags & 0x12) === 0x02) {
      b.syns[i] = b.syns[i]! + 1;
      const w = e.tcpWindow;
      if (w !== b.window[i] && w !== NONE && (full & F_WINDOWS_FULL) === 0) this.addNumber(i, w, b.window);
      if (e.fingerprint !== null && (full & F_FINGERPRINTS_FULL) === 0) {
        const shape = e.fingerprint.code;
        if (shape !== b.fingerprint[i]) this.addSmall(i, shape, 'fingerprints', b.fingerprint, F_FINGERPRINTS_FULL);
      }
    }
    const port = e.dstPort;
    if (port !== b.port[i] && port >= 0) this.addCapped(i, port, b.port, 'ports', this.options.maxPortsPerRow, F_PORTS_CAPPED);
    if (e.dstIp !== '' && (full & F_HOSTS_CAPPED) === 0) {
      const host = this.hosts.of(e.dstIp);
      if (host !== b.host[i]) this.addCapped(i, host, b.host, 'hosts', this.options.maxHostsPerRow, F_HOSTS_CAPPED);
    }
    // A label the row's set holds (its bit set) is not looked for there: a flood's OS families
    // alternate from packet to packet, and the set is an array in a row's More.
    if (e.tool !== '' && (full & F_TOOLS_FULL) === 0) this.addLabel(i, e.tool, this.tools, 'tools', b.tool, b.toolBits, F_TOOLS_FULL);
    if (e.os !== '' && (full & F_OS_FULL) === 0) this.addLabel(i, e.os, this.oses, 'os', b.os, b.osBits, F_OS_FULL);
    // The first answer of the batch: an address's GeoIP and owner answers do not change between
    // flushes (but with a database reloaded, and then the next batch has the new ones).
    if (e.geo !== null && b.geo[i] === NONE) b.geo[i] = this.geos.of(e.geo);
    if (e.owner !== null && b.owner[i] === NONE) b.owner[i] = this.owners.of(e.owner);
    if (e.listed.length !== 0) {
      const list = this.lists.of(e.listed);
      if (list !== b.list[i]) this.addList(i, list);
    }
  }

  /**
   * The bit of a tool or OS label in a row's toolBits or osBits: one of 31 given to the first
   * labels met (the signatures name a few dozen), 0 past them (such a label's set is looked at
   * each time). The last label asked is remembered: packets come in runs.
   */
  private labelBit(label: string): number {
    if (label === this.lastLabel) return this.lastLabelBit;
    let bit = this.labelBits.get(label);
    if (bit === undefined) {
      bit = this.labelBits.size < LABEL_BITS ? 1 << this.labelBits.size : 0;
      if (bit !== 0) this.labelBits.set(label, bit);
    }
    this.lastLabel = label;
    this.lastLabelBit = bit;
    return bit;
  }

  /** Hands every pending source-hour over as one batch (nothing when there is none). */
  flush(): void {
    const b = this.b;
    if (b.rows === 0) return;
    // The two address tables trade places: the one of the batch before last starts empty again.
    const emptied = this.known;
    this.known = this.open;
    this.knownNetworks = this.networks;
    this.knownNet6 = this.openNet6;
    emptied.clear();
    this.open = emptied;
    this.networks = new Map();
    this.openNet6 = new Network64Index();
    b.strings = this.hosts.values;
    b.geos = this.geos.values;
    b.owners = this.owners.values;
    b.lists = this.lists.values;
    this.begin(Math.min(Math.max(MIN_CAPACITY, b.rows), this.options.maxPendingSources));
    this.ship(b);
  }

  /**
   * The slow path of a replaying source: whether its event at `position` was stored before (then
   * it is skipped and counted). The first one that was not ends the source's replay.
   */
  private replayed(source: number, position: number): boolean {
    const upTo = this.stored[source]!;
    const name = this.options.sourceNames[source]!;
    if (position >= 0 && position <= upTo) {
      if (this.skippedOf[source] === 0) this.notice?.(`history: skipping lines of ${name} already stored (up to position ${upTo})`);
      this.skippedOf[source] = this.skippedOf[source]! + 1;
      this.skippedReplayed++;
      return true;
    }
    // Past what is stored (or a source without positions): recorded from here on, never checked again.
    this.gate[source] = -Infinity;
    const skipped = this.skippedOf[source]!;
    if (skipped > 0) this.notice?.(`history: skipped ${skipped} lines of ${name} already stored; recording from position ${position}`);
    return false;
  }

  private begin(capacity: number): void {
    this.b = emptyBatch(capacity, this.options.sourceNames.length);
    this.rowBase = nextRowBase();
    this.moreOf = [];
    this.members = new RowMembers();
    this.forgetFolds();
    this.hosts = new Dictionary<string>();
    this.tools = new Dictionary(this.hosts);
    this.oses = new Dictionary(this.hosts);
    this.geos = new Dictionary<GeoInfo>();
    this.owners = new Dictionary<OwnerInfo>();
    this.lists = new Dictionary<readonly string[]>();
  }

  /** The row for an event the open table has none for, or whose row is of another hour; -1 to skip it. */
  private admit(e: PacketEvent, i: number | undefined): number {
    const max = this.options.maxPendingSources;
    if (this.b.rows - this.foldRows >= max || this.open.size >= max) {
      // A full batch handed over while the writer is behind would be dropped: it is kept, and
      // what would need a row of its own goes into its network's row instead.
      if (!this.admitting) return this.overflow(e);
      this.flush();
      i = undefined;
    }
    const address = e.srcIp;
    if (address === '') return -1;
    if (this.net6Of(e)) return this.admitNet6(e.time, i);
    if (i !== undefined) {
      const key = keyOf(this.b, i);
      if (key !== address) {
        // An address of a shared network: another address may have moved the network on already.
        const current = this.networks.get(key);
        if (current !== undefined && current !== i) {
          this.open.set(address, current);
          if (this.inHour(current, e.time)) return current;
        }
      }
      return this.start(key, address, e.time);
    }
    const key = this.rowKey(e);
    if (key !== address) {
      const shared = this.networks.get(key);
      if (shared !== undefined) {
        this.open.set(address, shared);
        if (this.inHour(shared, e.time)) return shared;
        return this.start(key, address, e.time);
      }
    }
    let placed = OWN_ROW_LATE;
    if (this.options.foldAfter > 0) {
      const v4 = ipv4Number(key);
      placed = this.newAndFolded(v4 >= 0 ? v4 : hashText(key), v4, e.time);
      if (placed >= -1) return this.foldRow(address, e.time, placed, true);
    }
    if (!this.admitting && !this.known.has(address) && !(key !== address && this.knownNetworks.has(key))) {
      // While the writer is behind, a source new to the recorder goes into its network's row (as
      // a flood's would) rather than being turned away: its packets are still counted.
      if (placed !== OWN_ROW_LATE) return this.foldRow(address, e.time, ipv4Number(key), placed === OWN_ROW_NEW);
      this.refused++;
      return -1;
    }
    return this.start(key, address, e.time);
  }

  /**
   * admit() for an event whose row is its IPv6 network's (net6Of(), the network in `net6`): `i`
   * is the network's current row, of another hour (or undefined for none).
   */
  private admitNet6(t: number, i: number | undefined): number {
    if (i === undefined) {
      let placed = OWN_ROW_LATE;
      if (this.options.foldAfter > 0) {
        placed = this.newAndFolded(hashWords(this.net6.high, this.net6.low), -1, t);
        if (placed === -1) return this.foldRow6(t, true);
      }
      if (!this.admitting && this.knownNet6.get(this.net6.high, this.net6.low) === ABSENT) {
        // As admit(): folded rather than turned away while the writer is behind.
        if (placed !== OWN_ROW_LATE) return this.foldRow6(t, placed === OWN_ROW_NEW);
        this.refused++;
        return -1;
      }
    }
    // The network's text is made only for its first row (a later hour's row has the same key).
    const key = i !== undefined ? keyOf(this.b, i) : ipv6NetworkText(this.scratch, this.options.ipv6PrefixLength);
    const row = this.startRow(key, t);
    this.openNet6.set(this.net6.high, this.net6.low, row);
    return row;
  }

  /**
   * Whether the event's row is kept by its IPv6 network's words: an IPv6 address (not an
   * IPv4-mapped one in dotted form, kept by its IPv4 address) with ipv6PrefixLength ≤ 64. Its
   * groups are left in `scratch`, the network's words in `net6`.
   */
  private net6Of(e: PacketEvent): boolean {
    const address = e.srcIp;
    if (!this.net6Indexed || e.family === 4 || address.indexOf(':') < 0) return false;
    if (address.startsWith('::ffff:') && address.indexOf('.') > 0) return false;
    const g = this.scratch;
    if (!parseIPv6(address, g)) return false;
    this.net6.take(g);
    return true;
  }

  /** The key a source's row is kept by (but net6Of()'s): its address, an IPv4-mapped address's IPv4 one, or its IPv6 network. */
  private rowKey(e: PacketEvent): string {
    const address = e.srcIp;
    if (e.family === 4 || address.indexOf(':') < 0) return address;
    if (address.startsWith('::ffff:') && address.indexOf('.') > 0) return address.slice(7);
    // As the tracker keys it, so detections and sightings name a source alike.
    if (this.options.ipv6PrefixLength < 128) return ipv6Network(address, this.options.ipv6PrefixLength, this.scratch) ?? address;
    return address;
  }

  /**
   * The row for an event that needs a new one while the batch is full and the writer behind: its
   * IPv6 network's row of the hour, else its network's fold row (those are bounded). -1 (counted
   * in `refused`) when there is none: folding off, an event of an hour gone. The open table gets
   * nothing: it stays within maxPendingSources however long the writer is behind.
   */
  private overflow(e: PacketEvent): number {
    const address = e.srcIp;
    if (address === '') return -1;
    if (this.net6Of(e)) {
      const shared = this.openNet6.get(this.net6.high, this.net6.low);
      if (shared !== ABSENT && this.inHour(shared, e.time)) return shared;
      const placed = this.options.foldAfter > 0 ? this.newAndFolded(hashWords(this.net6.high, this.net6.low), -1, e.time) : OWN_ROW_LATE;
      if (placed !== OWN_ROW_LATE) return this.foldRow6(e.time, placed !== OWN_ROW_SEEN);
      this.refused++;
      return -1;
    }
    const key = this.rowKey(e);
    if (key !== address) {
      const shared = this.networks.get(key);
      if (shared !== undefined && this.inHour(shared, e.time)) return shared;
    }
    const v4 = ipv4Number(key);
    const placed = this.options.foldAfter > 0 ? this.newAndFolded(v4 >= 0 ? v4 : hashText(key), v4, e.time) : OWN_ROW_LATE;
    if (placed === OWN_ROW_LATE) {
      this.refused++;
      return -1;
    }
    return this.foldRow(address, e.time, v4, placed !== OWN_ROW_SEEN);
  }

  /**
   * Whether an IPv4 source may have a row in the open table: false when the seen filter, not emptied
   * since its hour began, says for certain that the address was not seen this hour. Every IPv4
   * source of the filter's hour passes it before it gets a row (newAndFolded, or here), so a miss
   * of the open table (on a flood, one a packet) is then spared.
   */
  private mayHaveRow(address: string, t: number): boolean {
    const seen = this.seen;
    if (seen === null) return true;
    // A later hour begins here, not in admit(): a row of the previous hour found below would
    // otherwise be renewed without the source passing this hour's filter.
    const hour = hourOf(t);
    if (hour > this.seenHour) this.enterHour(hour);
    if (seen.emptied !== this.seenEmptiedBefore || hour !== this.seenHour) return true;
    const v4 = ipv4Number(address);
    return v4 < 0 || seen.has(v4);
  }

  /**
   * Whether a source with no row pending (`hash`: its IPv4 address `v4` as a number, else a hash of
   * its key) is new to its hour and past the hour's foldAfter sources (then it goes into its
   * network's row): `v4` (-1 for IPv6), else one of the OWN_ROW_* reasons. Counts the hour's new sources.
   */
  private newAndFolded(hash: number, v4: number, t: number): number {
    const hour = hourOf(t);
    if (hour < this.seenHour) return OWN_ROW_LATE;
    if (hour > this.seenHour) this.enterHour(hour);
    const seen = (this.seen ??= new SeenFilter(SEEN_FILTER_LOG2_BITS)).testAndAdd(hash);
    if (seen) return OWN_ROW_SEEN;
    this.sourcesThisHour++;
    if (this.sourcesThisHour <= this.options.foldAfter) return OWN_ROW_NEW;
    if (this.sourcesThisHour === this.options.foldAfter + 1) {
      this.notice?.(`history: more than ${this.options.foldAfter} sources in the hour from ${new Date(hour).toISOString()}; from now on in that hour a source seen once is kept in its network's row (IPv4 /${FOLD_IPV4_BITS}, IPv6 /${FOLD_IPV6_BITS}, or /${FOLD_IPV6_WIDE_BITS} past ${MAX_IPV6_FOLD_NETWORKS} of those in a batch)`);
    }
    return v4 >= 0 ? v4 : -1;
  }

  /** Starts counting the sources of a later hour. */
  private enterHour(hour: number): void {
    this.seenHour = hour;
    this.sourcesThisHour = 0;
    this.seen?.clear();
    this.seenEmptiedBefore = this.seen?.emptied ?? 0;
    // The folds of an hour gone are finished rows.
    this.forgetFolds();
  }

  /**
   * The fold row of the network of `address` (an event of the current hour; `v4` its IPv4 address,
   * or -1), one more source in it when `newSource` (the source is new to the hour). -1 (counted in
   * `refused`) for an IPv6 address that cannot be read, which the decoder does not let through.
   */
  private foldRow(address: string, t: number, v4: number, newSource: boolean): number {
    if (v4 < 0) {
      if (!parseIPv6(address, this.scratch)) {
        this.refused++;
        return -1;
      }
      return this.foldRow6(t, newSource);
    }
    const slot = v4 >>> (32 - FOLD_IPV4_BITS);
    let i = this.ipv4Folds[slot]!;
    if (i === NONE) {
      i = this.ipv4Folds[slot] = this.startRow(`${slot}.0.0.0/${FOLD_IPV4_BITS}`, t);
      this.foldRows++;
    }
    return this.countFolded(i, newSource);
  }

  /** foldRow() of the IPv6 address whose groups are in `scratch`. */
  private foldRow6(t: number, newSource: boolean): number {
    const groups = this.scratch;
    // By number: no network text is made for a packet, only for a new row.
    const network = groups[0]! * 0x10000 + groups[1]!;
    let i = this.ipv6Folds.get(network);
    if (i === undefined) {
      if (this.ipv6Folds.size < MAX_IPV6_FOLD_NETWORKS) {
        i = this.startRow(ipv6NetworkText(groups, FOLD_IPV6_BITS), t);
        this.ipv6Folds.set(network, i);
        this.foldRows++;
      } else {
        const wide = groups[0]! >>> (16 - FOLD_IPV6_WIDE_BITS);
        i = this.ipv6WideFolds[wide]!;
        if (i === NONE) {
          i = this.ipv6WideFolds[wide] = this.startRow(ipv6NetworkText(groups, FOLD_IPV6_WIDE_BITS), t);
          this.foldRows++;
        }
      }
    }
    return this.countFolded(i, newSource);
  }

  /** Row i, a fold row, with one more source in it when `newSource`. */
  private countFolded(i: number, newSource: boolean): number {
    if (newSource) {
      this.b.folded[i] = this.b.folded[i]! + 1;
      this.foldedSources++;
    }
    return i;
  }

  private forgetFolds(): void {
    this.ipv4Folds.fill(NONE);
    this.ipv6WideFolds.fill(NONE);
    this.foldRows = 0;
    if (this.ipv6Folds.size > 0) this.ipv6Folds = new Map();
  }

  private inHour(i: number, t: number): boolean {
    const hour = this.b.hour[i]!;
    return t >= hour && t < hour + HOUR_MS;
  }

  /** A new row for `key` in the hour of `t`, found by `address` from now on. */
  private start(key: string, address: string, t: number): number {
    const i = this.startRow(key, t);
    this.open.set(address, i);
    if (key !== address) this.networks.set(key, i);
    else this.b.flags[i] = F_OWN_ROW;
    return i;
  }

  /** A new row for `key` in the hour of `t`. */
  private startRow(key: string, t: number): number {
    if (this.b.rows === this.b.hour.length) grow(this.b);
    const b = this.b;
    const i = b.rows++;
    b.hour[i] = hourOf(t);
    b.first[i] = t;
    b.last[i] = t;
    b.port[i] = NONE;
    b.window[i] = NONE;
    b.host[i] = NONE;
    b.fingerprint[i] = NONE;
    b.tool[i] = NONE;
    b.os[i] = NONE;
    b.geo[i] = NONE;
    b.owner[i] = NONE;
    b.list[i] = NONE;
    let chunk = b.keys[b.keys.length - 1]!;
    if (chunk.length === KEY_CHUNK) b.keys.push((chunk = []));
    chunk.push(key);
    return i;
  }

  private more(i: number): More {
    let m = this.moreOf[i];
    if (m === undefined) {
      m = new More();
      this.b.more.set(i, m);
      // Filled up to row i: an index past the end would leave the array sparse (a dictionary, slower).
      while (this.moreOf.length < i) this.moreOf.push(undefined);
      this.moreOf[i] = m;
    }
    return m;
  }

  // Each add*: the value differs from the row's first member. The first fills the column; the
  // second starts the row's More set (first member first); later ones join it up to the cap.

  /** A port or a host (dictionary index): one past `cap` marks the set capped (the row says "at least"). */
  private addCapped(i: number, value: number, column: Int32Array, set: 'ports' | 'hosts', cap: number, cappedFlag: number): void {
    const b = this.b;
    if (column[i] === NONE) {
      column[i] = value;
      return;
    }
    // A full set stays as it is, whatever comes: a scanner past the cap costs nothing more.
    if ((b.flags[i]! & cappedFlag) !== 0) return;
    const kind = set === 'ports' ? 0 : 1;
    // Members past the first are in the batch's index too; rows and values it cannot hold are looked for in the set.
    if (this.members.has(i, kind, value)) return;
    const members = (this.more(i)[set] ??= firstMembers(column[i]!));
    if ((i >= MAX_ROWS || value >= MAX_VALUE) && members.includes(value)) return;
    if (members.length < cap) {
      members.push(value);
      this.members.add(i, kind, value);
    } else b.flags[i] = b.flags[i]! | cappedFlag;
  }

  private addNumber(i: number, value: number, column: Int32Array): void {
    if (column[i] === NONE) column[i] = value;
    else if (addTo((this.more(i).windows ??= firstMembers(column[i]!)), value, this.options.maxValuesPerRow)) this.b.flags[i] = this.b.flags[i]! | F_WINDOWS_FULL;
  }

  /** A tool or OS label, unless the row's bits (`bits`, labelBit) say its set holds it already. */
  private addLabel(i: number, label: string, dictionary: Dictionary<string>, set: 'tools' | 'os', column: Int32Array, bits: Int32Array, fullFlag: number): void {
    const bit = this.labelBit(label);
    if ((bits[i]! & bit) !== 0) return;
    const id = dictionary.of(label);
    if (id !== column[i]) this.addSmall(i, id, set, column, fullFlag);
    bits[i] = bits[i]! | bit;
  }

  /** A member of a small set: a dictionary index (tools, OS) or a shape code (fingerprints). */
  private addSmall(i: number, id: number, set: 'fingerprints' | 'tools' | 'os', column: Int32Array, fullFlag: number): void {
    if (column[i] === NONE) column[i] = id;
    else if (addTo((this.more(i)[set] ??= firstMembers(column[i]!)), id, this.options.maxValuesPerRow)) this.b.flags[i] = this.b.flags[i]! | fullFlag;
  }

  private addList(i: number, list: number): void {
    const b = this.b;
    if (b.list[i] === NONE) {
      b.list[i] = list;
      return;
    }
    const all = (this.more(i).lists ??= this.lists.values[b.list[i]!]!.slice(0, this.options.maxValuesPerRow));
    for (const name of this.lists.values[list]!) addTo(all, name, this.options.maxValuesPerRow);
  }
}
