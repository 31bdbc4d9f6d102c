// The event types and the small interface of each pipeline role.
// A source yields lines, a decoder makes typed events, the aggregator buckets them by event time,
// sinks consume interval aggregates. Every role is one interface here; implementations live in
// sources/, decode/, aggregate/ and sinks/.

export type Verdict = 'allowed' | 'blocked' | 'unknown';
export const VERDICTS: readonly Verdict[] = ['allowed', 'blocked', 'unknown'];

/** TCP flag bits as in the TCP header (RFC 9293 §3.1), so a flag set is one small integer. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** "Absent" for numeric fields: every event has every field so the object shape stays monomorphic. */
export const NONE = -1;

/** One NFLOG packet as ulogd2 logged it. Numbers are NONE (-1) where ulogd gave no value. */
export interface PacketEvent {
  readonly kind: 'packet';
  /** Index of the configured source the line came from (see Pipeline.sourceNames). */
  source: number;
  /** Event time, epoch milliseconds (oob.time.sec/usec, else `timestamp`/`@timestamp`). */
  time: number;
  /** ulogd's `dvc` (the JSON plugin's `device`). */
  device: string;
  /** `oob.prefix`, '' when the rule set none. */
  prefix: string;
  verdict: Verdict;
  /** 4, 6, or 0 when unknown (`oob.family` 2/10, else inferred from the address). */
  family: number;
  /** IP protocol number (`ip.protocol`), NONE when absent. */
  protocol: number;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** TCP flags as TCP_* bits, NONE when not TCP. */
  tcpFlags: number;
  tcpWindow: number;
  tcpSeq: number;
  ttl: number;
  ipId: number;
  /** 1 when the DF bit is set, 0 when clear, NONE when unknown (IPv6 or absent). */
  df: number;
  /** IP total length (`ip.totlen`; IPv6: payload length + 40). */
  ipTotalLength: number;
  /** IP header length in bytes (`ip.ihl` × 4 for IPv4, 40 for IPv6). */
  ipHeaderLength: number;
  icmpType: number;
  icmpCode: number;
  inIf: string;
  outIf: string;
  mac: string;
  /** NFLOG group (`oob.group`) where ulogd gave it, else NONE. */
  nflogGroup: number;

  // Enrichment: null/'' from the decoder, filled in place by the enrichers (no copies).
  /** SYN fingerprint of a TCP SYN without ACK; null for every other packet. */
  fingerprint: SynFingerprint | null;
  /** OS family from the fingerprint: linux, windows, bsd, network-device, crafted (a tool's own packets), unknown; '' when not a SYN. */
  os: string;
  /** Scanning tool recognised from the packet shape (a signature id); '' when none. */
  tool: string;
  /** What matched and how sure it is; null when nothing was classified. */
  classification: Classification | null;
  /** Where the source address is; null before GeoIP or when GeoIP is off. */
  geo: GeoInfo | null;
  /** Who holds the source address (autonomous system, cloud range); null before the owner enricher or when it is off. */
  owner: OwnerInfo | null;
  /** Names of the threat lists the source address is on: a shared, frozen array; NOT_LISTED when none. */
  listed: readonly string[];
}

/** The shared "on no list" answer (never mutated). */
export const NOT_LISTED: readonly string[] = Object.freeze([]);

/** The fields of a TCP SYN that tell operating systems and scanning tools apart. */
export interface SynFingerprint {
  /** Printable, stable key users filter on, e.g. "ittl=128,win=16384,olen=0,df=0". */
  readonly key: string;
  /** The key as a small integer (enrich/fingerprint.ts shapeCode): equal keys, equal codes. */
  readonly code: number;
  window: number;
  ttl: number;
  /** The initial TTL the sender most likely used: 32, 64, 128 or 255. */
  initialTtl: number;
  /** initialTtl − ttl. */
  hops: number;
  /** 1 DF set, 0 clear, NONE unknown (IPv6). */
  df: number;
  ipId: number;
  /** TCP options length in bytes (header length − 20), NONE when it cannot be told. */
  optionsLength: number;
  srcPort: number;
  /** TCP flags besides SYN (FIN, RST, PSH, URG, ECE, CWR): a SYN carrying them is a probe. */
  extraFlags: number;
  probe: boolean;
}

export interface Classification {
  /** OS family: linux, windows, bsd, network-device, crafted (a tool's own packets), unknown. */
  os: string;
  /** Tool signature id ('' when only the OS is known). */
  tool: string;
  /** 0..1. */
  confidence: number;
  /** Which fields matched, for people: ["win=16384", "sport=6000", "ttl 103 → ittl 128"]. */
  reasons: string[];
  /** Id of the signature that matched ('' when none). */
  signature: string;
}

export interface GeoInfo {
  /** ISO 3166 country code; "private" or "reserved" for such ranges; '' when unknown. */
  country: string;
  city: string;
  /** Where a City database places the address (its city, or the centre of its country); null when it does not. */
  location: GeoLocation | null;
  /** Autonomous system number, NONE when unknown. */
  asn: number;
  asOrg: string;
}

/** Degrees, WGS 84: latitude −90…90, longitude −180…180. */
export interface GeoLocation {
  readonly lat: number;
  readonly lon: number;
}

/** Who holds an address. Answers are frozen and shared between events. */
export interface OwnerInfo {
  /** Autonomous system number, NONE when unknown. */
  asn: number;
  /** The AS's organisation, e.g. "AMAZON-02"; '' when unknown. */
  org: string;
  /** Cloud range label "provider/region/service", e.g. "aws/us-east-1/EC2"; '' when not in a configured cloud range. */
  cloud: string;
}

/** Adds facts to an event in place. Runs on the hot path: no I/O, no per-event closures. */
export interface Enricher {
  readonly name: string;
  enrich(event: PacketEvent): void;
  /** SIGHUP: reload data files that may have changed. */
  reload?(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * An enricher whose facts depend on the source address and its data alone (GeoIP, who holds the
 * address, threat lists), so they may be kept per address (address-facts.ts) until `generation`
 * changes: it goes up whenever the data in use is replaced.
 */
export interface AddressEnricher extends Enricher {
  readonly generation: number;
}

/**
 * What the tracker keeps with each source it tracks for the history recorder: the recorder's row
 * for the source (its own code, 0 for none), so a packet from a tracked source costs the recorder
 * no lookup of its own. Only the recorder reads or writes it.
 */
export interface RecorderSlot {
  recorderRow: number;
}

/** Keeps what it needs of every enriched packet (the history store). Hot path: no I/O, returns at once. */
export interface EventRecorder {
  /**
   * `position`: the source's position after the event's line (NONE where the source has none);
   * `slot`: what the tracker keeps for the recorder with the event's source, null without a tracker.
   */
  record(event: PacketEvent, position: number, slot: RecorderSlot | null): void;
}

/** One NFACCT record: a named kernel counter as ulogd's NFACCT input polled it. */
export interface CounterEvent {
  readonly kind: 'counter';
  source: number;
  time: number;
  /** `sum.name`, e.g. "ipv4.http". Its dots are hierarchy, as in ulogd's GRAPHITE output. */
  name: string;
  pkts: number;
  bytes: number;
}

export type NfEvent = PacketEvent | CounterEvent;

/** Why a line did not become an event. Each reason is a counter and a health metric. */
export type DecodeErrorReason =
  | 'not_json'
  | 'not_object'
  | 'no_timestamp'
  | 'bad_timestamp'
  | 'wrong_type'
  | 'out_of_range'
  | 'future_timestamp'
  | 'unknown_record';

export const DECODE_ERROR_REASONS: readonly DecodeErrorReason[] = [
  'not_json',
  'not_object',
  'no_timestamp',
  'bad_timestamp',
  'wrong_type',
  'out_of_range',
  'future_timestamp',
  'unknown_record',
];

/** A zero count for every decode error reason. */
export function noDecodeErrors(): Record<DecodeErrorReason, number> {
  return Object.fromEntries(DECODE_ERROR_REASONS.map((r) => [r, 0])) as Record<DecodeErrorReason, number>;
}

export interface DecodeError {
  readonly kind: 'error';
  reason: DecodeErrorReason;
  /** Human-readable detail for the sampled log line (which key, what was found). */
  detail: string;
}

export type DecodeResult = NfEvent | DecodeError;

// ---------------------------------------------------------------------------------------------
// Sources

/**
 * What a source hands its lines to. Positions are opaque per-source numbers that grow with the
 * read order (a file source packs its file generation and byte offset into one); sources that
 * cannot replay (sockets) pass NONE.
 */
export interface LineReceiver {
  /**
   * One complete line: bytes[from, to), without its newline (the bytes are the source's and are
   * reused once this returns); `start`/`end` are the positions before and after it.
   */
  line(source: number, bytes: Buffer, from: number, to: number, start: number, end: number): void;
  /** A line longer than the configured limit was skipped (never buffered whole). */
  oversized(source: number, bytes: number): void;
  /**
   * The lines handed over so far are all that one read brought: the receiver delivers any it holds
   * back (the pipeline runs its stages over lines in batches), so none waits for the next read.
   */
  flush(): void;
  /** The source has read all there is for now: its watermark may follow the wall clock. */
  caughtUp(source: number, atEnd: boolean): void;
}

/** What a replaying source restores at start, and what the pipeline commits after each flush. */
export interface Checkpoint {
  /** Position to resume reading at (the earliest line of a not yet delivered interval). */
  resumeAt: number;
  /** Lines before this position whose event time is before `flushedUntil` were delivered already. */
  skipBelow: number;
  /** Event time (epoch ms) up to which intervals were delivered. */
  flushedUntil: number;
  /** Running-total NFACCT baselines as of `resumeAt`, by counter name: [pkts, bytes]. */
  counters: Record<string, [number, number]>;
  /**
   * Start positions of late lines (older than `flushedUntil`) that were counted into a not yet
   * delivered interval: the exception to the `skipBelow` rule. Usually empty.
   */
  late: number[];
}

export interface LineSource {
  readonly name: string;
  readonly kind: string;
  /** Whether positions are replayable (a committed checkpoint is honoured after a restart). */
  readonly replayable: boolean;
  /**
   * Starts delivering lines; resolves with the restored checkpoint, if any. No line may reach the
   * receiver before this promise settles (the pipeline restores the checkpoint first).
   */
  start(receiver: LineReceiver, index: number): Promise<Checkpoint | undefined>;
  /** Persist a checkpoint: only called with positions whose intervals every sink has delivered. */
  commit(checkpoint: Checkpoint): Promise<void>;
  /** SIGHUP: reopen files/sockets that may have been replaced, keeping state. */
  reopen(): Promise<void>;
  /** Stop reading; resolves when no more lines will be delivered. */
  stop(): Promise<void>;
  /** Source-specific health figures (connections, rotations, bytes read). */
  stats(): Record<string, number>;
  /** A position as an admin reads it in the log ("byte 812 of /var/log/ulog/ulogd.json"). */
  describePosition?(position: number): string;
}

// ---------------------------------------------------------------------------------------------
// Aggregates and sinks

/** Counts for one verdict in one interval. Maps are bounded by the aggregator's limits. */
export interface VerdictCounts {
  count: number;
  /** By IP protocol number. */
  protocols: Map<number, number>;
  /** By destination port; the aggregator keeps the top N at flush and folds the rest into `otherPorts`. */
  ports: Map<number, number>;
  otherPorts: number;
}

export interface CounterTotals {
  pkts: number;
  bytes: number;
}

/** Everything counted for one wall-clock-aligned interval of event time. */
export interface IntervalAggregate {
  /** Interval start, epoch ms (aligned to a multiple of the interval). */
  start: number;
  /** Interval length, ms. */
  length: number;
  verdicts: Record<Verdict, VerdictCounts>;
  /** By log prefix ('' = no prefix); beyond the prefix limit folded into `otherPrefixes`. */
  prefixes: Map<string, number>;
  otherPrefixes: number;
  /** By configured source name. */
  sources: Map<string, number>;
  /** NFACCT deltas in this interval, by counter name. */
  counters: Map<string, CounterTotals>;
  /** TCP SYNs (without ACK) in this interval, and by their window, initial TTL, fingerprint key and OS. */
  syns: number;
  synWindows: Map<number, number>;
  synInitialTtls: Map<number, number>;
  /** By fingerprint key; beyond the limit folded into `otherFingerprints`. */
  fingerprints: Map<string, number>;
  otherFingerprints: number;
  synOs: Map<string, number>;
  /** Packets by recognised tool (signature id). */
  tools: Map<string, number>;
  /** Packets by source country ('private', 'reserved', '' unknown). */
  countries: Map<string, number>;
  /** Packets whose source is on each threat list (by list name; a packet on two lists counts in both). */
  lists: Map<string, number>;
}

/** nfwatch's own health, sampled at each flush (wall-clock time). */
export interface HealthSnapshot {
  /** Wall-clock time of the snapshot, epoch ms. */
  time: number;
  /** Seconds since the previous snapshot. */
  elapsed: number;
  lines: number;
  events: number;
  eventsPerSecond: number;
  oversizedLines: number;
  decodeErrors: Record<DecodeErrorReason, number>;
  lateEvents: number;
  counterResets: number;
  openIntervals: number;
  sinks: Record<string, SinkHealth>;
  /** What each configured source went through, by source name (absent in snapshots made without sources). */
  sources?: Record<string, SourceHealth>;
  /** Per-source tracking figures (tracked, evicted, scans by type, campaigns); null when off. */
  tracker: TrackerStats | null;
}

/**
 * One source's figures in the health snapshot; cumulative since start unless noted. Every source
 * has every figure, 0 where it does not apply to its kind (a file has no connections).
 */
export interface SourceHealth {
  /** 'file' or 'socket'. */
  kind: string;
  linesRead: number;
  bytesRead: number;
  /** Socket: connections open now (a gauge). */
  connections: number;
  /** Socket: connections closed at once because the limit was reached. */
  connectionsRefused: number;
  /** Socket: connections that never delivered a complete line, closed to make room for a new one. */
  connectionsEvicted: number;
  /** Socket: unfinished lines lost when their connection closed (ulogd does not resend them). */
  partialLinesDropped: number;
  /** File: times the source moved on from a file renamed away. */
  rotations: number;
  /** File: times the file was found shorter than the read position (copytruncate or cut shorter). */
  truncations: number;
  /** File: times the path was found to be a symbolic link and not followed (follow_symlinks = false). */
  symlinksRefused: number;
}

/** The numeric figures of SourceHealth, in the order they are exported. */
export const SOURCE_HEALTH_FIELDS = [
  'linesRead',
  'bytesRead',
  'connections',
  'connectionsRefused',
  'connectionsEvicted',
  'partialLinesDropped',
  'rotations',
  'truncations',
  'symlinksRefused',
] as const satisfies ReadonlyArray<keyof SourceHealth>;

export type SourceHealthField = (typeof SOURCE_HEALTH_FIELDS)[number];

export interface SinkHealth {
  /** Items waiting to be sent. */
  backlog: number;
  /** Items dropped because the backlog was full (cumulative). */
  dropped: number;
  /** Items sent (cumulative). */
  sent: number;
  connected: boolean;
}

export interface Sink {
  readonly name: string;
  /** Takes one closed interval. Must not throw and must not block; queues internally. */
  writeInterval(aggregate: IntervalAggregate): void;
  /** Takes a health snapshot to export (wall-clock time). */
  writeHealth(health: HealthSnapshot): void;
  /**
   * End (exclusive, epoch ms) of the newest interval such that it and every earlier one were
   * handed to the backend; the pipeline commits read positions only up to here.
   */
  deliveredUntil(): number;
  health(): SinkHealth;
  /** Try to send everything pending; resolves when sent or when `timeoutMs` passed. */
  flush(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Alerts: what a detection tells a person, and where it goes

/** One alert, ready to send: built from a detection (src/alerts/text.ts). */
export interface Alert {
  /** What de-duplication goes by: "scan <source>" or "campaign <key>". */
  key: string;
  kind: 'scan' | 'campaign';
  /** 1–5 (a campaign: the highest of its members' is unknown here, so the configured floor). */
  severity: number;
  /** One line: who, what. */
  title: string;
  /** The whole alert as a person reads it: who, what tool, which ports, since when, where from, evidence. */
  text: string;
  /** The same facts as plain JSON (the webhook's body, the command's NFWATCH_ALERT_JSON). */
  facts: Readonly<Record<string, unknown>>;
}

/** Somewhere alerts go (webhook, syslog, a command). */
export interface AlertChannel {
  readonly name: string;
  /** Delivers one alert; rejects with a reason when it could not (after the channel's own retries). */
  send(alert: Alert): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Tracker figures in the health snapshot (the tracker in src/track/ fills them)

export type ScanType = 'vertical' | 'horizontal' | 'ssh_bruteforce';
export const SCAN_TYPES: readonly ScanType[] = ['vertical', 'horizontal', 'ssh_bruteforce'];

export interface TrackerStats {
  tracked: number;
  evicted: number;
  expired: number;
  /** Sources with a detected scan, by type (gauge). */
  scans: Record<ScanType, number>;
  /** Scans that became detected since the previous stats() call, by type. */
  newScans: Record<ScanType, number>;
  suspected: number;
  campaigns: number;
}
