// What /healthz says: the pipeline's health snapshots judged against fixed rules, so a monitor
// (systemd, Nagios check_http, a load balancer) gets 200 "ok" or 503 "degraded" with the problems.
//
// The rules use only what the snapshot exposes (pipeline/types.ts SinkHealth, SourceHealth, plus a
// file source's `missingFile`, see SourceFigures) and what changed between snapshots. A judge is fed
// a snapshot every second by the web app (and on every request), so durations below are measured
// at that resolution, not at the rate a monitor polls.
//
// Sinks (graphite, influx):
//   unreachable  connected = false while backlog > 0, for UNREACHABLE_MS: there is something to
//                deliver and no connection (Graphite: no TCP connection to carbon; InfluxDB: no
//                HTTP answer; the short hold skips InfluxDB's first request in flight at start).
//                Both sinks queue a health batch every interval, so a backend that goes away shows
//                here within about one interval plus UNREACHABLE_MS.
//   stalled      backlog > 0 and `sent` has not grown for STALL_MS: connected but nothing is
//                accepted (InfluxDB answering 401/5xx, carbon not reading).
//   dropping     `dropped` grew within the last DROP_MEMORY_MS: the backlog was full and metrics
//                were lost.
// Sources:
//   waiting      a file source whose path does not exist (missingFile = 1) for SOURCE_GRACE_MS.
//   unreadable   a file source that cannot read its path (unreadable = 1: permission denied, an I/O
//                error, a symlink or not a regular file refused) for UNREADABLE_MS: unlike a file
//                that is not there yet, this does not fix itself.
//   unconnected  a socket source with no connection from ulogd for SOURCE_GRACE_MS (ulogd drops
//                every line it logs while it is not connected).
// An idle source is not a problem: a quiet firewall logs nothing.
//
// What the answer reveals: names of sources and sinks (configuration labels), their kind and the
// rule that failed, never a path, host, port, address or error text: /healthz needs no token even
// when the page is served beyond loopback.
import type { HealthSnapshot, SinkHealth, SourceHealth } from '../pipeline/types.js';

/** A source's figures as the daemon passes them: SourceHealth plus a file source's missingFile and unreadable. */
export type SourceFigures = SourceHealth & { missingFile?: number; unreadable?: number };

export const UNREACHABLE_MS = 2_000;
export const STALL_MS = 30_000;
export const DROP_MEMORY_MS = 5 * 60_000;
export const SOURCE_GRACE_MS = 60_000;
export const UNREADABLE_MS = 5_000;

export type ProblemReason = 'unreachable' | 'stalled' | 'dropping' | 'waiting' | 'unreadable' | 'unconnected';

export interface HealthProblem {
  component: 'sink' | 'source';
  name: string;
  reason: ProblemReason;
  message: string;
}

export interface HealthVerdict {
  status: 'ok' | 'degraded';
  problems: HealthProblem[];
  /** Per sink and source name: 'ok' or the first failed rule. */
  sinks: Record<string, string>;
  sources: Record<string, string>;
}

export interface JudgeLimits {
  unreachableMs: number;
  stallMs: number;
  dropMemoryMs: number;
  sourceGraceMs: number;
  unreadableMs: number;
}

interface SinkMemory {
  sent: number;
  sentAt: number;
  dropped: number;
  droppedAt: number;
  /** Since when it has been unconnected with a backlog; null while it is not. */
  downSince: number | null;
}

/** Judges successive health snapshots; keeps what it needs of the previous ones. */
export class HealthJudge {
  private readonly sinks = new Map<string, SinkMemory>();
  /** Since when a source has been in a bad state (absent: it is not). */
  private readonly sourceBadSince = new Map<string, { reason: ProblemReason; since: number }>();
  private readonly limits: JudgeLimits;

  constructor(limits: Partial<JudgeLimits> = {}) {
    this.limits = { unreachableMs: UNREACHABLE_MS, stallMs: STALL_MS, dropMemoryMs: DROP_MEMORY_MS, sourceGraceMs: SOURCE_GRACE_MS, unreadableMs: UNREADABLE_MS, ...limits };
  }

  /** Takes the snapshot of `now` (epoch ms) and says what it makes of it. */
  observe(snapshot: HealthSnapshot, now: number): HealthVerdict {
    const problems: HealthProblem[] = [];
    const sinks: Record<string, string> = {};
    const sources: Record<string, string> = {};
    for (const [name, health] of Object.entries(snapshot.sinks)) {
      const found = this.judgeSink(name, health, now);
      sinks[name] = found[0]?.reason ?? 'ok';
      problems.push(...found);
    }
    for (const [name, health] of Object.entries(snapshot.sources ?? {})) {
      const found = this.judgeSource(name, health as SourceFigures, now);
      sources[name] = found?.reason ?? 'ok';
      if (found) problems.push(found);
    }
    return { status: problems.length === 0 ? 'ok' : 'degraded', problems, sinks, sources };
  }

  private judgeSink(name: string, h: SinkHealth, now: number): HealthProblem[] {
    let memory = this.sinks.get(name);
    if (!memory) {
      memory = { sent: h.sent, sentAt: now, dropped: h.dropped, droppedAt: -Infinity, downSince: null };
      this.sinks.set(name, memory);
    }
    if (h.sent !== memory.sent) {
      memory.sent = h.sent;
      memory.sentAt = now;
    }
    if (h.dropped > memory.dropped) memory.droppedAt = now;
    memory.dropped = h.dropped;
    // Nothing waiting: time without sending is not a stall.
    if (h.backlog === 0) memory.sentAt = now;
    const down = !h.connected && h.backlog > 0;
    if (!down) memory.downSince = null;
    else if (memory.downSince === null) memory.downSince = now;

    const problems: HealthProblem[] = [];
    const problem = (reason: ProblemReason, message: string) => problems.push({ component: 'sink', name, reason, message });
    if (down && now - memory.downSince! >= this.limits.unreachableMs) problem('unreachable', `output ${name} cannot reach its server; ${h.backlog} items waiting`);
    else if (!down && h.backlog > 0 && now - memory.sentAt >= this.limits.stallMs) {
      problem('stalled', `output ${name} delivered nothing for ${Math.round((now - memory.sentAt) / 1000)} s; ${h.backlog} items waiting`);
    }
    if (now - memory.droppedAt < this.limits.dropMemoryMs) problem('dropping', `output ${name} dropped metrics from its full backlog in the last ${Math.round(this.limits.dropMemoryMs / 60_000)} min`);
    return problems;
  }

  private judgeSource(name: string, h: SourceFigures, now: number): HealthProblem | undefined {
    let reason: ProblemReason | undefined;
    if (h.kind === 'file' && h.unreadable === 1) reason = 'unreadable';
    else if (h.kind === 'file' && h.missingFile === 1) reason = 'waiting';
    else if (h.kind === 'socket' && h.connections === 0) reason = 'unconnected';
    if (reason === undefined) {
      this.sourceBadSince.delete(name);
      return undefined;
    }
    // A change of reason starts the clock again (a file that appears but cannot be read).
    const bad = this.sourceBadSince.get(name);
    const since = bad?.reason === reason ? bad.since : now;
    this.sourceBadSince.set(name, { reason, since });
    const seconds = Math.round((now - since) / 1000);
    if (now - since < (reason === 'unreadable' ? this.limits.unreadableMs : this.limits.sourceGraceMs)) return undefined;
    const messages: Record<string, string> = {
      waiting: `source ${name}: its file has not existed for ${seconds} s`,
      unreadable: `source ${name}: its file could not be read for ${seconds} s (permissions, or refused: see the log)`,
      unconnected: `source ${name}: ulogd has not been connected for ${seconds} s`,
    };
    return { component: 'source', name, reason, message: messages[reason]! };
  }
}
