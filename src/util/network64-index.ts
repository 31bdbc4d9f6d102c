// IPv6 networks of up to 64 bits (as two 32-bit words, the network's first and second half) to
// small non-negative integers, in one typed array: as Ipv4Index (ipv4-index.ts) does for IPv4
// addresses, for the tracker's IPv6 sources. A spoofed IPv6 flood brings a new /64 with every
// packet; keyed by the network's text, each packet made that text and missed, inserted and
// evicted in a Map by it.
//
// Open addressing with linear probing and backward-shift deletion; the slot comes from a hash
// seeded at random per table (every key is attacker-chosen).
import { mix32 } from './hash.js';
import { ABSENT } from './ipv4-index.js';

/**
 * The network an IPv6 address is in, of `bits` (64 or fewer), as this index's key: take() sets
 * `high` and `low` from the address's eight groups (the tracker's and the history's IPv6 sources).
 */
export class Network64Key {
  high = 0;
  low = 0;
  private readonly highMask: number;
  private readonly lowMask: number;

  constructor(bits: number) {
    this.highMask = bits >= 32 ? -1 : ~(0xffffffff >>> bits);
    this.lowMask = bits >= 64 ? -1 : bits <= 32 ? 0 : ~(0xffffffff >>> (bits - 32));
  }

  take(groups: Uint16Array): void {
    this.high = ((groups[0]! << 16) | groups[1]!) & this.highMask;
    this.low = ((groups[2]! << 16) | groups[3]!) & this.lowMask;
  }
}

/** Slots a new index has; it doubles when half full. */
const INITIAL_SLOTS = 1024;
/** Int32s per slot: the key's two words and value + 1 (0: a free slot). */
const STRIDE = 3;

export class Network64Index {
  private slots = new Int32Array(STRIDE * INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private readonly seed: number;
  size = 0;

  constructor(seed: number = (Math.random() * 0x1_0000_0000) >>> 0) {
    this.seed = seed | 0;
  }

  /** The value of the network `high`:`low` (each 0 … 2^32 − 1), ABSENT when not held. */
  get(high: number, low: number): number {
    const slots = this.slots;
    const h = high | 0;
    const l = low | 0;
    for (let i = this.home(h, l); ; i = (i + 1) & this.mask) {
      const at = STRIDE * i;
      const held = slots[at + 2]!;
      if (held === 0) return ABSENT;
      if (slots[at] === h && slots[at + 1] === l) return held - 1;
    }
  }

  /** Sets the value (0 … 2^31 − 2) of the network `high`:`low`. */
  set(high: number, low: number, value: number): void {
    const h = high | 0;
    const l = low | 0;
    const slots = this.slots;
    let i = this.home(h, l);
    for (; ; i = (i + 1) & this.mask) {
      const at = STRIDE * i;
      if (slots[at + 2] === 0) break;
      if (slots[at] === h && slots[at + 1] === l) {
        slots[at + 2] = value + 1;
        return;
      }
    }
    if (2 * (this.size + 1) > this.mask + 1) {
      this.grow();
      this.set(high, low, value);
      return;
    }
    const at = STRIDE * i;
    slots[at] = h;
    slots[at + 1] = l;
    slots[at + 2] = value + 1;
    this.size++;
  }

  /** Removes the network `high`:`low`; whether it was held. */
  delete(high: number, low: number): boolean {
    const h = high | 0;
    const l = low | 0;
    const slots = this.slots;
    const mask = this.mask;
    let i = this.home(h, l);
    for (; ; i = (i + 1) & mask) {
      const at = STRIDE * i;
      if (slots[at + 2] === 0) return false;
      if (slots[at] === h && slots[at + 1] === l) break;
    }
    // Backward shift: move up each later key of the run that may sit in the freed slot.
    for (let j = (i + 1) & mask; slots[STRIDE * j + 2] !== 0; j = (j + 1) & mask) {
      const home = this.home(slots[STRIDE * j]!, slots[STRIDE * j + 1]!);
      // Whether j's home lies cyclically in (i, j]: then it must stay.
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      slots.copyWithin(STRIDE * i, STRIDE * j, STRIDE * j + STRIDE);
      i = j;
    }
    slots.fill(0, STRIDE * i, STRIDE * i + STRIDE);
    this.size--;
    return true;
  }

  /** Bytes the table takes. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  /** The key's first slot: both words mixed with the seed. */
  private home(high: number, low: number): number {
    return mix32(Math.imul(mix32(high ^ this.seed), 0x9e3779b1) ^ low) & this.mask;
  }

  private grow(): void {
    const old = this.slots;
    const count = (2 * old.length) / STRIDE; // the new number of slots
    this.slots = new Int32Array(STRIDE * count);
    this.mask = count - 1;
    const slots = this.slots;
    for (let k = 0; k < old.length; k += STRIDE) {
      if (old[k + 2] === 0) continue;
      let i = this.home(old[k]!, old[k + 1]!);
      while (slots[STRIDE * i + 2] !== 0) i = (i + 1) & this.mask;
      slots.set(old.subarray(k, k + STRIDE), STRIDE * i);
    }
  }
}
