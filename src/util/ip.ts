// IP address text → numbers, CIDRs and matchers, loopback names, and the network a tracked IPv6
// source is grouped by. Pure; used by the web filters and host checks, the config checks, the
// tracker and the block set's allowlist.

/**
 * An address's slot in a direct-mapped table of 2^(32 − shift) slots, from its length and last six
 * characters (an IPv4 address's last octet and the end of the one before): reading six characters
 * costs less than a Map's lookup of the string. The line scanner hands the same address over as
 * the same string, so a slot holding it is mostly found by identity.
 */
export function addressSlot(address: string, shift: number): number {
  const n = address.length;
  let h = n;
  for (let i = n > 6 ? n - 6 : 0; i < n; i++) h = h * 31 + address.charCodeAt(i);
  return Math.imul(h, 0x9e3779b1) >>> shift;
}

/** Dotted-quad IPv4 in text[start, end) → unsigned 32-bit number, or -1. Decimal only, no leading zeros. */
export function parseIPv4(text: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = start; i <= end; i++) {
    const ch = i === end ? 46 : text.charCodeAt(i);
    if (ch === 46) {
      if (digits === 0 || octet > 255) return -1;
      value = value * 256 + octet;
      parts++;
      if (parts > 4) return -1;
      octet = 0;
      digits = 0;
      continue;
    }
    const d = ch - 48;
    if (d < 0 || d > 9) return -1;
    if (digits === 1 && octet === 0) return -1; // leading zero: octal in some parsers, refuse
    octet = octet * 10 + d;
    if (++digits > 3) return -1;
  }
  return parts === 4 ? value : -1;
}

/** The last string ipv4Number() parsed and its answer. */
let lastIpv4Text = '';
let lastIpv4Value = -1;

/**
 * parseIPv4 of a whole string, the last answer remembered: one packet's source address is asked in
 * turn by the tracker, the owner and GeoIP lookups and the history, and in a spoofed flood each is
 * new (the same string object, so the comparison is one of pointers).
 */
export function ipv4Number(address: string): number {
  if (address === lastIpv4Text) return lastIpv4Value;
  const value = parseIPv4(address, 0, address.length);
  lastIpv4Text = address;
  lastIpv4Value = value;
  return value;
}

function hexValue(ch: number): number {
  if (ch >= 48 && ch <= 57) return ch - 48;
  if (ch >= 97 && ch <= 102) return ch - 87;
  if (ch >= 65 && ch <= 70) return ch - 55;
  return -1;
}

/** The last text parseIPv6() read, whether it is an IPv6 address, and its groups. */
let lastIpv6Text = '';
let lastIpv6Valid = false;
const lastIpv6Groups = new Uint16Array(8);

/**
 * RFC 4291 §2.2 text (with "::" and an IPv4 tail; a "%zone" of the characters net.isIP takes is
 * ignored) → eight groups in `out`; false when it is not an IPv6 address. The last answer is
 * remembered, as ipv4Number's: one packet's source address is asked in turn by GeoIP, the owner
 * lookup, the tracker and the history, and in a spoofed IPv6 flood each is new.
 */
export function parseIPv6(text: string, out: Uint16Array): boolean {
  if (text !== lastIpv6Text) {
    lastIpv6Valid = readIPv6(text, lastIpv6Groups);
    lastIpv6Text = text;
  }
  if (!lastIpv6Valid) return false;
  for (let g = 0; g < 8; g++) out[g] = lastIpv6Groups[g]!;
  return true;
}

/** A zone id (`%eth0`) from `start` to the end: one or more of [0-9A-Za-z.:-], as Node's net.isIP takes. */
function isZone(text: string, start: number): boolean {
  if (start >= text.length) return false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46)) return false;
  }
  return true;
}

/** parseIPv6 without the memory: writes `out` (partly, for text that is not an address). */
function readIPv6(text: string, out: Uint16Array): boolean {
  const pct = text.indexOf('%');
  const len = pct < 0 ? text.length : pct;
  if (len < 2 || len > 45 || (pct >= 0 && !isZone(text, pct + 1))) return false;
  let n = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < len) {
    if (n >= 8) return false;
    const start = i;
    let v = 0;
    let digits = 0;
    while (i < len) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      digits++;
      i++;
    }
    if (i < len && text.charCodeAt(i) === 46) {
      // Dotted IPv4 tail: the last 32 bits.
      if (n > 6) return false;
      const v4 = parseIPv4(text, start, len);
      if (v4 < 0) return false;
      out[n++] = v4 >>> 16;
      out[n++] = v4 & 0xffff;
      i = len;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    out[n++] = v;
    if (i === len) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < len && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === len) return false; // a single trailing colon
  }
  if (gap < 0) return n === 8;
  if (n >= 8) return false; // "::" stands for at least one group
  const tail = n - gap;
  for (let k = 0; k < tail; k++) out[7 - k] = out[n - 1 - k]!;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

/** Whether a host name is a loopback literal: a 127.0.0.0/8 dotted quad, [::1] or localhost. */
export function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name === '[::1]') return true;
  const v4 = parseIPv4(name, 0, name.length);
  return v4 >= 0 && v4 >>> 24 === 127;
}

/** The last address and prefix length ipv6Network() answered, and its answer. */
let lastNetworkAddress = '';
let lastNetworkBits = -1;
let lastNetwork: string | null = null;

/**
 * The /bits network of an IPv6 address as text ("2001:db8:1:2::/64"), or null when `address` is
 * not IPv6. `scratch` is room for the parsed groups (8 entries; reused by the caller, its contents
 * undefined after). The last answer is remembered: with networks longer than 64 bits the tracker
 * and the history each ask for a packet's (shorter ones they find by number).
 */
export function ipv6Network(address: string, bits: number, scratch: Uint16Array): string | null {
  if (address === lastNetworkAddress && bits === lastNetworkBits) return lastNetwork;
  const network = address.indexOf(':') < 0 || !parseIPv6(address, scratch) ? null : ipv6NetworkText(scratch, bits);
  lastNetworkAddress = address;
  lastNetworkBits = bits;
  lastNetwork = network;
  return network;
}

/**
 * ipv6Network for an address already parsed into `groups`, which are masked to the network's
 * `bits` in place.
 */
export function ipv6NetworkText(groups: Uint16Array, bits: number): string {
  maskIpv6Groups(groups, bits, groups);
  const parts = TEXT_PARTS;
  parts.length = 0;
  pushAddress(parts, groups);
  parts.push('/', String(bits));
  // Joined, the text is one flat string; concatenated, it was a tree of a dozen pieces, and a
  // tracked source keeps it as its address (100,000 IPv6 sources: 19 MB more heap).
  return parts.join('');
}

/** Eight IPv6 groups with all but their first `bits` bits zero, into `out` (which may be `groups`); returns `out`. */
export function maskIpv6Groups(groups: Uint16Array, bits: number, out: Uint16Array): Uint16Array {
  for (let g = 0; g < 8; g++) {
    const keep = Math.max(0, Math.min(16, bits - g * 16));
    out[g] = keep === 0 ? 0 : groups[g]! & (0xffff << (16 - keep)) & 0xffff;
  }
  return out;
}

/** Eight IPv6 groups as RFC 5952 text ("2001:db8::1"), as inet_ntop writes them. */
export function ipv6Text(groups: Uint16Array): string {
  const parts = TEXT_PARTS;
  parts.length = 0;
  pushAddress(parts, groups);
  return parts.join('');
}

/** The pieces of an address's or a network's text being made. */
const TEXT_PARTS: string[] = [];

/** RFC 5952: the longest run of two or more zero groups (the first of equals) becomes "::". */
function pushAddress(parts: string[], groups: Uint16Array): void {
  let runStart = -1;
  let runLength = 0;
  for (let g = 0; g < 8; ) {
    if (groups[g] !== 0) {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && groups[end] === 0) end++;
    if (end - g > runLength && end - g >= 2) {
      runStart = g;
      runLength = end - g;
    }
    g = end;
  }
  if (runStart < 0) pushGroups(parts, groups, 0, 8);
  else {
    pushGroups(parts, groups, 0, runStart);
    parts.push('::');
    pushGroups(parts, groups, runStart + runLength, 8);
  }
}

/** Hex of 0…255 without leading zeros, and with two digits. */
const HEX_SHORT = Array.from({ length: 256 }, (_, x) => x.toString(16));
const HEX_FULL = Array.from({ length: 256 }, (_, x) => x.toString(16).padStart(2, '0'));

/**
 * IPv6 groups [from, to) as RFC 5952 text ("2001:db8:0:1") onto `parts`: lower-case hex without
 * leading zeros, from tables (a flow of IPv6 sources makes a network's text for each new one).
 */
function pushGroups(parts: string[], groups: Uint16Array, from: number, to: number): void {
  for (let g = from; g < to; g++) {
    const x = groups[g]!;
    if (g > from) parts.push(':');
    parts.push(x < 256 ? HEX_SHORT[x]! : HEX_SHORT[x >>> 8]! + HEX_FULL[x & 255]!);
  }
}

export interface Cidr {
  family: 4 | 6;
  /** IPv4: the network as an unsigned 32-bit number. */
  v4: number;
  /** IPv6: the network as eight 16-bit groups. */
  v6: Uint16Array;
  bits: number;
  /** Canonical text (network/bits). */
  text: string;
}

/** "203.0.113.0/24", "203.0.113.9", "2001:db8::/32", "::1"; host bits are masked off. null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  let bits = -1;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (b.length === 0 || b.length > 3) return null;
    bits = 0;
    for (let i = 0; i < b.length; i++) {
      const d = b.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return null;
      bits = bits * 10 + d;
    }
    if (b.length > 1 && b.charCodeAt(0) === 48) return null;
  }
  const v4 = parseIPv4(addr, 0, addr.length);
  if (v4 >= 0) {
    if (bits > 32) return null;
    if (bits < 0) bits = 32;
    const net = (v4 & mask4(bits)) >>> 0;
    return { family: 4, v4: net, v6: new Uint16Array(8), bits, text: `${formatIPv4(net)}/${bits}` };
  }
  if (addr.includes('%')) return null; // zones make no sense in a filter
  const v6 = new Uint16Array(8);
  if (!parseIPv6(addr, v6)) return null;
  if (bits > 128) return null;
  if (bits < 0) bits = 128;
  maskIpv6Groups(v6, bits, v6);
  return { family: 6, v4: 0, v6, bits, text: `${Array.from(v6, (x) => x.toString(16)).join(':')}/${bits}` };
}

function mask4(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** A matcher of source address text against a CIDR; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
export function cidrMatcher(c: Cidr): (address: string) => boolean {
  if (c.family === 4) {
    const net = c.v4;
    const mask = mask4(c.bits);
    return (address) => {
      let v = parseIPv4(address, 0, address.length);
      if (v < 0 && address.length > 7 && address.startsWith('::ffff:')) v = parseIPv4(address, 7, address.length);
      return v >= 0 && ((v & mask) >>> 0) === net;
    };
  }
  const net = c.v6;
  const full = c.bits >>> 4;
  const rest = c.bits & 15;
  const partMask = rest === 0 ? 0 : (0xffff << (16 - rest)) & 0xffff;
  const scratch = new Uint16Array(8);
  return (address) => {
    if (address.indexOf(':') < 0 || !parseIPv6(address, scratch)) return false;
    for (let g = 0; g < full; g++) if (scratch[g] !== net[g]) return false;
    return rest === 0 || (scratch[full]! & partMask) === net[full];
  };
}
