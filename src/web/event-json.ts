// PacketEvent → the Event object of docs/stream-protocol.md ("Event"). Pure and cheap: one object
// literal of a fixed shape, lookup tables for flags and protocol names, no per-call allocation
// besides the result. The stream serialises an event only when some client will be sent it.
import { NONE, type PacketEvent, type Verdict } from '../pipeline/types.js';
import { PROTOCOL_NAMES } from '../decode/protocols.js';

/** One event as the stream sends it. Absent numbers are null. */
export interface EventJson {
  time: string;
  source: string;
  verdict: Verdict;
  prefix: string;
  device: string;
  family: number | null;
  /** Protocol name (tcp, udp, icmp, icmpv6, ...) when known, else the IP protocol number. */
  protocol: string | number | null;
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
  /** TCP flag letters in header bit order (F S R P A U E C): "S", "SA", "FPU"; "" when not TCP. */
  flags: string;
  window: number | null;
  ttl: number | null;
  ipId: number | null;
  df: number | null;
  length: number | null;
  in: string;
  out: string;
  fingerprint: string | null;
  os: string;
  tool: string;
  confidence: number | null;
  reasons: string[];
  country: string;
  city: string;
  /** Autonomous system: the owner enricher's, else GeoIP's ASN database's. */
  asn: number | null;
  org: string;
  /** Cloud range, "provider/region/service"; "" when none. */
  cloud: string;
  /** Threat lists the source is on. */
  listed: readonly string[];
}


const FLAG_LETTERS = 'FSRPAUEC'; // TCP_FIN 0x01 … TCP_CWR 0x80 (RFC 9293 §3.1, RFC 3168)
const FLAGS: readonly string[] = Array.from({ length: 256 }, (_, bits) => {
  let s = '';
  for (let i = 0; i < 8; i++) if (bits & (1 << i)) s += FLAG_LETTERS[i];
  return s;
});

const EMPTY_REASONS: readonly string[] = Object.freeze([]);

const num = (n: number): number | null => (n === NONE ? null : n);

/** TCP flag bits → letters; "" for NONE (not TCP). */
export function flagLetters(bits: number): string {
  return bits < 0 ? '' : (FLAGS[bits & 0xff] ?? '');
}

export function protocolName(protocol: number): string | number | null {
  if (protocol === NONE) return null;
  return PROTOCOL_NAMES.get(protocol) ?? protocol;
}

/** `sourceNames[event.source]`, the configured source's name ("" when out of range). */
export function eventJson(e: PacketEvent, sourceNames: readonly string[]): EventJson {
  const c = e.classification;
  const g = e.geo;
  const o = e.owner;
  return {
    time: Number.isFinite(e.time) ? new Date(e.time).toISOString() : '',
    source: sourceNames[e.source] ?? '',
    verdict: e.verdict,
    prefix: e.prefix,
    device: e.device,
    family: e.family === 0 ? null : e.family,
    protocol: protocolName(e.protocol),
    src: e.srcIp,
    dst: e.dstIp,
    sport: num(e.srcPort),
    dport: num(e.dstPort),
    flags: flagLetters(e.tcpFlags),
    window: num(e.tcpWindow),
    ttl: num(e.ttl),
    ipId: num(e.ipId),
    df: num(e.df),
    length: num(e.ipTotalLength),
    in: e.inIf,
    out: e.outIf,
    fingerprint: e.fingerprint === null ? null : e.fingerprint.key,
    os: e.os,
    tool: e.tool,
    confidence: c === null ? null : c.confidence,
    reasons: c === null ? (EMPTY_REASONS as string[]) : c.reasons,
    country: g === null ? '' : g.country,
    city: g === null ? '' : g.city,
    asn: o !== null && o.asn !== NONE ? o.asn : g === null ? null : num(g.asn),
    org: o !== null && o.asn !== NONE ? o.org : g === null ? '' : g.asOrg,
    cloud: o === null ? '' : o.cloud,
    listed: e.listed,
  };
}

/** The Event as one JSON text (what an `events` frame carries). */
export function eventText(e: PacketEvent, sourceNames: readonly string[]): string {
  return JSON.stringify(eventJson(e, sourceNames));
}
