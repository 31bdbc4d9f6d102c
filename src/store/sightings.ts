// The hot path of the history store: every packet event is added to its source's row for the
// hour its event time falls in. One Map lookup (address as logged → row number), then a few
// typed-array updates: strings and enrichment answers become dictionary indexes, looked up
// only when they differ from the previous event's. A set's first member sits in its column; a
// row gets a `More` only when a second member comes. A source whose hour changes gets a new row
// (the old one stays, finished). flush() hands the columns over as the batch and starts new
// ones; reaching maxPendingSources flushes early. No I/O, no timers: the owner (history.ts)
// decides when to flush and where batches go.
//
// Exactly once across restarts: a replaying source (a file resuming at its last checkpoint)
// passes lines again that were recorded before. The store hands over, by source name, the
// highest position it has written; while a source replays, its lines up to there are skipped
// (counted), and from its first line past it the source is not checked again. A source not
// replaying costs one typed-array read and a compare per event (and one more for the batch's
// highest position).
import { NONE, type GeoInfo, type OwnerInfo, type PacketEvent } from '../pipeline/types.js';
import { ipv6Network } from '../util/ip.js';
import { F_HOSTS_CAPPED, F_PORTS_CAPPED, KEY_CHUNK, More, emptyBatch, grow, keyOf, transferList, type SightingBatch } from './batch.js';

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
  /** Source names by source index: what positions are kept by. */
  sourceNames: readonly string[];
}

/** What records packet events (the history store's hot path role). */
export interface SightingRecorder {
  /** `position`: the source's position after the event's line (NONE where the source has none). */
  record(event: PacketEvent, position: number): void;
}

/** Rows a new batch has room for at first (then the previous batch's size, up to the bound). */
const MIN_CAPACITY = 256;

/** Values to dictionary indexes for one batch, remembering the last one asked (events mostly repeat it). */
class Dictionary<T> {
  readonly values: T[] = [];
  private readonly index = new Map<T, number>();
  private last: T | undefined = undefined;
  private lastIndex = NONE;

  constructor(shared?: Dictionary<T>) {
    // String dictionaries of one batch share one values array (hosts, fingerprints, tools, OS).
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

/** Adds `value` to a set of more than one member unless present or full. */
function addTo<T>(set: T[], value: T, cap: number): void {
  if (set.length < cap && !set.includes(value)) set.push(value);
}

export class Sightings implements SightingRecorder {
  /** Row of each source address as logged; the addresses of one IPv6 network share rows. */
  private open = new Map<string, number>();
  /** The current row of each IPv6 network (and IPv4-mapped address), by its key. */
  private networks = new Map<string, number>();
  /** The previous batch's maps: its sources are still admitted while the writer is behind. */
  private known = new Map<string, number>();
  private knownNetworks = new Map<string, number>();
  private b!: SightingBatch;
  private hosts!: Dictionary<string>;
  private fingerprints!: Dictionary<string>;
  private tools!: Dictionary<string>;
  private oses!: Dictionary<string>;
  private geos!: Dictionary<GeoInfo>;
  private owners!: Dictionary<OwnerInfo>;
  private lists!: Dictionary<readonly string[]>;
  private readonly scratch = new Uint16Array(8);
  /**
   * Whether sources of neither this batch nor the previous one get a row. The owner turns it
   * off while the writer is behind: a flood of new sources then costs two Map misses a packet,
   * not a row each, and the sources seen before it keep being recorded.
   */
  admitting = true;
  /** Packets not recorded because their source was new while admitting was off. */
  refused = 0;
  /** Packets not recorded because a replaying source passed them again (stored before). */
  skippedReplayed = 0;
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
    /** Takes each batch flushed (by flush() or early, when full), with the buffers to transfer. */
    private readonly ship: (batch: SightingBatch, transfer: ArrayBuffer[]) => void,
    /** The highest position stored, by source name (what the store read at open). */
    storedPositions: Readonly<Record<string, number>> = {},
    /** Says when a source starts and ends skipping what was stored (an info line in the log). */
    private readonly notice: ((message: string) => void) | null = null,
  ) {
    const names = options.sourceNames;
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

  record(e: PacketEvent, position: number): void {
    const source = e.source;
    if (position <= this.gate[source]! && this.replayed(source, position)) return;
    const t = e.time;
    let i = this.open.get(e.srcIp);
    if (i === undefined || t < this.b.hour[i]! || t >= this.b.hour[i]! + HOUR_MS) {
      i = this.admit(e, i);
      if (i < 0) return;
    }
    const b = this.b;
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
    if (flags !== NONE && (flags & 0x12) === 0x02) {
      b.syns[i] = b.syns[i]! + 1;
      const w = e.tcpWindow;
      if (w !== b.window[i] && w !== NONE) this.addNumber(i, w, 'windows', b.window);
      if (e.fingerprint !== null) {
        const fp = this.fingerprints.of(e.fingerprint.key);
        if (fp !== b.fingerprint[i]) this.addString(i, fp, 'fingerprints', b.fingerprint);
      }
    }
    const port = e.dstPort;
    if (port !== b.port[i] && port >= 0) this.addPort(i, port);
    if (e.dstIp !== '') {
      const host = this.hosts.of(e.dstIp);
      if (host !== b.host[i]) this.addHost(i, host);
    }
    if (e.tool !== '') {
      const tool = this.tools.of(e.tool);
      if (tool !== b.tool[i]) this.addString(i, tool, 'tools', b.tool);
    }
    if (e.os !== '') {
      const os = this.oses.of(e.os);
      if (os !== b.os[i]) this.addString(i, os, 'os', b.os);
    }
    if (e.geo !== null) b.geo[i] = this.geos.of(e.geo);
    if (e.owner !== null) b.owner[i] = this.owners.of(e.owner);
    if (e.listed.length !== 0) {
      const list = this.lists.of(e.listed);
      if (list !== b.list[i]) this.addList(i, list);
    }
  }

  /** Hands every pending source-hour over as one batch (nothing when there is none). */
  flush(): void {
    const b = this.b;
    if (b.rows === 0) return;
    this.known = this.open;
    this.knownNetworks = this.networks;
    this.open = new Map();
    this.networks = new Map();
    b.strings = this.hosts.values;
    b.geos = this.geos.values;
    b.owners = this.owners.values;
    b.lists = this.lists.values;
    this.begin(Math.min(Math.max(MIN_CAPACITY, b.rows), this.options.maxPendingSources));
    this.ship(b, transferList(b));
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
    this.hosts = new Dictionary<string>();
    this.fingerprints = new Dictionary(this.hosts);
    this.tools = new Dictionary(this.hosts);
    this.oses = new Dictionary(this.hosts);
    this.geos = new Dictionary<GeoInfo>();
    this.owners = new Dictionary<OwnerInfo>();
    this.lists = new Dictionary<readonly string[]>();
  }

  /** The row for an event the open map has none for, or whose row is of another hour; -1 to skip it. */
  private admit(e: PacketEvent, i: number | undefined): number {
    const max = this.options.maxPendingSources;
    if (this.b.rows >= max || this.open.size >= max) {
      this.flush();
      i = undefined;
    }
    const address = e.srcIp;
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
    if (address === '') return -1;
    let key = address;
    if (e.family !== 4 && address.indexOf(':') >= 0) {
      if (address.startsWith('::ffff:') && address.indexOf('.') > 0) key = address.slice(7);
      // As the tracker keys it, so detections and sightings name a source alike.
      else if (this.options.ipv6PrefixLength < 128) key = ipv6Network(address, this.options.ipv6PrefixLength, this.scratch) ?? address;
      const shared = this.networks.get(key);
      if (shared !== undefined) {
        this.open.set(address, shared);
        if (this.inHour(shared, e.time)) return shared;
        return this.start(key, address, e.time);
      }
    }
    if (!this.admitting && !this.known.has(address) && !(key !== address && this.knownNetworks.has(key))) {
      this.refused++;
      return -1;
    }
    return this.start(key, address, e.time);
  }

  private inHour(i: number, t: number): boolean {
    const hour = this.b.hour[i]!;
    return t >= hour && t < hour + HOUR_MS;
  }

  /** A new row for `key` in the hour of `t`. */
  private start(key: string, address: string, t: number): number {
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
    this.open.set(address, i);
    if (key !== address) this.networks.set(key, i);
    return i;
  }

  private more(i: number): More {
    let m = this.b.more.get(i);
    if (m === undefined) this.b.more.set(i, (m = new More()));
    return m;
  }

  // Each add*: the value differs from the row's first member. The first fills the column; the
  // second starts the row's More set (first member first); later ones join it up to the cap.

  private addPort(i: number, port: number): void {
    const b = this.b;
    if (b.port[i] === NONE) {
      b.port[i] = port;
      return;
    }
    // A full set stays as it is, whatever comes: a scanner past the cap costs nothing more.
    if ((b.flags[i]! & F_PORTS_CAPPED) !== 0) return;
    const m = this.more(i);
    const ports = (m.ports ??= [b.port[i]!]);
    if (ports.includes(port)) return;
    if (ports.length < this.options.maxPortsPerRow) ports.push(port);
    else b.flags[i] = b.flags[i]! | F_PORTS_CAPPED;
  }

  private addHost(i: number, host: number): void {
    const b = this.b;
    if (b.host[i] === NONE) {
      b.host[i] = host;
      return;
    }
    if ((b.flags[i]! & F_HOSTS_CAPPED) !== 0) return;
    const m = this.more(i);
    const hosts = (m.hosts ??= [b.host[i]!]);
    if (hosts.includes(host)) return;
    if (hosts.length < this.options.maxHostsPerRow) hosts.push(host);
    else b.flags[i] = b.flags[i]! | F_HOSTS_CAPPED;
  }

  private addNumber(i: number, value: number, set: 'windows', column: Int32Array): void {
    if (column[i] === NONE) column[i] = value;
    else addTo((this.more(i)[set] ??= [column[i]!]), value, this.options.maxValuesPerRow);
  }

  private addString(i: number, id: number, set: 'fingerprints' | 'tools' | 'os', column: Int32Array): void {
    if (column[i] === NONE) column[i] = id;
    else addTo((this.more(i)[set] ??= [column[i]!]), id, this.options.maxValuesPerRow);
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
