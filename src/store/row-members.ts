// Which ports and hosts the rows of a pending batch hold beyond their first, in one open-addressing
// table for the whole batch. The recorder keeps each row's members in arrays (their order is what
// is stored), and asking an array whether it holds a port took three dependent reads (the row's
// More, its array, the array's elements) and a scan: 60 % of the recorder's time on a normal
// corpus. Here a member that is there, as most are, is found with one read of one slot.
//
// A key is (row, set, value) packed in a double: row < 2^24, set 0 or 1, value < 2^26. Rows and
// values outside that are not kept (has() answers false, add() does nothing): the caller asks its
// array for those.

/** Rows and values a key can hold. */
export const MAX_ROWS = 2 ** 24;
export const MAX_VALUE = 2 ** 26;
/** Slots a table starts with; it doubles when half full. */
const INITIAL_SLOTS = 1024;

export class RowMembers {
  /** Keys + 1 (0: a free slot). */
  private keys = new Float64Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private shift = 32 - Math.log2(INITIAL_SLOTS);
  size = 0;

  /** Whether row `row`'s set `set` (0 or 1) holds `value`, as added. */
  has(row: number, set: number, value: number): boolean {
    if (row >= MAX_ROWS || value >= MAX_VALUE) return false;
    const key = keyOf(row, set, value);
    const keys = this.keys;
    let slot = slotOf(row, set, value, this.shift);
    for (;;) {
      const k = keys[slot]!;
      if (k === key) return true;
      if (k === 0) return false;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Adds a member known to be absent. */
  add(row: number, set: number, value: number): void {
    if (row >= MAX_ROWS || value >= MAX_VALUE) return;
    if (2 * (this.size + 1) > this.mask + 1) this.grow();
    this.size++;
    this.place(keyOf(row, set, value), slotOf(row, set, value, this.shift));
  }

  /** Bytes the table takes. */
  get bytes(): number {
    return this.keys.byteLength;
  }

  private place(key: number, slot: number): void {
    const keys = this.keys;
    while (keys[slot] !== 0) slot = (slot + 1) & this.mask;
    keys[slot] = key;
  }

  private grow(): void {
    const old = this.keys;
    const slots = 2 * old.length;
    this.keys = new Float64Array(slots);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
    for (let i = 0; i < old.length; i++) {
      const key = old[i]!;
      if (key === 0) continue;
      const packed = key - 1;
      const value = packed % MAX_VALUE;
      const rowSet = (packed - value) / MAX_VALUE;
      this.place(key, slotOf(rowSet >>> 1, rowSet & 1, value, this.shift));
    }
  }
}

function keyOf(row: number, set: number, value: number): number {
  return (row * 2 + set) * MAX_VALUE + value + 1;
}

/** The top bits of a multiplicative hash of the parts (no 64-bit integer arithmetic in JS). */
function slotOf(row: number, set: number, value: number, shift: number): number {
  return Math.imul((row * 2 + set) ^ Math.imul(value, 0x9e3779b1), 0x85ebca6b) >>> shift;
}
