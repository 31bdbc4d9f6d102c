// Subscription filters of the live stream (docs/stream-protocol.md, "Client → server"): parsed and
// validated from untrusted JSON into a compiled matcher. Nothing from the input is evaluated or
// turned into a regular expression; addresses and CIDRs are parsed by hand into numbers once, so
// matching an event is a handful of comparisons.
import { NONE, TCP_ACK, TCP_SYN, VERDICTS, type PacketEvent, type Verdict } from '../pipeline/types.js';
import { cidrMatcher, parseCidr, type Cidr } from '../util/ip.js';

/** A filter as the client sent it (after validation): every field optional, all given must match. */
export interface StreamFilter {
  verdict?: Verdict;
  protocol?: string | number;
  port?: number;
  src?: string;
  fingerprint?: string;
  tool?: string;
  country?: string;
  /** The city a City database places the source in (with `country`, one place). */
  city?: string;
  /** The source is on this threat list. */
  list?: string;
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
const KEYS = new Set(['verdict', 'protocol', 'port', 'src', 'fingerprint', 'tool', 'country', 'city', 'list', 'synOnly']);
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
  let city: string | null = null;
  let list: string | null = null;
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
  for (const name of ['fingerprint', 'tool', 'country', 'city', 'list'] as const) {
    const s = raw[name];
    if (s === undefined) continue;
    if (typeof s !== 'string' || s.length > MAX_STRING) return fail(`${name} must be a string of at most ${MAX_STRING} characters`);
    filter[name] = s;
    if (name === 'fingerprint') fingerprint = s;
    else if (name === 'tool') tool = s;
    else if (name === 'country') country = s;
    else if (name === 'city') city = s;
    else list = s;
  }
  if (raw.synOnly !== undefined) {
    if (typeof raw.synOnly !== 'boolean') return fail('synOnly must be true or false');
    synOnly = raw.synOnly;
    filter.synOnly = synOnly;
  }

  const key = JSON.stringify([verdict, protocol, port, cidr === null ? null : cidr.text, fingerprint, tool, country, city, list, synOnly]);
  const empty =
    verdict === null && protocol === NONE && port === NONE && cidr === null && fingerprint === null && tool === null && country === null && city === null && list === null && !synOnly;
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
    (city === null || (e.geo !== null && e.geo.city === city)) &&
    (list === null || e.listed.includes(list)) &&
    (srcMatch === null || srcMatch(e.srcIp));
  return { ok: true, value: { filter, match, key } };
}

function fail(error: string): FilterResult {
  return { ok: false, error };
}
