// The running pipeline: sources hand it lines, it decodes them, the aggregator buckets them by
// event time, closed intervals go to every sink, and read positions are committed only once
// every sink has delivered the intervals they cover.
import type { AggregatorOptions } from '../aggregate/intervals.js';
import { IntervalAggregator } from '../aggregate/intervals.js';
import { decodeBytes, type DecodeOptions } from '../decode/line.js';
import type { Tracker } from '../track/query.js';
import type { Logger } from '../util/log.js';
import { quoteExcerpt, sanitizeDetail } from '../util/excerpt.js';
import {
  noDecodeErrors,
  type Checkpoint,
  type DecodeError,
  type DecodeErrorReason,
  type DecodeResult,
  type Enricher,
  type HealthSnapshot,
  type IntervalAggregate,
  type EventRecorder,
  type CounterEvent,
  type PacketEvent,
  type RecorderSlot,
  type LineReceiver,
  type LineSource,
  type Sink,
  type SinkHealth,
  type SourceHealth,
  SOURCE_HEALTH_FIELDS,
} from './types.js';

export interface PipelineOptions {
  decode: DecodeOptions;
  aggregate: AggregatorOptions;
  /** Sources' NFACCT modes, by source index. */
  nfacctModes: ReadonlyArray<'deltas' | 'totals'>;
  errorSamplesPerMinute: number;
  /** How often to close due intervals and commit (ms). */
  tickMs: number;
}

interface PendingCommit {
  flushedUntil: number;
  checkpoints: Map<number, Checkpoint>;
}

/**
 * Lines decoded before their stages run. Each stage then runs over the whole batch before the
 * next one does, so its code and tables stay in the core's caches for a batch of packets instead
 * of being pushed out by every other stage between two packets (same-core pairs against one
 * packet at a time: the normal corpus ~8 % less CPU, the flood ~4 %). Every stage still sees the
 * packets in the order of their lines, and the aggregator sees packets, counters and bad lines in
 * that order too; a batch is delivered whole before a tick, a reload or a stop, and whenever a
 * source has handed over all its read brought (flush, caughtUp).
 */
export const BATCH_LINES = 64;

/** Observers of closed intervals besides the sinks (the web view's counters, tests). */
export type IntervalListener = (aggregate: IntervalAggregate) => void;

/** The stages between decoding and aggregation, in the order they run. */
export interface PipelineStages {
  enrichers: readonly Enricher[];
  /** Per-source behaviour, scans and campaigns; null when not wanted (benchmarks, tests). */
  tracker: Tracker | null;
  /** The live event stream (web view); null when off. Must return at once when nobody listens. */
  live?: LiveEvents | null;
  /** The history store's sightings; null when [history] is off. */
  recorder?: EventRecorder | null;
}

/** Receives every enriched packet for the live stream. */
export interface LiveEvents {
  publish(event: PacketEvent): void;
}

/** An event dated beyond the trusted bound becomes this decode error instead. */
function futureTime(time: number, latest: number): DecodeError {
  return { kind: 'error', reason: 'future_timestamp', detail: `event time ${describeTime(time)} is more than ${Math.round((latest - Date.now()) / 1000)} s ahead of this host's clock` };
}

/** An epoch-ms time for a log message; never throws (a stored number may be anything). */
function describeTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** A source's figures for the health snapshot: its stats() under the SourceHealth names, 0 where absent. */
function sourceHealth(source: LineSource): SourceHealth {
  const stats = source.stats();
  const health = { kind: source.kind } as SourceHealth;
  for (const field of SOURCE_HEALTH_FIELDS) {
    const value = stats[field];
    health[field] = typeof value === 'number' && Number.isFinite(value) ? value : 0;
  }
  return health;
}

export class Pipeline implements LineReceiver {
  readonly aggregator: IntervalAggregator;
  private readonly decodeErrors: Record<DecodeErrorReason, number>;
  private lines = 0;
  private oversizedLines = 0;
  private samplesLeft: number;
  // Times start as −Infinity ("long ago", as 0 was), not 0: a field that holds a small integer and
  // is later given a time changes the Pipeline's hidden class, and V8 then throws away the
  // compiled packet path (line(), and the reader's loop it is inlined into) and compiles it again.
  private sampleWindowStart = Number.NEGATIVE_INFINITY;
  private suppressedSamples = 0;
  private pending: PendingCommit[] = [];
  private lastCheckpoints = new Map<number, string>();
  private committing: Promise<void> | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastHealthAt = Date.now();
  private eventsAtLastHealth = 0;
  private nextHealthAt = Number.NEGATIVE_INFINITY;
  private readonly listeners: IntervalListener[] = [];
  private stopped = false;
  /** Sources whose read position could not be saved: the reason, when it was last logged, failures since. */
  private readonly commitFailures = new Map<number, { reason: string; loggedAt: number; since: number }>();
  /** The latest event time trusted (wall clock + decode.maxFutureMs), renewed every tick. */
  private latestTrusted: number;
  /** The batch (BATCH_LINES): its decoded lines, their positions, the tracker's slot for each packet. */
  private batched = 0;
  private readonly batchEvents: Array<PacketEvent | CounterEvent | null> = new Array<PacketEvent | CounterEvent | null>(BATCH_LINES).fill(null);
  private readonly batchStarts = new Float64Array(BATCH_LINES);
  private readonly batchEnds = new Float64Array(BATCH_LINES);
  private readonly batchSlots: Array<RecorderSlot | null> = new Array<RecorderSlot | null>(BATCH_LINES).fill(null);

  constructor(
    private readonly options: PipelineOptions,
    readonly sources: readonly LineSource[],
    readonly sinks: readonly Sink[],
    private readonly logger: Logger,
    readonly stages: PipelineStages = { enrichers: [], tracker: null },
  ) {
    this.decodeErrors = noDecodeErrors();
    this.latestTrusted = Date.now() + options.decode.maxFutureMs;
    this.samplesLeft = options.errorSamplesPerMinute;
    this.aggregator = new IntervalAggregator(
      options.aggregate,
      sources.map((s, i) => ({ name: s.name, replayable: s.replayable, nfacct: options.nfacctModes[i] ?? 'deltas' })),
      (aggregate) => this.onInterval(aggregate),
    );
  }

  onIntervalClosed(listener: IntervalListener): void {
    this.listeners.push(listener);
  }

  /** Replaceable at SIGHUP without losing state. */
  updateDecodeOptions(decode: DecodeOptions, errorSamplesPerMinute: number): void {
    this.options.decode = decode;
    this.options.errorSamplesPerMinute = errorSamplesPerMinute;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.sources.length; i++) {
      const source = this.sources[i]!;
      const checkpoint = await source.start(this, i);
      if (checkpoint) {
        // A state saved while a far-future line held the intervals (or written by hand) must not
        // hold them again: what lies beyond the trusted bound was never delivered.
        if (checkpoint.flushedUntil > this.latestTrusted) {
          this.logger.warn(`source ${source.name}: the saved state says intervals up to ${describeTime(checkpoint.flushedUntil)} were delivered, which is in the future; using the current time`);
          checkpoint.flushedUntil = Date.now();
        }
        this.aggregator.restore(i, checkpoint);
        this.logger.info(`source ${source.name}: resuming from its saved position (intervals before ${new Date(checkpoint.flushedUntil).toISOString()} were delivered)`);
      }
    }
    this.tickTimer = setInterval(() => this.tick(), this.options.tickMs);
    this.tickTimer.unref();
  }

  // --- LineReceiver: the hot path ---------------------------------------------------------

  line(source: number, bytes: Buffer, from: number, to: number, start: number, end: number): void {
    this.lines++;
    let result: DecodeResult = decodeBytes(bytes, from, to, source, this.options.decode);
    if (result.kind !== 'error' && result.time > this.latestTrusted) result = futureTime(result.time, this.latestTrusted);
    if (result.kind !== 'error') {
      const n = this.batched;
      this.batchEvents[n] = result;
      this.batchStarts[n] = start;
      this.batchEnds[n] = end;
      this.batched = n + 1;
      if (n + 1 === BATCH_LINES) this.flush();
      return;
    }
    // The lines before it first: the aggregator follows each source's positions in line order.
    this.flush();
    this.aggregator.advance(source, end);
    this.decodeErrors[result.reason]++;
    this.sampleError(source, result.reason, result.detail, bytes, from, to, start);
  }

  /** Runs the batch through the stages, each over all of it in turn, and the aggregator last. */
  flush(): void {
    const n = this.batched;
    if (n === 0) return;
    this.batched = 0;
    const events = this.batchEvents;
    const { enrichers, tracker, live, recorder } = this.stages;
    for (let i = 0; i < enrichers.length; i++) {
      const enricher = enrichers[i]!;
      for (let k = 0; k < n; k++) {
        const e = events[k]!;
        if (e.kind === 'packet') enricher.enrich(e);
      }
    }
    const slots = this.batchSlots;
    if (tracker !== null) {
      for (let k = 0; k < n; k++) {
        const e = events[k]!;
        if (e.kind === 'packet') slots[k] = tracker.observe(e);
      }
    }
    if (recorder) {
      for (let k = 0; k < n; k++) {
        const e = events[k]!;
        if (e.kind === 'packet') recorder.record(e, this.batchEnds[k]!, slots[k] ?? null);
      }
    }
    if (live) {
      for (let k = 0; k < n; k++) {
        const e = events[k]!;
        if (e.kind === 'packet') live.publish(e);
      }
    }
    const aggregator = this.aggregator;
    for (let k = 0; k < n; k++) {
      const e = events[k]!;
      if (e.kind === 'packet') aggregator.addPacket(e, this.batchStarts[k]!, this.batchEnds[k]!);
      else aggregator.addCounter(e, this.batchStarts[k]!, this.batchEnds[k]!);
      events[k] = null;
      slots[k] = null;
    }
  }

  oversized(source: number, bytes: number): void {
    this.oversizedLines++;
    this.sampleError(source, 'oversized', `line of ${bytes} bytes is over general.max_line_bytes, skipped`, null, 0, 0, -1);
  }

  caughtUp(source: number, atEnd: boolean): void {
    this.flush();
    this.aggregator.caughtUp(source, atEnd);
  }

  /** Logs a bad line (bytes[from, to), or none) within the per-minute allowance; counts the rest. */
  private sampleError(source: number, reason: string, detail: string, bytes: Buffer | null, from: number, to: number, start: number): void {
    const now = Date.now();
    if (now - this.sampleWindowStart >= 60_000) {
      if (this.suppressedSamples > 0) this.logger.warn(`${this.suppressedSamples} more undecodable lines in the last minute were counted but not quoted`);
      this.sampleWindowStart = now;
      this.samplesLeft = this.options.errorSamplesPerMinute;
      this.suppressedSamples = 0;
    }
    if (this.samplesLeft <= 0) {
      this.suppressedSamples++;
      return;
    }
    this.samplesLeft--;
    const origin = this.sources[source];
    const name = origin?.name ?? String(source);
    const where = start >= 0 ? ` at ${origin?.describePosition?.(start) ?? `position ${start}`}` : '';
    // Only enough of the line to recognise it, escaped: it is foreign input, see sources/excerpt.ts.
    const text = bytes && to > from ? bytes.toString('utf8', from, to) : '';
    const excerpt = text ? `: ${quoteExcerpt(text)}` : '';
    this.logger.warn(`source ${name}${where}: ${reason}: ${sanitizeDetail(detail)}${excerpt}`);
  }

  // --- intervals, checkpoints, health -----------------------------------------------------

  private onInterval(aggregate: IntervalAggregate): void {
    for (const sink of this.sinks) sink.writeInterval(aggregate);
    for (const listener of this.listeners) listener(aggregate);
  }

  /** Closes due intervals, records a checkpoint, commits what the sinks have delivered. */
  tick(now = Date.now()): void {
    if (this.stopped) return;
    this.flush();
    this.latestTrusted = now + this.options.decode.maxFutureMs;
    this.aggregator.closeDue(now);
    // By event time (the tracker's newest), so replaying an old file does not expire everything.
    this.stages.tracker?.prune();
    this.recordCheckpoint();
    void this.commitDelivered();
    if (now >= this.nextHealthAt) {
      this.writeHealth(now);
      this.nextHealthAt = Math.floor(now / this.options.aggregate.intervalMs + 1) * this.options.aggregate.intervalMs;
    }
  }

  private recordCheckpoint(): void {
    const checkpoints = new Map<number, Checkpoint>();
    let changed = false;
    this.sources.forEach((source, i) => {
      if (!source.replayable) return;
      const checkpoint = this.aggregator.checkpoint(i);
      checkpoints.set(i, checkpoint);
      const key = `${checkpoint.resumeAt}/${checkpoint.skipBelow}/${checkpoint.flushedUntil}/${checkpoint.late.length}/${JSON.stringify(checkpoint.counters)}`;
      if (this.lastCheckpoints.get(i) !== key) {
        this.lastCheckpoints.set(i, key);
        changed = true;
      }
    });
    if (changed) this.pending.push({ flushedUntil: this.aggregator.flushedUntil, checkpoints });
  }

  /**
   * A failed save of a read position (a read-only or full state_dir): logged once, then again only
   * when the reason changes or once a minute with how many failed meanwhile — commits run every
   * tick, and one error line per tick would drown the log.
   */
  private commitFailed(source: number, name: string, reason: string): void {
    const now = Date.now();
    const last = this.commitFailures.get(source);
    if (last && last.reason === reason && now - last.loggedAt < 60_000) {
      last.since++;
      return;
    }
    const more = last && last.since > 0 ? ` (failed ${last.since} more times since the last message)` : '';
    this.logger.error(`source ${name}: cannot save its read position: ${reason}${more}; a restart would read again what was read since the last save`);
    this.commitFailures.set(source, { reason, loggedAt: now, since: 0 });
  }

  /** Commits the newest recorded checkpoint whose intervals every sink has delivered. */
  private commitDelivered(): Promise<void> {
    if (this.committing) return this.committing;
    let delivered = Infinity;
    for (const sink of this.sinks) delivered = Math.min(delivered, sink.deliveredUntil());
    let chosen: PendingCommit | undefined;
    let index = -1;
    this.pending.forEach((p, i) => {
      if (p.flushedUntil <= delivered) {
        chosen = p;
        index = i;
      }
    });
    if (!chosen) return Promise.resolve();
    this.pending = this.pending.slice(index + 1);
    const commit = chosen;
    this.committing = (async () => {
      for (const [i, checkpoint] of commit.checkpoints) {
        const name = this.sources[i]!.name;
        try {
          await this.sources[i]!.commit(checkpoint);
          if (this.commitFailures.delete(i)) this.logger.info(`source ${name}: its read position is saved again`);
        } catch (err) {
          this.commitFailed(i, name, (err as Error).message);
        }
      }
    })().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  /** `consume`: whether this snapshot is the periodic export that takes the tracker's new-scan counts. */
  health(now = Date.now(), consume = false): HealthSnapshot {
    const elapsed = Math.max(0.001, (now - this.lastHealthAt) / 1000);
    const stats = this.aggregator.stats;
    const sinks: Record<string, SinkHealth> = {};
    for (const sink of this.sinks) sinks[sink.name] = sink.health();
    return {
      time: now,
      elapsed,
      lines: this.lines,
      events: stats.events,
      eventsPerSecond: (stats.events - this.eventsAtLastHealth) / elapsed,
      oversizedLines: this.oversizedLines,
      decodeErrors: { ...this.decodeErrors },
      lateEvents: stats.lateEvents,
      counterResets: stats.counterResets,
      openIntervals: stats.openIntervals,
      sinks,
      sources: Object.fromEntries(this.sources.map((source) => [source.name, sourceHealth(source)])),
      tracker: this.stages.tracker?.stats(consume) ?? null,
    };
  }

  private writeHealth(now: number): void {
    const snapshot = this.health(now, true);
    this.lastHealthAt = now;
    this.eventsAtLastHealth = this.aggregator.stats.events;
    for (const sink of this.sinks) sink.writeHealth(snapshot);
  }

  async reopen(): Promise<void> {
    // Lines read before the reload are enriched with what was loaded when they were read.
    this.flush();
    for (const source of this.sources) await source.reopen();
    for (const enricher of this.stages.enrichers) {
      try {
        await enricher.reload?.();
      } catch (err) {
        this.logger.error(`${enricher.name}: reload failed, keeping the data it had: ${(err as Error).message}`);
      }
    }
  }

  /** Stops sources, closes every open interval, delivers what it can, commits, closes sinks. */
  async stop(flushTimeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    await Promise.all(this.sources.map((s) => s.stop()));
    this.flush();
    this.aggregator.closeAll();
    this.recordCheckpoint();
    this.writeHealth(Date.now());
    await Promise.all(this.sinks.map((s) => s.flush(flushTimeoutMs)));
    await this.committing;
    await this.commitDelivered();
    await Promise.all(this.sinks.map((s) => s.close()));
    await Promise.all(this.stages.enrichers.map((e) => e.close?.()));
  }
}
