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
import { describe } from './time.js';

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

/** Longest text field taken (NFLOG prefixes are at most 64 bytes, interface names 15). */
const MAX_TEXT = 256;
/** An address as IP2STR writes it: IPv4 dotted quad or IPv6 text, nothing else. */
const ADDRESS = /^[0-9A-Fa-f.:]{0,45}$/;

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
  badKey = '';
  badReason: 'wrong_type' | 'out_of_range' = 'wrong_type';
  badValue: unknown = undefined;
  record: Record_ = {};

  /** An unsigned integer header field of at most `max`; NONE when absent. */
  int(key: string, max: number): number {
    const v = this.record[key];
    if (v === undefined || v === null) return NONE;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
    this.fail(key, typeof v === 'number' ? 'out_of_range' : 'wrong_type', v);
    return NONE;
  }

  str(key: string): string {
    const v = this.record[key];
    if (v === undefined || v === null) return '';
    if (typeof v === 'string' && v.length <= MAX_TEXT) return v;
    this.fail(key, typeof v === 'string' ? 'out_of_range' : 'wrong_type', v);
    return '';
  }

  address(key: string): string {
    const v = this.str(key);
    if (ADDRESS.test(v)) return v;
    this.fail(key, 'out_of_range', v);
    return '';
  }

  flag(key: string, bit: number): number {
    return this.int(key, 1) > 0 ? bit : 0;
  }

  private fail(key: string, reason: 'wrong_type' | 'out_of_range', value: unknown): void {
    if (this.badKey !== '') return;
    this.badKey = key;
    this.badReason = reason;
    this.badValue = value;
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
  const srcIp = r.address('src_ip');
  const dstIp = r.address('dest_ip');
  const oobFamily = r.int('oob.family', U8);
  const family = oobFamily === 2 ? 4 : oobFamily === 10 ? 6 : srcIp.includes(':') ? 6 : srcIp ? 4 : 0;
  const protocol = r.int('ip.protocol', U8);

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
    const res2 = r.int('tcp.res2', 3);
    if (res2 > 0) tcpFlags |= (res2 & 1 ? TCP_ECE : 0) | (res2 & 2 ? TCP_CWR : 0);
    tcpWindow = r.int('tcp.window', U16);
    tcpSeq = r.int('tcp.seq', U32);
  }

  let ttl: number;
  let ipId: number;
  let df: number;
  let ipTotalLength: number;
  let ipHeaderLength: number;
  if (family === 6) {
    ttl = r.int('ip6.hoplimit', U8);
    ipId = NONE;
    df = NONE;
    const payload = r.int('ip6.payloadlen', U16);
    ipTotalLength = payload === NONE ? NONE : payload + 40;
    ipHeaderLength = 40;
  } else {
    ttl = r.int('ip.ttl', U8);
    ipId = r.int('ip.id', U16);
    const fragoff = r.int('ip.fragoff', U16);
    df = fragoff === NONE ? NONE : fragoff & IP_DF ? 1 : 0;
    ipTotalLength = r.int('ip.totlen', U16);
    const ihl = r.int('ip.ihl', 15);
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
    srcPort: r.int('src_port', U16),
    dstPort: r.int('dest_port', U16),
    tcpFlags,
    tcpWindow,
    tcpSeq,
    ttl,
    ipId,
    df,
    ipTotalLength,
    ipHeaderLength,
    icmpType: r.int(isIcmp6 ? 'icmpv6.type' : 'icmp.type', U8),
    icmpCode: r.int(isIcmp6 ? 'icmpv6.code' : 'icmp.code', U8),
    inIf: r.str('oob.in'),
    outIf: r.str('oob.out'),
    mac: r.str('mac.str'),
    nflogGroup: r.int('oob.group', U16),
    fingerprint: null,
    os: '',
    tool: '',
    classification: null,
    geo: null,
  };
  r.record = {};
  if (r.badKey !== '') {
    const what = r.badReason === 'wrong_type' ? 'has a value of the wrong type' : 'is out of range';
    return { kind: 'error', reason: r.badReason, detail: `key "${r.badKey}" ${what}: ${describe(r.badValue)}` };
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
