// The Tracker (sources + scans + campaigns + the SYN fingerprint histogram) and the small
// in-process query API the web layer serves: sources(), fingerprints(), campaigns(), summary(),
// and stats() for health metrics. Every answer is plain JSON-able data, built at query time; the
// hot path is observe().
import type { Config } from '../config/schema.js';
import { NONE, type GeoInfo, type PacketEvent, type RecorderSlot, type TrackerStats } from '../pipeline/types.js';
import { CampaignTable, type Campaign } from './campaigns.js';
import { FingerprintStats, type FingerprintHistogram } from './fingerprints.js';
import { trackOptions, type TrackOptions } from './options.js';
import { DETECTED, HORIZONTAL, NOT_SCANNING, SCAN_TYPES, SSH_BRUTEFORCE, VERTICAL, evaluateScan, hostRanges, portRanges, scanView, type ScanType, type ScanView } from './scans.js';
import { C_ALLOWED, C_BLOCKED, C_PROBES, C_UNKNOWN, SLOTS, SourceTable, advance, type SourceState } from './sources.js';

export type SourceSort = 'last_seen' | 'packets' | 'ports' | 'severity';
export const SOURCE_SORTS: readonly SourceSort[] = ['last_seen', 'packets', 'ports', 'severity'];

export interface SourceRow {
  address: string;
  firstSeen: string;
  lastSeen: string;
  /** Packets by verdict since the source was first tracked. */
  packets: { allowed: number; blocked: number; unknown: number; total: number };
  /** Packets by verdict within the window, and probes that count towards scans. */
  window: { allowed: number; blocked: number; unknown: number; probes: number };
  /** Distinct destination ports / hosts probed in the window; `atLeast` when the per-source cap was hit. */
  /** Distinct destination ports / hosts probed in the window, and them as ranges ("20-30,53"; hosts: IPv4 runs as "a-b"). */
  ports: { distinct: number; atLeast: boolean; ranges: string };
  hosts: { distinct: number; atLeast: boolean; ranges: string[] };
  /** Last destination ports probed, newest first. */
  lastPorts: number[];
  /** One source port reused across changing targets (raw-socket tools), or null. */
  sourcePortReuse: { port: number; targets: number } | null;
  /** One TCP sequence number shared by SYNs to changing targets (stateless scanners, Mirai), or null. */
  seqReuse: { seq: number; syns: number } | null;
  fingerprints: string[];
  tools: string[];
  os: string[];
  country: string;
  /** Autonomous system number and organisation: the bundled ASN data's (owner), else GeoIP's ASN database's (null/'' when unknown). */
  asn: number | null;
  asOrg: string;
  /** Cloud range as provider/region/service ('' when none configured or not in one). */
  cloud: string;
  /** Threat lists the source is on. */
  listed: string[];
  scan: ScanView;
}

/**
 * A detection worth telling someone about, as the tracker announces it (Tracker.onDetection): a
 * source's scan reaching "detected" or a higher severity, or a campaign reaching
 * campaign_min_sources sources. `time` is the event time of the packet that caused it.
 */
export type Detection = { kind: 'scan'; time: number; source: SourceRow } | { kind: 'campaign'; time: number; campaign: CampaignRow };

/** One country's tracked sources in the window (Tracker.countries). */
export interface CountryFigures {
  /** Alpha-2 code, "private", "reserved", or "" (no database knew the source). */
  country: string;
  /** Sources with packets in the window, their packets and the blocked ones among them. */
  sources: number;
  packets: number;
  blocked: number;
  /** Of the sources, those suspected or detected scanning. */
  scanning: number;
}

/** One located place's tracked sources in the window (Tracker.cities): a City database's city. */
export interface CityFigures {
  country: string;
  /** '' where the database has coordinates but no city name (a country's centre). */
  city: string;
  lat: number;
  lon: number;
  sources: number;
  packets: number;
  blocked: number;
  scanning: number;
}

/** Places Tracker.cities answers at most (the busiest). */
export const MAX_CITIES = 1000;

export interface CampaignRow {
  key: string;
  fingerprint: string;
  ports: number[];
  /** More than campaign_max_ports target ports: the "many ports" group of this fingerprint. */
  manyPorts: boolean;
  /** Sources in the campaign (listed or not). */
  sources: number;
  /** Up to campaign_max_listed of them. */
  addresses: string[];
  countries: Array<{ country: string; sources: number }>;
  sourcePorts: Array<{ port: number; sources: number }>;
  /** The source port most members used, when more than half did (raw-socket tools), else null. */
  sharedSourcePort: number | null;
  syns: number;
  os: string;
  tool: string;
  firstSeen: string;
  lastSeen: string;
}

export interface Summary {
  /** Event time the tracker has reached. */
  time: string | null;
  windowSeconds: number;
  packets: number;
  sources: { tracked: number; max: number; evicted: number; expired: number };
  scans: {
    suspected: number;
    detected: number;
    byType: Record<ScanType, { suspected: number; detected: number }>;
    /** Sources by severity "1".."5" (suspected or detected). */
    bySeverity: Record<string, number>;
  };
  campaigns: { active: number; groups: number; evicted: number };
  fingerprints: { keys: number; syns: number };
}

/** Figures for health metrics (cumulative counters and gauges). */
export type { TrackerStats } from '../pipeline/types.js';

const iso = (t: number): string => new Date(t).toISOString();

export class Tracker {
  readonly options: TrackOptions;
  readonly sourceTable: SourceTable;
  readonly campaignTable: CampaignTable;
  readonly fingerprintStats: FingerprintStats;
  /** Sources whose scan state is not none: re-evaluated by prune() so they decay without packets. */
  private readonly scanning = new Set<SourceState>();
  /**
   * Of `scanning`: those not detected, then those detected per type (SCAN_TYPES order), kept as
   * states change (evaluate(), and a source leaving the table) so that stats(), read on every
   * /metrics scrape, does not walk 100,000 scanning sources each time.
   */
  private readonly scanCounts = new Int32Array(1 + SCAN_TYPES.length);
  private readonly newScans = new Uint32Array(SCAN_TYPES.length);
  /** Newest event time observed. */
  private latest = 0;

  constructor(options: TrackOptions) {
    this.options = options;
    this.sourceTable = new SourceTable(options, (s) => {
      if (this.scanning.delete(s)) this.count(s, -1);
    });
    this.campaignTable = new CampaignTable(options);
    this.fingerprintStats = new FingerprintStats(options.maxFingerprints);
  }

  static fromConfig(track: Config['track']): Tracker {
    return new Tracker(trackOptions(track));
  }

  private detected: ((d: Detection) => void) | null = null;

  /**
   * Tells `listener` of each detection, synchronously from observe() (so it must only queue it):
   * a source's scan reaching "detected", a higher severity while detected (once per level until
   * the scan ends) or another scan type detected, and a campaign reaching campaign_min_sources sources (once). One listener.
   */
  onDetection(listener: (d: Detection) => void): void {
    this.detected = listener;
    this.campaignTable.formed = (c) => listener({ kind: 'campaign', time: c.lastSeen, campaign: campaignRow(c) });
  }

  /** Newest event time observed (epoch ms), 0 before the first event. */
  get now(): number {
    return this.latest;
  }

  /** Hot path: called for every packet. Returns the packet's source (the history recorder's slot). */
  observe(e: PacketEvent): RecorderSlot {
    const s = this.sourceTable.observe(e);
    const time = e.time;
    if (time > this.latest) this.latest = time;
    if (this.sourceTable.lastTechnique < 0) return s;
    const before = s.scanState;
    const newly = this.evaluate(s, time);
    if (newly !== 0) this.countNew(newly);
    if (s.scanState !== before) {
      if (before === NOT_SCANNING) this.scanning.add(s);
      else if (s.scanState === NOT_SCANNING) this.scanning.delete(s);
    }
    if (s.scanState === DETECTED) {
      // News: a higher severity, or another type detected (the port-6000 sweep, then the brute force).
      if (s.severity > s.announced || (newly !== 0 && s.announced !== 0)) {
        if (s.severity > s.announced) s.announced = s.severity;
        this.detected?.({ kind: 'scan', time, source: this.row(s, time) });
      }
    } else if (s.announced !== 0) s.announced = 0;
    if (e.fingerprint !== null) {
      // A SYN the firewall accepted from an OS's own stack is a client of its services, in no
      // campaign (a network's Windows clients of its web server share a fingerprint and ports): as
      // for scans, an accepted SYN joins one only when crafted or with scan_count_allowed.
      if (this.sourceTable.lastCounted) this.campaignTable.observe(s, e);
      this.fingerprintStats.observe(e, s.epoch);
    }
    return s;
  }

  /** evaluateScan() with the source's part of scanCounts taken out before and put back after. */
  private evaluate(s: SourceState, now: number): number {
    if (s.scanState !== NOT_SCANNING) this.count(s, -1);
    const newly = evaluateScan(s, this.options, now);
    if (s.scanState !== NOT_SCANNING) this.count(s, 1);
    return newly;
  }

  /** Adds (by +1) or takes out (by −1) a scanning source's part of scanCounts. */
  private count(s: SourceState, by: number): void {
    const counts = this.scanCounts;
    if (s.scanState !== DETECTED) counts[0]! += by;
    if (s.vertical === DETECTED) counts[1]! += by;
    if (s.horizontal === DETECTED) counts[2]! += by;
    if (s.sshBruteforce === DETECTED) counts[3]! += by;
  }

  private countNew(mask: number): void {
    if (mask & VERTICAL) this.newScans[0]!++;
    if (mask & HORIZONTAL) this.newScans[1]!++;
    if (mask & SSH_BRUTEFORCE) this.newScans[2]!++;
  }

  /** Brings a source up to `now`: expires old slots and set members, re-evaluates its scan state. */
  private refresh(s: SourceState, now: number): void {
    advance(s, this.sourceTable.epochOf(now));
    if (s.scanState !== NOT_SCANNING) {
      const newly = this.evaluate(s, now);
      if (newly !== 0) this.countNew(newly);
      if (s.scanState === NOT_SCANNING) this.scanning.delete(s);
    }
  }

  /**
   * Periodic housekeeping at event time `now` (default: the newest event time — pass event time,
   * not the wall clock, so replaying an old file does not expire everything): drops sources and
   * campaigns silent for their window, lets scans decay, slides the fingerprint histogram.
   */
  prune(now: number = this.latest): void {
    if (now <= 0) return;
    this.sourceTable.prune(now);
    for (const s of this.scanning) this.refresh(s, now);
    this.campaignTable.prune(now);
    this.fingerprintStats.advance(this.sourceTable.epochOf(now));
  }

  /** `consume`: reset the new-scan counts (the periodic health export does; readers like the web view do not). */
  stats(consume = true): TrackerStats {
    const counts = this.scanCounts;
    const scans: Record<ScanType, number> = { vertical: counts[1]!, horizontal: counts[2]!, ssh_bruteforce: counts[3]! };
    const suspected = counts[0]!;
    const newScans: Record<ScanType, number> = {
      vertical: this.newScans[0] ?? 0,
      horizontal: this.newScans[1] ?? 0,
      ssh_bruteforce: this.newScans[2] ?? 0,
    };
    if (consume) this.newScans.fill(0);
    return {
      tracked: this.sourceTable.size,
      evicted: this.sourceTable.evicted,
      expired: this.sourceTable.expired,
      scans,
      newScans,
      suspected,
      campaigns: this.activeCampaigns().length,
    };
  }

  /** Tracked sources as rows, the `limit` first by `sort` (descending); `list`: only sources on that threat list. */
  sources(options: { limit?: number; sort?: SourceSort; list?: string } = {}): SourceRow[] {
    const limit = Math.max(0, Math.min(options.limit ?? 100, this.options.maxSources));
    const sort = options.sort ?? 'last_seen';
    const list = options.list;
    const now = this.latest;
    const picked: SourceState[] = [];
    if (sort === 'last_seen') {
      // The table is in recency order already.
      for (const s of this.sourceTable.values()) {
        if (picked.length >= limit) break;
        if (list === undefined || s.listed.includes(list)) picked.push(s);
      }
      picked.sort((a, b) => b.lastSeen - a.lastSeen);
    } else {
      const all: SourceState[] = [];
      for (const s of this.sourceTable.values()) {
        if (list !== undefined && !s.listed.includes(list)) continue;
        this.refresh(s, now);
        all.push(s);
      }
      const score = scoreOf(sort);
      all.sort((a, b) => score(b) - score(a) || b.lastSeen - a.lastSeen);
      for (let i = 0; i < all.length && i < limit; i++) picked.push(all[i]!);
    }
    return picked.map((s) => this.row(s, now));
  }

  /**
   * Sources with packets in the window, summed per country (most sources first). Reads the table's
   * counters directly, without building rows: a page polling it costs milliseconds at max_sources.
   */
  countries(): CountryFigures[] {
    const now = this.latest;
    const by = new Map<string, CountryFigures>();
    for (const s of this.sourceTable.values()) {
      this.refresh(s, now);
      const blocked = s.windowCount(C_BLOCKED);
      const packets = s.windowCount(C_ALLOWED) + blocked + s.windowCount(C_UNKNOWN);
      if (packets === 0) continue;
      let c = by.get(s.country);
      if (c === undefined) by.set(s.country, (c = { country: s.country, sources: 0, packets: 0, blocked: 0, scanning: 0 }));
      c.sources++;
      c.packets += packets;
      c.blocked += blocked;
      if (s.scanState !== NOT_SCANNING) c.scanning++;
    }
    return [...by.values()].sort((a, b) => b.sources - a.sources || b.blocked - a.blocked || a.country.localeCompare(b.country));
  }

  /**
   * The same per place a City database located (most sources first, at most MAX_CITIES): empty
   * without a City database. Sources are grouped by their GeoIP answer, which is shared per place.
   */
  cities(): CityFigures[] {
    const now = this.latest;
    const by = new Map<GeoInfo, CityFigures>();
    for (const s of this.sourceTable.values()) {
      const place = s.place;
      if (place === null || place.location === null) continue;
      this.refresh(s, now);
      const blocked = s.windowCount(C_BLOCKED);
      const packets = s.windowCount(C_ALLOWED) + blocked + s.windowCount(C_UNKNOWN);
      if (packets === 0) continue;
      let c = by.get(place);
      if (c === undefined) {
        c = { country: place.country, city: place.city, lat: place.location.lat, lon: place.location.lon, sources: 0, packets: 0, blocked: 0, scanning: 0 };
        by.set(place, c);
      }
      c.sources++;
      c.packets += packets;
      c.blocked += blocked;
      if (s.scanState !== NOT_SCANNING) c.scanning++;
    }
    // Answers differing only in their AS are one place.
    const merged = new Map<string, CityFigures>();
    for (const c of by.values()) {
      const key = `${c.country}\u0000${c.city}\u0000${c.lat}\u0000${c.lon}`;
      const m = merged.get(key);
      if (m === undefined) merged.set(key, c);
      else {
        m.sources += c.sources;
        m.packets += c.packets;
        m.blocked += c.blocked;
        m.scanning += c.scanning;
      }
    }
    return [...merged.values()]
      .sort((a, b) => b.sources - a.sources || b.blocked - a.blocked || a.country.localeCompare(b.country) || a.city.localeCompare(b.city))
      .slice(0, MAX_CITIES);
  }

  private row(s: SourceState, now: number): SourceRow {
    this.refresh(s, now);
    const o = this.options;
    const oldest = s.epoch - SLOTS + 1;
    const portText = portRanges(s.portKeys());
    return {
      address: s.address,
      firstSeen: iso(s.firstSeen),
      lastSeen: iso(s.lastSeen),
      packets: { allowed: s.allowed, blocked: s.blocked, unknown: s.unknown, total: s.allowed + s.blocked + s.unknown },
      window: {
        allowed: s.windowCount(C_ALLOWED),
        blocked: s.windowCount(C_BLOCKED),
        unknown: s.windowCount(C_UNKNOWN),
        probes: s.windowCount(C_PROBES),
      },
      ports: { distinct: s.portCount(), atLeast: s.portsAtLeast(oldest), ranges: portText },
      hosts: { distinct: s.hostCount(), atLeast: s.hostsAtLeast(oldest), ranges: hostRanges(s.hostKeys()) },
      lastPorts: s.lastPorts(),
      sourcePortReuse: s.sportReused(o.reuseMinTargets) ? { port: s.sportCandidate, targets: s.sportHits } : null,
      seqReuse: s.seqReused(o.reuseMinTargets) ? { seq: s.seqCandidate, syns: s.seqHits } : null,
      fingerprints: s.fingerprintKeys(),
      tools: s.tools?.slice() ?? [],
      os: s.oses?.slice() ?? [],
      country: s.country,
      asn: s.asn === NONE ? null : s.asn,
      asOrg: s.asOrg,
      cloud: s.cloud,
      listed: s.listed.slice(),
      scan: scanView(s, o, now, portText),
    };
  }

  /** The SYN fingerprint histogram over the window (by key, by TCP window, by initial TTL). */
  fingerprints(limit = 100): FingerprintHistogram {
    if (this.latest > 0) this.fingerprintStats.advance(this.sourceTable.epochOf(this.latest));
    return this.fingerprintStats.histogram(this.options.windowMs / 1000, limit);
  }

  private activeCampaigns(): Campaign[] {
    const cutoff = this.latest - this.options.campaignWindowMs;
    const out: Campaign[] = [];
    for (const c of this.campaignTable.values()) {
      if (this.campaignTable.active(c) && c.lastSeen >= cutoff) out.push(c);
    }
    return out;
  }

  /** Active campaigns (at least campaign_min_sources sources), most sources first. */
  campaigns(limit = 100): CampaignRow[] {
    const list = this.activeCampaigns();
    list.sort((a, b) => b.sources - a.sources || b.lastSeen - a.lastSeen);
    return list.slice(0, limit).map(campaignRow);
  }

  summary(): Summary {
    const byType: Summary['scans']['byType'] = {
      vertical: { suspected: 0, detected: 0 },
      horizontal: { suspected: 0, detected: 0 },
      ssh_bruteforce: { suspected: 0, detected: 0 },
    };
    const bySeverity: Record<string, number> = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
    let suspected = 0;
    let detected = 0;
    if (this.latest > 0) for (const s of this.scanning) this.refresh(s, this.latest);
    for (const s of this.scanning) {
      if (s.scanState === DETECTED) detected++;
      else suspected++;
      const levels = [s.vertical, s.horizontal, s.sshBruteforce];
      for (let i = 0; i < SCAN_TYPES.length; i++) {
        const level = levels[i] ?? 0;
        const type = SCAN_TYPES[i]!;
        if (level === DETECTED) byType[type].detected++;
        else if (level !== NOT_SCANNING) byType[type].suspected++;
      }
      const key = String(s.severity);
      if (key in bySeverity) bySeverity[key] = (bySeverity[key] ?? 0) + 1;
    }
    const fp = this.fingerprints(0);
    return {
      time: this.latest > 0 ? iso(this.latest) : null,
      windowSeconds: this.options.windowMs / 1000,
      packets: this.sourceTable.packets,
      sources: { tracked: this.sourceTable.size, max: this.options.maxSources, evicted: this.sourceTable.evicted, expired: this.sourceTable.expired },
      scans: { suspected, detected, byType, bySeverity },
      campaigns: { active: this.activeCampaigns().length, groups: this.campaignTable.size, evicted: this.campaignTable.evicted },
      fingerprints: { keys: this.fingerprintStats.byKey.buckets.size, syns: fp.total },
    };
  }
}

function scoreOf(sort: Exclude<SourceSort, 'last_seen'>): (s: SourceState) => number {
  switch (sort) {
    case 'packets':
      return (s) => s.windowCount(C_ALLOWED) + s.windowCount(C_BLOCKED) + s.windowCount(C_UNKNOWN);
    case 'ports':
      return (s) => s.portCount();
    case 'severity':
      // Severity first, then detected over suspected, then the probes behind it.
      return (s) => s.severity * 1e12 + s.scanState * 1e10 + s.windowCount(C_PROBES);
  }
}

function campaignRow(c: Campaign): CampaignRow {
  const countries = c.countryCounts().map(([country, sources]) => ({ country, sources })).sort((a, b) => b.sources - a.sources);
  const sourcePorts = c.sourcePortCounts().map(([port, sources]) => ({ port, sources })).sort((a, b) => b.sources - a.sources);
  const top = sourcePorts[0];
  return {
    key: c.key,
    fingerprint: c.fingerprint,
    ports: [...c.ports],
    manyPorts: c.manyPorts,
    sources: c.sources,
    addresses: c.addresses(),
    countries,
    sourcePorts,
    sharedSourcePort: top !== undefined && top.port >= 0 && top.sources * 2 > c.sources ? top.port : null,
    syns: c.syns,
    os: c.os,
    tool: c.tool,
    firstSeen: iso(c.firstSeen),
    lastSeen: iso(c.lastSeen),
  };
}
