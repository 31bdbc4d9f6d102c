// SYN fingerprints from exactly what ulogd2 logs: the TCP window, the TTL (→ initial TTL and hops),
// the DF bit, the IP ID, the TCP options *length* and the flags. ulogd's BASE plugin gives no TCP
// option keys and its `tcp.offset` is always 0 (see test/fixtures/ulogd/README.md), so the option
// layout p0f reads (p0f.fp "olayout") is out of reach; the options length is derived from the IP
// lengths instead: for a SYN without payload the TCP header is everything after the IP header.
//
// Hot path: a SYN flood may be nothing but SYNs at ulogd's ~80 000 lines/s. The fingerprint object
// is allocated per event; its identity is a small integer (the shape code), which the tracker,
// the campaigns, the histogram and the metrics count by. The printable key is made only when
// read, and interned: equal shapes share one string, so no string is built per event once a
// shape was seen, and none at all for the SYNs of a random-window flood nobody looks at.
import { NONE, TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type PacketEvent, type SynFingerprint } from '../pipeline/types.js';

/** Flags a SYN may carry besides SYN itself (ACK excluded: a SYN+ACK is no SYN here). */
const EXTRA_FLAGS = TCP_FIN | TCP_RST | TCP_PSH | TCP_URG | TCP_ECE | TCP_CWR;
/**
 * A SYN with one of these is a probe, not a connection attempt: no TCP stack opens a connection
 * with FIN, RST, PSH or URG (nmap's OS detection and firewall-evasion probes, hping3 -SF ...).
 * ECE|CWR on a SYN is ECN negotiation (RFC 3168 §6.1.1), which normal Linux/macOS clients send.
 */
const PROBE_FLAGS = TCP_FIN | TCP_RST | TCP_PSH | TCP_URG;

/** TCP options are at most 40 bytes (data offset ≤ 15 words, RFC 9293 §3.1). */
export const MAX_OPTIONS_LENGTH = 40;

/**
 * The initial TTL the sender most likely used: the next of 32, 64, 128, 255 at or above the
 * observed TTL (the defaults stacks use; p0f.fp's `ittl` field is built the same way, few paths
 * are longer than ~30 hops). NONE when the TTL is unknown.
 */
export function initialTtl(ttl: number): number {
  if (ttl < 0) return NONE;
  if (ttl <= 32) return 32;
  if (ttl <= 64) return 64;
  if (ttl <= 128) return 128;
  return 255;
}

/**
 * TCP options length in bytes, NONE when it cannot be told.
 * IPv4: ip.totlen − 4·ip.ihl − 20; IPv6: ip6.payloadlen − 20 (the decoder gives ipTotalLength =
 * payloadlen + 40 and ipHeaderLength = 40). Valid only for a SYN without payload (TCP Fast Open
 * SYNs carry data and would read as longer options; IPv6 extension headers likewise): a result
 * that is negative, above 40 or not a multiple of 4 cannot be a TCP header and gives NONE.
 */
export function optionsLength(event: PacketEvent): number {
  const total = event.ipTotalLength;
  const header = event.ipHeaderLength;
  if (total < 0 || header < 0) return NONE;
  const olen = total - header - 20;
  if (olen < 0 || olen > MAX_OPTIONS_LENGTH || (olen & 3) !== 0) return NONE;
  return olen;
}

/** Whether an event is a TCP SYN without ACK (a connection attempt or a SYN probe). */
export function isSyn(event: PacketEvent): boolean {
  const f = event.tcpFlags;
  return f >= 0 && (f & TCP_SYN) !== 0 && (f & TCP_ACK) === 0;
}

// ---------------------------------------------------------------------------------------------
// Interned keys

/**
 * Key format (stable; users filter and graph on it):
 *   ittl=<32|64|128|255|?>,win=<0..65535|?>,olen=<0..40|?>,df=<0|1|?>
 * `?` is "unknown": no TTL/window in the line, options length not derivable, or IPv6 (no DF bit).
 * Example: the port-6000 SSH scanner is "ittl=128,win=16384,olen=0,df=0", a Linux 6.x client
 * "ittl=64,win=64240,olen=20,df=1".
 */
export function fingerprintKey(ittl: number, window: number, olen: number, df: number): string {
  const q = (n: number): string => (n < 0 ? '?' : String(n));
  // join() builds one flat string; `+` or a template would make a tree of concatenations that every
  // source, histogram and campaign holding the key keeps alive (and that hashing must flatten).
  return ['ittl=', q(ittl), ',win=', q(window), ',olen=', q(olen), ',df=', q(df)].join('');
}

/**
 * A small integer (< 2^26) naming the shape (ittl, window, olen, df): a Map keyed by it hashes an
 * integer, not a string. Unknown values get their own slot.
 */
export function shapeCode(ittl: number, window: number, olen: number, df: number): number {
  const t = ittl === 32 ? 0 : ittl === 64 ? 1 : ittl === 128 ? 2 : ittl === 255 ? 3 : 4; // 5 values
  const w = window >= 0 && window <= 0xffff ? window : 0x10000; // 65537 values
  const o = olen >= 0 && olen <= MAX_OPTIONS_LENGTH ? olen >> 2 : 11; // olen is a multiple of 4: 12 values
  const d = df === 0 ? 0 : df === 1 ? 1 : 2; // 3 values
  return ((t * 0x10001 + w) * 12 + o) * 3 + d;
}

/** What no shape code is: a source or link without a fingerprint yet. */
export const NO_SHAPE = -1;

/** The four values a shape code names (the inverse of shapeCode for the values it takes). */
export function shapeOf(code: number): { ittl: number; window: number; olen: number; df: number } {
  const d = code % 3;
  let rest = (code - d) / 3;
  const o = rest % 12;
  rest = (rest - o) / 12;
  const w = rest % 0x10001;
  const t = (rest - w) / 0x10001;
  return {
    ittl: t === 0 ? 32 : t === 1 ? 64 : t === 2 ? 128 : t === 3 ? 255 : NONE,
    window: w === 0x10000 ? NONE : w,
    olen: o === 11 ? NONE : o * 4,
    df: d === 2 ? NONE : d,
  };
}

/**
 * A slot for a shape code in a direct-mapped table of `slots` (a power of two). The window is the
 * part that varies most (Mirai randomises it): its bits spread the codes over the slots.
 */
export function shapeSlot(code: number, window: number, slots: number): number {
  return (code ^ (code >>> 16) ^ (window << 2)) & (slots - 1);
}

/**
 * The key cache: direct-mapped, KEY_CACHE_SLOTS slots by shape code. A flood with random windows
 * (Mirai's scanner randomises the window) has far more shapes than any cache should hold; a shape
 * that lands on a taken slot replaces it, which costs one string per such SYN — never a rehash or
 * a sweep of the whole cache. 65 536 keys of ~35 characters are about 4 MB.
 */
export const KEY_CACHE_SLOTS = 65_536;
const cachedCodes = new Int32Array(KEY_CACHE_SLOTS).fill(-1);
const cachedKeys: string[] = new Array<string>(KEY_CACHE_SLOTS).fill('');
let cachedCount = 0;

/** The interned key for a shape (exported for tests and the classifier). */
export function internedKey(ittl: number, window: number, olen: number, df: number): string {
  return keyOfShape(shapeCode(ittl, window, olen, df));
}

/** The interned key of a shape code. */
export function keyOfShape(code: number): string {
  const { ittl, window, olen, df } = shapeOf(code);
  const slot = shapeSlot(code, window, KEY_CACHE_SLOTS);
  if (cachedCodes[slot] === code) return cachedKeys[slot]!;
  if (cachedCodes[slot] === -1) cachedCount++;
  const key = fingerprintKey(ittl, window, olen, df);
  cachedCodes[slot] = code;
  cachedKeys[slot] = key;
  return key;
}

/** Number of interned keys (for tests and health figures). */
export function internedKeyCount(): number {
  return cachedCount;
}

// ---------------------------------------------------------------------------------------------

/**
 * The SYN fingerprint of a TCP packet with SYN set and ACK clear; null for anything else.
 * Pure apart from the key cache (which only ever returns equal strings for equal shapes).
 */
export function synFingerprint(event: PacketEvent): SynFingerprint | null {
  if (event.protocol !== 6 || !isSyn(event)) return null;
  const ttl = event.ttl;
  const ittl = initialTtl(ttl);
  const window = event.tcpWindow;
  const olen = optionsLength(event);
  const df = event.family === 6 ? NONE : event.df;
  const extraFlags = event.tcpFlags & EXTRA_FLAGS;
  return new SynShape(shapeCode(ittl, window, olen, df), window, ttl, ittl, ittl < 0 ? NONE : ittl - ttl, df, event.ipId, olen, event.srcPort, extraFlags, (extraFlags & PROBE_FLAGS) !== 0);
}

/**
 * A SYN fingerprint whose printable key is made when first read: the tracker, the campaigns, the
 * histogram and the metrics count by shape code, so in a flood of random windows (more shapes
 * than the key cache holds) most SYNs never need their key as a string.
 */
class SynShape implements SynFingerprint {
  constructor(
    readonly code: number,
    readonly window: number,
    readonly ttl: number,
    readonly initialTtl: number,
    readonly hops: number,
    readonly df: number,
    readonly ipId: number,
    readonly optionsLength: number,
    readonly srcPort: number,
    readonly extraFlags: number,
    readonly probe: boolean,
  ) {}

  get key(): string {
    return keyOfShape(this.code);
  }
}
