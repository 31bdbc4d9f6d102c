// IPv4 addresses (as unsigned 32-bit numbers) to small non-negative integers, in one typed array.
//
// A Map keyed by the address text was most of the tracker's time on a spoofed flood: each packet
// missed (a walk of a hash chain, loading every key string on it from wherever it lives), inserted,
// and evicted an old source (another walk). Here a key and its value sit side by side in one
// array, so a lookup, hit or miss, reads one or two neighbouring slots.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones, so a table that
// turns over a million sources stays as fast as a new one). Every key is attacker-chosen (a
// spoofed source), so the slot comes from a hash seeded at random per table: addresses cannot be
// picked to pile up on one slot.
import { mix32 } from './hash.js';

/** A value the index answers for a key it does not hold. */
export const ABSENT = -1;

/** Slots a new index has; it doubles when half full. */
const INITIAL_SLOTS = 1024;

export class Ipv4Index {
  /** Per slot two int32s: the key (the address's bits) and value + 1 (0: a free slot). */
  private slots = new Int32Array(2 * INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private readonly seed: number;
  size = 0;

  constructor(seed: number = (Math.random() * 0x1_0000_0000) >>> 0) {
    this.seed = seed | 0;
  }

  /** The value of `address` (0 … 2^32 − 1), ABSENT when not held. */
  get(address: number): number {
    const slots = this.slots;
    const key = address | 0;
    for (let i = this.home(key); ; i = (i + 1) & this.mask) {
      const held = slots[2 * i + 1]!;
      if (held === 0) return ABSENT;
      if (slots[2 * i] === key) return held - 1;
    }
  }

  /** Sets the value (0 … 2^31 − 2) of `address`. */
  set(address: number, value: number): void {
    const key = address | 0;
    const slots = this.slots;
    let i = this.home(key);
    for (; ; i = (i + 1) & this.mask) {
      const held = slots[2 * i + 1]!;
      if (held === 0) break;
      if (slots[2 * i] === key) {
        slots[2 * i + 1] = value + 1;
        return;
      }
    }
    if (2 * (this.size + 1) > this.mask + 1) {
      this.grow();
      this.set(address, value);
      return;
    }
    slots[2 * i] = key;
    slots[2 * i + 1] = value + 1;
    this.size++;
  }

  /** Removes `address`; whether it was held. */
  delete(address: number): boolean {
    const key = address | 0;
    const slots = this.slots;
    const mask = this.mask;
    let i = this.home(key);
    for (; ; i = (i + 1) & mask) {
      if (slots[2 * i + 1] === 0) return false;
      if (slots[2 * i] === key) break;
    }
    // Backward shift: move up each later key of the run that may sit in the freed slot.
    for (let j = (i + 1) & mask; slots[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = this.home(slots[2 * j]!);
      // Whether j's home lies cyclically in (i, j]: then it must stay.
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      slots[2 * i] = slots[2 * j]!;
      slots[2 * i + 1] = slots[2 * j + 1]!;
      i = j;
    }
    slots[2 * i] = 0;
    slots[2 * i + 1] = 0;
    this.size--;
    return true;
  }

  /** Removes every key. */
  clear(): void {
    this.slots.fill(0);
    this.size = 0;
  }

  /** Bytes the table takes. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  /** The key's first slot: its bits mixed with the seed. */
  private home(key: number): number {
    return mix32(key ^ this.seed) & this.mask;
  }

  private grow(): void {
    const old = this.slots;
    const count = old.length; // twice the old number of slots: the new one's
    this.slots = new Int32Array(2 * count);
    this.mask = count - 1;
    const slots = this.slots;
    for (let k = 0; k < old.length; k += 2) {
      const held = old[k + 1]!;
      if (held === 0) continue;
      let i = this.home(old[k]!);
      while (slots[2 * i + 1] !== 0) i = (i + 1) & this.mask;
      slots[2 * i] = old[k]!;
      slots[2 * i + 1] = held;
    }
  }
}
