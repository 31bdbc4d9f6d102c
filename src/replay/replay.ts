// `nfwatch replay`: backfill old ulogd JSON files (plain or gzip) through the daemon's own pipeline
// (decode → enrich → aggregate → the configured sinks), so their metrics land at their event
// times with the counts a live run would have written.
//
// How it stays out of the daemon's way and matches a live run:
//  - The pipeline is built by wire.ts from the configuration with one source only (the one whose
//    name the events are counted under, `events.input.<name>`), the web view off, and is never
//    started, ticked or stopped: those are the paths that open sockets, load and save read
//    positions. Lines are fed to it as the file source feeds them (LineSplitter, not at end:
//    intervals close when the events have passed them by lateness_seconds, as when the daemon
//    reads a backlog), and every open interval is closed after the last file.
//  - The tracker (scan detection for the web view) is left out: it writes no metric of its own
//    into intervals.
//  - Sinks queue in memory up to their backlog limit; the replay waits while a sink's backlog is
//    over half of it, so a fast disk never makes a slow carbon drop lines.
//  - No health metrics (nfwatch.*) are written: they describe a running daemon at wall-clock time.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Config } from '../config/schema.js';
import { decodeBytes } from '../decode/line.js';
import { DECODE_ERROR_REASONS, NONE, type DecodeErrorReason, type IntervalAggregate, type LineReceiver, type Sink } from '../pipeline/types.js';
import { CHUNK_BYTES } from '../sources/file.js';
import { LineSplitter } from '../sources/lines.js';
import type { Logger } from '../util/log.js';
import { buildDaemon, decodeOptions } from '../wire.js';

/** How long to wait for the sinks at the end before giving up on what is still queued. */
export const FINAL_FLUSH_MS = 60_000;

export interface ReplayFile {
  path: string;
  /** Bytes on disk (compressed bytes for gzip): what the progress counts. */
  size: number;
  gzip: boolean;
  /** Event time of the first decodable line (epoch ms), null when none was found. */
  firstTime: number | null;
}

export interface ReplayProgress {
  fileIndex: number;
  files: number;
  file: string;
  bytesRead: number;
  bytesTotal: number;
  lines: number;
  /** Lines per second since the start. */
  linesPerSecond: number;
  /** Set while waiting for a sink to drain its backlog. */
  waitingFor?: string;
}

export interface ReplaySummary {
  files: number;
  bytes: number;
  lines: number;
  events: number;
  oversizedLines: number;
  decodeErrors: Record<DecodeErrorReason, number>;
  lateEvents: number;
  intervals: number;
  /** Start of the first and end of the last interval written (epoch ms); null when none. */
  firstInterval: number | null;
  lastIntervalEnd: number | null;
  elapsedMs: number;
  /** Per sink: items delivered, dropped and still queued at the end. */
  sinks: Record<string, { sent: number; dropped: number; undelivered: number }>;
  /** Whether every sink delivered everything (exit status 0). */
  complete: boolean;
}

export interface ReplayOptions {
  config: Config;
  paths: readonly string[];
  /** Source name the events are counted under; default: the first configured source, else "replay". */
  sourceName?: string;
  logger: Logger;
  progress?: (p: ReplayProgress) => void;
  /** How often progress is reported (ms). */
  progressEveryMs?: number;
  finalFlushMs?: number;
}

/** Whether a file starts with the gzip magic bytes (1f 8b), whatever its name. */
async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * The file's lines as a stream of byte chunks (decompressed for gzip); `onRaw` sees bytes read from
 * disk. A chunk is valid until the next one is asked for: a plain file is read into one buffer, as
 * the file source reads (a new buffer per read is memory outside V8's heap that its collector
 * counts, and a replay of a day's log read that way ran full collections over and over).
 */
async function* chunks(file: ReplayFile, onRaw: (bytes: number) => void): AsyncGenerator<Buffer> {
  if (!file.gzip) {
    const handle = await open(file.path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) return;
        onRaw(bytesRead);
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }
  const raw = createReadStream(file.path, { highWaterMark: 256 * 1024 });
  // Piped (flowing): a 'data' listener beside the pipe sees the compressed bytes as they are read.
  const gunzip = createGunzip();
  raw.on('data', (c: string | Buffer) => onRaw(c.length));
  raw.on('error', (err) => gunzip.destroy(err));
  try {
    for await (const chunk of raw.pipe(gunzip) as AsyncIterable<Buffer>) yield chunk;
  } finally {
    gunzip.destroy();
    raw.destroy();
  }
}

/**
 * Looks at each file: size, gzip or not, the event time of its first decodable line (reading at
 * most the first 4 MiB of its content).
 */
export async function inspectFiles(paths: readonly string[], config: Config): Promise<ReplayFile[]> {
  const decode = decodeOptions(config);
  const out: ReplayFile[] = [];
  for (const path of paths) {
    const info = await stat(path);
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    const file: ReplayFile = { path, size: info.size, gzip: await isGzip(path), firstTime: null };
    let firstTime: number | null = null;
    const receiver: LineReceiver = {
      line(_s, bytes, from, to) {
        if (firstTime !== null) return;
        const r = decodeBytes(bytes, from, to, 0, decode);
        if (r.kind !== 'error') firstTime = r.time;
      },
      oversized() {},
      flush() {},
      caughtUp() {},
    };
    const splitter = new LineSplitter(receiver, 0, config.general.max_line_bytes);
    let seen = 0;
    const stream = chunks(file, () => undefined);
    try {
      for await (const chunk of stream) {
        splitter.push(chunk, NONE);
        seen += chunk.length;
        if (firstTime !== null || seen > 4 * 1024 * 1024) break;
      }
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
    file.firstTime = firstTime;
    out.push(file);
  }
  return out;
}

/**
 * The order files are replayed in: by the event time of their first line (files without one
 * last), the order given among equals. Shell globs and logrotate's names (ulogd.json.10 before
 * ulogd.json.2, .1 newer than .2.gz) rarely give the order of the events, and out-of-order files
 * would make whole intervals "late".
 */
export function replayOrder(files: readonly ReplayFile[]): ReplayFile[] {
  return files
    .map((f, i) => ({ f, i }))
    .sort((a, b) => (a.f.firstTime ?? Infinity) - (b.f.firstTime ?? Infinity) || a.i - b.i)
    .map(({ f }) => f);
}

/** The configured source whose name and NFACCT mode the replay takes; the config with only it. */
export function replayConfig(config: Config, sourceName?: string): { config: Config; name: string } {
  const files = config.sources.file;
  const sockets = config.sources.socket;
  const file = sourceName === undefined ? files[0] : files.find((s) => s.name === sourceName);
  const socket = file ? undefined : sourceName === undefined ? sockets[0] : sockets.find((s) => s.name === sourceName);
  const web = { ...config.web, enabled: false };
  // The running daemon owns the history file (one writer); a replay backfills metrics only.
  const history = { ...config.history, enabled: false };
  if (file) return { config: { ...config, web, history, sources: { ...config.sources, file: [file], socket: [] } }, name: file.name };
  if (socket) return { config: { ...config, web, history, sources: { ...config.sources, file: [], socket: [socket] } }, name: socket.name };
  if (sourceName !== undefined) {
    const known = [...files, ...sockets].map((s) => s.name).join(', ') || 'none';
    throw new Error(`--source ${sourceName}: no source of that name in the configuration (configured: ${known})`);
  }
  // No source configured: a socket source that is never started carries the name.
  const synthetic = { name: 'replay', nfacct: 'deltas' } as (typeof sockets)[number];
  return { config: { ...config, web, history, sources: { ...config.sources, file: [], socket: [synthetic] } }, name: 'replay' };
}

/** The backlog above which the replay waits for a sink to drain (half its limit). */
function backlogLimits(config: Config): Record<string, number> {
  return {
    graphite: Math.max(1, Math.floor(config.outputs.graphite.backlog_max_lines / 2)),
    influx: Math.max(1, Math.floor(config.outputs.influx.backlog_max_points / 2)),
  };
}

export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = Date.now();
  const { config, name } = replayConfig(options.config, options.sourceName);
  const files = replayOrder(await inspectFiles(options.paths, config));
  // The daemon's state_dir is the daemon's: replay reads the kept AS table but writes nothing there.
  const { pipeline } = await buildDaemon(config, options.logger, false);
  // The tracker feeds the web view only; nothing of it is in the intervals.
  pipeline.stages.tracker = null;
  const sinks = pipeline.sinks;
  const limits = backlogLimits(config);
  let intervals = 0;
  let firstInterval: number | null = null;
  let lastIntervalEnd: number | null = null;
  pipeline.onIntervalClosed((a: IntervalAggregate) => {
    intervals++;
    if (firstInterval === null || a.start < firstInterval) firstInterval = a.start;
    if (lastIntervalEnd === null || a.start + a.length > lastIntervalEnd) lastIntervalEnd = a.start + a.length;
  });
  options.logger.info(`replaying ${files.length} files as source "${name}": ${files.map((f) => basename(f.path)).join(', ')}`);

  const bytesTotal = files.reduce((s, f) => s + f.size, 0);
  let bytesRead = 0;
  let lines = 0;
  const counting: LineReceiver = {
    line: (s, bytes, from, to, start, end) => {
      lines++;
      pipeline.line(s, bytes, from, to, start, end);
    },
    oversized: (s, bytes) => pipeline.oversized(s, bytes),
    flush: () => pipeline.flush(),
    caughtUp: (s, atEnd) => pipeline.caughtUp(s, atEnd),
  };
  // Reading a backlog: intervals close by event time (lateness), never by the wall clock.
  pipeline.caughtUp(0, false);

  const every = options.progressEveryMs ?? 1000;
  let lastReport = 0;
  let fileIndex = 0;
  let current = '';
  const report = (waitingFor?: string) => {
    if (!options.progress) return;
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    options.progress({ fileIndex, files: files.length, file: current, bytesRead, bytesTotal, lines, linesPerSecond: lines / seconds, ...(waitingFor ? { waitingFor } : {}) });
  };
  const tick = () => {
    const now = Date.now();
    if (now - lastReport >= every) {
      lastReport = now;
      report();
    }
  };
  const drain = async () => {
    for (const sink of sinks) {
      const limit = limits[sink.name] ?? Infinity;
      while (sink.health().backlog > limit) {
        report(sink.name);
        await sink.flush(1000);
      }
    }
  };

  for (const file of files) {
    fileIndex++;
    current = basename(file.path);
    const splitter = new LineSplitter(counting, 0, config.general.max_line_bytes);
    try {
      for await (const chunk of chunks(file, (n) => (bytesRead += n))) {
        splitter.push(chunk, NONE);
        tick();
        await drain();
      }
    } catch (err) {
      throw new Error(`${file.path}: ${(err as Error).message}`);
    }
    // A last line without its newline is still a line (as the file source reads a rotated file).
    splitter.deliverPartial();
  }
  pipeline.aggregator.closeAll();
  report();

  const flushMs = options.finalFlushMs ?? FINAL_FLUSH_MS;
  await Promise.all(sinks.map((s: Sink) => s.flush(flushMs)));
  const sinkFigures: ReplaySummary['sinks'] = {};
  for (const sink of sinks) {
    const h = sink.health();
    sinkFigures[sink.name] = { sent: h.sent, dropped: h.dropped, undelivered: h.backlog };
  }
  await Promise.all(sinks.map((s) => s.close()));
  await Promise.all(pipeline.stages.enrichers.map((e) => e.close?.()));

  const health = pipeline.health();
  return {
    files: files.length,
    bytes: bytesTotal,
    lines,
    events: pipeline.aggregator.stats.events,
    oversizedLines: health.oversizedLines,
    decodeErrors: health.decodeErrors,
    lateEvents: health.lateEvents,
    intervals,
    firstInterval,
    lastIntervalEnd,
    elapsedMs: Date.now() - started,
    sinks: sinkFigures,
    complete: Object.values(sinkFigures).every((s) => s.dropped === 0 && s.undelivered === 0),
  };
}

// --- text ------------------------------------------------------------------------------------

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** 3723000 → "1h02m03s"; under a minute "12.3s". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}h${mm}m${ss}s` : `${m}m${ss}s`;
}

/** The progress bar for a terminal (one line, redrawn with \r). */
export function progressBar(p: ReplayProgress, width = 30): string {
  const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesRead / p.bytesTotal) : 1;
  const filled = Math.round(fraction * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const wait = p.waitingFor ? `  waiting for ${p.waitingFor}` : '';
  return `[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(p.bytesRead)} / ${formatBytes(p.bytesTotal)}  ${Math.round(p.linesPerSecond)} lines/s  file ${p.fileIndex}/${p.files} ${p.file}${wait}`;
}

/** The progress line for a log (not a terminal). */
export function progressLine(p: ReplayProgress): string {
  const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesRead / p.bytesTotal) : 1;
  const wait = p.waitingFor ? `; waiting for ${p.waitingFor} to take its backlog` : '';
  return `replay: ${(fraction * 100).toFixed(0)}% (${formatBytes(p.bytesRead)} of ${formatBytes(p.bytesTotal)}), ${p.lines} lines, ${Math.round(p.linesPerSecond)} lines/s, file ${p.fileIndex}/${p.files} ${p.file}${wait}`;
}

export function formatSummary(s: ReplaySummary): string {
  const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());
  const errors = DECODE_ERROR_REASONS.filter((r) => s.decodeErrors[r] > 0).map((r) => `${r} ${s.decodeErrors[r]}`);
  const decodeTotal = DECODE_ERROR_REASONS.reduce((n, r) => n + s.decodeErrors[r], 0);
  const out = [
    'replay summary',
    `  files:          ${s.files} (${formatBytes(s.bytes)})`,
    `  lines:          ${s.lines}`,
    `  events:         ${s.events}`,
    `  decode errors:  ${decodeTotal}${errors.length > 0 ? ` (${errors.join(', ')})` : ''}`,
    `  oversized:      ${s.oversizedLines}`,
    `  late events:    ${s.lateEvents}`,
    `  intervals:      ${s.intervals}`,
    `  time range:     ${iso(s.firstInterval)} .. ${iso(s.lastIntervalEnd)}`,
    `  elapsed:        ${formatDuration(s.elapsedMs)}`,
  ];
  for (const [name, f] of Object.entries(s.sinks)) {
    out.push(`  ${`${name}:`.padEnd(16)}${f.sent} sent, ${f.dropped} dropped, ${f.undelivered} undelivered`);
  }
  if (!s.complete) out.push('  NOT COMPLETE: an output dropped or could not deliver metrics; run the replay again once it is reachable');
  return `${out.join('\n')}\n`;
}
