// A stored source as a number, and a searched address or CIDR as a range of such numbers, so an
// address filter is one indexed BETWEEN: IPv4 as an unsigned 32-bit integer, an IPv6 network as
// its 16 bytes (blobs compare bytewise, which is numeric order for equal lengths). Pure.
import { maskIpv6Groups, parseCidr, parseIPv4, parseIPv6 } from '../util/ip.js';

export type AddressValue = number | Buffer;

/**
 * The `addr` column of a source key ("203.0.113.7", "2001:db8:1:2::/64", a folded network's
 * "198.0.0.0/8"): its (first) address; null when neither.
 */
export function sourceAddr(key: string, scratch: Uint16Array): AddressValue | null {
  const slash = key.indexOf('/');
  const end = slash < 0 ? key.length : slash;
  const v4 = parseIPv4(key, 0, end);
  if (v4 >= 0) return v4;
  if (!parseIPv6(slash < 0 ? key : key.slice(0, slash), scratch)) return null;
  return groupsToBytes(scratch);
}

function groupsToBytes(groups: Uint16Array): Buffer {
  const bytes = Buffer.allocUnsafe(16);
  for (let g = 0; g < 8; g++) bytes.writeUInt16BE(groups[g]!, g * 2);
  return bytes;
}

/**
 * The [low, high] range of `addr` values a search for `text` covers. An IPv6 address or network
 * narrower than the stored prefix finds the stored network that holds it. An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) is searched as IPv4. Null when `text` is not an address or CIDR.
 */
export function addressRange(text: string, ipv6PrefixLength: number): { low: AddressValue; high: AddressValue } | null {
  const c = parseCidr(text.trim());
  if (c === null) return null;
  let v6 = c.v6;
  let bits = c.bits;
  if (c.family === 6 && bits >= 96 && v6[0] === 0 && v6[1] === 0 && v6[2] === 0 && v6[3] === 0 && v6[4] === 0 && v6[5] === 0xffff) {
    const v4 = (v6[6]! * 65536 + v6[7]!) >>> 0;
    return ipv4Range(v4, bits - 96);
  }
  if (c.family === 4) return ipv4Range(c.v4, bits);
  if (bits > ipv6PrefixLength) {
    bits = ipv6PrefixLength;
    v6 = maskIpv6Groups(v6, bits, new Uint16Array(8));
  }
  const high = new Uint16Array(8);
  for (let g = 0; g < 8; g++) {
    const keep = Math.max(0, Math.min(16, bits - g * 16));
    const hostMask = keep === 16 ? 0 : 0xffff >>> keep;
    high[g] = (v6[g]! | hostMask) & 0xffff;
  }
  return { low: groupsToBytes(v6), high: groupsToBytes(high) };
}

/**
 * The `addr` of the network of `bits` (IPv4) or `ipv6Bits` (IPv6) that holds `value`: where a
 * row folding that network's sources seen once is stored (sightings.ts).
 */
export function networkStart(value: AddressValue, bits: number, ipv6Bits: number): AddressValue {
  if (typeof value === 'number') {
    const size = 2 ** (32 - bits);
    return Math.floor(value / size) * size;
  }
  const bytes = Buffer.alloc(16);
  const whole = ipv6Bits >>> 3;
  value.copy(bytes, 0, 0, whole);
  if (ipv6Bits % 8 !== 0) bytes[whole] = value[whole]! & (0xff << (8 - (ipv6Bits % 8)));
  return bytes;
}

function ipv4Range(network: number, bits: number): { low: number; high: number } {
  const size = 2 ** (32 - bits);
  const low = Math.floor(network / size) * size;
  return { low, high: low + size - 1 };
}

