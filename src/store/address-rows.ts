// The recorder's rows by source address as logged: IPv4 addresses by number in an Ipv4Index, any
// other text in a Map. A flood's new sources each took a Map insert keyed by a fresh string (a
// third of the time of giving a source its row); an index slot is a write into one array.
import { parseIPv4 } from '../util/ip.js';
import { ABSENT, Ipv4Index } from '../util/ipv4-index.js';

export class AddressRows {
  private readonly v4 = new Ipv4Index();
  private readonly others = new Map<string, number>();

  /** The row of `address`, undefined for none. */
  get(address: string): number | undefined {
    const v4 = parseIPv4(address, 0, address.length);
    if (v4 < 0) return this.others.get(address);
    const row = this.v4.get(v4);
    return row === ABSENT ? undefined : row;
  }

  has(address: string): boolean {
    return this.get(address) !== undefined;
  }

  /** Sets the row (0 … 2^31 − 2) of `address`. */
  set(address: string, row: number): void {
    const v4 = parseIPv4(address, 0, address.length);
    if (v4 < 0) this.others.set(address, row);
    else this.v4.set(v4, row);
  }

  get size(): number {
    return this.v4.size + this.others.size;
  }

  clear(): void {
    this.v4.clear();
    this.others.clear();
  }
}
