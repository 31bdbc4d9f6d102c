// A source's destination ports in the window: WindowSet's semantics for keys 0…65535, kept in one
// Int32Array of (port, epoch) pairs with open addressing instead of a Map. Nearly every packet of a
// source that probed more than one port asks this set, and a Map lookup was the tracker's hottest
// line (6 % of a normal corpus's time in one process); here a lookup is a multiply, a shift and
// one or two reads of the same cache line, and a set of a few ports is one 64-byte array.
//
// Values are stored as WindowSet stores them: the epoch last seen, negative when a counting packet
// hit the member.

// "No epoch" markers (here and in WindowSet): small integers rather than ±Infinity, because a
// field that ever holds a non-integer number is boxed (a separate heap number) in every object of
// its class — two boxes per set. Real epochs (event time / slot length) are far inside.
export const NO_MIN_EPOCH = 0x7fffffff;
export const NO_FULL_EPOCH = -0x80000000;

/** A free slot's key (ports are 0…65535). */
const EMPTY = -1;
/** Slots a set starts with (a set is made at a source's second port). */
const INITIAL_SLOTS = 8;

/** Live pairs during a sweep (grown as needed, shared: sweeps never overlap). */
let sweepScratch = new Int32Array(2 * INITIAL_SLOTS);

export class PortWindowSet {
  /** Pairs: table[2 s] the port (EMPTY: free), table[2 s + 1] its epoch (negative: counted). */
  private table = newTable(INITIAL_SLOTS);
  /** Slots − 1 (a power of two less one). */
  private mask = INITIAL_SLOTS - 1;
  /** log2(slots): the hash's top bits pick the slot. */
  private shift = 32 - Math.log2(INITIAL_SLOTS);
  size = 0;
  /** Members hit by a counting packet. */
  counted = 0;
  /** Lowest epoch stored (a lower bound): no sweep is needed before it expires. */
  minEpoch = NO_MIN_EPOCH;
  /** Last epoch in which a new member was turned away because the set was full. */
  fullEpoch = NO_FULL_EPOCH;

  /** Returns true when `port` was new (as WindowSet.add). */
  add(port: number, epoch: number, counts: boolean, cap: number): boolean {
    const table = this.table;
    const mask = this.mask;
    let slot = this.slotOf(port);
    for (;;) {
      const key = table[2 * slot]!;
      if (key === port) {
        const value = table[2 * slot + 1]!;
        const wasCounted = value < 0;
        const stored = wasCounted ? -value : value;
        if (stored !== epoch || (counts && !wasCounted)) {
          if (counts && !wasCounted) this.counted++;
          table[2 * slot + 1] = counts || wasCounted ? -epoch : epoch;
        }
        return false;
      }
      if (key === EMPTY) break;
      slot = (slot + 1) & mask;
    }
    if (this.size >= cap) {
      this.fullEpoch = epoch;
      return false;
    }
    this.size++;
    if (counts) this.counted++;
    if (epoch < this.minEpoch) this.minEpoch = epoch;
    // At most half full, so a probe soon meets a free slot.
    if (2 * this.size > mask + 1) {
      this.grow();
      this.place(port, counts ? -epoch : epoch);
    } else {
      table[2 * slot] = port;
      table[2 * slot + 1] = counts ? -epoch : epoch;
    }
    return true;
  }

  /** Empties the set for reuse by another source (back to its first size, as Map.clear does). */
  clear(): void {
    if (this.mask + 1 > INITIAL_SLOTS) this.resize(INITIAL_SLOTS);
    else this.table.fill(EMPTY);
    this.size = 0;
    this.counted = 0;
    this.minEpoch = NO_MIN_EPOCH;
    this.fullEpoch = NO_FULL_EPOCH;
  }

  /** Drops members last seen before `oldest`. */
  sweep(oldest: number): void {
    if (this.minEpoch >= oldest) return;
    const table = this.table;
    if (sweepScratch.length < table.length) sweepScratch = new Int32Array(table.length);
    const kept = sweepScratch;
    let n = 0;
    let min = NO_MIN_EPOCH;
    for (let i = 0; i < table.length; i += 2) {
      const port = table[i]!;
      if (port === EMPTY) continue;
      const value = table[i + 1]!;
      const epoch = value < 0 ? -value : value;
      if (epoch < oldest) {
        this.size--;
        if (value < 0) this.counted--;
        continue;
      }
      if (epoch < min) min = epoch;
      kept[n++] = port;
      kept[n++] = value;
    }
    this.minEpoch = min;
    // Open addressing cannot just empty a slot (a later member's probe would stop there): place the rest again.
    table.fill(EMPTY);
    for (let i = 0; i < n; i += 2) this.place(kept[i]!, kept[i + 1]!);
  }

  /** The members, in no particular order. */
  keys(): number[] {
    const out: number[] = [];
    const table = this.table;
    for (let i = 0; i < table.length; i += 2) if (table[i] !== EMPTY) out.push(table[i]!);
    return out;
  }

  /** Whether members were turned away within the live epochs: the size is then a lower bound. */
  atLeast(oldest: number): boolean {
    return this.fullEpoch >= oldest;
  }

  /** Puts a port known to be absent into the first free slot of its probe. */
  private place(port: number, value: number): void {
    const table = this.table;
    let slot = this.slotOf(port);
    while (table[2 * slot] !== EMPTY) slot = (slot + 1) & this.mask;
    table[2 * slot] = port;
    table[2 * slot + 1] = value;
  }

  /** Where a port's probe starts: the top bits of a multiplicative hash. */
  private slotOf(port: number): number {
    return Math.imul(port, 0x9e3779b1) >>> this.shift;
  }

  private grow(): void {
    const old = this.table;
    this.resize(2 * (this.mask + 1));
    for (let i = 0; i < old.length; i += 2) if (old[i] !== EMPTY) this.place(old[i]!, old[i + 1]!);
  }

  private resize(slots: number): void {
    this.table = newTable(slots);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
  }
}

function newTable(slots: number): Int32Array {
  return new Int32Array(2 * slots).fill(EMPTY);
}
