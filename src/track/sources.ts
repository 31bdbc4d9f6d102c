// Per-source behaviour over a sliding window of event time, keyed by source address.
//
// Memory is bounded everywhere: at most `maxSources` sources (least recently seen evicted and
// counted), and per source fixed-size counters plus capped sets. Time is cut into SLOTS slots of
// window/SLOTS each ("epochs"); counts live in a ring of per-slot counters and set members carry
// the epoch they were last seen in, so old activity falls out lazily — when a source's epoch
// advances, or when prune() passes — at most SLOTS times per window, and the window a count
// covers is between (SLOTS−1)/SLOTS and 1 window long.
//
// observe() runs for every packet (up to ~80 000/s): no closures, no copies, no allocation except
// when a source, a set member or (in campaigns.ts) a campaign membership is new. The recency order
// is a list threaded through the sources themselves (newer/older), so seeing a source moves two
// links and a new one costs an entry in the address table, nothing more.
import { NONE, NOT_LISTED, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type GeoInfo, type PacketEvent, type RecorderSlot } from '../pipeline/types.js';
import { NO_SHAPE, keyOfShape } from '../enrich/fingerprint.js';
import { NO_PORTS, restartLink, type CampaignLink } from './campaigns.js';
import { NO_FULL_EPOCH, NO_MIN_EPOCH, PortWindowSet } from './port-window-set.js';
import { pourSsh } from './scans.js';
import { addressSlot, ipv4Number, ipv6Network, ipv6NetworkText, parseIPv6 } from '../util/ip.js';
import { ABSENT, Ipv4Index } from '../util/ipv4-index.js';
import { Network64Index, Network64Key } from '../util/network64-index.js';
import type { TrackOptions } from './options.js';

/** Slots per window. */
export const SLOTS = 8;

/** Per-slot counters of the ring. */
export const C_ALLOWED = 0;
export const C_BLOCKED = 1;
export const C_UNKNOWN = 2;
/** Probes that count towards vertical/horizontal scans (not accepted ones unless configured). */
export const C_PROBES = 3;
/** Accepted SYNs to an SSH port. */
export const C_SSH = 4;
export const COUNTERS = 5;

/**
 * A capped set whose members remember the epoch they were last seen in, and whether they were
 * ever hit by a packet that counts towards scans (stored as the sign: −epoch). A source holds its
 * first port and host in its own fields and makes a set only for a second (SourceState.addPort).
 */
export class WindowSet<K> {
  readonly members = new Map<K, number>();
  /** Members hit by a counting packet. */
  counted = 0;
  /** Lowest epoch stored (a lower bound): no sweep is needed before it expires. */
  minEpoch = NO_MIN_EPOCH;
  /** Last epoch in which a new member was turned away because the set was full. */
  fullEpoch = NO_FULL_EPOCH;

  /** Returns true when `key` was new. */
  add(key: K, epoch: number, counts: boolean, cap: number): boolean {
    const members = this.members;
    const value = members.get(key);
    if (value === undefined) {
      if (members.size >= cap) {
        this.fullEpoch = epoch;
        return false;
      }
      members.set(key, counts ? -epoch : epoch);
      if (counts) this.counted++;
      if (epoch < this.minEpoch) this.minEpoch = epoch;
      return true;
    }
    const wasCounted = value < 0;
    const stored = wasCounted ? -value : value;
    if (stored !== epoch || (counts && !wasCounted)) {
      if (counts && !wasCounted) this.counted++;
      members.set(key, counts || wasCounted ? -epoch : epoch);
    }
    return false;
  }

  /** Empties the set for reuse by another source. */
  clear(): void {
    this.members.clear();
    this.counted = 0;
    this.minEpoch = NO_MIN_EPOCH;
    this.fullEpoch = NO_FULL_EPOCH;
  }

  /** Drops members last seen before `oldest`. */
  sweep(oldest: number): void {
    if (this.minEpoch >= oldest) return;
    let min = NO_MIN_EPOCH;
    for (const [key, value] of this.members) {
      const epoch = value < 0 ? -value : value;
      if (epoch < oldest) {
        this.members.delete(key);
        if (value < 0) this.counted--;
      } else if (epoch < min) {
        min = epoch;
      }
    }
    this.minEpoch = min;
  }

  get size(): number {
    return this.members.size;
  }

  has(key: K): boolean {
    return this.members.has(key);
  }

  /** The members, in no particular order. */
  keys(): K[] {
    return [...this.members.keys()];
  }

  /** Whether members were turned away within the live epochs: the size is then a lower bound. */
  atLeast(oldest: number): boolean {
    return this.fullEpoch >= oldest;
  }
}

/**
 * How a probe probes, counted per source since it was first tracked: psad's and nmap's scan
 * techniques. XMAS, NULL, Maimon and odd flag mixes come from no TCP stack; a bare ACK or FIN+ACK
 * is a probe only when the firewall did not accept it (an ACK scan maps firewall rules).
 */
export const TECHNIQUES = ['syn', 'null', 'fin', 'xmas', 'ack', 'maimon', 'odd_flags', 'udp', 'icmp'] as const;
export type ScanTechnique = (typeof TECHNIQUES)[number];
export const T_SYN = 0;
export const T_NULL = 1;
export const T_FIN = 2;
export const T_XMAS = 3;
export const T_ACK = 4;
export const T_MAIMON = 5;
export const T_ODD_FLAGS = 6;
export const T_UDP = 7;
export const T_ICMP = 8;

/** Where the ephemeral (client) ports begin: a dropped ACK to one is a late packet, not a probe. */
const EPHEMERAL_PORTS = 32768;

/** Per-source counters live in rows of shared, chunked Uint32Arrays (no typed array per source). */
export const LAST_PORTS = 8;
const TOTALS_AT = SLOTS * COUNTERS;
const LAST_PORTS_AT = TOTALS_AT + COUNTERS;
const TECHNIQUES_AT = LAST_PORTS_AT + LAST_PORTS;
export const ROW = TECHNIQUES_AT + TECHNIQUES.length;
const CHUNK_ROWS = 4096;
/** What a removed source reads from: all zero, never written. */
const DEAD_ROW = new Uint32Array(ROW);

// Per-source values that are not small integers (times in epoch ms, the SSH bucket's level, a
// 32-bit sequence number or AS number) live in rows of shared Float64Arrays beside the counters:
// as object fields each would be a heap number of its own, 24 bytes a value for every source.
const F_FIRST_SEEN = 0;
const F_LAST_SEEN = 1;
const F_SCAN_SINCE = 2;
const F_SSH_LEVEL = 3;
const F_SSH_LAST = 4;
const F_SSH_OVERFLOW_AT = 5;
const F_SEQ_CANDIDATE = 6;
const F_ASN = 7;
const F_RECORDER_ROW = 8;
const F_LINK_SEEN = 9;
export const FLOAT_ROW = 10;
/** What a removed source reads from (its writes land here too, and are never read as a live source's). */
const DEAD_FLOATS = new Float64Array(FLOAT_ROW);

/** Hands out rows of counters; a released row is reused. Memory grows in chunks up to maxSources + 1 rows. */
export class RowPool {
  private readonly chunks: Uint32Array[] = [];
  private readonly floatChunks: Float64Array[] = [];
  private readonly free: number[] = [];
  private next = 0;

  /** A zeroed row of counters (chunkOf(id) at baseOf(id)) and of floats (floatsOf(id) at floatBaseOf(id)). */
  alloc(): number {
    const id = this.free.length > 0 ? this.free.pop()! : this.next++;
    const chunk = Math.floor(id / CHUNK_ROWS);
    while (this.chunks.length <= chunk) {
      this.chunks.push(new Uint32Array(CHUNK_ROWS * ROW));
      this.floatChunks.push(new Float64Array(CHUNK_ROWS * FLOAT_ROW));
    }
    const base = (id % CHUNK_ROWS) * ROW;
    this.chunks[chunk]!.fill(0, base, base + ROW);
    const floatBase = (id % CHUNK_ROWS) * FLOAT_ROW;
    this.floatChunks[chunk]!.fill(0, floatBase, floatBase + FLOAT_ROW);
    return id;
  }

  chunkOf(id: number): Uint32Array {
    return this.chunks[Math.floor(id / CHUNK_ROWS)]!;
  }

  baseOf(id: number): number {
    return (id % CHUNK_ROWS) * ROW;
  }

  floatsOf(id: number): Float64Array {
    return this.floatChunks[Math.floor(id / CHUNK_ROWS)]!;
  }

  floatBaseOf(id: number): number {
    return (id % CHUNK_ROWS) * FLOAT_ROW;
  }

  release(id: number): void {
    this.free.push(id);
  }

  /** Bytes held by the counter and float rows. */
  get bytes(): number {
    return this.chunks.length * CHUNK_ROWS * (ROW * 4 + FLOAT_ROW * 8);
  }
}

/** Slots of the source table's direct-mapped front (a power of two). */
const FRONT_SLOTS = 4096;
/** 32 − log2(FRONT_SLOTS): addressSlot()'s shift. */
const FRONT_SHIFT = 32 - Math.log2(FRONT_SLOTS);
/** Packets over which the front's hit rate is judged, and those it then stands aside for (as the address facts' cache). */
const FRONT_WINDOW = 4096;
const FRONT_STAND_ASIDE = 262_144;

/** One source address and what it did. Fields are public for the pure update functions of scans/campaigns. */
export class SourceState implements RecorderSlot, CampaignLink {
  address: string;
  /** The address as an IPv4 number when it is one (the table's key then), else NONE. */
  v4: number;
  /** Whether the table keys this IPv6 source by its network's two words below (not by its text). */
  net6 = false;
  net6High = 0;
  net6Low = 0;
  /** Packets by verdict since the source was first tracked (lifetime, not windowed). */
  allowed = 0;
  blocked = 0;
  unknown = 0;
  /** Epoch (slot number) of the newest slot in `ring`. */
  epoch: number;
  /**
   * This source's row in a shared counter array, at `base`: SLOTS × COUNTERS per-slot counts, then
   * COUNTERS window totals, then the last LAST_PORTS destination ports probed.
   */
  ring: Uint32Array;
  base: number;
  /** This source's row of non-integer values (F_* at `floatBase`), beside the counters' row. */
  floats: Float64Array;
  floatBase: number;
  /** Row id in the pool (−1 once removed). */
  row: number;
  /**
   * Distinct destination ports and hosts probed in the window. Most sources, and every spoofed one,
   * probe one port of one host: the first member of each is held in the fields below, and a set is
   * made only at a second (null until then; reset() keeps it, emptied). Read through portCount(),
   * countedPorts(), portKeys(), portsAtLeast() and their host counterparts.
   */
  private portSet: PortWindowSet | null = null;
  private hostSet: WindowSet<string> | null = null;
  /** The sole port (NONE: none) or host (undefined: none) while there is no set, with its epoch as a WindowSet keeps it (negative: counted). */
  private solePort = NONE;
  private solePortEpoch = 0;
  private soleHost: string | undefined = undefined;
  private soleHostEpoch = 0;
  /** Destination ports probed so far; the newest is at (lastPortsCount − 1) % LAST_PORTS of the row's last ports. */
  lastPortsCount = 0;
  lastDstIp = '';
  lastDstPort = NONE;
  /** Source-port reuse: the candidate port, probes to changing targets that shared it, others since. */
  sportCandidate = NONE;
  sportHits = 0;
  sportMisses = 0;
  sportEpoch = 0;
  /** Sequence-number reuse among SYNs, same scheme (its candidate is in the float row: seqCandidate). */
  seqHits = 0;
  seqMisses = 0;
  seqEpoch = 0;
  /**
   * The first SYN fingerprint seen, as its shape code (NO_SHAPE none), kept in the object so a
   * one-SYN source of a flood makes no list and no key; then the others' keys, first seen first
   * (null until there is one).
   */
  firstFingerprint = NO_SHAPE;
  moreFingerprints: readonly string[] | null = null;
  /** Bounded label lists (first seen first), null until the first. */
  tools: readonly string[] | null = null;
  oses: readonly string[] | null = null;
  /** Country of the last event that had one. */
  country = '';
  /** GeoIP's answer of the last event a City database located (shared, frozen), for the map by city. */
  place: GeoInfo | null = null;
  /**
   * Campaign memberships, one per fingerprint (see campaigns.ts). The first is the source itself
   * (these CampaignLink fields; unused while `shape` is NO_SHAPE), so a one-SYN source of a flood
   * allocates nothing for its campaign, not even a link object; further ones are in `links`.
   */
  shape = NO_SHAPE;
  ports: readonly number[] = NO_PORTS;
  key = '';
  campaignId = 0;
  joinedCountry = '';
  sport = NONE;
  listedInCampaign = false;
  candidate = -1;
  links: CampaignLink[] | null = null;

  // Scan state (see scans.ts).
  /** 0 none, 1 suspected, 2 detected: the highest of the per-type levels. */
  scanState = 0;
  /** Per-type levels, 0..2 each. */
  vertical = 0;
  horizontal = 0;
  sshBruteforce = 0;
  severity = 0;
  /** The severity last announced as a detection (Tracker.onDetection); 0 when not detected since. */
  announced = 0;
  /** The organisation of `asn`. */
  asOrg = '';
  /** Cloud range of the last event that had an owner ('' none). */
  cloud = '';
  /** Threat lists the last event's source was on (shared frozen array). */
  listed: readonly string[] = NOT_LISTED;

  /** Neighbours in the table's recency list (SourceTable's alone to change). */
  newer: SourceState | null = null;
  older: SourceState | null = null;

  constructor(address: string, v4: number, time: number, epoch: number, ring: Uint32Array, base: number, floats: Float64Array, floatBase: number, row: number) {
    this.address = address;
    this.v4 = v4;
    this.ring = ring;
    this.base = base;
    this.floats = floats;
    this.floatBase = floatBase;
    this.row = row;
    this.firstSeen = time;
    this.lastSeen = time;
    this.seqCandidate = NONE;
    this.asn = NONE;
    this.epoch = epoch;
  }

  /** Event time, epoch ms. */
  get firstSeen(): number {
    return this.floats[this.floatBase + F_FIRST_SEEN]!;
  }
  set firstSeen(time: number) {
    this.floats[this.floatBase + F_FIRST_SEEN] = time;
  }
  get lastSeen(): number {
    return this.floats[this.floatBase + F_LAST_SEEN]!;
  }
  set lastSeen(time: number) {
    this.floats[this.floatBase + F_LAST_SEEN] = time;
  }
  /** Event time the current scan state was first reached (0: none). */
  get scanSince(): number {
    return this.floats[this.floatBase + F_SCAN_SINCE]!;
  }
  set scanSince(time: number) {
    this.floats[this.floatBase + F_SCAN_SINCE] = time;
  }
  /** SSH leaky bucket: level in SYNs, and when it was last leaked. */
  get sshLevel(): number {
    return this.floats[this.floatBase + F_SSH_LEVEL]!;
  }
  set sshLevel(level: number) {
    this.floats[this.floatBase + F_SSH_LEVEL] = level;
  }
  get sshLast(): number {
    return this.floats[this.floatBase + F_SSH_LAST]!;
  }
  set sshLast(time: number) {
    this.floats[this.floatBase + F_SSH_LAST] = time;
  }
  /** Event time the SSH bucket last overflowed (0: never). */
  get sshOverflowAt(): number {
    return this.floats[this.floatBase + F_SSH_OVERFLOW_AT]!;
  }
  set sshOverflowAt(time: number) {
    this.floats[this.floatBase + F_SSH_OVERFLOW_AT] = time;
  }
  /** The sequence number SYNs are seen reusing (NONE: none yet); up to 2^32 − 1. */
  get seqCandidate(): number {
    return this.floats[this.floatBase + F_SEQ_CANDIDATE]!;
  }
  set seqCandidate(seq: number) {
    this.floats[this.floatBase + F_SEQ_CANDIDATE] = seq;
  }
  /** Autonomous system of the last event that had one (NONE: unknown); up to 2^32 − 1. */
  get asn(): number {
    return this.floats[this.floatBase + F_ASN]!;
  }
  set asn(asn: number) {
    this.floats[this.floatBase + F_ASN] = asn;
  }
  /** CampaignLink: the newest SYN time with the first fingerprint (epoch ms). */
  get linkSeen(): number {
    return this.floats[this.floatBase + F_LINK_SEEN]!;
  }
  set linkSeen(time: number) {
    this.floats[this.floatBase + F_LINK_SEEN] = time;
  }
  /** RecorderSlot: the history recorder's row for this source (0: none; a new source's row is zeroed). */
  get recorderRow(): number {
    return this.floats[this.floatBase + F_RECORDER_ROW]!;
  }
  set recorderRow(row: number) {
    this.floats[this.floatBase + F_RECORDER_ROW] = row;
  }

  /**
   * Makes a removed source's object a new source's (SourceTable keeps the last one removed): during
   * a spoofed flood every packet is a new source that evicts the oldest, and reusing its object
   * (and any port or host set it made) spares the allocation and, above all, the old-generation
   * garbage of 100 000 sources turning over. Every field is set as the constructor and the
   * initialisers set it.
   */
  reset(address: string, v4: number, time: number, epoch: number, ring: Uint32Array, base: number, floats: Float64Array, floatBase: number, row: number): this {
    this.address = address;
    this.v4 = v4;
    this.net6 = false;
    this.net6High = 0;
    this.net6Low = 0;
    this.ring = ring;
    this.base = base;
    this.floats = floats;
    this.floatBase = floatBase;
    this.row = row;
    // The float row comes zeroed (RowPool.alloc): scanSince and the SSH bucket start at 0.
    this.firstSeen = time;
    this.lastSeen = time;
    this.seqCandidate = NONE;
    this.asn = NONE;
    this.allowed = 0;
    this.blocked = 0;
    this.unknown = 0;
    this.epoch = epoch;
    this.portSet?.clear();
    this.hostSet?.clear();
    this.solePort = NONE;
    this.solePortEpoch = 0;
    this.soleHost = undefined;
    this.soleHostEpoch = 0;
    this.lastPortsCount = 0;
    this.lastDstIp = '';
    this.lastDstPort = NONE;
    this.sportCandidate = NONE;
    this.sportHits = 0;
    this.sportMisses = 0;
    this.sportEpoch = 0;
    this.seqHits = 0;
    this.seqMisses = 0;
    this.seqEpoch = 0;
    // Dropped, not emptied: an emptied array grows to 17 slots on its next push, while a new one
    // is made with exactly one (addLabel), and most sources never get a second label.
    this.firstFingerprint = NO_SHAPE;
    this.moreFingerprints = null;
    this.oses = null;
    this.tools = null;
    this.country = '';
    this.place = null;
    restartLink(this, NO_SHAPE, NONE, 0);
    this.links = null;
    this.scanState = 0;
    this.vertical = 0;
    this.horizontal = 0;
    this.sshBruteforce = 0;
    this.severity = 0;
    this.announced = 0;
    this.asOrg = '';
    this.cloud = '';
    this.listed = NOT_LISTED;
    return this;
  }

  /** Adds a probed destination port (as WindowSet.add). */
  addPort(port: number, epoch: number, counts: boolean, cap: number): void {
    if (this.portSet !== null) {
      this.portSet.add(port, epoch, counts, cap);
    } else if (this.solePort === NONE || this.solePort === port) {
      this.solePort = port;
      this.solePortEpoch = counts || this.solePortEpoch < 0 ? -epoch : epoch;
    } else {
      // A second port: the set is made holding the first as it stands.
      const set = (this.portSet = new PortWindowSet());
      set.add(this.solePort, Math.abs(this.solePortEpoch), this.solePortEpoch < 0, cap);
      set.add(port, epoch, counts, cap);
      this.solePort = NONE;
      this.solePortEpoch = 0;
    }
  }

  /** Adds a probed destination host (as WindowSet.add). */
  addHost(host: string, epoch: number, counts: boolean, cap: number): void {
    if (this.hostSet !== null) {
      this.hostSet.add(host, epoch, counts, cap);
    } else if (this.soleHost === undefined || this.soleHost === host) {
      this.soleHost = host;
      this.soleHostEpoch = counts || this.soleHostEpoch < 0 ? -epoch : epoch;
    } else {
      const set = (this.hostSet = new WindowSet<string>());
      set.add(this.soleHost, Math.abs(this.soleHostEpoch), this.soleHostEpoch < 0, cap);
      set.add(host, epoch, counts, cap);
      this.soleHost = undefined;
      this.soleHostEpoch = 0;
    }
  }

  /** Drops ports and hosts last seen before epoch `oldest`. */
  sweepTargets(oldest: number): void {
    if (this.portSet !== null) this.portSet.sweep(oldest);
    else if (this.solePort !== NONE && Math.abs(this.solePortEpoch) < oldest) (this.solePort = NONE), (this.solePortEpoch = 0);
    if (this.hostSet !== null) this.hostSet.sweep(oldest);
    else if (this.soleHost !== undefined && Math.abs(this.soleHostEpoch) < oldest) (this.soleHost = undefined), (this.soleHostEpoch = 0);
  }

  /** Distinct destination ports probed in the window. */
  portCount(): number {
    return this.portSet !== null ? this.portSet.size : this.solePort !== NONE ? 1 : 0;
  }

  hostCount(): number {
    return this.hostSet !== null ? this.hostSet.size : this.soleHost !== undefined ? 1 : 0;
  }

  /** Of them, those hit by a packet that counts towards scans. */
  countedPorts(): number {
    return this.portSet !== null ? this.portSet.counted : this.solePort !== NONE && this.solePortEpoch < 0 ? 1 : 0;
  }

  countedHosts(): number {
    return this.hostSet !== null ? this.hostSet.counted : this.soleHost !== undefined && this.soleHostEpoch < 0 ? 1 : 0;
  }

  hasHost(host: string): boolean {
    return this.hostSet !== null ? this.hostSet.has(host) : this.soleHost === host;
  }

  /** The ports, in no particular order. */
  portKeys(): number[] {
    return this.portSet !== null ? this.portSet.keys() : this.solePort !== NONE ? [this.solePort] : [];
  }

  hostKeys(): string[] {
    return this.hostSet !== null ? this.hostSet.keys() : this.soleHost !== undefined ? [this.soleHost] : [];
  }

  /** Whether ports were turned away within the live epochs (the count is then a lower bound). */
  portsAtLeast(oldest: number): boolean {
    return this.portSet !== null && this.portSet.atLeast(oldest);
  }

  hostsAtLeast(oldest: number): boolean {
    return this.hostSet !== null && this.hostSet.atLeast(oldest);
  }

  /** Window total of one of the C_* counters. */
  windowCount(counter: number): number {
    return this.ring[this.base + TOTALS_AT + counter] ?? 0;
  }

  /** The SYN fingerprint keys seen, first seen first. */
  fingerprintKeys(): string[] {
    if (this.firstFingerprint === NO_SHAPE) return [];
    const first = keyOfShape(this.firstFingerprint);
    return this.moreFingerprints === null ? [first] : [first, ...this.moreFingerprints];
  }

  /** The last destination ports probed, newest first. */
  lastPorts(): number[] {
    const out: number[] = [];
    const n = Math.min(this.lastPortsCount, LAST_PORTS);
    for (let i = 1; i <= n; i++) out.push(this.ring[this.base + LAST_PORTS_AT + ((this.lastPortsCount - i) % LAST_PORTS)] ?? 0);
    return out;
  }

  /** Probes by technique (TECHNIQUES index) since the source was first tracked. */
  techniqueCount(technique: number): number {
    return this.ring[this.base + TECHNIQUES_AT + technique] ?? 0;
  }

  /** Probes no TCP stack sends (NULL, XMAS, Maimon, odd flag mixes) since first tracked. */
  get craftedFlagProbes(): number {
    return this.techniqueCount(T_NULL) + this.techniqueCount(T_XMAS) + this.techniqueCount(T_MAIMON) + this.techniqueCount(T_ODD_FLAGS);
  }

  /** Whether the source's probes reuse one source port across at least `min` targets. */
  sportReused(min: number): boolean {
    return this.sportHits >= min;
  }

  seqReused(min: number): boolean {
    return this.seqHits >= min;
  }
}

/**
 * The technique of a packet that can be a probe (TECHNIQUES index), or −1 when it cannot be one:
 * TCP without ACK/RST (SYN, NULL, FIN, XMAS, odd mixes), a bare ACK or FIN+ACK to a port below the
 * ephemeral range that the firewall did not accept (ACK and Maimon scans), UDP, ICMP echo-like
 * requests. Packets the firewall sends itself
 * are never probes.
 */
export function probeTechnique(e: PacketEvent): number {
  // Packets the firewall sends itself (OUTPUT: no input interface) are not probes against it.
  if (e.inIf === '' && e.outIf !== '') return -1;
  switch (e.protocol) {
    case 6: {
      const flags = e.tcpFlags;
      if (flags === NONE || (flags & TCP_RST) !== 0) return -1;
      const main = flags & (TCP_SYN | TCP_FIN | TCP_PSH | TCP_URG | TCP_ACK);
      if ((flags & TCP_ACK) !== 0) {
        // A late ACK of a closed connection is dropped too, but goes to the client's ephemeral
        // port (Linux: 32768 and up, IANA: 49152 and up); scans aim at service ports below.
        if (e.verdict === 'allowed' || e.dstPort < 0 || e.dstPort >= EPHEMERAL_PORTS) return -1;
        return main === TCP_ACK ? T_ACK : main === (TCP_ACK | TCP_FIN) ? T_MAIMON : -1;
      }
      if (main === TCP_SYN) return T_SYN;
      if (main === 0) return T_NULL;
      if (main === TCP_FIN) return T_FIN;
      if (main === (TCP_FIN | TCP_PSH | TCP_URG)) return T_XMAS;
      return T_ODD_FLAGS;
    }
    case 17:
    case 136: // UDP-Lite
      return T_UDP;
    case 1: // echo, timestamp, information, address mask requests
      return e.icmpType === 8 || e.icmpType === 13 || e.icmpType === 15 || e.icmpType === 17 ? T_ICMP : -1;
    case 58: // ICMPv6 echo request
      return e.icmpType === 128 ? T_ICMP : -1;
    default:
      return -1;
  }
}

/** Whether a packet is a TCP SYN without ACK. */
export function isSyn(e: PacketEvent): boolean {
  return e.protocol === 6 && e.tcpFlags !== NONE && (e.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
}

/** Moves a source's ring to `epoch`, clearing the slots in between, and sweeps its sets. Pure: touches `s` only. */
export function advance(s: SourceState, epoch: number): void {
  if (epoch <= s.epoch) return;
  const ring = s.ring;
  const totals = s.base + TOTALS_AT;
  const steps = Math.min(epoch - s.epoch, SLOTS);
  for (let i = 1; i <= steps; i++) {
    const slot = s.base + ((s.epoch + i) % SLOTS) * COUNTERS;
    for (let c = 0; c < COUNTERS; c++) {
      const v = ring[slot + c] ?? 0;
      if (v !== 0) {
        ring[totals + c] = (ring[totals + c] ?? 0) - v;
        ring[slot + c] = 0;
      }
    }
  }
  s.epoch = epoch;
  const oldest = epoch - SLOTS + 1;
  s.sweepTargets(oldest);
  if (s.sportEpoch < oldest) (s.sportCandidate = NONE), (s.sportHits = 0), (s.sportMisses = 0);
  if (s.seqEpoch < oldest) (s.seqCandidate = NONE), (s.seqHits = 0), (s.seqMisses = 0);
}

/**
 * One-name lists of OS and tool names, shared between sources: the names come from the signature
 * file (a few dozen), and in a flood every new source would otherwise keep an array of its own for
 * one. Bounded all the same (a reloaded file may bring other names).
 */
const singleNames = new Map<string, readonly string[]>();
const MAX_SINGLE_NAMES = 1024;

function singleName(value: string): readonly string[] {
  let single = singleNames.get(value);
  if (single === undefined) {
    single = Object.freeze([value]);
    if (singleNames.size < MAX_SINGLE_NAMES) singleNames.set(value, single);
  }
  return single;
}

/**
 * The list with `value` added: a new array, as lists are never changed in place (one-name lists
 * are shared). `names`: an OS or tool name (see singleName), else a fingerprint key.
 */
function addLabel(list: readonly string[] | null, value: string, cap: number, names: boolean): readonly string[] | null {
  if (value === '') return list;
  if (list === null) return names ? singleName(value) : [value];
  if (list[list.length - 1] === value || list.length >= cap || list.includes(value)) return list;
  return [...list, value];
}

/** Why a source left the table. */
export type RemoveReason = 'evicted' | 'expired';

/** The table of tracked sources, least recently seen evicted beyond `maxSources`. */
export class SourceTable {
  readonly options: TrackOptions;
  readonly slotMs: number;
  /** Sources evicted to stay under maxSources (cumulative). */
  evicted = 0;
  /** Sources dropped by prune() after a window without packets (cumulative). */
  expired = 0;
  /** Packets observed (cumulative). */
  packets = 0;
  /**
   * IPv4 sources by address number (their row, then byRow: a spoofed flood misses here once a
   * packet, and a Map keyed by text made that most of the tracker's time), others by key text.
   */
  private readonly v4Rows = new Ipv4Index();
  private readonly byRow: (SourceState | null)[] = [];
  /**
   * IPv6 sources by their network (ipv6PrefixLength of 64 or less) as two 32-bit words, the same
   * way: a spoofed IPv6 flood's every packet is a new network, and keyed by text each packet made
   * that text and missed, inserted and evicted in a Map by it. Longer networks are keyed by text.
   */
  private readonly v6Rows = new Network64Index();
  private readonly net6Indexed: boolean;
  private readonly net6Key: Network64Key;
  private readonly byAddress = new Map<string, SourceState>();
  /**
   * In front of those, direct-mapped by addressSlot(): a source whose key is found here costs
   * neither the parse of its address nor the lookups (a normal corpus's packets come from the
   * same sources again and again). A removed source leaves its slot. A spoofed flood would only
   * pay for it (a miss reads another source's address, an eviction its own): over a window of
   * FRONT_WINDOW packets, fewer than one in eight found here makes it stand aside, empty, for
   * FRONT_STAND_ASIDE packets.
   */
  private readonly front: (SourceState | null)[] = new Array<SourceState | null>(FRONT_SLOTS).fill(null);
  private frontLookups = 0;
  private frontHits = 0;
  private frontAside = 0;
  /** Ends of the recency list. */
  private newest: SourceState | null = null;
  private oldest: SourceState | null = null;
  private readonly isSshPort: Uint8Array;
  private readonly rows = new RowPool();
  private readonly ipv6Groups = new Uint16Array(8);
  /** The last source removed, reused for the next new one (see SourceState.reset). */
  private spare: SourceState | null = null;

  constructor(
    options: TrackOptions,
    private readonly onRemove?: (s: SourceState, reason: RemoveReason) => void,
  ) {
    this.options = options;
    this.slotMs = Math.max(1, Math.floor(options.windowMs / SLOTS));
    this.isSshPort = new Uint8Array(65536);
    for (const port of options.sshPorts) this.isSshPort[port] = 1;
    const bits = options.ipv6PrefixLength;
    this.net6Indexed = bits <= 64;
    this.net6Key = new Network64Key(bits);
  }

  /** Takes a source out of the table, gives its row back and keeps its object for the next new source. */
  private remove(s: SourceState, reason: RemoveReason): void {
    // IPv6 sources found by their network's words never go through the front.
    if (this.frontAside === 0 && !s.net6) {
      const slot = addressSlot(s.address, FRONT_SHIFT);
      if (this.front[slot] === s) this.front[slot] = null;
    }
    if (s.v4 >= 0) {
      this.v4Rows.delete(s.v4);
      this.byRow[s.row] = null;
    } else if (s.net6) {
      this.v6Rows.delete(s.net6High, s.net6Low);
      this.byRow[s.row] = null;
    } else this.byAddress.delete(s.address);
    this.unlink(s);
    this.releaseRow(s);
    this.onRemove?.(s, reason);
    this.spare = s;
  }

  private unlink(s: SourceState): void {
    if (s.newer !== null) s.newer.older = s.older;
    else this.newest = s.older;
    if (s.older !== null) s.older.newer = s.newer;
    else this.oldest = s.newer;
    s.newer = null;
    s.older = null;
  }

  private pushNewest(s: SourceState): void {
    s.older = this.newest;
    s.newer = null;
    if (this.newest !== null) this.newest.newer = s;
    else this.oldest = s;
    this.newest = s;
  }

  private releaseRow(s: SourceState): void {
    if (s.row < 0) return;
    this.rows.release(s.row);
    s.row = -1;
    s.ring = DEAD_ROW;
    s.base = 0;
    s.floats = DEAD_FLOATS;
    s.floatBase = 0;
  }

  /** Bytes held by the shared counter and float rows. */
  get rowBytes(): number {
    return this.rows.bytes;
  }

  epochOf(time: number): number {
    return Math.floor(time / this.slotMs);
  }

  get size(): number {
    return this.v4Rows.size + this.v6Rows.size + this.byAddress.size;
  }

  /** Most recently seen first. */
  *values(): IterableIterator<SourceState> {
    // The next one is read before yielding: the caller may observe packets between steps.
    for (let s = this.newest; s !== null; ) {
      const older: SourceState | null = s.older;
      yield s;
      s = older;
    }
  }

  private byV4(v4: number): SourceState | undefined {
    const row = this.v4Rows.get(v4);
    return row === ABSENT ? undefined : (this.byRow[row] ?? undefined);
  }

  /**
   * find() for an IPv6 address whose groups are in ipv6Groups (net6Indexed): by its network's
   * words; the network's text is made only for a new source.
   */
  private findIpv6(address: string, time: number, epoch: number): SourceState {
    const g = this.ipv6Groups;
    this.net6Key.take(g);
    const high = this.net6Key.high;
    const low = this.net6Key.low;
    const row = this.v6Rows.get(high, low);
    const known = row === ABSENT ? undefined : this.byRow[row];
    if (known !== undefined && known !== null) {
      this.touch(known, time, epoch);
      return known;
    }
    const s = this.create(ipv6NetworkText(g, this.options.ipv6PrefixLength), NONE, time, epoch);
    s.net6 = true;
    s.net6High = high;
    s.net6Low = low;
    this.v6Rows.set(high, low, s.row);
    this.indexRow(s);
    return s;
  }

  /** Puts `s` at its row in byRow. */
  private indexRow(s: SourceState): void {
    while (this.byRow.length <= s.row) this.byRow.push(null);
    this.byRow[s.row] = s;
  }

  /** The network an IPv6 source address is tracked as (ipv6Network remembers its last answer: packets come in runs). */
  private ipv6Source(address: string): string {
    return ipv6Network(address, this.options.ipv6PrefixLength, this.ipv6Groups) ?? address;
  }

  /** The source of `key`, seen at `time`: a known one touched, else a new one. */
  private find(key: string, time: number, epoch: number): SourceState {
    const v4 = ipv4Number(key);
    const known = v4 >= 0 ? this.byV4(v4) : this.byAddress.get(key);
    if (known === undefined) return this.add(key, v4, time, epoch);
    this.touch(known, time, epoch);
    return known;
  }

  /** find() through the front, which then holds the source; judges the front's hit rate. */
  private findThroughFront(key: string, time: number, epoch: number): SourceState {
    const at = addressSlot(key, FRONT_SHIFT);
    let s = this.front[at] as SourceState | null;
    if (s !== null && s.address === key) {
      this.touch(s, time, epoch);
      this.frontHits++;
    } else {
      s = this.find(key, time, epoch);
      this.front[at] = s;
    }
    if (++this.frontLookups === FRONT_WINDOW) {
      if (this.frontHits * 8 < FRONT_WINDOW) {
        this.frontAside = FRONT_STAND_ASIDE;
        this.front.fill(null);
      }
      this.frontLookups = 0;
      this.frontHits = 0;
    }
    return s;
  }

  /** A new source's state, in the table by `key` (or `v4`). */
  private add(key: string, v4: number, time: number, epoch: number): SourceState {
    const s = this.create(key, v4, time, epoch);
    if (v4 >= 0) {
      this.v4Rows.set(v4, s.row);
      this.indexRow(s);
    } else this.byAddress.set(key, s);
    return s;
  }

  /** A new source's state, the newest, not yet found by key (the least recently seen one makes room when the table is full). */
  private create(key: string, v4: number, time: number, epoch: number): SourceState {
    if (this.size >= this.options.maxSources && this.oldest !== null) {
      this.evicted++;
      this.remove(this.oldest, 'evicted');
    }
    const rows = this.rows;
    const row = rows.alloc();
    const spare = this.spare;
    this.spare = null;
    const s =
      spare !== null
        ? spare.reset(key, v4, time, epoch, rows.chunkOf(row), rows.baseOf(row), rows.floatsOf(row), rows.floatBaseOf(row), row)
        : new SourceState(key, v4, time, epoch, rows.chunkOf(row), rows.baseOf(row), rows.floatsOf(row), rows.floatBaseOf(row), row);
    this.pushNewest(s);
    return s;
  }

  /** A known source seen again: the newest, its times, its window moved to `epoch`. */
  private touch(s: SourceState, time: number, epoch: number): void {
    if (s !== this.newest) {
      this.unlink(s);
      this.pushNewest(s);
    }
    if (time > s.lastSeen) s.lastSeen = time;
    if (time < s.firstSeen) s.firstSeen = time;
    if (epoch > s.epoch) advance(s, epoch);
  }

  /** The probe technique of the packet observe() saw last (TECHNIQUES index), −1: no probe. */
  lastTechnique = -1;
  /** Whether that packet was a probe that counted towards scans (not accepted, or crafted, or a ping; see observe()). */
  lastCounted = false;

  /** Counts one packet; returns its source's state. */
  observe(e: PacketEvent): SourceState {
    const o = this.options;
    const time = e.time;
    const epoch = Math.floor(time / this.slotMs);
    this.packets++;
    let s: SourceState;
    if (e.family === 6 && this.net6Indexed && parseIPv6(e.srcIp, this.ipv6Groups)) s = this.findIpv6(e.srcIp, time, epoch);
    else {
      const key = e.family === 6 && o.ipv6PrefixLength < 128 ? this.ipv6Source(e.srcIp) : e.srcIp;
      if (this.frontAside > 0) {
        this.frontAside--;
        s = this.find(key, time, epoch);
      } else s = this.findThroughFront(key, time, epoch);
    }
    // A late event (epoch before the ring's newest slot) is counted into the newest slot.
    const slot = s.base + (s.epoch % SLOTS) * COUNTERS;
    const totals = s.base + TOTALS_AT;
    const ring = s.ring;
    const verdictCounter = e.verdict === 'allowed' ? C_ALLOWED : e.verdict === 'blocked' ? C_BLOCKED : C_UNKNOWN;
    if (verdictCounter === C_ALLOWED) s.allowed++;
    else if (verdictCounter === C_BLOCKED) s.blocked++;
    else s.unknown++;
    ring[slot + verdictCounter]!++;
    ring[totals + verdictCounter]!++;

    if (e.geo !== null) {
      if (e.geo.country !== '') s.country = e.geo.country;
      if (e.geo.location !== null) s.place = e.geo;
      if (e.geo.asn !== NONE) {
        s.asn = e.geo.asn;
        s.asOrg = e.geo.asOrg;
      }
    }
    // The owner enricher's ASN wins over a GeoIP ASN database's: it runs after GeoIP.
    const owner = e.owner;
    if (owner !== null) {
      if (owner.asn !== NONE) {
        s.asn = owner.asn;
        s.asOrg = owner.org;
      }
      s.cloud = owner.cloud;
    }
    s.listed = e.listed;
    if (e.tool !== '') s.tools = addLabel(s.tools, e.tool, o.maxLabels, true);
    if (e.os !== '') s.oses = addLabel(s.oses, e.os, o.maxLabels, true);
    if (e.fingerprint !== null) {
      const code = e.fingerprint.code;
      if (s.firstFingerprint === NO_SHAPE) s.firstFingerprint = code;
      else if (code !== s.firstFingerprint && o.maxLabels > 1) s.moreFingerprints = addLabel(s.moreFingerprints, e.fingerprint.key, o.maxLabels - 1, false);
    }

    const technique = probeTechnique(e);
    this.lastTechnique = technique;
    this.lastCounted = false;
    if (technique < 0) return s;
    ring[s.base + TECHNIQUES_AT + technique]!++;
    const useEpoch = s.epoch;
    // Accepted probes count too when they are crafted (a recognised tool, a reused source port or
    // sequence number) or pings: a raw-socket sweep of an open port or a ping sweep of many hosts
    // is a sweep, a client browsing many web servers through its own TCP stack is not.
    const counts =
      verdictCounter !== C_ALLOWED || o.scanCountAllowed || technique === T_ICMP || s.tools !== null || s.sportReused(o.reuseMinTargets) || s.seqReused(o.reuseMinTargets);
    this.lastCounted = counts;
    if (counts) {
      ring[slot + C_PROBES]!++;
      ring[totals + C_PROBES]!++;
    }
    const syn = e.protocol === 6 && (e.tcpFlags & TCP_SYN) !== 0;
    if (syn && verdictCounter === C_ALLOWED && e.dstPort >= 0 && this.isSshPort[e.dstPort] === 1) {
      ring[slot + C_SSH]!++;
      ring[totals + C_SSH]!++;
      // Logins come from a TCP stack: a SYN a signature names as a tool's (nmap -O's probes, the
      // port-6000 scanner) is a probe. A brute force comes back to the host(s) it hit, a sweep hits
      // each host once: only a SYN to a host probed before (or to the first) fills the bucket.
      if (e.tool === '' && (s.hostCount() === 0 || s.hasHost(e.dstIp))) pourSsh(s, time, o);
    }

    const dstPort = e.dstPort;
    if (dstPort >= 0) {
      s.addPort(dstPort, useEpoch, counts, o.maxPortsPerSource);
      ring[s.base + LAST_PORTS_AT + (s.lastPortsCount % LAST_PORTS)] = dstPort;
      s.lastPortsCount++;
    }
    s.addHost(e.dstIp, useEpoch, counts, o.maxHostsPerSource);

    // Reuse of one source port / sequence number across changing targets (a retransmission to
    // the same target does not count).
    const newTarget = dstPort !== s.lastDstPort || e.dstIp !== s.lastDstIp;
    if (newTarget) {
      s.lastDstPort = dstPort;
      s.lastDstIp = e.dstIp;
      const sport = e.srcPort;
      if (sport >= 0) {
        if (sport === s.sportCandidate) {
          s.sportHits++;
          s.sportEpoch = useEpoch;
        } else if (++s.sportMisses > s.sportHits) {
          s.sportCandidate = sport;
          s.sportHits = 1;
          s.sportMisses = 0;
          s.sportEpoch = useEpoch;
        }
      }
      if (syn && e.tcpSeq !== NONE) {
        const seq = e.tcpSeq;
        if (seq === s.seqCandidate) {
          s.seqHits++;
          s.seqEpoch = useEpoch;
        } else if (++s.seqMisses > s.seqHits) {
          s.seqCandidate = seq;
          s.seqHits = 1;
          s.seqMisses = 0;
          s.seqEpoch = useEpoch;
        }
      }
    }
    return s;
  }

  /**
   * Drops sources without a packet for a whole window before `now` (event time, epoch ms).
   * The table is in recency order, so this stops at the first recent source: O(dropped).
   */
  prune(now: number): number {
    const cutoff = now - this.options.windowMs;
    let dropped = 0;
    while (this.oldest !== null && this.oldest.lastSeen < cutoff) {
      this.remove(this.oldest, 'expired');
      dropped++;
    }
    this.expired += dropped;
    return dropped;
  }
}
