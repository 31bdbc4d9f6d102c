// The history store as the daemon sees it: record() on the packet path (sightings.ts, no I/O),
// recordIncident() for detections, alerts and block decisions, and the HistoryReader questions.
// The SQLite file belongs to a writer thread (worker.ts): every flushMs the pending sightings go
// to it as one batch, written in one transaction there, and before a question (so its answer
// counts them); incidents go at least every incidentFlushMs. While the writer is behind (more than
// maxQueuedBatches unwritten) sources new to the recorder go into their network's row (folded, as
// a flood's; turned away and counted when folding is off), and the pending batch waits until a
// batch is written; full, it takes no new rows but its networks' (sightings.ts). The packet path
// never waits, and memory never grows with the backlog.
// Across restarts sightings are stored once: each batch's highest position per source is written
// with its rows, and the lines a source replays up to the stored position are skipped (sightings.ts).
// Incidents are idempotent: the same one twice is stored once (schema.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EventRecorder, PacketEvent, RecorderSlot } from '../pipeline/types.js';
import { errorText } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { SightingBatch } from './batch.js';
import type { FromWriter, Method, Questions, ToWriter, WriterFigures } from './messages.js';
import { historyOptions, type HistoryOptions } from './options.js';
import { Sightings } from './sightings.js';
import type { HistoryCity, HistoryCountry, HistoryIncident, HistoryReader, HistorySearch, HistorySearchResult, HistoryTimeline } from './types.js';

/** Takes things that happened to sources (detections, alerts, blocks) for the history. */
export interface IncidentRecorder {
  recordIncident(incident: HistoryIncident): void;
}

/** Why sightings were dropped instead of stored. */
export type DropReason = 'writer_behind' | 'write_failed' | 'closed';

/** The store's figures for /metrics: counters since start, and gauges (pending, queued, bytes, last write). */
export interface HistoryStats {
  /** Source-hours held in memory for the next flush (gauge). */
  pendingSources: number;
  pendingIncidents: number;
  /** Batches handed to the writer and not yet written (gauge). */
  queuedBatches: number;
  batchesWritten: number;
  /** Source-hour rows written (merged into a stored row or inserted). */
  rowsWritten: number;
  incidentsWritten: number;
  /** Source-hour rows lost, by reason. */
  droppedRows: Record<DropReason, number>;
  /**
   * Packets not stored, by reason: those of the rows lost, and under writer_behind also those of
   * new sources turned away while the writer was behind (sources already pending still count).
   */
  droppedPackets: Record<DropReason, number>;
  /** Incidents dropped: more than maxPendingIncidents waiting, a failed write, or after close. */
  droppedIncidents: number;
  /** Packets a source passed again after a restart that were stored before: skipped, not counted twice. */
  skippedReplayed: number;
  /** Sources seen once kept in their network's row, past history.fold_after_sources in an hour (sightings.ts). */
  foldedSources: number;
  /** Transactions that failed (their rows count under droppedRows.write_failed). */
  writeErrors: number;
  retentionErrors: number;
  /** Source-hours and incidents deleted by retention (age and size). */
  retainedRows: number;
  retainedIncidents: number;
  /** The database file and its write-ahead log, bytes (gauge, as of the last write or retention). */
  dbBytes: number;
  /** How long the last batch's transaction took, ms (gauge). */
  lastWriteMs: number;
}

interface InFlight {
  rows: number;
  packets: number;
  incidents: number;
}

interface Asked {
  resolve: (answer: unknown) => void;
  reject: (error: Error) => void;
}

/** The writer thread's first message (ready or failed), or why it stopped before saying one. */
function firstWord(worker: Worker, path: string): Promise<FromWriter | Error> {
  return new Promise((resolve) => {
    const done = (answer: FromWriter | Error): void => {
      worker.off('message', heard).off('error', failed).off('exit', exited);
      resolve(answer);
    };
    const heard = (m: FromWriter): void => done(m);
    const failed = (e: Error): void => done(e);
    const exited = (code: number): void => done(new Error(`history store ${path}: the writer thread stopped at start (exit code ${code})`));
    worker.on('message', heard).on('error', failed).on('exit', exited);
  });
}

/**
 * The incident as plain JSON data, or null when it is not one (a time that is not a number, a
 * detail that cannot be written as JSON): checked here, once, so it can neither fail the
 * clone to the writer nor the transaction it shares with a batch of sightings.
 */
function plainIncident(i: HistoryIncident): HistoryIncident | null {
  if (!Number.isFinite(i.time) || !Number.isFinite(i.severity)) return null;
  try {
    const detail: unknown = JSON.parse(JSON.stringify(i.detail ?? {}));
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return null;
    return { time: i.time, kind: i.kind, subject: String(i.subject), severity: i.severity, text: String(i.text), detail: detail as Record<string, unknown> };
  } catch {
    return null;
  }
}

/** Error log lines about failed writes at most this often (the rest are counted). */
const ERROR_LOG_MS = 60_000;

/**
 * The writer thread's script: beside this module once built (dist/store/worker.js; in the daemon's
 * bundle, dist/daemon/worker.js: scripts/bundle.mjs). Under vitest the sources run untranspiled,
 * with no worker.js beside the .ts: then the built one in dist/.
 */
export function writerScript(): URL {
  const beside = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../../dist/store/worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error(`history store: its writer thread's script is missing (neither ${fileURLToPath(beside)} nor ${fileURLToPath(built)}); run npm run build`);
}

export class HistoryStore implements HistoryReader, EventRecorder, IncidentRecorder {
  readonly options: HistoryOptions;
  private readonly sightings: Sightings;
  private incidentQueue: HistoryIncident[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private readonly asked = new Map<number, Asked>();
  private readonly waiters: Array<{ upTo: number; resolve: () => void }> = [];
  private nextId = 0;
  private readonly timer: NodeJS.Timeout;
  /** Why the writer is gone, when it is. */
  private failed: string | null = null;
  private closing: Promise<void> | null = null;
  /** The writer was told to close: nothing more can be written. */
  private sentClose = false;
  /** close() is handing over the last batch. */
  private draining = false;
  /** A flush found the writer behind: the pending sightings go when it has written a batch. */
  private due = false;
  /** When flush() last ran, or the store opened (performance.now()). */
  private flushedAt: number;
  private lastErrorLog = -Infinity;
  private readonly counts: Omit<HistoryStats, 'pendingSources' | 'pendingIncidents' | 'queuedBatches' | 'skippedReplayed' | 'foldedSources'> = {
    batchesWritten: 0,
    rowsWritten: 0,
    incidentsWritten: 0,
    droppedRows: { writer_behind: 0, write_failed: 0, closed: 0 },
    droppedPackets: { writer_behind: 0, write_failed: 0, closed: 0 },
    droppedIncidents: 0,
    writeErrors: 0,
    retentionErrors: 0,
    retainedRows: 0,
    retainedIncidents: 0,
    dbBytes: 0,
    lastWriteMs: 0,
  };

  private constructor(
    private readonly worker: Worker,
    options: HistoryOptions,
    figures: WriterFigures,
    positions: Record<string, number>,
    private readonly logger: Logger | null,
  ) {
    this.options = options;
    this.note(figures);
    this.sightings = new Sightings(options, (batch) => this.ship(batch), positions, (message) => logger?.info(message));
    worker.on('message', (m: FromWriter) => this.heard(m));
    worker.on('error', (e) => this.lost(`the history writer failed: ${errorText(e)}`));
    worker.on('exit', (code) => this.lost(`the history writer stopped (exit code ${code})`));
    // The thread keeps the process alive only while it has work to answer (see idle()); the timer never.
    worker.unref();
    this.flushedAt = performance.now();
    this.timer = setInterval(() => this.tick(), Math.min(options.flushMs, options.incidentFlushMs));
    this.timer.unref();
  }

  /**
   * Opens the history file in a writer thread. Rejects with a one-line reason when the file is not
   * ours, is corrupt or cannot be opened, or the options are not valid.
   */
  static async open(given: Partial<HistoryOptions> & { path: string }, logger: Logger | null = null): Promise<HistoryStore> {
    const options = historyOptions(given);
    // A small young generation: the writer makes little garbage between batches, and V8's default
    // (up to 16 MiB per semi-space) shows in the daemon's RSS (measured: 4-12 MiB during a flood).
    const worker = new Worker(writerScript(), { workerData: options, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const first = await firstWord(worker, options.path);
    if (first instanceof Error || first.type !== 'ready') {
      await worker.terminate();
      throw first instanceof Error ? first : new Error(first.type === 'failed' ? first.message : `history store ${options.path}: the writer thread said ${first.type} at start`);
    }
    const store = new HistoryStore(worker, options, first.figures, first.positions, logger);
    const { created, schema, upgradedFrom, upgradeMs } = first.opened;
    if (upgradedFrom !== null) logger?.info(`history file ${options.path} upgraded from schema ${upgradedFrom} to ${schema} in ${(upgradeMs / 1000).toFixed(1)} s (an older nfwatch no longer opens it)`);
    logger?.info(`history in ${options.path}${created ? ' (new file)' : ''}, ${options.retentionDays} days, at most ${options.maxBytes} bytes`);
    return store;
  }

  /** Hot path: every packet event, with its source's position after its line (NONE for none). */
  record(e: PacketEvent, position: number, slot: RecorderSlot | null = null): void {
    this.sightings.record(e, position, slot);
  }

  recordIncident(incident: HistoryIncident): void {
    const copy = this.closing !== null || this.failed !== null || this.incidentQueue.length >= this.options.maxPendingIncidents ? null : plainIncident(incident);
    if (copy === null) {
      this.counts.droppedIncidents++;
      return;
    }
    this.incidentQueue.push(copy);
  }

  /**
   * Hands everything pending to the writer now (the timer does it every flushMs). While the writer
   * is behind, the sightings wait (bounded: sightings.ts folds what does not fit) and go as soon as
   * a batch is written; handing them over then would only drop them.
   */
  flush(): void {
    this.flushedAt = performance.now();
    this.due = this.dropReason() === 'writer_behind';
    if (!this.due) this.sightings.flush();
    if (this.incidentQueue.length > 0) this.post(null);
  }

  /**
   * The timer: the sightings every flushMs (each batch rewrites a row for every source-hour with
   * packets since the last one, so with many sources the writer's work falls with the flushes),
   * the incidents in between.
   */
  private tick(): void {
    const tick = Math.min(this.options.flushMs, this.options.incidentFlushMs);
    if (performance.now() - this.flushedAt >= this.options.flushMs - tick / 2) this.flush();
    else if (this.incidentQueue.length > 0) this.post(null);
  }

  /** Resolves when every batch handed over so far has been written (or failed). */
  written(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ upTo: this.nextId, resolve }));
  }

  search(query: HistorySearch): Promise<HistorySearchResult> {
    return this.ask('search', [query]);
  }

  countries(query: HistorySearch): Promise<HistoryCountry[]> {
    return this.ask('countries', [query]);
  }

  cities(query: HistorySearch): Promise<HistoryCity[]> {
    return this.ask('cities', [query]);
  }

  timeline(source: string, from: number, to: number): Promise<HistoryTimeline> {
    return this.ask('timeline', [source, from, to]);
  }

  incidents(from: number, to: number, subject?: string, limit?: number): Promise<HistoryIncident[]> {
    return this.ask('incidents', [from, to, subject, limit]);
  }

  stats(): HistoryStats {
    return {
      pendingSources: this.sightings.pending,
      pendingIncidents: this.incidentQueue.length,
      queuedBatches: this.inFlight.size,
      skippedReplayed: this.sightings.skippedReplayed,
      foldedSources: this.sightings.foldedSources,
      ...this.counts,
      droppedRows: { ...this.counts.droppedRows },
      droppedPackets: { ...this.counts.droppedPackets, writer_behind: this.counts.droppedPackets.writer_behind + this.sightings.refused },
    };
  }

  /** Flushes what is pending, lets the writer finish it, closes the file. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    clearInterval(this.timer);
    if (this.failed !== null) return;
    // The last batch goes however many are queued: close waits for the writer anyway.
    this.draining = true;
    this.flush();
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.send({ type: 'close' });
    await exited;
  }

  private ship(batch: SightingBatch): void {
    const reason = this.dropReason();
    if (reason !== null) {
      this.counts.droppedRows[reason] += batch.rows;
      this.counts.droppedPackets[reason] += batch.packets;
      // Incidents are few and worth more than sightings: they still go when the writer is only behind.
      if (reason === 'writer_behind' && this.incidentQueue.length > 0) this.post(null);
      return;
    }
    this.post(batch);
  }

  private dropReason(): DropReason | null {
    if (this.sentClose) return 'closed';
    if (this.failed !== null) return 'write_failed';
    if (this.inFlight.size >= this.options.maxQueuedBatches && !this.draining) return 'writer_behind';
    return null;
  }

  private post(batch: SightingBatch | null): void {
    const id = ++this.nextId;
    const incidents = this.incidentQueue;
    this.incidentQueue = [];
    this.inFlight.set(id, { rows: batch?.rows ?? 0, packets: batch?.packets ?? 0, incidents: incidents.length });
    this.sightings.admitting = this.inFlight.size < this.options.maxQueuedBatches;
    this.send({ type: 'write', id, batch, incidents });
  }

  private send(m: ToWriter): void {
    if (m.type === 'close') this.sentClose = true;
    this.worker.ref();
    this.worker.postMessage(m);
  }

  /** Nothing to wait for from the writer: it no longer holds the process open. */
  private idle(): void {
    if (this.inFlight.size === 0 && this.asked.size === 0 && !this.sentClose) this.worker.unref();
  }

  private ask<M extends Method>(method: M, args: Questions[M]['args']): Promise<Questions[M]['answer']> {
    if (this.failed !== null) return Promise.reject(new Error(this.failed));
    if (this.sentClose) return Promise.reject(new Error('history store is closed'));
    if ((this.sightings.pending > 0 || this.incidentQueue.length > 0) && performance.now() - this.flushedAt >= this.options.questionFlushMs) this.flush();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.asked.set(id, { resolve: resolve as (answer: unknown) => void, reject });
      this.send({ type: 'ask', id, method, args } as ToWriter);
    });
  }

  private heard(m: FromWriter): void {
    switch (m.type) {
      case 'written': {
        const sent = this.inFlight.get(m.id);
        this.inFlight.delete(m.id);
        this.sightings.admitting = this.failed === null && this.inFlight.size < this.options.maxQueuedBatches;
        this.note(m.figures);
        if (sent !== undefined) {
          if (m.error === null) {
            this.counts.batchesWritten++;
            this.counts.rowsWritten += sent.rows;
            this.counts.incidentsWritten += sent.incidents;
            this.counts.lastWriteMs = m.ms;
          } else {
            this.counts.writeErrors++;
            this.counts.droppedRows.write_failed += sent.rows;
            this.counts.droppedPackets.write_failed += sent.packets;
            this.counts.droppedIncidents += sent.incidents;
            this.logError(`history write failed, ${sent.rows} source-hours and ${sent.incidents} incidents lost: ${m.error}`);
          }
        }
        this.wake(m.id);
        if (this.due && this.dropReason() === null) this.flush();
        this.idle();
        break;
      }
      case 'answer': {
        const asked = this.asked.get(m.id);
        this.asked.delete(m.id);
        this.idle();
        if (asked === undefined) break;
        if (m.error === null) asked.resolve(m.answer);
        else asked.reject(new Error(m.error));
        break;
      }
      case 'retained':
        this.note(m.figures);
        if (m.error !== null) {
          this.counts.retentionErrors++;
          this.logError(`history retention failed: ${m.error}`);
        }
        break;
      case 'ready':
      case 'failed':
      case 'closed':
        break;
    }
  }

  private note(f: WriterFigures): void {
    this.counts.dbBytes = f.bytes;
    this.counts.retainedRows = f.retainedRows;
    this.counts.retainedIncidents = f.retainedIncidents;
  }

  private wake(written: number): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.upTo <= written || this.inFlight.size === 0) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** The writer thread is gone: what it held is lost, questions fail, later batches are dropped. */
  private lost(why: string): void {
    if (this.failed !== null) return;
    const expected = this.sentClose;
    this.failed = expected ? 'history store is closed' : why;
    if (!expected) this.logError(why);
    for (const sent of this.inFlight.values()) {
      this.counts.droppedRows.write_failed += sent.rows;
      this.counts.droppedPackets.write_failed += sent.packets;
      this.counts.droppedIncidents += sent.incidents;
    }
    this.inFlight.clear();
    for (const a of this.asked.values()) a.reject(new Error(this.failed));
    this.asked.clear();
    this.wake(Infinity);
  }

  private logError(message: string): void {
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_MS) return;
    this.lastErrorLog = now;
    this.logger?.error(message);
  }
}
