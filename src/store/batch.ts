// A batch of sightings: the recorder's columns, handed to the writer thread as they are. One
// typed array per field, one slot per row (a source-hour); strings and enrichment answers are
// numbers too, indexes into the batch's dictionaries. Measured on V8 (Node 20), a row that
// holds references costs ~60-130 ns a slot to build once a batch has ~100 000 rows (the
// collector's barriers on a large live set), a typed slot a few ns: under a flood of new
// sources that is the difference. The only reference column is the source key, in chunks of
// 8192 (arrays past ~16 000 entries grow in V8's large-object space, far slower still).
//
// A row's sets hold their first member in its column (NONE for none); a row with a second
// member in any set has a `More` holding them all. The same source-hour may appear in several
// rows (an hour left and come back to): the writer adds them up.
//
// `positions` holds, by source index, the highest position (LineReceiver's `end`) of a line
// recorded into the batch, NONE for none: the writer stores them by source name in the same
// transaction as the rows, so after a restart the lines a source replays up to there are skipped.
//
// The columns live in SharedArrayBuffers, so a batch reaches the writer without a copy and without
// a transfer: the first ArrayBuffer a process detaches (as a transfer does) invalidates V8's
// "array buffers are never detached" assumption for good, and every optimised function that reads
// a typed array or a DataView (the line scanner, the tracker, the interval counts: ~60 of them at
// the first batch, measured) is thrown away and compiled again, with a detach check on each access
// from then on. The packet thread lets go of a batch once it has posted it.
import { NONE, type GeoInfo, type OwnerInfo } from '../pipeline/types.js';
import { keyOfShape } from '../enrich/fingerprint.js';

export const F_PORTS_CAPPED = 1;
export const F_HOSTS_CAPPED = 2;
/** The recorder's own: a small set at its cap, so a value for it is not even looked up (the writer ignores these). */
export const F_WINDOWS_FULL = 4;
export const F_FINGERPRINTS_FULL = 8;
export const F_TOOLS_FULL = 16;
export const F_OS_FULL = 32;
/** The recorder's own: the row is its source address's own (not a network's, not folded). */
export const F_OWN_ROW = 64;

export const KEY_CHUNK_BITS = 13;
export const KEY_CHUNK = 1 << KEY_CHUNK_BITS;

/** A row's sets once one of them has more than one member (each null while it has at most one). */
export class More {
  ports: number[] | null = null;
  windows: number[] | null = null;
  /** Indexes into `strings`. */
  hosts: number[] | null = null;
  /** SYN fingerprints as their shape codes (enrich/fingerprint.ts). */
  fingerprints: number[] | null = null;
  tools: number[] | null = null;
  os: number[] | null = null;
  /** List names, when a row met two different lists arrays. */
  lists: string[] | null = null;
}

export interface SightingBatch {
  rows: number;
  /** Packets in the batch, for the count of packets lost when it is dropped. */
  packets: number;
  hour: Float64Array;
  first: Float64Array;
  last: Float64Array;
  allowed: Float64Array;
  blocked: Float64Array;
  unknown: Float64Array;
  syns: Float64Array;
  /** Sources seen once folded into the row (a network's row: sightings.ts); 0 for a source's own row. */
  folded: Int32Array;
  /** F_* bits. */
  flags: Uint8Array;
  /** First members: NONE for none. */
  port: Int32Array;
  window: Int32Array;
  /** Indexes into `strings`, NONE for none. */
  host: Int32Array;
  /**
   * Shape codes, NONE for none: the key text is made by the writer (and by batchRow), not by the
   * packet thread for each row of a flood's random windows.
   */
  fingerprint: Int32Array;
  tool: Int32Array;
  os: Int32Array;
  /**
   * The recorder's own: the tools and OS families the row's sets hold, as bits it gives the first
   * 31 labels it meets (sightings.ts), so a packet whose label the row has does not look at the set.
   */
  toolBits: Int32Array;
  osBits: Int32Array;
  /** Indexes into `geos`, `owners`, `lists`: the latest answer seen, NONE for none. */
  geo: Int32Array;
  owner: Int32Array;
  list: Int32Array;
  /** Source keys, row i at keys[i >> KEY_CHUNK_BITS][i & (KEY_CHUNK - 1)]. */
  keys: string[][];
  strings: string[];
  geos: GeoInfo[];
  owners: OwnerInfo[];
  lists: Array<readonly string[]>;
  more: Map<number, More>;
  /** By source index: the highest position recorded into this batch, NONE for none. */
  positions: Float64Array;
}

const TYPED = ['hour', 'first', 'last', 'allowed', 'blocked', 'unknown', 'syns', 'folded', 'flags', 'port', 'window', 'host', 'fingerprint', 'tool', 'os', 'toolBits', 'osBits', 'geo', 'owner', 'list'] as const;
type TypedName = (typeof TYPED)[number];

/** Empty columns with room for `capacity` rows (grow() makes more), and positions for `sources` sources. */
export function emptyBatch(capacity: number, sources = 0): SightingBatch {
  const f = (): Float64Array => shared(Float64Array, capacity);
  const i = (): Int32Array => shared(Int32Array, capacity);
  return {
    rows: 0,
    packets: 0,
    hour: f(),
    first: f(),
    last: f(),
    allowed: f(),
    blocked: f(),
    unknown: f(),
    syns: f(),
    folded: i(),
    flags: shared(Uint8Array, capacity),
    port: i(),
    window: i(),
    host: i(),
    fingerprint: i(),
    tool: i(),
    os: i(),
    toolBits: i(),
    osBits: i(),
    geo: i(),
    owner: i(),
    list: i(),
    keys: [[]],
    strings: [],
    geos: [],
    owners: [],
    lists: [],
    more: new Map(),
    positions: shared(Float64Array, sources).fill(NONE),
  };
}

type Column = Float64Array | Int32Array | Uint8Array;
type ColumnType<T extends Column> = { new (buffer: SharedArrayBuffer): T; readonly BYTES_PER_ELEMENT: number };

/** A zeroed column of `length` slots in a SharedArrayBuffer (see the header). */
function shared<T extends Column>(type: ColumnType<T>, length: number): T {
  return new type(new SharedArrayBuffer(length * type.BYTES_PER_ELEMENT));
}

/** The typed columns, twice as long, the rows kept. */
export function grow(b: SightingBatch): void {
  const columns = b as unknown as Record<TypedName, Column>;
  for (const name of TYPED) {
    const old = columns[name];
    const bigger = shared(old.constructor as ColumnType<Column>, old.length * 2);
    bigger.set(old);
    columns[name] = bigger;
  }
}

export function keyOf(b: SightingBatch, row: number): string {
  return b.keys[row >>> KEY_CHUNK_BITS]![row & (KEY_CHUNK - 1)]!;
}

/** A batch row as plain data: what the writer stores (specs and diagnostics use it). */
export interface BatchRow {
  key: string;
  hour: number;
  first: number;
  last: number;
  allowed: number;
  blocked: number;
  unknown: number;
  syns: number;
  folded: number;
  /** NONE when unknown. */
  asn: number;
  country: string;
  org: string;
  cloud: string;
  ports: number[];
  portsCapped: boolean;
  hosts: string[];
  hostsCapped: boolean;
  windows: number[];
  fingerprints: string[];
  tools: string[];
  os: string[];
  lists: string[];
}

export function geoOf(b: SightingBatch, i: number): GeoInfo | null {
  const g = b.geo[i]!;
  return g === NONE ? null : b.geos[g]!;
}

export function ownerOf(b: SightingBatch, i: number): OwnerInfo | null {
  const o = b.owner[i]!;
  return o === NONE ? null : b.owners[o]!;
}

/** The owner enricher's AS number first; GeoIP's ASN database where it has none. NONE when neither. */
export function asnOf(geo: GeoInfo | null, owner: OwnerInfo | null): number {
  return owner !== null && owner.asn !== NONE ? owner.asn : (geo?.asn ?? NONE);
}

export function orgOf(geo: GeoInfo | null, owner: OwnerInfo | null): string {
  return owner !== null && owner.org !== '' ? owner.org : (geo?.asOrg ?? '');
}

/** The list names of row `i` (`m`: its More, if any); not capped (one event's lists may be more than the cap). */
export function listsOf(b: SightingBatch, i: number, m: More | undefined): readonly string[] {
  if (m?.lists) return m.lists;
  const list = b.list[i]!;
  return list === NONE ? [] : b.lists[list]!;
}

/** The members of a row's set: its More's when it has them, else its one column value (NONE: none). */
export function membersOf(more: readonly number[] | null | undefined, one: number): readonly number[] {
  return more ?? (one === NONE ? [] : [one]);
}

/** Row `i` of the batch, its dictionaries resolved. */
export function batchRow(b: SightingBatch, i: number): BatchRow {
  const m = b.more.get(i);
  const text = (ids: number[] | null | undefined, one: number): string[] => membersOf(ids, one).map((id) => b.strings[id]!);
  const geo = geoOf(b, i);
  const owner = ownerOf(b, i);
  return {
    key: keyOf(b, i),
    hour: b.hour[i]!,
    first: b.first[i]!,
    last: b.last[i]!,
    allowed: b.allowed[i]!,
    blocked: b.blocked[i]!,
    unknown: b.unknown[i]!,
    syns: b.syns[i]!,
    folded: b.folded[i]!,
    asn: asnOf(geo, owner),
    country: geo?.country ?? '',
    org: orgOf(geo, owner),
    cloud: owner?.cloud ?? '',
    ports: [...membersOf(m?.ports, b.port[i]!)],
    portsCapped: (b.flags[i]! & F_PORTS_CAPPED) !== 0,
    hosts: text(m?.hosts, b.host[i]!),
    hostsCapped: (b.flags[i]! & F_HOSTS_CAPPED) !== 0,
    windows: [...membersOf(m?.windows, b.window[i]!)],
    fingerprints: membersOf(m?.fingerprints, b.fingerprint[i]!).map(keyOfShape),
    tools: text(m?.tools, b.tool[i]!),
    os: text(m?.os, b.os[i]!),
    lists: [...listsOf(b, i, m)],
  };
}

export function batchRows(b: SightingBatch): BatchRow[] {
  return Array.from({ length: b.rows }, (_, i) => batchRow(b, i));
}
