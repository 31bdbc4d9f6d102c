// Special-purpose IP address ranges: addresses GeoIP must label rather than look up.
//
// Sources: RFC 6890 (Special-Purpose IP Address Registries, updated by RFC 8190) and the IANA
// registries it created, "IANA IPv4 Special-Purpose Address Registry"
// (https://www.iana.org/assignments/iana-ipv4-special-registry/) and "IANA IPv6 Special-Purpose
// Address Registry" (https://www.iana.org/assignments/iana-ipv6-special-registry/), plus the IANA
// IPv6 Address Space registry (only 2000::/3 is allocated for global unicast).
//
// Labels:
//   'private'  — addresses a site uses internally: RFC 1918, IPv6 ULA (RFC 4193), CGNAT shared
//                space (RFC 6598), loopback, link-local (RFC 3927, RFC 4291).
//   'reserved' — the rest of the special-purpose registries whose entries are not globally
//                reachable: "this network", documentation, benchmarking, IETF protocol
//                assignments, multicast, the reserved 240/4 and broadcast, NAT64, discard, and IPv6
//                space outside 2000::/3.
//   ''         — a global address: look it up. Registry entries marked "Globally Reachable: True"
//                (AS112, AMT, PCP/TURN anycast, ORCHIDv2, DET) are global here too.
//
// The addresses are read by util/ip's parsers (hand-written, no regex, no allocation, each
// remembering the last address: the owner lookup, the tracker and the history ask for the same one).
import { ipv4Number, parseIPv6 } from '../util/ip.js';

export type RangeLabel = 'private' | 'reserved' | '';

/** The 8 groups of the last IPv6 address parsed (reused: not reentrant, and needs not be). */
const words = new Uint16Array(8);

/** Label of an IPv4 address given as an unsigned 32-bit number (see ipv4Value; IANA IPv4 special-purpose registry). */
export function classifyIpv4(a: number): RangeLabel {
  const o1 = Math.floor(a / 16777216); // first octet, without sign trouble from >>
  const o2 = Math.floor(a / 65536) % 256;
  const o3 = Math.floor(a / 256) % 256;
  switch (o1) {
    case 0:
      return 'reserved'; // 0.0.0.0/8 "this network" (RFC 791, RFC 1122 §3.2.1.3)
    case 10:
      return 'private'; // 10.0.0.0/8 (RFC 1918)
    case 100:
      return o2 >= 64 && o2 <= 127 ? 'private' : ''; // 100.64.0.0/10 shared address space, CGNAT (RFC 6598)
    case 127:
      return 'private'; // 127.0.0.0/8 loopback (RFC 1122 §3.2.1.3)
    case 169:
      return o2 === 254 ? 'private' : ''; // 169.254.0.0/16 link-local (RFC 3927)
    case 172:
      return o2 >= 16 && o2 <= 31 ? 'private' : ''; // 172.16.0.0/12 (RFC 1918)
    case 192:
      if (o2 === 168) return 'private'; // 192.168.0.0/16 (RFC 1918)
      if (o2 === 0 && o3 === 0) {
        // 192.0.0.0/24 IETF protocol assignments (RFC 6890 §2.1), not globally reachable, except the
        // PCP anycast 192.0.0.9/32 (RFC 7723) and TURN anycast 192.0.0.10/32 (RFC 8155).
        const o4 = a % 256;
        return o4 === 9 || o4 === 10 ? '' : 'reserved';
      }
      if (o2 === 0 && o3 === 2) return 'reserved'; // 192.0.2.0/24 TEST-NET-1 (RFC 5737)
      if (o2 === 88 && o3 === 99) return 'reserved'; // 192.88.99.0/24 deprecated 6to4 relay anycast (RFC 7526)
      return '';
    case 198:
      if (o2 === 18 || o2 === 19) return 'reserved'; // 198.18.0.0/15 benchmarking (RFC 2544)
      if (o2 === 51 && o3 === 100) return 'reserved'; // 198.51.100.0/24 TEST-NET-2 (RFC 5737)
      return '';
    case 203:
      return o2 === 0 && o3 === 113 ? 'reserved' : ''; // 203.0.113.0/24 TEST-NET-3 (RFC 5737)
    default:
      // 224.0.0.0/4 multicast (RFC 5771), 240.0.0.0/4 reserved (RFC 1112 §4), which holds the
      // limited broadcast 255.255.255.255/32 (RFC 919, RFC 8190).
      return o1 >= 224 ? 'reserved' : '';
  }
}

/** Label of the IPv6 address in `words` (IANA IPv6 special-purpose registry, IPv6 address space). */
function classifyIpv6(): RangeLabel {
  const w0 = words[0] ?? 0;
  const w1 = words[1] ?? 0;
  if ((w0 & 0xe000) === 0x2000) {
    // 2000::/3, global unicast (RFC 4291 §2.4), but for these special-purpose blocks:
    if (w0 === 0x2001) {
      if (w1 === 0x0db8) return 'reserved'; // 2001:db8::/32 documentation (RFC 3849)
      if (w1 < 0x0200) {
        // 2001::/23 IETF protocol assignments (RFC 2928): not globally reachable (this includes
        // Teredo 2001::/32, benchmarking 2001:2::/48, the deprecated ORCHID 2001:10::/28), except:
        if (w1 === 0x0001) {
          // 2001:1::1/128 PCP anycast, 2001:1::2/128 TURN anycast, 2001:1::3/128 DNS-SD SRP anycast
          const w7 = words[7] ?? 0;
          if (words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0 && words[6] === 0 && w7 >= 1 && w7 <= 3) return '';
          return 'reserved';
        }
        if (w1 === 0x0003) return ''; // 2001:3::/32 AMT (RFC 7450)
        if (w1 === 0x0004 && words[2] === 0x0112) return ''; // 2001:4:112::/48 AS112-v6 (RFC 7535)
        if (w1 >= 0x0020 && w1 <= 0x003f) return ''; // 2001:20::/28 ORCHIDv2 (RFC 7343), 2001:30::/28 DET (RFC 9374)
        return 'reserved';
      }
      return '';
    }
    if (w0 === 0x3fff && w1 < 0x1000) return 'reserved'; // 3fff::/20 documentation (RFC 9637)
    return '';
  }
  if ((w0 & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local (RFC 4193)
  if ((w0 & 0xffc0) === 0xfe80) return 'private'; // fe80::/10 link-local (RFC 4291)
  if ((w0 & 0xff00) === 0xff00) return 'reserved'; // ff00::/8 multicast (RFC 4291 §2.7)
  if (w0 === 0 && w1 === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0) {
    const w5 = words[5] ?? 0;
    const w6 = words[6] ?? 0;
    const w7 = words[7] ?? 0;
    // ::ffff:0:0/96 IPv4-mapped (RFC 4291 §2.5.5.2): the embedded IPv4 address decides.
    if (w5 === 0xffff) return classifyIpv4(w6 * 65536 + w7);
    if (w5 === 0 && w6 === 0 && w7 === 1) return 'private'; // ::1/128 loopback
    return 'reserved'; // ::/128 unspecified; the rest of ::/96 is the deprecated IPv4-compatible form
  }
  // Everything else outside 2000::/3 is not global unicast: 64:ff9b::/96 NAT64 (RFC 6052),
  // 64:ff9b:1::/48 local NAT64 (RFC 8215), 100::/64 discard-only (RFC 6666), 5f00::/16 SRv6 SIDs
  // (RFC 9602), the deprecated site-local fec0::/10 (RFC 3879), and space IANA has not allocated.
  return 'reserved';
}

/**
 * classifyIp for IPv6 text, its eight groups left in `groups` (for a lookup by number); null when
 * `ip` is not an IPv6 address.
 */
export function classifyIpv6Into(ip: string, groups: Uint16Array): RangeLabel | null {
  if (!parseIPv6(ip, words)) return null;
  groups.set(words);
  return classifyIpv6();
}

/**
 * Whether `ip` must be labelled rather than looked up: 'private', 'reserved', or '' for a global
 * address; null when `ip` is not an IPv4 or IPv6 address at all.
 */
export function classifyIp(ip: string): RangeLabel | null {
  for (let i = 0; i < ip.length; i++) {
    if (ip.charCodeAt(i) === 58 /* : */) return parseIPv6(ip, words) ? classifyIpv6() : null;
  }
  const v4 = ipv4Number(ip);
  return v4 < 0 ? null : classifyIpv4(v4);
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:192.0.2.1` or `::ffff:c000:201` →
 * "192.0.2.1"); '' for anything else. GeoIP databases index IPv4 under their own subtree, so a
 * mapped address is looked up as the IPv4 address it carries.
 */
export function mappedIpv4(ip: string): string {
  if (!parseIPv6(ip, words)) return '';
  if (words[0] !== 0 || words[1] !== 0 || words[2] !== 0 || words[3] !== 0 || words[4] !== 0 || words[5] !== 0xffff) return '';
  const w6 = words[6] ?? 0;
  const w7 = words[7] ?? 0;
  return `${w6 >> 8}.${w6 & 0xff}.${w7 >> 8}.${w7 & 0xff}`;
}
