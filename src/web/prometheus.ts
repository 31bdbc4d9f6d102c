// nfwatch's health as Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format): one `# HELP`
// and one `# TYPE` line per metric family, then its samples. Figures in, text out; the only reads
// of the live process (CPU, memory, open files) happen when a scrape does not pass them in.
//
// Conventions (https://prometheus.io/docs/practices/naming/): counters end in `_total`, units are
// base units in the name (`_seconds`, `_bytes`), `nfwatch_build_info{version,nodejs} 1` names the
// build, and the standard process_* / nodejs_* families carry the names prom-client's
// collectDefaultMetrics() gives them, so stock Node.js dashboards work. Written by hand rather than
// with prom-client: every nfwatch figure is already a snapshot read at scrape time (a registry would
// only copy it), and collectDefaultMetrics() keeps an event-loop-delay monitor and a GC observer
// running between scrapes; here nothing runs outside a scrape.
import { readFileSync, readdirSync } from 'node:fs';
import type { HealthSnapshot, SourceHealthField, Verdict } from '../pipeline/types.js';
import { VERDICTS } from '../pipeline/types.js';
import type { TrackerStats } from '../pipeline/types.js';
import type { AlertStats } from '../alerts/dispatcher.js';
import type { ResponseStats } from '../respond/responder.js';
import type { ThreatListStats } from '../enrich/threat-lists.js';
import type { DropReason, HistoryStats } from '../store/history.js';
import { SCAN_TYPES } from '../track/scans.js';
import type { CounterSeries } from './history.js';
import { NFWATCH_VERSION } from './version.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsInput {
  health: HealthSnapshot;
  /** Packets by verdict in closed intervals since start (IntervalHistory.totals). */
  totals: Record<Verdict, number> & { syns: number };
  /** NFACCT counters (IntervalHistory.counters()). */
  counters: readonly CounterSeries[];
  /** The tracker's figures; null when tracking is off (then no tracker metrics are written). */
  tracker: TrackerStats | null;
  /** The alert figures; null or absent when alerts are off (then none are written). */
  alerts?: AlertStats | null;
  /** The block set's figures; null or absent when [response] is off. */
  response?: ResponseStats | null;
  /** Packets from sources on each threat list since start (IntervalHistory.listed), and the lists in use. */
  listed?: ReadonlyMap<string, number>;
  lists?: readonly ThreatListStats[];
  /** The history store's figures; null or absent when [history] is off. */
  history?: HistoryStats | null;
  uptimeSeconds: number;
  streamClients: number;
  /** The process figures; read from this process when absent (a scrape). */
  process?: ProcessFigures;
  /** nfwatch's version for nfwatch_build_info; package.json's when absent. */
  version?: string;
}

/** The figures of the standard process_* and nodejs_* families. */
export interface ProcessFigures {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  /** Epoch seconds. */
  startTimeSeconds: number;
  residentMemoryBytes: number;
  /** null where /proc is not there (not Linux). */
  virtualMemoryBytes: number | null;
  openFds: number | null;
  maxFds: number | null;
  heapTotalBytes: number;
  heapUsedBytes: number;
  externalMemoryBytes: number;
  nodeVersion: string;
}

/** This process's figures now: process.cpuUsage/memoryUsage, /proc/self for fds and virtual memory. */
export function readProcessFigures(): ProcessFigures {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  let virtualMemoryBytes: number | null = null;
  let openFds: number | null = null;
  let maxFds: number | null = null;
  try {
    const vm = /^VmSize:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (vm) virtualMemoryBytes = Number(vm[1]) * 1024;
    openFds = readdirSync('/proc/self/fd').length - 1; // minus the directory handle of the listing itself
    const limit = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (limit) maxFds = Number(limit[1]);
  } catch {
    // not Linux: those families are left out
  }
  return {
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
    startTimeSeconds: Math.round(performance.timeOrigin / 1000),
    residentMemoryBytes: mem.rss,
    virtualMemoryBytes,
    openFds,
    maxFds,
    heapTotalBytes: mem.heapTotal,
    heapUsedBytes: mem.heapUsed,
    externalMemoryBytes: mem.external,
    nodeVersion: process.versions.node,
  };
}

/** The source figures of the health snapshot as metric families, by source name. */
const SOURCE_FAMILIES: ReadonlyArray<[SourceHealthField, string, 'counter' | 'gauge', string]> = [
  ['linesRead', 'nfwatch_source_lines_total', 'counter', 'Complete lines read, by source.'],
  ['bytesRead', 'nfwatch_source_bytes_total', 'counter', 'Bytes read, by source.'],
  ['connections', 'nfwatch_source_connections', 'gauge', 'Connections open now, by socket source (0 for files).'],
  ['connectionsRefused', 'nfwatch_source_connections_refused_total', 'counter', 'Connections closed at once because the limit was reached and every open one had delivered, by socket source.'],
  ['connectionsEvicted', 'nfwatch_source_connections_evicted_total', 'counter', 'Connections that had not delivered a complete line, closed to make room for a new one at the limit, by socket source.'],
  ['partialLinesDropped', 'nfwatch_source_partial_lines_dropped_total', 'counter', 'Unfinished lines lost when their connection closed, by socket source.'],
  ['rotations', 'nfwatch_source_rotations_total', 'counter', 'Times a file source moved on from a file renamed away.'],
  ['truncations', 'nfwatch_source_truncations_total', 'counter', 'Times a followed file was found shorter than the read position (copytruncate or cut shorter).'],
  ['symlinksRefused', 'nfwatch_source_symlinks_refused_total', 'counter', 'Times a file source found a symbolic link at its path and did not follow it (follow_symlinks = false).'],
];

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** Label value escaping of the text format: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (ch) => (ch === '\\' ? '\\\\' : ch === '"' ? '\\"' : '\\n'));
}

/** HELP text escaping: backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (ch) => (ch === '\\' ? '\\\\' : '\\n'));
}

/** Go's strconv-style float text the format expects: +Inf, -Inf, NaN, else the shortest decimal. */
function value(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

class Exposition {
  private readonly out: string[] = [];

  family(name: string, type: 'counter' | 'gauge', help: string, samples: readonly Sample[] | number): void {
    this.out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    if (typeof samples === 'number') {
      this.out.push(`${name} ${value(samples)}`);
      return;
    }
    for (const [labels, v] of samples) {
      const keys = Object.keys(labels);
      const text = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(',')}}`;
      this.out.push(`${name}${text} ${value(v)}`);
    }
  }

  text(): string {
    return `${this.out.join('\n')}\n`;
  }
}

export function renderMetrics(input: MetricsInput): string {
  const { health, totals, counters, tracker } = input;
  const m = new Exposition();
  m.family('nfwatch_events_total', 'counter', 'Packets counted in closed intervals since nfwatch started, by verdict.',
    VERDICTS.map((v): Sample => [{ verdict: v }, totals[v]]));
  m.family('nfwatch_syns_total', 'counter', 'TCP SYNs without ACK counted in closed intervals since nfwatch started.', totals.syns);
  m.family('nfwatch_lines_total', 'counter', 'Lines read from ulogd since nfwatch started.', health.lines);
  m.family('nfwatch_decoded_events_total', 'counter', 'Events decoded since nfwatch started (packets and NFACCT records).', health.events);
  m.family('nfwatch_decode_errors_total', 'counter', 'Lines that did not become an event, by reason.',
    Object.entries(health.decodeErrors).map(([reason, n]): Sample => [{ reason }, n]));
  m.family('nfwatch_oversized_lines_total', 'counter', 'Lines longer than general.max_line_bytes, skipped.', health.oversizedLines);
  m.family('nfwatch_late_events_total', 'counter', 'Events that arrived after their interval was written, counted in a later one.', health.lateEvents);
  m.family('nfwatch_counter_resets_total', 'counter', 'NFACCT running totals that went backwards (treated as reset).', health.counterResets);
  m.family('nfwatch_open_intervals', 'gauge', 'Intervals being counted, not yet written.', health.openIntervals);
  const sinks = Object.entries(health.sinks);
  m.family('nfwatch_sink_backlog', 'gauge', 'Items waiting to be sent, by sink.', sinks.map(([sink, h]): Sample => [{ sink }, h.backlog]));
  m.family('nfwatch_sink_dropped_total', 'counter', 'Items dropped because the backlog was full, by sink.', sinks.map(([sink, h]): Sample => [{ sink }, h.dropped]));
  m.family('nfwatch_sink_sent_total', 'counter', 'Items sent, by sink.', sinks.map(([sink, h]): Sample => [{ sink }, h.sent]));
  m.family('nfwatch_sink_connected', 'gauge', '1 when the sink is connected to its backend.', sinks.map(([sink, h]): Sample => [{ sink }, h.connected ? 1 : 0]));
  const sources = Object.entries(health.sources ?? {});
  if (sources.length > 0) {
    for (const [field, name, type, help] of SOURCE_FAMILIES) {
      m.family(name, type, help, sources.map(([source, h]): Sample => [{ source }, h[field]]));
    }
  }
  const lists = input.lists ?? [];
  if (lists.length > 0) {
    const listed = input.listed ?? new Map<string, number>();
    m.family('nfwatch_events_listed_total', 'counter', 'Packets from sources on a threat list, counted in closed intervals since nfwatch started, by list.', lists.map((l): Sample => [{ list: l.name }, listed.get(l.name) ?? 0]));
    m.family('nfwatch_list_entries', 'gauge', 'Networks and ranges of each threat list in use (0: none loaded yet).', lists.map((l): Sample => [{ list: l.name }, l.entries]));
    m.family('nfwatch_list_bad_lines', 'gauge', 'Lines of the threat list version in use that were not understood.', lists.map((l): Sample => [{ list: l.name }, l.badLines]));
    m.family('nfwatch_list_loaded_timestamp_seconds', 'gauge', 'When the threat list version in use was read (0: never).', lists.map((l): Sample => [{ list: l.name }, l.loadedAt / 1000]));
    m.family('nfwatch_list_up_to_date', 'gauge', '1 when the newest version of the list file is in use, 0 when it is missing or was refused (the previous version stays).', lists.map((l): Sample => [{ list: l.name }, l.error === '' ? 1 : 0]));
  }
  const h = input.history ?? null;
  if (h !== null) {
    const reasons = Object.keys(h.droppedRows) as DropReason[];
    m.family('nfwatch_history_pending_sources', 'gauge', 'Source-hours gathered in memory for the history\'s next write.', h.pendingSources);
    m.family('nfwatch_history_queued_batches', 'gauge', 'Batches handed to the history writer and not yet written.', h.queuedBatches);
    m.family('nfwatch_history_rows_written_total', 'counter', 'Source-hour rows written to the history.', h.rowsWritten);
    m.family('nfwatch_history_incidents_written_total', 'counter', 'Detections, alerts and block changes written to the history.', h.incidentsWritten);
    m.family('nfwatch_history_dropped_rows_total', 'counter', 'Source-hour rows not stored, by reason (write_failed: their transaction failed or the writer is gone; closed: after close).', reasons.map((reason): Sample => [{ reason }, h.droppedRows[reason]]));
    m.family('nfwatch_history_dropped_packets_total', 'counter', 'Packets whose sightings were not stored, by reason (writer_behind: the disk did not keep up and the packet could not be folded).', reasons.map((reason): Sample => [{ reason }, h.droppedPackets[reason]]));
    m.family('nfwatch_history_replayed_skipped_total', 'counter', 'Packets read again after a restart whose sightings the history already held (not counted twice).', h.skippedReplayed);
    m.family('nfwatch_history_folded_sources_total', 'counter', 'Sources kept in their network\'s row (IPv4 /8; IPv6 /32, or /12 past 256 /32 rows in a batch) instead of a row of their own: seen once in an hour that had more than history.fold_after_sources sources, or new while the history writer was behind. Their packets are counted there.', h.foldedSources);
    m.family('nfwatch_history_dropped_incidents_total', 'counter', 'Incidents not stored.', h.droppedIncidents);
    m.family('nfwatch_history_write_errors_total', 'counter', 'History write transactions that failed.', h.writeErrors);
    m.family('nfwatch_history_retained_rows_total', 'counter', 'Source-hour rows deleted by retention (age or size).', h.retainedRows);
    m.family('nfwatch_history_bytes', 'gauge', 'Size of the history database and its write-ahead log.', h.dbBytes);
    m.family('nfwatch_history_last_write_seconds', 'gauge', 'How long the history\'s last write took.', h.lastWriteMs / 1000);
  }
  if (tracker !== null) {
    m.family('nfwatch_tracked_sources', 'gauge', 'Source addresses tracked now.', tracker.tracked);
    m.family('nfwatch_tracked_sources_evicted_total', 'counter', 'Tracked sources dropped because the table was full.', tracker.evicted);
    m.family('nfwatch_scans_active', 'gauge', 'Sources with a detected scan now, by scan type.', SCAN_TYPES.map((type): Sample => [{ type }, tracker.scans[type]]));
    m.family('nfwatch_scans_suspected', 'gauge', 'Sources suspected (not yet detected) of scanning now.', tracker.suspected);
    m.family('nfwatch_campaigns_active', 'gauge', 'Active campaigns (sources sharing a SYN fingerprint and target ports).', tracker.campaigns);
  }
  const alerts = input.alerts ?? null;
  if (alerts !== null) {
    m.family('nfwatch_detections_total', 'counter', 'Detections the tracker announced (a scan detected or rising in severity, a campaign formed).', alerts.detections);
    m.family('nfwatch_alerts_total', 'counter', 'Alerts queued for delivery.', alerts.alerts);
    m.family('nfwatch_alerts_withheld_total', 'counter', 'Detections not alerted, by reason.', [
      [{ reason: 'below_severity' }, alerts.belowSeverity],
      [{ reason: 'deduplicated' }, alerts.deduplicated],
      [{ reason: 'rate_limited' }, alerts.rateLimited],
      [{ reason: 'stale' }, alerts.stale],
      [{ reason: 'not_listed' }, alerts.notListed],
      [{ reason: 'queue_full' }, alerts.queueFull],
    ]);
    m.family('nfwatch_alert_deliveries_total', 'counter', 'Alert deliveries by channel and result.', Object.entries(alerts.channels).flatMap(([channel, c]): Sample[] => [
      [{ channel, result: 'sent' }, c.sent],
      [{ channel, result: 'failed' }, c.failed],
    ]));
  }
  const response = input.response ?? null;
  if (response !== null) {
    m.family('nfwatch_blocks_active', 'gauge', 'Blocks nfwatch made (or, in a dry run, would have made) that have not expired.', response.active);
    m.family('nfwatch_block_decisions_total', 'counter', 'Block decisions on detections at response.min_severity, and changes by hand, by result.', [
      [{ result: 'blocked' }, response.blocked],
      [{ result: 'dry_run' }, response.dryRun],
      [{ result: 'allowlisted' }, response.allowlisted],
      [{ result: 'not_listed' }, response.notListed],
      [{ result: 'full' }, response.full],
      [{ result: 'failed' }, response.failed],
      [{ result: 'unblocked' }, response.unblocked],
    ]);
  }
  m.family('nfwatch_nfacct_packets_total', 'counter', 'Packets counted by an NFACCT counter since nfwatch started.', counters.map((c): Sample => [{ counter: c.name }, c.pkts]));
  m.family('nfwatch_nfacct_bytes_total', 'counter', 'Bytes counted by an NFACCT counter since nfwatch started.', counters.map((c): Sample => [{ counter: c.name }, c.bytes]));
  m.family('nfwatch_uptime_seconds', 'gauge', 'Seconds since nfwatch started.', input.uptimeSeconds);
  m.family('nfwatch_stream_clients', 'gauge', 'WebSocket clients of the live event stream.', input.streamClients);
  m.family('nfwatch_build_info', 'gauge', 'Always 1; the labels name the nfwatch version and the Node.js it runs on.',
    [[{ version: input.version ?? NFWATCH_VERSION, nodejs: input.process?.nodeVersion ?? process.versions.node }, 1]]);
  writeProcess(m, input.process ?? readProcessFigures());
  return m.text();
}

/** The standard families, named as prom-client's collectDefaultMetrics() names them. */
function writeProcess(m: Exposition, p: ProcessFigures): void {
  m.family('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', p.cpuUserSeconds);
  m.family('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', p.cpuSystemSeconds);
  m.family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', p.cpuUserSeconds + p.cpuSystemSeconds);
  m.family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', p.startTimeSeconds);
  m.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', p.residentMemoryBytes);
  if (p.virtualMemoryBytes !== null) m.family('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.', p.virtualMemoryBytes);
  if (p.openFds !== null) m.family('process_open_fds', 'gauge', 'Number of open file descriptors.', p.openFds);
  if (p.maxFds !== null) m.family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', p.maxFds);
  m.family('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', p.heapTotalBytes);
  m.family('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', p.heapUsedBytes);
  m.family('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', p.externalMemoryBytes);
  const [major = '', minor = '', patch = ''] = p.nodeVersion.split('.');
  m.family('nodejs_version_info', 'gauge', 'Node.js version info.', [[{ version: `v${p.nodeVersion}`, major, minor, patch }, 1]]);
}
