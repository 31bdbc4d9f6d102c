// Address range tables: the value of the narrowest range covering an address, IPv4 and IPv6.
//
// Ranges may overlap and nest (a threat list's /24 inside another's /16, AWS's EC2 prefix inside
// its AMAZON one). They are flattened once, at build time, into disjoint segments covering the
// whole address space; a lookup is then one binary search over the segment starts (typed arrays)
// and, for IPv4, allocates nothing. Where ranges overlap the narrowest one wins; mergeNamedRanges
// instead gives each segment the set of every named list covering it, as one frozen array per set.
import { ipv4Number, parseIPv6 } from '../util/ip.js';

/** An inclusive range of IPv4 addresses as unsigned 32-bit numbers. */
export interface Ipv4Range {
  readonly family: 4;
  readonly start: number;
  readonly end: number;
}

/** An inclusive range of IPv6 addresses as 128-bit integers. */
export interface Ipv6Range {
  readonly family: 6;
  readonly start: bigint;
  readonly end: bigint;
}

export type AddressRange = Ipv4Range | Ipv6Range;

export const IPV4_MAX = 0xffffffff;
export const IPV6_MAX = (1n << 128n) - 1n;

/** The /bits network of an IPv4 address (host bits cleared) as a range. */
export function ipv4CidrRange(address: number, bits: number): Ipv4Range {
  const size = 2 ** (32 - bits);
  const start = address - (address % size);
  return { family: 4, start, end: start + size - 1 };
}

/** The /bits network of an IPv6 address (host bits cleared) as a range. */
export function ipv6CidrRange(address: bigint, bits: number): Ipv6Range {
  const host = (1n << BigInt(128 - bits)) - 1n;
  const start = address & ~host;
  return { family: 6, start, end: start | host };
}

/** Eight 16-bit groups (as parseIPv6 fills them) → the address as a 128-bit integer. */
export function ipv6Value(groups: Uint16Array): bigint {
  const w = (i: number): bigint => BigInt(groups[i]! * 65536 + groups[i + 1]!);
  return (w(0) << 96n) | (w(2) << 64n) | (w(4) << 32n) | w(6);
}

/** How many addresses the ranges cover together (overlaps once); capped at 2^53 − 1, as IPv6 runs far past it. */
export function addressCount(ranges: readonly AddressRange[]): number {
  const spans: Array<[bigint, bigint]> = [];
  // IPv6 counted after IPv4, shifted past it: the two families never overlap.
  for (const r of ranges) spans.push(r.family === 4 ? [BigInt(r.start), BigInt(r.end)] : [r.start + (1n << 32n), r.end + (1n << 32n)]);
  spans.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let total = 0n;
  let start = -1n;
  let end = -2n;
  for (const [s, e] of spans) {
    if (s > end + 1n) {
      total += end - start + 1n;
      start = s;
      end = e;
    } else if (e > end) end = e;
  }
  total += end - start + 1n;
  return total > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(total);
}

/** The groups of the last IPv6 address parsed (reused: lookups are synchronous). */
const groups = new Uint16Array(8);

/**
 * Parses an address for a lookup, without allocating: IPv4, and IPv4-mapped IPv6
 * (::ffff:a.b.c.d), as `out[0]`, returning 4; other IPv6 as four 32-bit words `out[0..3]`
 * (most significant first), returning 6; 0 when `ip` is no address.
 */
export function parseAddress(ip: string, out: Uint32Array): 0 | 4 | 6 {
  const v4 = ipv4Number(ip);
  if (v4 >= 0) {
    out[0] = v4;
    return 4;
  }
  if (!parseIPv6(ip, groups)) return 0;
  const g = groups;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    out[0] = g[6]! * 65536 + g[7]!;
    return 4;
  }
  out[0] = g[0]! * 65536 + g[1]!;
  out[1] = g[2]! * 65536 + g[3]!;
  out[2] = g[4]! * 65536 + g[5]!;
  out[3] = g[6]! * 65536 + g[7]!;
  return 6;
}

const scratch = new Uint32Array(4);

/** The flattened table: segment starts per family and, per segment, the slot of its value (-1: none). */
export interface Segments<V> {
  /** By slot; a slot left empty is made by `make` when first asked for. */
  values: Array<V | undefined>;
  /** Makes the value of an empty slot (a table read back from a file makes its answers on first use). */
  make?: (slot: number) => V;
  v4Starts: Uint32Array;
  v4Slots: Int32Array;
  /** IPv6 segment starts as four 32-bit words, most significant first. */
  v6Words: [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  v6Slots: Int32Array;
}

/**
 * An immutable table of disjoint address segments and their values. Each distinct value has a
 * slot (its index in `values`); a lookup returns the value object itself, shared by every address
 * of its segments.
 */
/** Above this many IPv4 segments a /16 index narrows each search (the bundled AS data has ~500,000). */
const INDEX_ABOVE = 4096;

/** In the /16 index, a /16 that lies within one segment: UNIFORM + that segment's slot + 1, instead of its bounds. */
const UNIFORM = 0x8000_0000;

/**
 * By /16 network p, at 2p and 2p + 1: the segments starting at or before its first and its last
 * address (segment 0 starts at 0). An address of p is then searched between them: a few segments,
 * one or two cache misses, instead of ~19 steps over the table. A /16 inside one segment (72 % of
 * them in the bundled AS data) holds its answer instead (UNIFORM): a spoofed flood's random
 * addresses then cost one read, not the search and the read of the slot beside it.
 */
function indexBy16(starts: Uint32Array, slots: Int32Array): Uint32Array {
  const index = new Uint32Array(2 * 65536);
  let first = 0;
  for (let p = 0; p < 65536; p++) {
    const from = p * 65536;
    while (first + 1 < starts.length && starts[first + 1]! <= from) first++;
    let last = first;
    while (last + 1 < starts.length && starts[last + 1]! <= from + 65535) last++;
    if (last === first) index[2 * p] = UNIFORM + slots[first]! + 1;
    else {
      index[2 * p] = first;
      index[2 * p + 1] = last;
    }
  }
  return index;
}

export class AddressRanges<V> {
  /** Every distinct value, by slot (one not asked for yet may be missing: see value()). */
  private readonly kept: Array<V | undefined>;
  private readonly make: ((slot: number) => V) | null;
  private readonly v4Starts: Uint32Array;
  private readonly v4Slots: Int32Array;
  private readonly v4Index: Uint32Array | null;
  private readonly w0: Uint32Array;
  private readonly w1: Uint32Array;
  private readonly w2: Uint32Array;
  private readonly w3: Uint32Array;
  private readonly v6Slots: Int32Array;

  /** Use AddressRangesBuilder, mergeNamedRanges or AddressRanges.empty(). */
  constructor(segments: Segments<V>) {
    this.kept = segments.values;
    this.make = segments.make ?? null;
    this.v4Starts = segments.v4Starts;
    this.v4Slots = segments.v4Slots;
    this.v4Index = this.v4Starts.length > INDEX_ABOVE ? indexBy16(this.v4Starts, this.v4Slots) : null;
    [this.w0, this.w1, this.w2, this.w3] = segments.v6Words;
    this.v6Slots = segments.v6Slots;
  }

  static empty<V>(): AddressRanges<V> {
    return new AddressRangesBuilder<V>().build();
  }

  /** The table as it is held (shared, not copied; values not asked for yet missing): what the AS data's cache file stores. */
  get data(): Readonly<Segments<V>> {
    return { values: this.kept, make: this.make ?? undefined, v4Starts: this.v4Starts, v4Slots: this.v4Slots, v6Words: [this.w0, this.w1, this.w2, this.w3], v6Slots: this.v6Slots };
  }

  /** Every distinct value, by slot (all made: for listings and tests; lookups make only theirs). */
  get values(): readonly V[] {
    for (let slot = 0; slot < this.kept.length; slot++) this.value(slot);
    return this.kept as V[];
  }

  /** Distinct values (slots). */
  get slots(): number {
    return this.kept.length;
  }

  /** The value of a slot (0 ≤ slot < slots). */
  value(slot: number): V {
    const kept = this.kept[slot];
    if (kept !== undefined || this.make === null) return kept!;
    return (this.kept[slot] = this.make(slot));
  }

  /** Segments with a value (adjacent ranges of one value count once). */
  get segments(): number {
    let n = 0;
    for (const s of this.v4Slots) if (s >= 0) n++;
    for (const s of this.v6Slots) if (s >= 0) n++;
    return n;
  }

  /** The value of the narrowest range covering `ip`; undefined when none does or `ip` is no address. */
  lookup(ip: string): V | undefined {
    const slot = this.slotOf(ip);
    return slot < 0 ? undefined : this.value(slot);
  }

  /** The slot of `ip`'s value, -1 when none. */
  slotOf(ip: string): number {
    const family = parseAddress(ip, scratch);
    if (family === 4) return this.slotOfIpv4(scratch[0]!);
    if (family === 6) return this.slotOfIpv6(scratch[0]!, scratch[1]!, scratch[2]!, scratch[3]!);
    return -1;
  }

  /** The slot of an IPv4 address given as an unsigned 32-bit number, -1 when none. */
  slotOfIpv4(address: number): number {
    const starts = this.v4Starts;
    // The last segment starting at or before the address; segment 0 starts at 0.
    let lo = 0;
    let hi = starts.length - 1;
    const index = this.v4Index;
    if (index !== null) {
      const at = 2 * (address >>> 16);
      lo = index[at]!;
      if (lo >= UNIFORM) return lo - UNIFORM - 1;
      hi = index[at + 1]!;
    }
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    return this.v4Slots[lo]!;
  }

  /** The slot of an IPv6 address given as four 32-bit words (see parseAddress), -1 when none. */
  slotOfIpv6(a0: number, a1: number, a2: number, a3: number): number {
    const { w0, w1, w2, w3 } = this;
    let lo = 0;
    let hi = w0.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      // starts[mid] <= address, word by word.
      let le: boolean;
      const s0 = w0[mid]!;
      if (s0 !== a0) le = s0 < a0;
      else {
        const s1 = w1[mid]!;
        if (s1 !== a1) le = s1 < a1;
        else {
          const s2 = w2[mid]!;
          le = s2 !== a2 ? s2 < a2 : w3[mid]! <= a3;
        }
      }
      if (le) lo = mid;
      else hi = mid - 1;
    }
    return this.v6Slots[lo]!;
  }

  /** The segments that have a value, in address order (IPv4 first): for listings and tests. */
  *entries(): Generator<[AddressRange, V]> {
    const s4 = this.v4Starts;
    for (let i = 0; i < s4.length; i++) {
      const slot = this.v4Slots[i]!;
      if (slot < 0) continue;
      const end = i + 1 < s4.length ? s4[i + 1]! - 1 : IPV4_MAX;
      yield [{ family: 4, start: s4[i]!, end }, this.value(slot)];
    }
    const word = (i: number): bigint =>
      (BigInt(this.w0[i]!) << 96n) | (BigInt(this.w1[i]!) << 64n) | (BigInt(this.w2[i]!) << 32n) | BigInt(this.w3[i]!);
    for (let i = 0; i < this.v6Slots.length; i++) {
      const slot = this.v6Slots[i]!;
      if (slot < 0) continue;
      const end = i + 1 < this.v6Slots.length ? word(i + 1) - 1n : IPV6_MAX;
      yield [{ family: 6, start: word(i), end }, this.value(slot)];
    }
  }
}

/** Makes the rule for where ranges overlap: given a family's slots and "range a is narrower than b". */
type ResolverFactory = (slots: Int32Array, narrower: (a: number, b: number) => boolean) => Resolver;

/**
 * Ranges as collected, in growable typed arrays: IPv4 as start and end numbers, IPv6 as four
 * 32-bit words each (most significant first); each with a slot (the builder's value, or the
 * merged list's number).
 */
class Collected {
  n4 = 0;
  start4: Float64Array;
  end4: Float64Array;
  slot4: Int32Array;
  n6 = 0;
  start6: Uint32Array;
  end6: Uint32Array;
  slot6: Int32Array;

  constructor(ipv4: number, ipv6: number) {
    this.start4 = new Float64Array(ipv4);
    this.end4 = new Float64Array(ipv4);
    this.slot4 = new Int32Array(ipv4);
    this.start6 = new Uint32Array(4 * ipv6);
    this.end6 = new Uint32Array(4 * ipv6);
    this.slot6 = new Int32Array(ipv6);
  }

  addIpv4(start: number, end: number, slot: number): void {
    if (this.n4 === this.slot4.length) {
      this.start4 = grown(this.start4, new Float64Array(this.n4 * 2));
      this.end4 = grown(this.end4, new Float64Array(this.n4 * 2));
      this.slot4 = grown(this.slot4, new Int32Array(this.n4 * 2));
    }
    this.start4[this.n4] = start;
    this.end4[this.n4] = end;
    this.slot4[this.n4++] = slot;
  }

  /** start and end as eight 16-bit groups each (as parseIPv6 fills them). */
  addIpv6Groups(start: ArrayLike<number>, end: ArrayLike<number>, slot: number): void {
    // Lookups take mapped addresses (::ffff:0:0/96) as IPv4, so a mapped range is stored as IPv4.
    if (isMapped(start) && isMapped(end)) return this.addIpv4(start[6]! * 65536 + start[7]!, end[6]! * 65536 + end[7]!, slot);
    if (this.n6 === this.slot6.length) {
      this.start6 = grown(this.start6, new Uint32Array(this.n6 * 8));
      this.end6 = grown(this.end6, new Uint32Array(this.n6 * 8));
      this.slot6 = grown(this.slot6, new Int32Array(this.n6 * 2));
    }
    const at = this.n6 * 4;
    for (let w = 0; w < 4; w++) {
      this.start6[at + w] = start[2 * w]! * 65536 + start[2 * w + 1]!;
      this.end6[at + w] = end[2 * w]! * 65536 + end[2 * w + 1]!;
    }
    this.slot6[this.n6++] = slot;
  }

  addIpv6(start: bigint, end: bigint, slot: number): void {
    this.addIpv6Groups(groupsOf(start, bigStart), groupsOf(end, bigEnd), slot);
  }

  add(range: AddressRange, slot: number): void {
    if (range.family === 4) this.addIpv4(range.start, range.end, slot);
    else this.addIpv6(range.start, range.end, slot);
  }

  /** The disjoint segments, with `resolver` deciding where ranges overlap. */
  segments<V>(values: V[], resolver: ResolverFactory): Segments<V> {
    const { n4, start4, end4, slot4 } = this;
    // IPv4 half-open, [start, end + 1): 2^32 is the top of the space.
    const hi4 = new Float64Array(n4);
    for (let i = 0; i < n4; i++) hi4[i] = end4[i]! + 1;
    const narrower4 = (a: number, b: number): boolean => end4[a]! - start4[a]! < end4[b]! - start4[b]!;
    const four = flatten(n4, start4, hi4, IPV4_MAX + 1, () => resolver(slot4, narrower4));
    const six = this.ipv6Segments(resolver);
    return {
      values,
      v4Starts: new Uint32Array(four.starts.subarray(0, four.length)),
      v4Slots: four.slots.slice(0, four.length),
      v6Words: six.words,
      v6Slots: six.slots,
    };
  }

  /**
   * IPv6 is flattened in rank space: the distinct boundaries (starts, ends + 1, and address 0)
   * sorted and numbered, so the sweep works on small numbers rather than 128-bit ones.
   */
  private ipv6Segments(resolver: ResolverFactory): { words: [Uint32Array, Uint32Array, Uint32Array, Uint32Array]; slots: Int32Array } {
    const { n6, start6, end6, slot6 } = this;
    // Boundary 2i: start of range i; 2i + 1: just past its end (none when it ends at the top); 2n: address 0.
    const count = 2 * n6 + 1;
    const bound = new Uint32Array(4 * count);
    const top = new Uint8Array(count);
    for (let i = 0; i < n6; i++) {
      for (let w = 0; w < 4; w++) bound[8 * i + w] = start6[4 * i + w]!;
      let carry = 1;
      for (let w = 3; w >= 0; w--) {
        const v = end6[4 * i + w]! + carry;
        carry = v > 0xffffffff ? 1 : 0;
        bound[8 * i + 4 + w] = v >>> 0;
      }
      top[2 * i + 1] = carry;
    }
    // Boundary numbers in address order, address 0 first; those at the top have no address.
    let count2 = 1;
    let order = new Int32Array(count);
    order[0] = 2 * n6;
    let sorted = true;
    for (let b = 0; b < 2 * n6; b++) {
      if (top[b] === 1) continue;
      if (sorted && compareWords(bound, 4 * order[count2 - 1]!, bound, 4 * b) > 0) sorted = false;
      order[count2++] = b;
    }
    order = order.subarray(0, count2);
    // Sorted, disjoint input (an ASN file) has its boundaries in order already.
    if (!sorted) order.sort((a, b) => compareWords(bound, 4 * a, bound, 4 * b));
    const rank = new Float64Array(count);
    const ranked = new Uint32Array(4 * count2);
    let ranks = 0;
    for (let k = 0; k < count2; k++) {
      const b = order[k]!;
      if (k === 0 || compareWords(bound, 4 * order[k - 1]!, bound, 4 * b) !== 0) {
        for (let w = 0; w < 4; w++) ranked[4 * ranks + w] = bound[4 * b + w]!;
        ranks++;
      }
      rank[b] = ranks - 1;
    }
    const lo = new Float64Array(n6);
    const hi = new Float64Array(n6);
    for (let i = 0; i < n6; i++) {
      lo[i] = rank[2 * i]!;
      hi[i] = top[2 * i + 1] === 1 ? ranks : rank[2 * i + 1]!;
    }
    // Exact widths (end − start as words) for "narrower".
    const width = new Uint32Array(4 * n6);
    for (let i = 0; i < n6; i++) {
      let borrow = 0;
      for (let w = 3; w >= 0; w--) {
        const v = end6[4 * i + w]! - start6[4 * i + w]! - borrow;
        borrow = v < 0 ? 1 : 0;
        width[4 * i + w] = v >>> 0;
      }
    }
    const narrower6 = (a: number, b: number): boolean => compareWords(width, 4 * a, width, 4 * b) < 0;
    const flat = flatten(n6, lo, hi, ranks, () => resolver(slot6, narrower6));
    const n = flat.length;
    const words: [Uint32Array, Uint32Array, Uint32Array, Uint32Array] = [new Uint32Array(n), new Uint32Array(n), new Uint32Array(n), new Uint32Array(n)];
    for (let i = 0; i < n; i++) for (let w = 0; w < 4; w++) words[w]![i] = ranked[4 * flat.starts[i]! + w]!;
    return { words, slots: flat.slots.slice(0, n) };
  }
}

function compareWords(a: Uint32Array, at: number, b: Uint32Array, bt: number): number {
  for (let w = 0; w < 4; w++) {
    const d = a[at + w]! - b[bt + w]!;
    if (d !== 0) return d;
  }
  return 0;
}

function grown<A extends Float64Array | Uint32Array | Int32Array>(from: A, to: A): A {
  to.set(from);
  return to;
}

function isMapped(g: ArrayLike<number>): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

const bigStart = new Uint16Array(8);
const bigEnd = new Uint16Array(8);

function groupsOf(value: bigint, out: Uint16Array): Uint16Array {
  for (let g = 7; g >= 0; g--) {
    out[g] = Number(value & 0xffffn);
    value >>= 16n;
  }
  return out;
}

/**
 * Collects ranges with a value each and builds the table; where ranges overlap the narrowest
 * wins, and of identical ranges the one added first. Each distinct value (by identity) gets a
 * slot; bulk loaders that intern their values themselves add ranges by slot.
 */
export class AddressRangesBuilder<V> {
  private readonly values: V[] = [];
  private readonly slots = new Map<V, number>();
  private readonly ranges: Collected;

  /** `expected`: how many ranges of each family to make room for at once (bulk loaders; the room grows as needed). */
  constructor(expected: { ipv4?: number; ipv6?: number } = {}) {
    this.ranges = new Collected(Math.max(16, expected.ipv4 ?? 0), Math.max(16, expected.ipv6 ?? 0));
  }

  /** Ranges added (IPv4-mapped IPv6 ones count as IPv4). */
  get size(): number {
    return this.ranges.n4 + this.ranges.n6;
  }

  add(range: AddressRange, value: V): void {
    if (range.family === 4) this.addIpv4(range.start, range.end, this.slot(value));
    else this.addIpv6(range.start, range.end, this.slot(value));
  }

  /** The slot of `value`, a new one when it is new. */
  slot(value: V): number {
    let slot = this.slots.get(value);
    if (slot === undefined) {
      slot = this.values.length;
      this.values.push(value);
      this.slots.set(value, slot);
    }
    return slot;
  }

  /** A slot for a value the caller knows to be new (bulk loaders intern their values themselves). */
  newSlot(value: V): number {
    this.values.push(value);
    return this.values.length - 1;
  }

  /** IPv4 addresses start…end (unsigned 32-bit numbers) for the value in `slot`. */
  addIpv4(start: number, end: number, slot: number): void {
    if (!(start >= 0 && start <= end && end <= IPV4_MAX && Number.isInteger(start) && Number.isInteger(end))) {
      throw new RangeError(`not an IPv4 range: ${start}-${end}`);
    }
    this.checkSlot(slot);
    this.ranges.addIpv4(start, end, slot);
  }

  /** IPv6 addresses start…end for the value in `slot`. */
  addIpv6(start: bigint, end: bigint, slot: number): void {
    if (!(start >= 0n && start <= end && end <= IPV6_MAX)) throw new RangeError(`not an IPv6 range: ${start}-${end}`);
    this.checkSlot(slot);
    this.ranges.addIpv6(start, end, slot);
  }

  /** IPv6 addresses start…end, each as eight 16-bit groups (as parseIPv6 fills them), for the value in `slot`. */
  addIpv6Groups(start: Uint16Array, end: Uint16Array, slot: number): void {
    for (let g = 0; g < 8; g++) {
      if (start[g] === end[g]) continue;
      if (start[g]! > end[g]!) throw new RangeError('the IPv6 range ends before it starts');
      break;
    }
    this.checkSlot(slot);
    this.ranges.addIpv6Groups(start, end, slot);
  }

  private checkSlot(slot: number): void {
    if (!(slot >= 0 && slot < this.values.length)) throw new RangeError(`no value in slot ${slot}`);
  }

  build(): AddressRanges<V> {
    return new AddressRanges(this.ranges.segments([...this.values], narrowest));
  }
}

/** One named list's ranges, for mergeNamedRanges. */
export interface NamedRanges {
  readonly name: string;
  readonly ranges: readonly AddressRange[];
}

/**
 * One table of several named lists: each address answers the names of every list covering it, in
 * the order the lists are given, as a frozen array shared by all addresses with the same set.
 * `interned` (name set → array) carries the arrays over from a previous table, so a rebuilt
 * table answers with the same objects; it is updated to hold exactly the sets in the new one.
 */
export function mergeNamedRanges(lists: readonly NamedRanges[], interned: Map<string, readonly string[]> = new Map()): AddressRanges<readonly string[]> {
  let ipv4 = 0;
  for (const list of lists) ipv4 += list.ranges.length;
  const ranges = new Collected(Math.max(16, ipv4), 16);
  lists.forEach((list, i) => {
    for (const r of list.ranges) ranges.add(r, i);
  });
  const values: Array<readonly string[]> = [];
  const slots = new Map<string, number>();
  const used = new Map<string, readonly string[]>();
  const slotOfSet = (members: readonly number[]): number => {
    const names = members.map((m) => lists[m]!.name);
    const key = names.join('\u0000');
    let slot = slots.get(key);
    if (slot === undefined) {
      const array = interned.get(key) ?? Object.freeze(names);
      slot = values.length;
      values.push(array);
      slots.set(key, slot);
      used.set(key, array);
    }
    return slot;
  };
  // The slot of each list alone, made when first met.
  const alone = lists.map(() => -1);
  const table = new AddressRanges(ranges.segments(values, (listOf) => union(listOf, alone, slotOfSet)));
  interned.clear();
  for (const [key, array] of used) interned.set(key, array);
  return table;
}

/** What covers the current position of a sweep: told which ranges start and end, says the slot. */
interface Resolver {
  /** The slot of range `i` where it is the only one. */
  only(i: number): number;
  add(i: number): void;
  remove(i: number): void;
  /** The slot from the current position on, -1 when nothing covers it. */
  current(): number;
}

/** The narrowest covering range wins; of equal widths the one added first. */
function narrowest(slots: Int32Array, narrower: (a: number, b: number) => boolean): Resolver {
  const gone = new Set<number>();
  const active = new IndexHeap((a, b) => narrower(a, b) || (!narrower(b, a) && a < b));
  return {
    only: (i) => slots[i]!,
    add: (i) => active.push(i),
    // Lazily: a range that ended leaves the heap when it comes to the top.
    remove: (i) => gone.add(i),
    current: () => {
      while (active.size > 0 && gone.has(active.peek())) active.pop();
      return active.size === 0 ? -1 : slots[active.peek()]!;
    },
  };
}

/** Every covering list counts: the slot of the set of lists (one slot per distinct set). */
function union(listOf: Int32Array, alone: number[], slotOfSet: (members: readonly number[]) => number): Resolver {
  const counts = new Int32Array(alone.length);
  let changed = false;
  let slot = -1;
  return {
    only: (i) => {
      const list = listOf[i]!;
      if (alone[list]! < 0) alone[list] = slotOfSet([list]);
      return alone[list]!;
    },
    add: (i) => {
      if (counts[listOf[i]!]!++ === 0) changed = true;
    },
    remove: (i) => {
      if (--counts[listOf[i]!]! === 0) changed = true;
    },
    current: () => {
      if (changed) {
        const members: number[] = [];
        for (let g = 0; g < counts.length; g++) if (counts[g]! > 0) members.push(g);
        slot = members.length === 0 ? -1 : slotOfSet(members);
        changed = false;
      }
      return slot;
    },
  };
}

/** Segment starts (ascending, the first at 0; each runs to the next) and their slots, in the first `length` entries. */
interface Flat {
  starts: Float64Array;
  slots: Int32Array;
  length: number;
}

/**
 * The disjoint segments of the half-open ranges [lo, hi) in the space [0, top). In start order
 * the ranges fall into clusters of overlapping ones; a range alone is its own segment, a cluster is
 * swept: stopping wherever the covering set changes (a start, or an end), the resolver says which
 * slot holds from there. Adjacent segments of one slot are joined. O(n) for sorted, mostly
 * disjoint input such as an ASN file; O(n log n) at worst.
 */
function flatten(n: number, lo: Float64Array, hi: Float64Array, top: number, resolver: () => Resolver): Flat {
  const order = startOrder(n, lo);
  const out = new FlatOut(2 * n + 1);
  let single: Resolver | null = null;
  for (let i = 0; i < n; ) {
    const first = order[i]!;
    let end = hi[first]!;
    let j = i + 1;
    for (; j < n && lo[order[j]!]! < end; j++) if (hi[order[j]!]! > end) end = hi[order[j]!]!;
    if (j === i + 1) {
      single ??= resolver();
      out.emit(lo[first]!, single.only(first));
    } else sweep(lo, hi, order, i, j, top, resolver(), out);
    if (end < top) out.emit(end, -1);
    i = j;
  }
  return out;
}

class FlatOut implements Flat {
  readonly starts: Float64Array;
  readonly slots: Int32Array;
  length = 1;
  constructor(capacity: number) {
    this.starts = new Float64Array(capacity);
    this.slots = new Int32Array(capacity).fill(-1);
  }

  emit(at: number, slot: number): void {
    const last = this.length - 1;
    if (this.starts[last] === at) {
      // A cluster starting where the previous one ended (or at 0) replaces the gap there.
      this.slots[last] = slot;
      if (last > 0 && this.slots[last - 1] === slot) this.length--;
    } else if (this.slots[last] !== slot) {
      this.starts[this.length] = at;
      this.slots[this.length++] = slot;
    }
  }
}

/** The segments of one cluster, ranges order[from, to). */
function sweep(lo: Float64Array, hi: Float64Array, order: Int32Array, from: number, to: number, top: number, resolver: Resolver, out: FlatOut): void {
  const ending = new IndexHeap((a, b) => hi[a]! < hi[b]!);
  let k = from;
  for (;;) {
    let at = k < to ? lo[order[k]!]! : top;
    if (ending.size > 0) at = Math.min(at, hi[ending.peek()]!);
    if (at >= top) return;
    while (ending.size > 0 && hi[ending.peek()]! <= at) resolver.remove(ending.pop());
    while (k < to && lo[order[k]!] === at) {
      const i = order[k++]!;
      resolver.add(i);
      ending.push(i);
    }
    out.emit(at, resolver.current());
  }
}

/** Indices 0…n−1 by ascending `lo` (stable); input that is sorted already (ASN files are) is not sorted again. */
function startOrder(n: number, lo: Float64Array): Int32Array {
  const order = new Int32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    if (i > 0 && lo[i]! < lo[i - 1]!) sorted = false;
  }
  if (!sorted) order.sort((a, b) => lo[a]! - lo[b]! || a - b);
  return order;
}

/** A binary min-heap of range indices. */
class IndexHeap {
  private readonly items: number[] = [];
  constructor(private readonly less: (a: number, b: number) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): number {
    return this.items[0]!;
  }

  push(item: number): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && this.less(items[child + 1]!, items[child]!)) child++;
        if (!this.less(items[child]!, last)) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
