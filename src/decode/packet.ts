// NFLOG packet records → PacketEvent. Keys are those of ulogd2's BASE, IFINDEX, IP2STR and HWHDR
// plugins as the JSON output names them (the "cim_name" where a key has one: src_ip, dest_ip,
// src_port, dest_port), see ulogd2 filter/raw2packet/ulogd_raw2packet_BASE.c.
import {
  NONE,
  NOT_LISTED,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type DecodeError,
  type PacketEvent,
  type Verdict,
} from '../pipeline/types.js';
import { ADDRESS_CHARS, F, FIELD_NAMES, MAX_ADDRESS_LENGTH, type Fields } from './fields.js';
import { describe } from './time.js';

export interface VerdictRule {
  prefix_contains: string;
  verdict: 'allowed' | 'blocked';
}

export interface VerdictOptions {
  verdictRules: readonly VerdictRule[];
  useRawLabel: boolean;
}

/** IPv4 DF flag inside ip.fragoff, which BASE copies as ntohs(frag_off) with the flag bits. */
const IP_DF = 0x4000;

/** Longest text field taken (NFLOG prefixes are at most 64 bytes, interface names 15). */
const MAX_TEXT = 256;
/** Whether a string is an address as IP2STR writes it (a loop over a table, not a regular expression: two a line). */
function isAddressText(text: string): boolean {
  if (text.length > MAX_ADDRESS_LENGTH) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || ADDRESS_CHARS[c] === 0) return false;
  }
  return true;
}

/** What the field reader holds between lines, so it keeps no line's values alive. */
const NO_FIELDS: Fields = [];

const U8 = 0xff;
const U16 = 0xffff;
const U32 = 0xffff_ffff;

/**
 * Reads fields, remembering the first key whose value was of the wrong type or outside what its
 * header field can hold, so one pass fills the event and one check at the end refuses it (no
 * exception per bad line). Every number that passes is an integer 0…max of its header field, so
 * no later stage meets 1e308, -1 or 2.5 in a port, a protocol or a window.
 */
class FieldReader {
  badKey = -1;
  badReason: 'wrong_type' | 'out_of_range' = 'wrong_type';
  badValue: unknown = undefined;
  fields: Fields = NO_FIELDS;
  /** Whether the line scanner read the fields: it checked the addresses' bytes already (scan.ts). */
  addressesChecked = false;

  /** An unsigned integer header field of at most `max`; NONE when absent. */
  int(key: number, max: number): number {
    const v = this.fields[key];
    if (v === undefined || v === null) return NONE;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
    this.fail(key, typeof v === 'number' ? 'out_of_range' : 'wrong_type', v);
    return NONE;
  }

  str(key: number): string {
    const v = this.fields[key];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string' && v.length <= MAX_TEXT) return v;
    this.fail(key, typeof v === 'string' ? 'out_of_range' : 'wrong_type', v);
    return '';
  }

  address(key: number): string {
    const v = this.str(key);
    if (this.addressesChecked || isAddressText(v)) return v;
    this.fail(key, 'out_of_range', v);
    return '';
  }

  flag(key: number, bit: number): number {
    return this.int(key, 1) > 0 ? bit : 0;
  }

  private fail(key: number, reason: 'wrong_type' | 'out_of_range', value: unknown): void {
    if (this.badKey !== -1) return;
    this.badKey = key;
    this.badReason = reason;
    this.badValue = value;
  }
}

const reader = new FieldReader();

export function verdictOf(fields: Fields, prefix: string, options: VerdictOptions): Verdict {
  const action = fields[F.action];
  if (action === 'allowed' || action === 'blocked') return action;
  for (const rule of options.verdictRules) {
    if (prefix.includes(rule.prefix_contains)) return rule.verdict;
  }
  if (options.useRawLabel) {
    const label = fields[F['raw.label']];
    if (typeof label === 'number') return label !== 0 ? 'allowed' : 'blocked';
  }
  return 'unknown';
}

/**
 * Builds the event; `time` was already resolved by the caller. `scanned`: the line scanner read
 * the fields, so their addresses are known to be address text.
 */
export function decodePacket(
  fields: Fields,
  source: number,
  time: number,
  options: VerdictOptions,
  scanned = false,
): PacketEvent | DecodeError {
  const r = reader;
  r.fields = fields;
  r.badKey = -1;
  r.addressesChecked = scanned;

  const prefix = r.str(F['oob.prefix']);
  const srcIp = r.address(F['src_ip']);
  const dstIp = r.address(F['dest_ip']);
  const oobFamily = r.int(F['oob.family'], U8);
  const family = oobFamily === 2 ? 4 : oobFamily === 10 ? 6 : srcIp.includes(':') ? 6 : srcIp ? 4 : 0;
  const protocol = r.int(F['ip.protocol'], U8);

  let tcpFlags = NONE;
  let tcpWindow = NONE;
  let tcpSeq = NONE;
  if (protocol === 6 || fields[F['tcp.syn']] !== undefined) {
    tcpFlags =
      r.flag(F['tcp.fin'], TCP_FIN) |
      r.flag(F['tcp.syn'], TCP_SYN) |
      r.flag(F['tcp.rst'], TCP_RST) |
      r.flag(F['tcp.psh'], TCP_PSH) |
      r.flag(F['tcp.ack'], TCP_ACK) |
      r.flag(F['tcp.urg'], TCP_URG);
    // BASE copies glibc's tcphdr.res2, the two bits after URG: ECE (low) and CWR (high).
    const res2 = r.int(F['tcp.res2'], 3);
    if (res2 > 0) tcpFlags |= (res2 & 1 ? TCP_ECE : 0) | (res2 & 2 ? TCP_CWR : 0);
    tcpWindow = r.int(F['tcp.window'], U16);
    tcpSeq = r.int(F['tcp.seq'], U32);
  }

  let ttl: number;
  let ipId: number;
  let df: number;
  let ipTotalLength: number;
  let ipHeaderLength: number;
  if (family === 6) {
    ttl = r.int(F['ip6.hoplimit'], U8);
    ipId = NONE;
    df = NONE;
    const payload = r.int(F['ip6.payloadlen'], U16);
    ipTotalLength = payload === NONE ? NONE : payload + 40;
    ipHeaderLength = 40;
  } else {
    ttl = r.int(F['ip.ttl'], U8);
    ipId = r.int(F['ip.id'], U16);
    const fragoff = r.int(F['ip.fragoff'], U16);
    df = fragoff === NONE ? NONE : fragoff & IP_DF ? 1 : 0;
    ipTotalLength = r.int(F['ip.totlen'], U16);
    const ihl = r.int(F['ip.ihl'], 15);
    ipHeaderLength = ihl === NONE ? NONE : ihl * 4;
  }

  const isIcmp6 = protocol === 58;
  const event: PacketEvent = {
    kind: 'packet',
    source,
    time,
    device: r.str(F['dvc']),
    prefix,
    verdict: verdictOf(fields, prefix, options),
    family,
    protocol,
    srcIp,
    dstIp,
    srcPort: r.int(F['src_port'], U16),
    dstPort: r.int(F['dest_port'], U16),
    tcpFlags,
    tcpWindow,
    tcpSeq,
    ttl,
    ipId,
    df,
    ipTotalLength,
    ipHeaderLength,
    icmpType: r.int(isIcmp6 ? F['icmpv6.type'] : F['icmp.type'], U8),
    icmpCode: r.int(isIcmp6 ? F['icmpv6.code'] : F['icmp.code'], U8),
    inIf: r.str(F['oob.in']),
    outIf: r.str(F['oob.out']),
    mac: r.str(F['mac.str']),
    nflogGroup: r.int(F['oob.group'], U16),
    fingerprint: null,
    os: '',
    tool: '',
    classification: null,
    geo: null,
    owner: null,
    listed: NOT_LISTED,
  };
  r.fields = NO_FIELDS;
  if (r.badKey !== -1) {
    const what = r.badReason === 'wrong_type' ? 'has a value of the wrong type' : 'is out of range';
    return { kind: 'error', reason: r.badReason, detail: `key "${FIELD_NAMES[r.badKey]}" ${what}: ${describe(r.badValue)}` };
  }
  return event;
}

/** Whether a record looks like an NFLOG packet (as opposed to NFACCT or something else). */
export function isPacketRecord(fields: Fields): boolean {
  return (
    fields[F.src_ip] !== undefined ||
    fields[F['oob.prefix']] !== undefined ||
    fields[F['raw.pktlen']] !== undefined ||
    fields[F['ip.protocol']] !== undefined
  );
}
