// Seeded corpora for `npm run bench`: ulogd 2.0.8 JSON lines exactly as its JSON plugin writes them
// with the Debian stacks (NFLOG,BASE,IFINDEX,IP2STR,HWHDR,JSON with boolean_label=1, and
// NFACCT,JSON with timestamp=1), in the key order, spacing and `timestamp` style of
// demo/ulogd-lab-capture.jsonl, plus the truth the daemon's figures are checked against.
// Pure: no I/O, no clock (the caller passes "now"); the same seed and "now" give the same bytes.
import { ipv6Text } from '../util/ip.js';

export type CorpusKind = 'normal' | 'normal100k' | 'flood' | 'flood6' | 'sources100k';
export const CORPUS_KINDS: readonly CorpusKind[] = ['normal', 'normal100k', 'flood', 'flood6', 'sources100k'];

export type Verdict = 'allowed' | 'blocked';

/** What a corpus contains, counted while it was generated. */
export interface CorpusTruth {
  kind: string;
  seed: number;
  lines: number;
  /** Bytes including newlines. */
  bytes: number;
  packets: number;
  allowed: number;
  blocked: number;
  ipv6Packets: number;
  nfacctLines: number;
  /** Per NFACCT counter name: sums of sum.pkts and sum.bytes. */
  nfacct: Record<string, { pkts: number; bytes: number }>;
  distinctSources: number;
  firstEventUsec: number;
  lastEventUsec: number;
}

// ---------------------------------------------------------------------------------------------
// Randomness

/** mulberry32: tiny, fast, good enough for traffic shapes, and identical on every machine. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Unsigned 32-bit integer. */
  u32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Index in [0, n) skewed towards 0 (a few busy talkers, a long tail). */
  skewed(n: number): number {
    const u = this.next();
    return Math.floor(u * u * n);
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** Unicast addresses a firewall on the internet sees as sources (no private, loopback or documentation nets). */
export function isPublicV4(a: number): boolean {
  const o1 = a >>> 24;
  const o2 = (a >>> 16) & 255;
  if (o1 === 0 || o1 === 10 || o1 === 127 || o1 >= 224) return false;
  if (o1 === 100 && o2 >= 64 && o2 < 128) return false;
  if (o1 === 169 && o2 === 254) return false;
  if (o1 === 172 && o2 >= 16 && o2 < 32) return false;
  if (o1 === 192 && (o2 === 168 || (o2 === 0 && ((a >>> 8) & 255) === 2))) return false;
  if (o1 === 198 && (o2 === 18 || o2 === 19 || (o2 === 51 && ((a >>> 8) & 255) === 100))) return false;
  if (o1 === 203 && o2 === 0 && ((a >>> 8) & 255) === 113) return false;
  return true;
}

export function v4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/**
 * Distinct public IPv4 addresses in a scattered order: counter × odd constant (mod 2^32) is a
 * bijection, so no address repeats before 2^32 draws and no set of seen addresses is needed.
 */
export class SpreadAddresses {
  private counter: number;
  private readonly mask: number;

  constructor(rng: Rng) {
    this.counter = rng.u32();
    this.mask = rng.u32();
  }

  next(): number {
    for (;;) {
      const a = (Math.imul(this.counter, 0x9e3779b1) ^ this.mask) >>> 0;
      this.counter = (this.counter + 1) >>> 0;
      if (isPublicV4(a)) return a;
    }
  }
}

function hex16(rng: Rng): string {
  return rng.int(0, 0xffff).toString(16);
}

/** A global unicast IPv6 address in ulogd's (inet_ntop) style. */
function randomV6(rng: Rng): string {
  return `${rng.pick(['2003:e5', '2a02:8106', '2a01:4f8', '2001:4860', '2a00:1450', '2607:f8b0'])}:${hex16(rng)}:${hex16(rng)}::${hex16(rng)}`;
}

// ---------------------------------------------------------------------------------------------
// Line formatting

/** ulogd 2.0.8's `timestamp`: local time, microseconds, no offset; the second part is cached. */
export class UlogdClock {
  private second = NaN;
  private prefix = '';

  /** `timestamp` of an event at epoch microseconds `usec`. */
  stamp(usec: number): string {
    const sec = Math.floor(usec / 1e6);
    if (sec !== this.second) {
      this.second = sec;
      const d = new Date(sec * 1000);
      this.prefix = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    }
    return `${this.prefix}.${String(usec - sec * 1e6).padStart(6, '0')}`;
  }
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The firewall's side of HWHDR: its NIC (destination MAC) and the upstream router (source MAC). */
const IFACE = 'eth0';
const HOST_MAC = '52:54:00:3c:7e:11';
const GATEWAY_MAC = '00:0d:b9:4f:21:a0';

export interface TcpSyn {
  kind: 'tcp';
  sport: number;
  dport: number;
  seq: number;
  ackseq: number;
  window: number;
  /** Bytes of TCP options (Linux 20, Windows 12, nmap 4, raw tools 0). */
  optionBytes: number;
}

export interface Udp {
  kind: 'udp';
  sport: number;
  dport: number;
  payload: number;
}

export interface Echo {
  kind: 'icmp';
  id: number;
  seq: number;
  payload: number;
}

export interface PacketSpec {
  timeUsec: number;
  prefix: string;
  action: Verdict;
  family: 4 | 6;
  src: string;
  dst: string;
  /** TTL (IPv4) or hop limit (IPv6) as received. */
  ttl: number;
  /** Don't-fragment bit (IPv4). */
  df: boolean;
  l4: TcpSyn | Udp | Echo;
}

/** One NFLOG packet line as ulogd 2.0.8 writes it (checksums, ids and flow labels drawn from `rng`). */
export function packetLine(p: PacketSpec, rng: Rng, clock: UlogdClock): string {
  const l4Len = p.l4.kind === 'tcp' ? 20 + p.l4.optionBytes : p.l4.kind === 'udp' ? 8 + p.l4.payload : 8 + p.l4.payload;
  const v6 = p.family === 6;
  const pktlen = (v6 ? 40 : 20) + l4Len;
  const ipProto = p.l4.kind === 'tcp' ? 6 : p.l4.kind === 'udp' ? 17 : v6 ? 58 : 1;
  const sec = Math.floor(p.timeUsec / 1e6);
  const usec = p.timeUsec - sec * 1e6;
  const ip = v6
    ? `"ip6.payloadlen": ${l4Len}, "ip6.priority": 0, "ip6.flowlabel": ${rng.int(0, 0xfffff)}, "ip6.hoplimit": ${p.ttl}, "ip6.nexthdr": ${ipProto}`
    : `"ip.tos": 0, "ip.ttl": ${p.ttl}, "ip.totlen": ${pktlen}, "ip.ihl": 5, "ip.csum": ${rng.int(0, 0xffff)}, "ip.id": ${rng.int(0, 0xffff)}, "ip.fragoff": ${p.df ? 16384 : 0}`;
  let l4: string;
  const t = p.l4;
  if (t.kind === 'tcp') {
    l4 =
      `"src_port": ${t.sport}, "dest_port": ${t.dport}, "tcp.seq": ${t.seq}, "tcp.ackseq": ${t.ackseq}, "tcp.window": ${t.window}, ` +
      `"tcp.offset": 0, "tcp.reserved": 0, "tcp.urg": 0, "tcp.ack": 0, "tcp.psh": 0, "tcp.rst": 0, "tcp.syn": 1, "tcp.fin": 0, ` +
      `"tcp.res1": 0, "tcp.res2": 0, "tcp.csum": ${rng.int(0, 0xffff)}`;
  } else if (t.kind === 'udp') {
    l4 = `"src_port": ${t.sport}, "dest_port": ${t.dport}, "udp.len": ${8 + t.payload}, "udp.csum": ${rng.int(0, 0xffff)}`;
  } else {
    const icmp = v6 ? 'icmpv6' : 'icmp';
    l4 = `"${icmp}.type": ${v6 ? 128 : 8}, "${icmp}.code": 0, "${icmp}.echoid": ${t.id}, "${icmp}.echoseq": ${t.seq}, "${icmp}.csum": ${rng.int(0, 0xffff)}`;
  }
  return (
    `{"timestamp": "${clock.stamp(p.timeUsec)}", "dvc": "Netfilter", "raw.pktlen": ${pktlen}, "raw.pktcount": 1, ` +
    `"oob.prefix": "${p.prefix}", "oob.time.sec": ${sec}, "oob.time.usec": ${usec}, "oob.mark": 0, "oob.ifindex_in": 2, ` +
    `"oob.hook": 1, "raw.mac_len": 14, "oob.family": ${v6 ? 10 : 2}, "oob.protocol": ${v6 ? 34525 : 2048}, "action": "${p.action}", ` +
    `"raw.type": 1, "raw.mac.addrlen": 6, "ip.protocol": ${ipProto}, ${ip}, ${l4}, "oob.in": "${IFACE}", "oob.out": "", ` +
    `"src_ip": "${p.src}", "dest_ip": "${p.dst}", "mac.saddr.str": "${GATEWAY_MAC}", "mac.daddr.str": "${HOST_MAC}", ` +
    `"mac.str": "${HOST_MAC}:${GATEWAY_MAC}:${v6 ? '86:dd' : '08:00'}"}`
  );
}

/** One NFACCT line (timestamp=1: microsecond `timestamp` and oob.time.*). */
export function nfacctLine(name: string, pkts: number, bytes: number, timeUsec: number, clock: UlogdClock): string {
  const sec = Math.floor(timeUsec / 1e6);
  return (
    `{"timestamp": "${clock.stamp(timeUsec)}", "dvc": "Netfilter", "sum.name": "${name}", "sum.pkts": ${pkts}, ` +
    `"sum.bytes": ${bytes}, "oob.time.sec": ${sec}, "oob.time.usec": ${timeUsec - sec * 1e6}}`
  );
}

// ---------------------------------------------------------------------------------------------
// Truth

export class TruthCounter {
  readonly truth: CorpusTruth;
  private readonly sources = new Set<number | string>();

  constructor(kind: string, seed: number) {
    this.truth = {
      kind, seed, lines: 0, bytes: 0, packets: 0, allowed: 0, blocked: 0, ipv6Packets: 0, nfacctLines: 0,
      nfacct: {}, distinctSources: 0, firstEventUsec: 0, lastEventUsec: 0,
    };
  }

  private line(text: string, timeUsec: number): void {
    const t = this.truth;
    if (t.lines === 0) t.firstEventUsec = timeUsec;
    t.lastEventUsec = Math.max(t.lastEventUsec, timeUsec);
    t.lines++;
    t.bytes += text.length + 1; // ASCII only
  }

  /** `source`: a number for IPv4 (cheaper to keep a million of), the text for IPv6. */
  packet(text: string, p: PacketSpec, source: number | string): void {
    this.line(text, p.timeUsec);
    const t = this.truth;
    t.packets++;
    t[p.action]++;
    if (p.family === 6) t.ipv6Packets++;
    this.sources.add(source);
    t.distinctSources = this.sources.size;
  }

  nfacct(text: string, name: string, pkts: number, bytes: number, timeUsec: number): void {
    this.line(text, timeUsec);
    this.truth.nfacctLines++;
    const c = (this.truth.nfacct[name] ??= { pkts: 0, bytes: 0 });
    c.pkts += pkts;
    c.bytes += bytes;
  }
}

// ---------------------------------------------------------------------------------------------
// Traffic

export interface Generated {
  spec: PacketSpec;
  source: number | string;
}

export interface Traffic {
  /** Packet lines per second of event time. */
  readonly rate: number;
  next(timeUsec: number): Generated;
}

const OUR_V4 = '203.0.113.1';
const OUR_V6 = '2001:db8:6e66::1';
const BLOCKED = 'Input Default DROP';

/** A client OS's SYN: initial TTL, window, option bytes (Linux, Windows, macOS). */
interface SynShape {
  ttl: number;
  window: number;
  optionBytes: number;
}
const CLIENT_SHAPES: readonly SynShape[] = [
  { ttl: 64, window: 64240, optionBytes: 20 },
  { ttl: 64, window: 29200, optionBytes: 20 },
  { ttl: 128, window: 64240, optionBytes: 12 },
  { ttl: 128, window: 8192, optionBytes: 12 },
  { ttl: 64, window: 65535, optionBytes: 24 },
];

/** How a scanner's SYNs look (nmap, masscan, zmap, the port-6000 scanner). */
type ScannerTool = 'nmap' | 'masscan' | 'zmap' | 'port6000';

interface Peer {
  addr: string;
  family: 4 | 6;
  key: number | string;
  shape: SynShape;
  hops: number;
  tool: ScannerTool;
  /** A scanner's fixed source port (nmap per run, port6000 always 6000). */
  sport: number;
}

const PROBED_PORTS = [23, 445, 3389, 8080, 5900, 1433, 3306, 25, 110, 8443, 6379, 9200, 2323, 5060, 81, 21, 139, 143, 993, 5432];
const UDP_PROBED_PORTS = [161, 1900, 123, 5060, 137, 11211, 389, 19];
const NFACCT_NAMES = ['ipv4.http', 'ipv6.http', 'ipv4.ssh', 'ipv6.ssh'];

function ephemeralPort(rng: Rng): number {
  return rng.int(32768, 60999);
}

function peer(rng: Rng, family: 4 | 6, v4: () => number, tool: ScannerTool): Peer {
  const a = v4();
  const v6 = family === 6 ? randomV6(rng) : '';
  return {
    addr: family === 6 ? v6 : v4Text(a),
    family,
    key: family === 6 ? v6 : a,
    shape: rng.pick(CLIENT_SHAPES),
    hops: rng.int(6, 22),
    tool,
    sport: tool === 'port6000' ? 6000 : rng.int(33000, 65000),
  };
}

/** A scanner's SYN to `dport` at `dst`. */
function scanSyn(rng: Rng, s: Peer, timeUsec: number, dst: string, dport: number): PacketSpec {
  const tool = s.tool;
  const ttl = tool === 'nmap' ? rng.int(37, 59) : 255 - s.hops;
  const window = tool === 'nmap' ? 1024 : tool === 'zmap' ? 65535 : tool === 'port6000' ? 16384 : 1024;
  const sport = tool === 'masscan' || tool === 'zmap' ? rng.int(40000, 65000) : s.sport;
  return {
    timeUsec, prefix: BLOCKED, action: 'blocked', family: s.family, src: s.addr, dst, ttl, df: false,
    l4: { kind: 'tcp', sport, dport, seq: rng.u32(), ackseq: tool === 'nmap' || tool === 'port6000' ? rng.u32() : 0, window, optionBytes: tool === 'nmap' ? 4 : 0 },
  };
}

/**
 * Everyday traffic of a small server: ~1,000 sources, mostly allowed new connections (HTTPS, HTTP,
 * SSH, DNS, ping, a few percent over IPv6) and a steady background of blocked scans and UDP probes.
 */
export class NormalTraffic implements Traffic {
  readonly rate = 2000;
  private readonly clients: Peer[] = [];
  private readonly clients6: Peer[] = [];
  private readonly scanners: Peer[] = [];

  /** `scale`: sources per thousand of the mix (1: 1,000 sources; 100: a busy border's 100,000). */
  constructor(private readonly rng: Rng, scale = 1) {
    const seen = new Set<number>();
    const v4 = () => {
      for (;;) {
        const a = rng.u32();
        if (isPublicV4(a) && !seen.has(a)) {
          seen.add(a);
          return a;
        }
      }
    };
    for (let i = 0; i < 860 * scale; i++) this.clients.push(peer(rng, 4, v4, 'nmap'));
    for (let i = 0; i < 40 * scale; i++) this.clients6.push(peer(rng, 6, v4, 'nmap'));
    const tools: ScannerTool[] = ['nmap', 'masscan', 'zmap', 'port6000'];
    for (let i = 0; i < 100 * scale; i++) this.scanners.push(peer(rng, 4, v4, tools[i % tools.length]!));
  }

  next(timeUsec: number): Generated {
    const rng = this.rng;
    const r = rng.next();
    if (r < 0.04) {
      const c = this.clients6[rng.skewed(this.clients6.length)]!;
      return { spec: this.allowed(c, timeUsec, r < 0.01 ? 'icmp' : r < 0.025 ? 22 : 443), source: c.key };
    }
    if (r < 0.68) {
      const c = this.clients[rng.skewed(this.clients.length)]!;
      const what = r < 0.34 ? 443 : r < 0.44 ? 80 : r < 0.51 ? 22 : r < 0.65 ? 'dns' : 'icmp';
      return { spec: this.allowed(c, timeUsec, what), source: c.key };
    }
    const s = this.scanners[rng.skewed(this.scanners.length)]!;
    const dst = `203.0.113.${rng.int(1, 14)}`;
    if (r < 0.95) {
      const dport = rng.next() < 0.5 ? rng.pick(PROBED_PORTS) : rng.int(1, 65535);
      return { spec: scanSyn(rng, s, timeUsec, dst, dport), source: s.key };
    }
    const spec: PacketSpec = {
      timeUsec, prefix: BLOCKED, action: 'blocked', family: 4, src: s.addr, dst, ttl: 64 - s.hops, df: false,
      l4: { kind: 'udp', sport: ephemeralPort(rng), dport: rng.pick(UDP_PROBED_PORTS), payload: rng.int(8, 120) },
    };
    return { spec, source: s.key };
  }

  private allowed(c: Peer, timeUsec: number, what: 443 | 80 | 22 | 'dns' | 'icmp'): PacketSpec {
    const rng = this.rng;
    const dst = c.family === 6 ? OUR_V6 : OUR_V4;
    const ttl = c.shape.ttl - c.hops;
    const base = { timeUsec, action: 'allowed' as const, family: c.family, src: c.addr, dst, ttl, df: true };
    if (what === 'dns') return { ...base, prefix: 'DNS', l4: { kind: 'udp', sport: ephemeralPort(rng), dport: 53, payload: rng.int(25, 60) } };
    if (what === 'icmp') return { ...base, prefix: 'ICMP Echo', l4: { kind: 'icmp', id: rng.int(0, 0xffff), seq: rng.int(0, 20), payload: 56 } };
    const prefix = what === 443 ? 'HTTPS' : what === 80 ? 'HTTP' : 'SSH Attempt';
    return {
      ...base, prefix,
      l4: { kind: 'tcp', sport: ephemeralPort(rng), dport: what, seq: rng.u32(), ackseq: 0, window: c.shape.window, optionBytes: c.shape.optionBytes },
    };
  }
}

/**
 * A spoofed SYN flood as a raw-socket tool sends it: every packet from a new source address, random
 * source ports, windows, TTLs and sequence numbers, at one web server's ports; all blocked.
 */
export class FloodTraffic implements Traffic {
  readonly rate = 60_000;
  private readonly addresses: SpreadAddresses;

  constructor(private readonly rng: Rng) {
    this.addresses = new SpreadAddresses(rng);
  }

  next(timeUsec: number): Generated {
    const rng = this.rng;
    const a = this.addresses.next();
    const spec: PacketSpec = {
      timeUsec, prefix: BLOCKED, action: 'blocked', family: 4, src: v4Text(a), dst: OUR_V4, ttl: rng.int(32, 255), df: false,
      l4: { kind: 'tcp', sport: rng.int(1024, 65535), dport: rng.next() < 0.8 ? 443 : 80, seq: rng.u32(), ackseq: 0, window: rng.int(0, 65535), optionBytes: 0 },
    };
    return { spec, source: a };
  }
}

/**
 * The same flood over IPv6: every packet from a new /64 of global unicast space (2000::/3), a
 * random address in it, as a raw-socket tool spoofing IPv6 sources sends it; all blocked.
 */
export class Flood6Traffic implements Traffic {
  readonly rate = 60_000;
  private counter: number;
  private readonly mask: number;
  private readonly groups = new Uint16Array(8);

  constructor(private readonly rng: Rng) {
    this.counter = rng.u32();
    this.mask = rng.u32();
  }

  next(timeUsec: number): Generated {
    const rng = this.rng;
    // A bijection of a counter (as SpreadAddresses): no /64 repeats within 2^32 packets.
    const x = (Math.imul(this.counter, 0x9e3779b1) ^ this.mask) >>> 0;
    this.counter = (this.counter + 1) >>> 0;
    const g = this.groups;
    g[0] = 0x2000 | (x >>> 19);
    g[1] = (x >>> 3) & 0xffff;
    g[2] = ((x & 7) << 13) | rng.int(0, 0x1fff);
    g[3] = rng.int(0, 0xffff);
    for (let i = 4; i < 8; i++) g[i] = rng.int(0, 0xffff);
    const spec: PacketSpec = {
      timeUsec, prefix: BLOCKED, action: 'blocked', family: 6, src: ipv6Text(g), dst: OUR_V6, ttl: rng.int(32, 255), df: false,
      l4: { kind: 'tcp', sport: rng.int(1024, 65535), dport: rng.next() < 0.8 ? 443 : 80, seq: rng.u32(), ackseq: 0, window: rng.int(0, 65535), optionBytes: 0 },
    };
    return { spec, source: x };
  }
}

/** A botnet sweeping telnet/SSH/web ports: 100,000 sources taking turns, all blocked. */
export class Sources100kTraffic implements Traffic {
  readonly rate = 20_000;
  private readonly bots: Peer[] = [];
  private turn = 0;

  constructor(private readonly rng: Rng) {
    const spread = new SpreadAddresses(rng);
    const tools: ScannerTool[] = ['masscan', 'zmap', 'nmap', 'port6000'];
    for (let i = 0; i < 100_000; i++) this.bots.push(peer(rng, 4, () => spread.next(), tools[i % tools.length]!));
  }

  next(timeUsec: number): Generated {
    const bot = this.bots[this.turn]!;
    this.turn = (this.turn + 1) % this.bots.length;
    const dport = this.rng.pick([23, 2323, 22, 80, 8080, 443, 7547, 5555]);
    return { spec: scanSyn(this.rng, bot, timeUsec, `203.0.113.${this.rng.int(1, 14)}`, dport), source: bot.key };
  }
}

export function trafficFor(kind: CorpusKind, rng: Rng): Traffic {
  if (kind === 'normal') return new NormalTraffic(rng);
  if (kind === 'normal100k') return new NormalTraffic(rng, 100);
  if (kind === 'flood') return new FloodTraffic(rng);
  if (kind === 'flood6') return new Flood6Traffic(rng);
  return new Sources100kTraffic(rng);
}

/**
 * ulogd's NFACCT input: every poll (one second here) one line per counter, at a fixed phase within
 * the second, with the packets and bytes counted since the previous poll (zerocounter=1).
 */
export class NfacctPoller {
  private lastSecond = NaN;
  private readonly phaseUsec: number;

  constructor(private readonly rng: Rng) {
    this.phaseUsec = rng.int(0, 999_999);
  }

  /** The poll time due before an event at `timeUsec`, or null when none is due. */
  due(timeUsec: number): number | null {
    const pollSecond = Math.floor((timeUsec - this.phaseUsec) / 1e6);
    if (Number.isNaN(this.lastSecond)) {
      this.lastSecond = pollSecond;
      return null;
    }
    if (pollSecond <= this.lastSecond) return null;
    this.lastSecond = pollSecond;
    return pollSecond * 1e6 + this.phaseUsec;
  }

  /** The lines of one poll at `timeUsec`, handed to `emit` with their figures. */
  poll(timeUsec: number, clock: UlogdClock, emit: (text: string, name: string, pkts: number, bytes: number) => void): void {
    for (const name of NFACCT_NAMES) {
      const pkts = name.startsWith('ipv4') ? this.rng.int(0, 3000) : this.rng.int(0, 200);
      const bytes = pkts * this.rng.int(60, 1400);
      emit(nfacctLine(name, pkts, bytes, timeUsec, clock), name, pkts, bytes);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Corpus

export interface CorpusOptions {
  seed: number;
  lines: number;
  /** "Now" in epoch microseconds: no event is later; the last one is about END_AGE_SECONDS before. */
  nowUsec: number;
  /** Lines per call of `write` (the last call may have fewer). */
  batchLines?: number;
}

/** The last event lies this long before "now", so every interval of the default 60 s closes once the daemon has caught up. */
export const END_AGE_SECONDS = 90;

/** Seed of one corpus: the run's seed mixed with the kind, so corpora differ but follow the seed. */
export function corpusSeed(seed: number, kind: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < kind.length; i++) h = Math.imul(h ^ kind.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Generates `options.lines` lines of `kind` with consecutive event times at the kind's rate, ending
 * END_AGE_SECONDS before now (never later than now), and hands them to `write` in batches, each
 * line ending in '\n'. Returns the truth.
 */
export function generateCorpus(kind: CorpusKind, options: CorpusOptions, write: (text: string) => void): CorpusTruth {
  const seed = corpusSeed(options.seed, kind);
  const rng = new Rng(seed);
  const traffic = trafficFor(kind, rng);
  const poller = new NfacctPoller(rng);
  const clock = new UlogdClock();
  const counter = new TruthCounter(kind, options.seed);
  const meanGapUsec = 1e6 / traffic.rate;
  const endUsec = options.nowUsec - END_AGE_SECONDS * 1e6;
  // Starting on a whole second makes the draws, and so the truth, the same whatever "now" is.
  let t = Math.floor((endUsec - options.lines * meanGapUsec) / 1e6) * 1e6;
  const batchLines = options.batchLines ?? 4096;
  let batch: string[] = [];
  const add = (text: string) => {
    batch.push(text);
    if (batch.length >= batchLines) {
      write(`${batch.join('\n')}\n`);
      batch = [];
    }
  };
  while (counter.truth.lines < options.lines) {
    // Uniform jitter around the mean gap: times only move forward.
    t = Math.min(options.nowUsec, t + Math.round(meanGapUsec * (0.5 + rng.next())));
    const poll = poller.due(t);
    if (poll !== null) {
      poller.poll(poll, clock, (text, name, pkts, bytes) => {
        if (counter.truth.lines >= options.lines) return;
        counter.nfacct(text, name, pkts, bytes, poll);
        add(text);
      });
      if (counter.truth.lines >= options.lines) break;
    }
    const { spec, source } = traffic.next(t);
    const text = packetLine(spec, rng, clock);
    counter.packet(text, spec, source);
    add(text);
  }
  if (batch.length > 0) write(`${batch.join('\n')}\n`);
  return counter.truth;
}
