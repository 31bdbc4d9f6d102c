// Small integer hashes for the tables keyed by attacker-chosen addresses. Pure.

/** murmur3's 32-bit finaliser: spreads an address's bits over the whole word. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
