// Scan detection: pure functions over a SourceState (they change only the state they are given,
// do no I/O and allocate nothing on the hot path). Thresholds and their reasoning (psad's danger
// levels, crowdsec's leaky buckets) are in README.md beside this file.
import type { TrackOptions } from './options.js';
import { C_PROBES, C_SSH, TECHNIQUES, type ScanTechnique, type SourceState } from './sources.js';

import { SCAN_TYPES, type ScanType } from '../pipeline/types.js';
import { parseIPv4 } from '../util/ip.js';

export { SCAN_TYPES, type ScanType };
/** Bits of the mask evaluateScan() returns, in SCAN_TYPES order. */
export const VERTICAL = 1;
export const HORIZONTAL = 2;
export const SSH_BRUTEFORCE = 4;

export type ScanLevel = 'none' | 'suspected' | 'detected';
export const SCAN_LEVELS: readonly ScanLevel[] = ['none', 'suspected', 'detected'];
export const NOT_SCANNING = 0;
export const SUSPECTED = 1;
export const DETECTED = 2;

/** How many of the ascending thresholds `value` reaches: 0..thresholds.length. */
export function ladder(value: number, thresholds: readonly number[]): number {
  let level = 0;
  for (let i = 0; i < thresholds.length; i++) {
    if (value >= (thresholds[i] ?? Number.POSITIVE_INFINITY)) level = i + 1;
    else break;
  }
  return level;
}

/** The SSH bucket's level at `time` after leaking one SYN per `leakMs` since the last pour. */
export function sshLevelAt(s: SourceState, time: number, leakMs: number): number {
  if (s.sshLevel === 0) return 0;
  const leaked = time > s.sshLast ? (time - s.sshLast) / leakMs : 0;
  return s.sshLevel > leaked ? s.sshLevel - leaked : 0;
}

/**
 * Pours one accepted SYN to an SSH port into the source's leaky bucket (crowdsec's model:
 * `capacity` SYNs, one leaks out every `leakMs`). Remembers when it overflowed.
 */
export function pourSsh(s: SourceState, time: number, o: TrackOptions): void {
  s.sshLevel = sshLevelAt(s, time, o.sshLeakMs) + 1;
  if (time > s.sshLast) s.sshLast = time;
  if (s.sshLevel > o.sshCapacity) s.sshOverflowAt = time;
}

/**
 * Whether the source sends crafted packets: a recognised tool, one source port / sequence number
 * reused, or TCP flags no stack sends (NULL, XMAS, Maimon, odd mixes).
 */
export function crafted(s: SourceState, o: TrackOptions): boolean {
  return s.tools !== null || s.sportReused(o.reuseMinTargets) || s.seqReused(o.reuseMinTargets) || s.craftedFlagProbes > 0;
}

/**
 * Re-evaluates a source's scan state at event time `now`; returns the SCAN_TYPES bits that became
 * detected just now (0 mostly). Call after observe() of a probe, and from prune() for decay.
 */
export function evaluateScan(s: SourceState, o: TrackOptions, now: number): number {
  const ports = s.countedPorts();
  const hosts = s.countedHosts();
  const vertical = ports >= o.verticalPorts ? DETECTED : ports >= o.verticalSuspectPorts ? SUSPECTED : NOT_SCANNING;
  const horizontal = hosts >= o.horizontalHosts ? DETECTED : hosts >= o.horizontalSuspectHosts ? SUSPECTED : NOT_SCANNING;
  let ssh = NOT_SCANNING;
  if (s.sshOverflowAt !== 0 && now - s.sshOverflowAt < o.windowMs) {
    ssh = DETECTED; // stays detected for a window after the bucket overflowed, like crowdsec's blackhole
  } else if (s.sshLevel !== 0) {
    const level = sshLevelAt(s, now, o.sshLeakMs);
    ssh = level > o.sshCapacity ? DETECTED : level > o.sshCapacity / 2 ? SUSPECTED : NOT_SCANNING;
  }

  let newlyDetected = 0;
  if (vertical === DETECTED && s.vertical !== DETECTED) newlyDetected |= VERTICAL;
  if (horizontal === DETECTED && s.horizontal !== DETECTED) newlyDetected |= HORIZONTAL;
  if (ssh === DETECTED && s.sshBruteforce !== DETECTED) newlyDetected |= SSH_BRUTEFORCE;
  s.vertical = vertical;
  s.horizontal = horizontal;
  s.sshBruteforce = ssh;

  const state = vertical > horizontal ? (vertical > ssh ? vertical : ssh) : horizontal > ssh ? horizontal : ssh;
  if (state !== s.scanState) {
    s.scanSince = state === NOT_SCANNING ? 0 : state > s.scanState || s.scanSince === 0 ? now : s.scanSince;
    s.scanState = state;
  }
  if (state === NOT_SCANNING) {
    s.severity = 0;
    return newlyDetected;
  }
  let severity = 1;
  if (vertical !== NOT_SCANNING || horizontal !== NOT_SCANNING) {
    severity = Math.max(severity, ladder(s.windowCount(C_PROBES), o.severityPackets), ladder(hosts, o.severityHosts));
  }
  if (ssh !== NOT_SCANNING) severity = Math.max(severity, ladder(s.windowCount(C_SSH), o.severityPackets));
  if (crafted(s, o) && severity < 5) severity++;
  s.severity = severity;
  return newlyDetected;
}

/** A scan state as plain JSON for the query API. */
export interface ScanView {
  state: ScanLevel;
  /** The types at the reported state or below it but not none, e.g. ["vertical"]. */
  types: ScanType[];
  /** Level by type. */
  levels: Record<ScanType, ScanLevel>;
  /** 1–5 while suspected/detected, 0 otherwise (psad-style danger level). */
  severity: number;
  /** ISO time the current state was reached; null when none. */
  since: string | null;
  /** Probes by technique since the source was first tracked, busiest first (those with any). */
  techniques: Array<{ technique: ScanTechnique; probes: number }>;
  /** What a person reads, e.g. "XMAS port scan of 11 ports (20-30)"; '' when none. */
  label: string;
  evidence: {
    /** Distinct destination ports that count towards scans, in the window. */
    ports: number;
    /** Distinct destination hosts that count towards scans, in the window. */
    hosts: number;
    /** Probes (SYN/UDP/ICMP…) that count towards scans, in the window. */
    probes: number;
    /** Accepted SYNs to SSH ports in the window. */
    sshSyns: number;
    /** The SSH leaky bucket's level now. */
    sshBucket: number;
    crafted: boolean;
  };
}

/** `portText`: the source's ports as portRanges() writes them (the row has them already). */
export function scanView(s: SourceState, o: TrackOptions, now: number, portText: string): ScanView {
  const levels: Record<ScanType, ScanLevel> = {
    vertical: SCAN_LEVELS[s.vertical] ?? 'none',
    horizontal: SCAN_LEVELS[s.horizontal] ?? 'none',
    ssh_bruteforce: SCAN_LEVELS[s.sshBruteforce] ?? 'none',
  };
  const techniques = techniquesOf(s);
  return {
    state: SCAN_LEVELS[s.scanState] ?? 'none',
    types: SCAN_TYPES.filter((t) => levels[t] !== 'none'),
    levels,
    severity: s.severity,
    since: s.scanSince === 0 ? null : new Date(s.scanSince).toISOString(),
    techniques,
    label: scanLabel(s, techniques[0]?.technique, portText),
    evidence: {
      ports: s.countedPorts(),
      hosts: s.countedHosts(),
      probes: s.windowCount(C_PROBES),
      sshSyns: s.windowCount(C_SSH),
      sshBucket: Math.round(sshLevelAt(s, now, o.sshLeakMs) * 100) / 100,
      crafted: crafted(s, o),
    },
  };
}

/** A source's probes by technique, busiest first (TECHNIQUES order among equals). */
export function techniquesOf(s: SourceState): Array<{ technique: ScanTechnique; probes: number }> {
  const out: Array<{ technique: ScanTechnique; probes: number }> = [];
  for (let t = 0; t < TECHNIQUES.length; t++) {
    const probes = s.techniqueCount(t);
    if (probes > 0) out.push({ technique: TECHNIQUES[t]!, probes });
  }
  return out.sort((a, b) => b.probes - a.probes);
}

const TECHNIQUE_NAMES: Record<ScanTechnique, string> = {
  syn: 'SYN',
  null: 'NULL',
  fin: 'FIN',
  xmas: 'XMAS',
  ack: 'ACK',
  maimon: 'Maimon (FIN+ACK)',
  odd_flags: 'odd-flag',
  udp: 'UDP',
  icmp: 'ICMP',
};

/** Listed ranges at most, then "…". */
const MAX_RANGES = 32;

/** Ports as sorted ranges, psad-style: [20, 21, 22, 80] → "20-22,80". */
export function portRanges(ports: readonly number[]): string {
  // A typed array sorts numerically without a comparator: a scanner's 1,024 ports each time it is
  // announced, for the alert and the history's incident.
  const sorted = Float64Array.from(ports).sort();
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    // Duplicates (a caller's list may have them) join the run they are in.
    while (j + 1 < sorted.length && (sorted[j + 1] === sorted[j]! + 1 || sorted[j + 1] === sorted[j])) j++;
    if (ranges.length === MAX_RANGES) {
      ranges.push('…');
      break;
    }
    ranges.push(sorted[i] === sorted[j] ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(',');
}

/** Hosts sorted, runs of consecutive IPv4 addresses as "a-b" (last octet only when they share the rest). */
export function hostRanges(hosts: readonly string[]): string[] {
  const v4: Array<{ h: string; n: number }> = [];
  const others: string[] = [];
  for (const h of hosts) {
    const n = parseIPv4(h, 0, h.length);
    if (n >= 0) v4.push({ h, n });
    else others.push(h);
  }
  v4.sort((a, b) => a.n - b.n);
  const out: string[] = [];
  for (let i = 0; i < v4.length; ) {
    let j = i;
    while (j + 1 < v4.length && v4[j + 1]!.n === v4[j]!.n + 1) j++;
    if (out.length === MAX_RANGES) {
      out.push('…');
      return out;
    }
    const first = v4[i]!.h;
    const last = v4[j]!.h;
    const sameNet = Math.floor(v4[i]!.n / 256) === Math.floor(v4[j]!.n / 256);
    out.push(i === j ? first : `${first}-${sameNet ? last.slice(last.lastIndexOf('.') + 1) : last}`);
    i = j + 1;
  }
  for (const h of others.sort()) {
    if (out.length === MAX_RANGES) {
      out.push('…');
      break;
    }
    out.push(h);
  }
  return out;
}

/**
 * One line a person reads for the source's scans: what, how, how many; '' when it is not
 * scanning. `portText`: its ports as portRanges() writes them.
 */
export function scanLabel(s: SourceState, main: ScanTechnique | undefined, portText: string): string {
  if (s.scanState === NOT_SCANNING) return '';
  const how = main === undefined ? '' : `${TECHNIQUE_NAMES[main]} `;
  const hosts = s.countedHosts();
  const parts: string[] = [];
  if (s.vertical !== NOT_SCANNING) {
    const counted = s.countedPorts();
    parts.push(`${how}port scan of ${counted} port${counted === 1 ? '' : 's'} (${portText})`);
  }
  if (s.horizontal !== NOT_SCANNING) {
    const what = main === 'icmp' ? 'ICMP sweep' : `${how}sweep`;
    const of = main !== 'icmp' && s.portCount() === 1 ? ` of port ${portText}` : '';
    parts.push(`${what}${of} over ${hosts} host${hosts === 1 ? '' : 's'}`);
  }
  if (s.sshBruteforce !== NOT_SCANNING) parts.push(`SSH brute force (${s.windowCount(C_SSH)} SYNs in the window)`);
  return parts.join('; ');
}
