// Scan detection: pure functions over a SourceState (they change only the state they are given,
// do no I/O and allocate nothing on the hot path). Thresholds and their reasoning (psad's danger
// levels, crowdsec's leaky buckets) are in README.md beside this file.
import type { TrackOptions } from './options.js';
import { C_PROBES, C_SSH, type SourceState } from './sources.js';

import { SCAN_TYPES, type ScanType } from '../pipeline/types.js';

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

/** Whether the source sends crafted packets: a recognised tool, or one source port / sequence number reused. */
export function crafted(s: SourceState, o: TrackOptions): boolean {
  return s.tools !== null || s.sportReused(o.reuseMinTargets) || s.seqReused(o.reuseMinTargets);
}

/**
 * Re-evaluates a source's scan state at event time `now`; returns the SCAN_TYPES bits that became
 * detected just now (0 mostly). Call after observe() of a probe, and from prune() for decay.
 */
export function evaluateScan(s: SourceState, o: TrackOptions, now: number): number {
  const ports = s.ports === null ? 0 : s.ports.counted;
  const hosts = s.hosts === null ? 0 : s.hosts.counted;
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

export function scanView(s: SourceState, o: TrackOptions, now: number): ScanView {
  const levels: Record<ScanType, ScanLevel> = {
    vertical: SCAN_LEVELS[s.vertical] ?? 'none',
    horizontal: SCAN_LEVELS[s.horizontal] ?? 'none',
    ssh_bruteforce: SCAN_LEVELS[s.sshBruteforce] ?? 'none',
  };
  return {
    state: SCAN_LEVELS[s.scanState] ?? 'none',
    types: SCAN_TYPES.filter((t) => levels[t] !== 'none'),
    levels,
    severity: s.severity,
    since: s.scanSince === 0 ? null : new Date(s.scanSince).toISOString(),
    evidence: {
      ports: s.ports === null ? 0 : s.ports.counted,
      hosts: s.hosts === null ? 0 : s.hosts.counted,
      probes: s.windowCount(C_PROBES),
      sshSyns: s.windowCount(C_SSH),
      sshBucket: Math.round(sshLevelAt(s, now, o.sshLeakMs) * 100) / 100,
      crafted: crafted(s, o),
    },
  };
}
