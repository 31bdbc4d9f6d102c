// Tally's counts for integer keys (protocols, ports, initial TTLs, fingerprint shape codes):
// (key, count) pairs with open addressing in typed arrays instead of a Map. Four of a packet's
// counts have such keys, and a Map hashes and probes for each (Map lookups were the largest native
// cost of a normal corpus); here a lookup is a multiply, a shift and one or two reads of the same
// cache line. The keys are also kept in the order they came, so an interval's Maps are filled
// exactly as Tally fills them.

/** A free slot's key: no count is kept for it (keys are −1 for "absent" up to 2^26 for shape codes). */
const EMPTY = -0x8000_0000;
/** Slots a tally starts with (an interval sees a few protocols, TTLs and shapes; ports grow it). */
const INITIAL_SLOTS = 16;

export class IntTally {
  /** Keys by slot (EMPTY: free). */
  private keys = new Int32Array(INITIAL_SLOTS).fill(EMPTY);
  /** Counts by slot: doubles, exact past 2^32 events of one key. */
  private counts = new Float64Array(INITIAL_SLOTS);
  /** Slots − 1 (a power of two less one). */
  private mask = INITIAL_SLOTS - 1;
  /** 32 − log2(slots): the hash's top bits pick the slot. */
  private shift = 32 - Math.log2(INITIAL_SLOTS);
  /** Keys in the order they were first counted. */
  private readonly order: number[] = [];

  /** Distinct keys counted. */
  get size(): number {
    return this.order.length;
  }

  has(key: number): boolean {
    return this.keys[this.slotOf(key)] === key;
  }

  /** Counts one event of `key`, an integer of 32 bits but −2^31. */
  add(key: number): void {
    if ((key | 0) !== key || key === EMPTY) throw new RangeError(`IntTally key ${key} is not an integer of 32 bits`);
    const slot = this.slotOf(key);
    if (this.keys[slot] === key) {
      this.counts[slot]!++;
      return;
    }
    this.keys[slot] = key;
    this.counts[slot] = 1;
    this.order.push(key);
    // At most half full, so a probe soon meets a free slot.
    if (2 * this.order.length > this.mask + 1) this.grow();
  }

  /** The keys counted, in the order they first came. */
  keysInOrder(): readonly number[] {
    return this.order;
  }

  /** How many events of `key` were counted (0: none). */
  count(key: number): number {
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? this.counts[slot]! : 0;
  }

  /** Adds every count to `into`'s (keys new to it in the order they came here). */
  addTo(into: Map<number, number>): void {
    this.addMappedTo(into, (key) => key);
  }

  /** The same with each key made another (fingerprint shape codes to their keys). */
  addMappedTo<T>(into: Map<T, number>, keyOf: (key: number) => T): void {
    for (const key of this.order) {
      const mapped = keyOf(key);
      into.set(mapped, (into.get(mapped) ?? 0) + this.counts[this.slotOf(key)]!);
    }
  }

  /** The slot holding `key`, or the free slot where its probe ends. */
  private slotOf(key: number): number {
    const keys = this.keys;
    let slot = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = keys[slot]!;
      if (k === key || k === EMPTY) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  private grow(): void {
    const keys = this.keys;
    const counts = this.counts;
    const slots = 2 * keys.length;
    this.keys = new Int32Array(slots).fill(EMPTY);
    this.counts = new Float64Array(slots);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === EMPTY) continue;
      const slot = this.slotOf(keys[i]!);
      this.keys[slot] = keys[i]!;
      this.counts[slot] = counts[i]!;
    }
  }
}
