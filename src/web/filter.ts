// Subscription filters of the live stream (docs/stream-protocol.md, "Client → server"): parsed and
// validated from untrusted JSON into a compiled matcher. Nothing from the input is evaluated or
// turned into a regular expression; addresses and CIDRs are parsed by hand into numbers once, so
// matching an event is a handful of comparisons.
import { NONE, TCP_ACK, TCP_SYN, VERDICTS, type PacketEvent, type Verdict } from '../pipeline/types.js';
import { parseIPv4, parseIPv6 } from '../util/ip.js';

/** A filter as the client sent it (after validation): every field optional, all given must match. */
export interface StreamFilter {
  verdict?: Verdict;
  protocol?: string | number;
  port?: number;
  src?: string;
  fingerprint?: string;
  tool?: string;
  country?: string;
  synOnly?: boolean;
}

export type Matcher = (event: PacketEvent) => boolean;

export interface CompiledFilter {
  /** The filter in force, as echoed in `hello` (only known fields). */
  filter: StreamFilter;
  /** null when the filter is empty: everything matches (callers skip the call). */
  match: Matcher | null;
  /** Canonical text of the filter: equal keys match exactly the same events. */
  key: string;
}

export type FilterResult = { ok: true; value: CompiledFilter } | { ok: false; error: string };

const MAX_STRING = 64;
const KEYS = new Set(['verdict', 'protocol', 'port', 'src', 'fingerprint', 'tool', 'country', 'synOnly']);
/** The protocol names a filter may use (the stream also names others; filter on their number). */
const FILTER_PROTOCOLS: ReadonlyMap<string, number> = new Map([
  ['tcp', 6],
  ['udp', 17],
  ['icmp', 1],
  ['icmpv6', 58],
]);

export const MATCH_EVERYTHING: CompiledFilter = Object.freeze({ filter: Object.freeze({}), match: null, key: '{}' });

/** Validates `input` (the `filter` member of a subscribe message; undefined means `{}`). */
export function parseFilter(input: unknown): FilterResult {
  if (input === undefined || input === null) return { ok: true, value: MATCH_EVERYTHING };
  if (typeof input !== 'object' || Array.isArray(input)) return fail('filter must be an object');
  const raw = input as Record<string, unknown>;
  for (const k of Object.keys(raw)) {
    if (!KEYS.has(k)) return fail(`unknown filter field "${k.length > MAX_STRING ? `${k.slice(0, MAX_STRING)}…` : k}"`);
  }
  const filter: StreamFilter = {};
  let verdict: Verdict | null = null;
  let protocol = NONE;
  let port = NONE;
  let fingerprint: string | null = null;
  let tool: string | null = null;
  let country: string | null = null;
  let synOnly = false;
  let cidr: Cidr | null = null;

  if (raw.verdict !== undefined) {
    const v = raw.verdict;
    if (typeof v !== 'string' || !(VERDICTS as readonly string[]).includes(v)) return fail('verdict must be one of allowed, blocked, unknown');
    verdict = v as Verdict;
    filter.verdict = verdict;
  }
  if (raw.protocol !== undefined) {
    const p = raw.protocol;
    if (typeof p === 'string') {
      const n = FILTER_PROTOCOLS.get(p);
      if (n === undefined) return fail('protocol must be tcp, udp, icmp, icmpv6 or a number from 0 to 255');
      protocol = n;
      filter.protocol = p;
    } else if (typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 255) {
      protocol = p;
      filter.protocol = p;
    } else return fail('protocol must be tcp, udp, icmp, icmpv6 or a number from 0 to 255');
  }
  if (raw.port !== undefined) {
    const p = raw.port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 65535) return fail('port must be an integer from 0 to 65535');
    port = p;
    filter.port = p;
  }
  if (raw.src !== undefined) {
    const s = raw.src;
    if (typeof s !== 'string' || s.length > 64) return fail('src must be an IPv4 or IPv6 address or CIDR');
    cidr = parseCidr(s);
    if (cidr === null) return fail('src must be an IPv4 or IPv6 address or CIDR');
    filter.src = s;
  }
  for (const name of ['fingerprint', 'tool', 'country'] as const) {
    const s = raw[name];
    if (s === undefined) continue;
    if (typeof s !== 'string' || s.length > MAX_STRING) return fail(`${name} must be a string of at most ${MAX_STRING} characters`);
    filter[name] = s;
    if (name === 'fingerprint') fingerprint = s;
    else if (name === 'tool') tool = s;
    else country = s;
  }
  if (raw.synOnly !== undefined) {
    if (typeof raw.synOnly !== 'boolean') return fail('synOnly must be true or false');
    synOnly = raw.synOnly;
    filter.synOnly = synOnly;
  }

  const key = JSON.stringify([verdict, protocol, port, cidr === null ? null : cidr.text, fingerprint, tool, country, synOnly]);
  const empty = verdict === null && protocol === NONE && port === NONE && cidr === null && fingerprint === null && tool === null && country === null && !synOnly;
  if (empty) return { ok: true, value: { filter, match: null, key: '{}' } };

  const srcMatch = cidr === null ? null : cidrMatcher(cidr);
  const match: Matcher = (e) =>
    (verdict === null || e.verdict === verdict) &&
    (protocol === NONE || e.protocol === protocol) &&
    (port === NONE || e.dstPort === port) &&
    (!synOnly || (e.protocol === 6 && e.tcpFlags !== NONE && (e.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN)) &&
    (fingerprint === null || (e.fingerprint !== null && e.fingerprint.key === fingerprint)) &&
    (tool === null || e.tool === tool) &&
    (country === null || (e.geo !== null && e.geo.country === country)) &&
    (srcMatch === null || srcMatch(e.srcIp));
  return { ok: true, value: { filter, match, key } };
}

function fail(error: string): FilterResult {
  return { ok: false, error };
}

// ---------------------------------------------------------------------------------------------
// Addresses

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
  for (let g = 0; g < 8; g++) {
    const keep = Math.max(0, Math.min(16, bits - g * 16));
    v6[g] = keep === 0 ? 0 : (v6[g]! & (0xffff << (16 - keep))) & 0xffff;
  }
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
