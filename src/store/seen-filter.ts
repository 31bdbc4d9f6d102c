// Which sources were seen this hour, in constant memory whatever a flood's size: a Bloom filter
// (three bits a source, all in one 32-bit word). "Not seen" is certain until the filter is emptied;
// "seen" is wrong a few times in a thousand (measured: 0.4 % at a million sources in 2^25 bits). Once half
// its bits are set it starts empty again, so it never saturates into "everything was seen": a
// source seen before that then counts as new once more. Pure, no I/O.
//
// Its first sources are kept in a set instead, exactly, and the bits are made only when there are
// more of them (EXACT_SOURCES, or fewer for a small filter): most hours of most firewalls have a
// few thousand sources, and the bits' pages (4 MiB as the history uses it) were each touched for
// the first time by one of the hour's first sources, a page fault apiece.
import { mix32 } from '../util/hash.js';

/** FNV-1a of a string's UTF-16 units (IPv6 networks as text). */
export function hashText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A hash of two 32-bit words (an IPv6 network's, network64-index.ts). */
export function hashWords(high: number, low: number): number {
  return mix32(Math.imul(mix32(high), 0x9e3779b1) ^ low);
}

/** The three bits of a hash's word. */
function bitsOf(h: number): number {
  const g = mix32(h ^ 0x5bd1e995);
  return (1 << (g >>> 27)) | (1 << ((g >>> 22) & 31)) | (1 << ((g >>> 17) & 31));
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Sources kept exactly before the bits are made. */
const EXACT_SOURCES = 16_384;

export class SeenFilter {
  /** The bits, once made (null while the sources are few enough for `exact`). */
  private words: Uint32Array | null = null;
  private readonly log2Bits: number;
  private readonly wordMask: number;
  private readonly halfBits: number;
  private setBits = 0;
  /** The sources while they are few: their hashes. */
  private readonly exact = new Set<number>();
  /** Sources kept in `exact` at most: a 32nd of the bits, EXACT_SOURCES at most. */
  private readonly exactMax: number;
  /** Times it was emptied for being half full. */
  emptied = 0;

  /** 2^log2Bits bits (at least 2^5). */
  constructor(log2Bits: number) {
    if (!Number.isInteger(log2Bits) || log2Bits < 5 || log2Bits > 31) throw new RangeError(`SeenFilter: log2Bits from 5 to 31, not ${log2Bits}`);
    this.log2Bits = log2Bits;
    this.wordMask = 2 ** (log2Bits - 5) - 1;
    this.halfBits = 2 ** (log2Bits - 1);
    this.exactMax = Math.min(EXACT_SOURCES, 2 ** (log2Bits - 5));
  }

  /** Whether a source with this hash was (probably) seen, without making it seen. */
  has(hash: number): boolean {
    const words = this.words;
    if (words === null) return this.exact.has(hash);
    const h = mix32(hash);
    const bits = bitsOf(h);
    return (words[h & this.wordMask]! & bits) === bits;
  }

  /** Whether a source with this hash was (probably) seen; it is seen from now on. */
  testAndAdd(hash: number): boolean {
    if (this.words === null) {
      if (this.exact.has(hash)) return true;
      this.exact.add(hash);
      if (this.exact.size > this.exactMax) this.makeBits();
      return false;
    }
    return this.addBits(hash);
  }

  /** Empties it (an hour's end): back to a set, the bits dropped. */
  clear(): void {
    this.exact.clear();
    this.words = null;
    this.setBits = 0;
  }

  /**
   * The bits of every source in the set, which is emptied. They cannot fill half the bits: three
   * bits for each of at most one source more than there are words.
   */
  private makeBits(): void {
    this.words = new Uint32Array(2 ** (this.log2Bits - 5));
    const hashes = [...this.exact];
    this.exact.clear();
    for (const hash of hashes) this.addBits(hash);
  }

  private addBits(hash: number): boolean {
    const words = this.words!;
    // Blocked: the three bits are in one word, so a test costs one cache miss, not three.
    const h = mix32(hash);
    const word = h & this.wordMask;
    const bits = bitsOf(h);
    const w = words[word]!;
    if ((w & bits) === bits) return true;
    words[word] = w | bits;
    this.setBits += popcount(bits & ~w);
    if (this.setBits > this.halfBits) {
      this.clear();
      this.emptied++;
    }
    return false;
  }
}
