// The InfluxDB sink: intervals, health snapshots and (optionally) sampled events as line protocol
// over HTTP to a v2 write endpoint (InfluxDB 2.x, InfluxDB 3.x's v2-compatible API,
// VictoriaMetrics' /api/v2/write).
//
// Delivery mirrors the Graphite sink. Every interval becomes one batch of points, queued in order.
// One request is in flight at a time; it carries the oldest batches (consecutive ones merged up to
// max_batch_points, an interval never split). A batch is delivered when the server answered 2xx.
// Any other outcome leaves it at the head of the queue: connection errors, timeouts, 408, 429 and
// 5xx are retried for ever with exponential backoff (Retry-After honoured), 401/403/404 too (an
// admin fixes the token or creates the bucket; logged as errors), while 400/413/422 — the server
// will never take these lines — drop the batch and count it. The queue is bounded by
// backlog_max_points: beyond it the oldest batches not in flight are dropped (event samples first)
// and counted. deliveredUntil() is the start of the oldest interval batch still queued, so the
// pipeline commits read positions only for intervals the server acknowledged.
//
// Why not the client library's own retry buffer: WriteApi retries a batch at most maxRetries times
// and for at most maxRetryTime, then drops it; its RetryBuffer re-orders batches and drops lines
// silently (only a log line) when maxBufferLines is exceeded; and it reports success per line
// array, not per interval. So WriteApi is used for one request at a time (maxRetries = 0, no
// flush timer, one batch per WriteApi), and the queue, retry and accounting are ours.
import { readFileSync } from 'node:fs';
import type { WriteApi } from '@influxdata/influxdb-client';
import { HttpError, InfluxDB, setLogger } from '../deps.js';
import type { InfluxConfig } from '../config/schema.js';
import { eventPoint, healthPoints, intervalPoints, type PointOptions } from '../metrics/influx-points.js';
import type { TopLimits } from '../metrics/names.js';
import type { HealthSnapshot, IntervalAggregate, PacketEvent, Sink, SinkHealth } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { DrainWaiters } from '../util/waiters.js';
import { DropLog } from './drops.js';

/** close() first tries to send what is queued for this long. */
const CLOSE_FLUSH_MS = 500;
/** Sampled events are collected and queued as one batch per this many points at most. */
const EVENT_BATCH_POINTS = 1000;

type BatchKind = 'interval' | 'health' | 'events';

interface Batch {
  readonly kind: BatchKind;
  /** Interval start (or health time / first event time), epoch ms. */
  readonly start: number;
  readonly lines: string[];
  /** Write precision of these lines. */
  readonly precision: 's' | 'ms' | 'us' | 'ns';
  /** A copy of an acknowledged interval written again after an outage (not counted as sent). */
  readonly resend?: boolean;
}

export interface InfluxSinkOptions {
  hostname: string;
  top: TopLimits;
  logger: Logger;
  /** Clock for log rate limits; tests pass their own. */
  now?: () => number;
  /** Random source for retry jitter; tests pass their own. */
  random?: () => number;
}

/** The token from token_env, else token_file, else token ('' = none). Throws on an unreadable file. */
export function resolveInfluxToken(config: Pick<InfluxConfig, 'token' | 'token_file' | 'token_env'>, env: NodeJS.ProcessEnv = process.env): string {
  if (config.token_env !== '') {
    const v = env[config.token_env];
    if (v === undefined || v === '') throw new Error(`outputs.influx.token_env: environment variable ${config.token_env} is not set`);
    return v.trim();
  }
  if (config.token_file !== '') return readFileSync(config.token_file, 'utf8').trim();
  return config.token;
}

// The client logs every failed write through its global logger; ours logs them instead.
let clientLogger: Logger | null = null;
setLogger({
  error: (message: string, err?: unknown) => clientLogger?.debug(`influxdb-client: ${message}${err ? ` ${String(err)}` : ''}`),
  warn: (message: string, err?: unknown) => clientLogger?.debug(`influxdb-client: ${message}${err ? ` ${String(err)}` : ''}`),
});

export class InfluxSink implements Sink {
  readonly name = 'influx';
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly client: InfluxDB;
  private readonly pointOptions: PointOptions;
  private readonly top: TopLimits;
  /** Every `sampleEvery`-th packet is written as an event point (events = true). */
  private readonly sampleEvery: number;

  private queue: Batch[] = [];
  /** The first `inFlight` batches of the queue are in the request under way. */
  private inFlight = 0;
  private queuedPoints = 0;
  /** Last acknowledged interval batches, oldest first, re-sent after an outage (resend_intervals). */
  private ring: Batch[] = [];

  private sentPoints = 0;
  private readonly drops: DropLog;
  private connected = false;
  /** Failures in a row; 0 after a success. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly waiters = new DrainWaiters();

  private eventCounter = 0;
  private eventSeq = 0;
  private lastEventMs = -1;
  private pendingEvents: string[] = [];
  private pendingEventsStart = 0;

  constructor(
    private readonly config: InfluxConfig,
    options: InfluxSinkOptions,
  ) {
    this.logger = options.logger;
    clientLogger = this.logger;
    this.drops = new DropLog(this.logger, options.now ?? Date.now, (n) => `dropped ${n} points (backlog full at ${config.backlog_max_points} points, or refused by the server)`);
    this.random = options.random ?? Math.random;
    this.top = options.top;
    const token = resolveInfluxToken(config);
    this.client = new InfluxDB({ url: config.url, token: token === '' ? undefined : token, timeout: config.timeout_ms });
    this.pointOptions = { prefix: config.measurement_prefix, host: options.hostname, precision: config.precision };
    this.sampleEvery = Math.max(1, Math.round(1 / config.events_sample));
  }

  writeInterval(agg: IntervalAggregate): void {
    try {
      this.flushEvents();
      this.enqueue({ kind: 'interval', start: agg.start, lines: intervalPoints(agg, this.pointOptions, this.top), precision: this.config.precision });
    } catch (err) {
      this.logger.error(`cannot render interval ${new Date(agg.start).toISOString()}: ${String(err)}`);
    }
  }

  writeHealth(health: HealthSnapshot): void {
    try {
      this.flushEvents();
      this.enqueue({ kind: 'health', start: health.time, lines: healthPoints(health, this.pointOptions), precision: this.config.precision });
    } catch (err) {
      this.logger.error(`cannot render health: ${String(err)}`);
    }
  }

  /** Hot path (events = true): every packet; keeps every `sampleEvery`-th as a point. */
  publish(event: PacketEvent): void {
    if (!this.config.events || this.closed) return;
    if (++this.eventCounter < this.sampleEvery) return;
    this.eventCounter = 0;
    const ms = Math.floor(event.time);
    this.eventSeq = ms === this.lastEventMs ? this.eventSeq + 1 : 0;
    this.lastEventMs = ms;
    const l = eventPoint(event, this.pointOptions.prefix, this.pointOptions.host, this.eventSeq);
    if (l === null) return;
    if (this.pendingEvents.length === 0) this.pendingEventsStart = ms;
    this.pendingEvents.push(l);
    if (this.pendingEvents.length >= EVENT_BATCH_POINTS) this.flushEvents();
  }

  deliveredUntil(): number {
    for (const b of this.queue) if (b.kind === 'interval') return b.start;
    return Infinity;
  }

  health(): SinkHealth {
    return { backlog: this.queuedPoints + this.pendingEvents.length, dropped: this.drops.total, sent: this.sentPoints, connected: this.connected };
  }

  flush(timeoutMs: number): Promise<void> {
    this.flushEvents();
    if (this.queue.length === 0) return Promise.resolve();
    // A flush (SIGTERM) does not sit out a long backoff: one attempt now.
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.pump();
    }
    return this.waiters.wait(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush(CLOSE_FLUSH_MS);
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.queuedPoints > 0) this.logger.warn(`closing with ${this.queuedPoints} points not delivered to ${this.config.url}`);
    this.drops.warn(true);
    this.waiters.wakeAll();
  }

  // --- queue

  private flushEvents(): void {
    if (this.pendingEvents.length === 0) return;
    const lines = this.pendingEvents;
    this.pendingEvents = [];
    this.enqueue({ kind: 'events', start: this.pendingEventsStart, lines, precision: 'ns' });
  }

  private enqueue(batch: Batch): void {
    if (this.closed) {
      this.drop(batch.lines.length);
      return;
    }
    if (batch.lines.length === 0) return;
    this.queue.push(batch);
    this.queuedPoints += batch.lines.length;
    // Over the bound: drop event samples first, then the oldest batches not in flight, never the
    // one just added (a single batch larger than the whole backlog is kept alone).
    while (this.queuedPoints > this.config.backlog_max_points && this.queue.length - this.inFlight > 1) {
      let i = this.queue.findIndex((b, j) => j >= this.inFlight && j < this.queue.length - 1 && b.kind === 'events');
      if (i < 0) i = this.inFlight;
      const [old] = this.queue.splice(i, 1);
      this.queuedPoints -= old!.lines.length;
      this.drop(old!.lines.length);
    }
    this.pump();
  }

  private drop(points: number): void {
    this.drops.add(points);
  }


  /** Starts the next request unless one is under way or a retry is scheduled. */
  private pump(): void {
    if (this.closed || this.inFlight > 0 || this.retryTimer !== null || this.queue.length === 0) return;
    // Merge consecutive batches of the same precision up to max_batch_points.
    const precision = this.queue[0]!.precision;
    let n = 0;
    let points = 0;
    while (n < this.queue.length) {
      const b = this.queue[n]!;
      if (n > 0 && (b.precision !== precision || points + b.lines.length > this.config.max_batch_points)) break;
      points += b.lines.length;
      n++;
    }
    this.inFlight = n;
    const batches = this.queue.slice(0, n);
    void this.send(batches, precision, points);
  }

  private async send(batches: Batch[], precision: Batch['precision'], points: number): Promise<void> {
    let api: WriteApi | null = null;
    try {
      api = this.client.getWriteApi(this.config.org, this.config.bucket, precision, {
        batchSize: points + 1,
        maxBatchBytes: Number.MAX_SAFE_INTEGER,
        flushInterval: 0,
        maxRetries: 0,
        maxBufferLines: 1,
        // Returning a promise makes the client hand us the error instead of logging and retrying.
        writeFailed: (error: Error) => Promise.reject(error),
      });
      for (const b of batches) api.writeRecords(b.lines);
      await api.flush();
      this.onSuccess(batches, points);
    } catch (err) {
      this.onFailure(batches, err);
    } finally {
      api?.dispose();
    }
  }

  private onSuccess(batches: Batch[], points: number): void {
    const wasDown = this.failures > 0;
    const resend = wasDown ? this.ring.slice() : [];
    if (wasDown) this.logger.info(`writes to ${this.config.url} succeed again after ${this.failures} failed attempts`);
    this.failures = 0;
    this.connected = true;
    // Batches in flight are never dropped by enqueue(): they are still the head of the queue.
    this.queue.splice(0, batches.length);
    this.inFlight = 0;
    this.queuedPoints -= points;
    for (const b of batches) {
      if (b.resend) continue; // counted when first sent
      this.sentPoints += b.lines.length;
      if (b.kind === 'interval' && this.config.resend_intervals > 0) {
        this.ring.push(b);
        if (this.ring.length > this.config.resend_intervals) this.ring.shift();
      }
    }
    if (resend.length > 0) this.requeue(resend);
    this.pump();
    if (this.queue.length === 0) this.waiters.wakeAll();
  }

  /** After an outage: the last acknowledged intervals go out again first (resend_intervals). */
  private requeue(ring: Batch[]): void {
    const copies: Batch[] = ring.map((b) => ({ ...b, resend: true }));
    if (copies.length === 0) return;
    this.logger.info(`re-sending the last ${copies.length} intervals after the outage`);
    this.queue.unshift(...copies);
    for (const b of copies) this.queuedPoints += b.lines.length;
  }

  private onFailure(batches: Batch[], err: unknown): void {
    this.inFlight = 0;
    const status = err instanceof HttpError ? err.statusCode : 0;
    const points = batches.reduce((s, b) => s + b.lines.length, 0);
    if (status === 400 || status === 413 || status === 422) {
      // The server will never accept these lines: retrying would block everything behind them.
      this.logger.error(`${this.config.url} refused ${points} points (HTTP ${status}): ${describe(err)}; dropped`);
      this.connected = true;
      this.queue.splice(0, batches.length);
      this.queuedPoints -= points;
      this.drop(points);
      this.pump();
      if (this.queue.length === 0) this.waiters.wakeAll();
      return;
    }
    this.connected = status !== 0;
    this.failures++;
    const backoff = Math.min(this.config.retry_max_ms, this.config.retry_min_ms * 2 ** Math.min(this.failures - 1, 30));
    const retryAfter = err instanceof HttpError ? retryAfterMs(err) : 0;
    const delay = Math.min(this.config.retry_max_ms, retryAfter > 0 ? retryAfter : backoff) + Math.floor(this.random() * this.config.retry_jitter_ms);
    const message = `write of ${points} points to ${this.config.url} failed: ${describe(err)}; retrying in ${delay} ms`;
    if (status === 401 || status === 403 || status === 404) this.logger.error(message);
    else if (this.failures === 1) this.logger.warn(message);
    else this.logger.debug(message);
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, delay);
  }
}

/** Retry-After in ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); 0 when absent. */
function retryAfterMs(err: HttpError): number {
  const raw = err.headers?.['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (typeof value !== 'string' || value === '') return 0;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : 0;
}

function describe(err: unknown): string {
  if (err instanceof HttpError) return `HTTP ${err.statusCode}${err.body ? ` ${err.body.slice(0, 200)}` : ''}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
