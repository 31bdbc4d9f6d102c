// NFLOG packet records → PacketEvent. Keys are those of ulogd2's BASE, IFINDEX, IP2STR and HWHDR
// plugins as the JSON output names them (the "cim_name" where a key has one: src_ip, dest_ip,
// src_port, dest_port), see ulogd2 filter/raw2packet/ulogd_raw2packet_BASE.c.
import {
  NONE,
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

export interface VerdictRule {
  prefix_contains: string;
  verdict: 'allowed' | 'blocked';
}

export interface VerdictOptions {
  verdictRules: readonly VerdictRule[];
  useRawLabel: boolean;
}

/** A decoded JSON object: ulogd writes flat objects of strings and integers. */
export type Record_ = { readonly [key: string]: unknown };

/** IPv4 DF flag inside ip.fragoff, which BASE copies as ntohs(frag_off) with the flag bits. */
const IP_DF = 0x4000;

/**
 * Reads numeric fields, remembering the first key whose value had the wrong type, so one pass
 * fills the event and one check at the end refuses it (no exception per bad line).
 */
class FieldReader {
  badKey = '';
  record: Record_ = {};

  num(key: string): number {
    const v = this.record[key];
    if (v === undefined || v === null) return NONE;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (this.badKey === '') this.badKey = key;
    return NONE;
  }

  str(key: string): string {
    const v = this.record[key];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (this.badKey === '') this.badKey = key;
    return '';
  }

  flag(key: string, bit: number): number {
    const v = this.num(key);
    return v > 0 ? bit : 0;
  }
}

const reader = new FieldReader();

export function verdictOf(record: Record_, prefix: string, options: VerdictOptions): Verdict {
  const action = record['action'];
  if (action === 'allowed' || action === 'blocked') return action;
  for (const rule of options.verdictRules) {
    if (prefix.includes(rule.prefix_contains)) return rule.verdict;
  }
  if (options.useRawLabel) {
    const label = record['raw.label'];
    if (typeof label === 'number') return label !== 0 ? 'allowed' : 'blocked';
  }
  return 'unknown';
}

/** Builds the event; `time` was already resolved by the caller. */
export function decodePacket(
  record: Record_,
  source: number,
  time: number,
  options: VerdictOptions,
): PacketEvent | DecodeError {
  const r = reader;
  r.record = record;
  r.badKey = '';

  const prefix = r.str('oob.prefix');
  const srcIp = r.str('src_ip');
  const dstIp = r.str('dest_ip');
  const oobFamily = r.num('oob.family');
  const family = oobFamily === 2 ? 4 : oobFamily === 10 ? 6 : srcIp.includes(':') ? 6 : srcIp ? 4 : 0;
  const protocol = r.num('ip.protocol');

  let tcpFlags = NONE;
  let tcpWindow = NONE;
  let tcpSeq = NONE;
  if (protocol === 6 || record['tcp.syn'] !== undefined) {
    tcpFlags =
      r.flag('tcp.fin', TCP_FIN) |
      r.flag('tcp.syn', TCP_SYN) |
      r.flag('tcp.rst', TCP_RST) |
      r.flag('tcp.psh', TCP_PSH) |
      r.flag('tcp.ack', TCP_ACK) |
      r.flag('tcp.urg', TCP_URG);
    // BASE copies glibc's tcphdr.res2, the two bits after URG: ECE (low) and CWR (high).
    const res2 = r.num('tcp.res2');
    if (res2 > 0) tcpFlags |= (res2 & 1 ? TCP_ECE : 0) | (res2 & 2 ? TCP_CWR : 0);
    tcpWindow = r.num('tcp.window');
    tcpSeq = r.num('tcp.seq');
  }

  let ttl: number;
  let ipId: number;
  let df: number;
  let ipTotalLength: number;
  let ipHeaderLength: number;
  if (family === 6) {
    ttl = r.num('ip6.hoplimit');
    ipId = NONE;
    df = NONE;
    const payload = r.num('ip6.payloadlen');
    ipTotalLength = payload === NONE ? NONE : payload + 40;
    ipHeaderLength = 40;
  } else {
    ttl = r.num('ip.ttl');
    ipId = r.num('ip.id');
    const fragoff = r.num('ip.fragoff');
    df = fragoff === NONE ? NONE : fragoff & IP_DF ? 1 : 0;
    ipTotalLength = r.num('ip.totlen');
    const ihl = r.num('ip.ihl');
    ipHeaderLength = ihl === NONE ? NONE : ihl * 4;
  }

  const isIcmp6 = protocol === 58;
  const event: PacketEvent = {
    kind: 'packet',
    source,
    time,
    device: r.str('dvc'),
    prefix,
    verdict: verdictOf(record, prefix, options),
    family,
    protocol,
    srcIp,
    dstIp,
    srcPort: r.num('src_port'),
    dstPort: r.num('dest_port'),
    tcpFlags,
    tcpWindow,
    tcpSeq,
    ttl,
    ipId,
    df,
    ipTotalLength,
    ipHeaderLength,
    icmpType: r.num(isIcmp6 ? 'icmpv6.type' : 'icmp.type'),
    icmpCode: r.num(isIcmp6 ? 'icmpv6.code' : 'icmp.code'),
    inIf: r.str('oob.in'),
    outIf: r.str('oob.out'),
    mac: r.str('mac.str'),
    nflogGroup: r.num('oob.group'),
    fingerprint: null,
    os: '',
    tool: '',
    classification: null,
    geo: null,
  };
  r.record = {};
  if (r.badKey !== '') {
    return { kind: 'error', reason: 'wrong_type', detail: `key "${r.badKey}" has a value of the wrong type` };
  }
  return event;
}

/** Whether a record looks like an NFLOG packet (as opposed to NFACCT or something else). */
export function isPacketRecord(record: Record_): boolean {
  return (
    record['src_ip'] !== undefined ||
    record['oob.prefix'] !== undefined ||
    record['raw.pktlen'] !== undefined ||
    record['ip.protocol'] !== undefined
  );
}
