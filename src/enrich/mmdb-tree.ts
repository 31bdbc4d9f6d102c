// A MaxMind DB search tree walked on numbers: which data record an IPv4 address (an integer) or
// an IPv6 address (its eight groups) leads to, without making the address bytes, a string or an
// object. mmdb-lib answers the same question from a string (parse, then a bit test and a generic
// record read per level); in a spoofed flood nearly every address is new, so that walk ran per
// packet.
//
// The layout is the MaxMind DB format's (https://maxmind.github.io/MaxMind-DB/): nodeCount nodes
// of two records of 24, 28 or 32 bits, left for a 0 bit and right for a 1 bit; a record equal to
// nodeCount means "no data", one above it points into the data section. In an IPv6 tree the IPv4
// space is the subtree after 96 zero bits.

/** No data record: the address is in no network the database describes. */
export const NO_RECORD = 0;

/** Where the walk stands after an address's first 16 bits, by those bits; UNWALKED until first needed. */
const UNWALKED = -1;

export class SearchTree {
  private readonly nodeBytes: number;
  /** Where the IPv4 space starts: the root, or after 96 zero bits in an IPv6 tree. */
  private readonly start: number;
  private readonly ipv6: boolean;
  /**
   * The node (or record) reached after each IPv4 /16's 16 bits, so a lookup walks only the last 16
   * bits at most: 512 KB (records may use all 32 bits), filled as /16s are met.
   */
  private readonly after16 = new Float64Array(65_536).fill(UNWALKED);
  /** The same for the first 16 bits of IPv6 addresses; made at the first IPv6 lookup. */
  private ipv6After16: Float64Array | null = null;

  /**
   * `tree` holds at least the search tree (nodeCount nodes). Throws on a record size the format
   * does not have.
   */
  constructor(
    private readonly tree: Buffer,
    private readonly nodeCount: number,
    private readonly recordSize: number,
    ipVersion: number,
  ) {
    if (recordSize !== 24 && recordSize !== 28 && recordSize !== 32) throw new Error(`unsupported record size ${recordSize}`);
    this.nodeBytes = recordSize / 4;
    this.ipv6 = ipVersion === 6;
    let node = 0;
    if (ipVersion === 6) for (let i = 0; i < 96 && node < nodeCount; i++) node = this.child(node, 0);
    this.start = node;
  }

  /**
   * The data record (a value above nodeCount, the same one mmdb-lib resolves for the address) an
   * IPv4 address given as an unsigned 32-bit number leads to, or NO_RECORD.
   */
  recordOfIpv4(v4: number): number {
    const nodeCount = this.nodeCount;
    const high = v4 >>> 16;
    let node = this.after16[high]!;
    if (node === UNWALKED) {
      node = this.walk(this.start, high, 16);
      this.after16[high] = node;
    }
    if (node < nodeCount) node = this.walk(node, v4 & 0xffff, 16);
    // A tree that ends in a node after 32 bits is damaged; no record either way.
    return node > nodeCount ? node : NO_RECORD;
  }

  /**
   * The data record an IPv6 address given as its eight 16-bit groups leads to, or NO_RECORD (also
   * from an IPv4-only tree, which has no IPv6 space).
   */
  recordOfIpv6(groups: Uint16Array): number {
    if (!this.ipv6) return NO_RECORD;
    const nodeCount = this.nodeCount;
    const after16 = (this.ipv6After16 ??= new Float64Array(65_536).fill(UNWALKED));
    const high = groups[0]!;
    let node = after16[high]!;
    if (node === UNWALKED) {
      node = this.walk(0, high, 16);
      after16[high] = node;
    }
    for (let g = 1; g < 8 && node < nodeCount; g++) node = this.walk(node, groups[g]!, 16);
    // A tree that ends in a node after 128 bits is damaged; no record either way.
    return node > nodeCount ? node : NO_RECORD;
  }

  /** From `node`, the `bits` low bits of `value`, high bit first, until a record or the end. */
  private walk(node: number, value: number, bits: number): number {
    const nodeCount = this.nodeCount;
    if (this.recordSize === 24) {
      // The common layout (DB-IP, GeoLite2 Country), without a call per level.
      const b = this.tree;
      for (let bit = bits - 1; bit >= 0 && node < nodeCount; bit--) {
        const o = node * 6 + ((value >>> bit) & 1) * 3;
        node = (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
      }
      return node;
    }
    for (let bit = bits - 1; bit >= 0 && node < nodeCount; bit--) node = this.child(node, (value >>> bit) & 1);
    return node;
  }

  /** Record `side` (0 left, 1 right) of node `node`. Bytes beyond a damaged tree read as 0. */
  private child(node: number, side: number): number {
    const b = this.tree;
    const at = node * this.nodeBytes;
    switch (this.recordSize) {
      case 24: {
        const o = at + side * 3;
        return ((b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!) >>> 0;
      }
      case 28:
        return side === 0
          ? (((b[at + 3]! & 0xf0) << 20) | (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!) >>> 0
          : (((b[at + 3]! & 0x0f) << 24) | (b[at + 4]! << 16) | (b[at + 5]! << 8) | b[at + 6]!) >>> 0;
      default: {
        const o = at + side * 4;
        return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
      }
    }
  }
}
