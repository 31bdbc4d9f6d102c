// The Graphite sink: intervals and health snapshots as carbon plaintext lines over TCP.
//
// Formatting is node-graphite's (GraphiteClient → CarbonClient: `path value timestamp\n`). Its
// connection handling is not used: its LazySocket listens for 'error' only once, so a second error
// on the same socket would crash the process, and it never reconnects on its own. CarbonClient
// takes a `socket` property, so we hand it our own CarbonConnection, which owns the TCP socket.
//
// Delivery: every interval becomes one batch, queued in order, written with one client.write()
// (timestamp = interval start). A batch counts as delivered when its write callback succeeds on a
// connection that is still alive; when the connection breaks, every batch not yet delivered stays
// queued and is written again after the reconnect. Lines handed to the kernel just before carbon
// closed the connection are lost without any error, so after every reconnect the last
// `resend_intervals` delivered interval batches are written again first (carbon keeps the last
// value written for a timestamp: resending is idempotent). deliveredUntil() lets the pipeline
// commit read positions only for intervals that got this far.
//
// Series creation: stock carbon creates at most MAX_CREATES_PER_MINUTE (50) new whisper files a
// minute and DROPS the points of any other new series. So a batch is turned into lines only when
// it is written (not when queued: a backlog sent after an outage must not burst), through a
// CreateLimiter of `max_creates_per_minute`: new core series first, then NFACCT counters, then
// the busiest named values; a new named series that does not fit this minute has its value
// added to its family's `other` (totals stay exact) and is created in a later minute; a new core
// series (a count, or an `other`) that does not fit is held with its value and written at its own
// timestamp once the bucket has refilled; a new health gauge that does not fit is simply written
// by a later snapshot (see aggregate/budget.ts).
import net from 'node:net';
import { CarbonClient, graphite } from '../deps.js';
import type { GraphiteConfig } from '../config/schema.js';
import type { HealthSnapshot, IntervalAggregate, Sink, SinkHealth } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { planHealth, planInterval, type MetricNamer, type TopLimits } from '../metrics/names.js';
import { CreateLimiter, planWrites, type PlannedMetric } from '../aggregate/budget.js';
import { DrainWaiters } from '../util/waiters.js';
import { DropLog } from './drops.js';

/** Batches written but not yet acknowledged, at most: bounds what sits in the socket's buffer. */
const MAX_IN_FLIGHT = 8;
/** A connect attempt that neither succeeds nor fails (SYNs into a black hole) is given up after this. */
const CONNECT_TIMEOUT_MS = 10_000;
/** TCP keepalive probe delay: notices a carbon host that vanished without closing the connection. */
const KEEPALIVE_MS = 15_000;
/** Held core metrics are offered again after at least this long (one creation token at 40/min is 1.5 s). */
const HOLD_RETRY_MS = 1_000;
/** How long close() waits for carbon to acknowledge our FIN before destroying the socket. */
const CLOSE_WAIT_MS = 1_000;
/** close() first tries to send what is queued for this long. */
const CLOSE_FLUSH_MS = 500;

type WriteCallback = (err?: Error | null) => void;

interface ConnectionEvents {
  /** A connection was established; `reconnect` is false only for the first one. */
  connected(reconnect: boolean): void;
  /** An established connection ended; writes not yet acknowledged on it must be considered lost. */
  disconnected(): void;
}

/**
 * One TCP connection to carbon at a time, re-established with exponential backoff. Implements the
 * `socket` interface CarbonClient writes to. Never lets an 'error' go unhandled.
 */
export class CarbonConnection {
  private socket: net.Socket | null = null;
  private live = false;
  private everConnected = false;
  private closed = false;
  private delay: number;
  private timer: NodeJS.Timeout | null = null;
  /** Connect failures since the last success: only the first one is logged as a warning. */
  private failures = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly minDelay: number,
    private readonly maxDelay: number,
    private readonly logger: Logger,
    private readonly events: ConnectionEvents,
  ) {
    this.delay = minDelay;
  }

  get connected(): boolean {
    return this.live;
  }

  start(): void {
    if (!this.closed && !this.socket && !this.timer) this.connect();
  }

  /** CarbonClient's socket interface. Fails (asynchronously) when not connected. */
  write(data: string, encoding: BufferEncoding, cb: WriteCallback): void {
    const socket = this.socket;
    if (!socket || !this.live) {
      process.nextTick(cb, new Error('not connected to carbon'));
      return;
    }
    socket.write(data, encoding, (err?: Error | null) => {
      // Node reports success for writes cancelled by destroy(); only a live socket's ack counts.
      if (err) cb(err);
      else if (socket !== this.socket || !this.live || socket.destroyed) cb(new Error('connection to carbon closed'));
      else cb(null);
    });
  }

  /** Ends the connection for good: no more reconnects. Resolves when the socket is gone. */
  end(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => socket.destroy(), CLOSE_WAIT_MS);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (this.live) socket.end();
      else socket.destroy();
    });
  }

  private connect(): void {
    this.timer = null;
    const socket = net.createConnection({ host: this.host, port: this.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    let lastError: Error | null = null;

    socket.on('timeout', () => {
      if (!this.live) socket.destroy(new Error(`connect timeout after ${CONNECT_TIMEOUT_MS} ms`));
    });
    socket.on('connect', () => {
      socket.setTimeout(0);
      if (this.closed) {
        socket.destroy();
        return;
      }
      this.live = true;
      this.delay = this.minDelay;
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.logger.info(`connected to carbon at ${this.host}:${this.port}${this.failures ? ` after ${this.failures} failed attempts` : ''}`);
      this.failures = 0;
      this.events.connected(reconnect);
    });
    // Every error, every time: 'close' follows and does the work.
    socket.on('error', (err) => {
      lastError = err;
    });
    // carbon sends nothing; its FIN means it is going away (restart): stop writing into it at once.
    socket.on('end', () => socket.destroy());
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      const wasLive = this.live;
      this.live = false;
      const why = lastError ? lastError.message : 'closed by peer';
      if (wasLive) {
        if (!this.closed) this.logger.warn(`connection to carbon at ${this.host}:${this.port} lost: ${why}`);
        this.events.disconnected();
      } else if (!this.closed) {
        this.failures++;
        const message = `cannot connect to carbon at ${this.host}:${this.port}: ${why}; retrying`;
        if (this.failures === 1) this.logger.warn(message);
        else this.logger.debug(message);
      }
      if (this.closed) return;
      const wait = this.delay;
      this.delay = Math.min(this.delay * 2, this.maxDelay);
      this.timer = setTimeout(() => this.connect(), wait);
    });
    // Read (and discard) so that carbon's FIN is noticed as 'end'.
    socket.resume();
  }
}

interface Batch {
  readonly kind: 'interval' | 'health';
  /** Timestamp of every line (interval start, or health time), epoch ms. */
  readonly start: number;
  readonly end: number;
  /** Until first written: the rendered metrics, creation budget not yet applied. */
  planned: PlannedMetric[] | null;
  /** From the first write on: path → value as written (and resent). */
  metrics: Record<string, number> | null;
  /** Lines (planned metrics until the first write, then written ones). */
  lines: number;
}

export interface GraphiteSinkOptions {
  namer: MetricNamer;
  /** How many ports/values per interval are written by name (the rest as `other`). */
  top: TopLimits;
  logger: Logger;
  /** Clock for log rate limits; tests pass their own. */
  now?: () => number;
}

export class GraphiteSink implements Sink {
  readonly name = 'graphite';
  private readonly namer: MetricNamer;
  private readonly top: TopLimits;
  private readonly logger: Logger;
  private readonly client: graphite;
  private readonly conn: CarbonConnection;
  private readonly limiter: CreateLimiter;
  private readonly now: () => number;

  /** Undelivered batches in order; the first `inFlight` of them are written and await their ack. */
  private queue: Batch[] = [];
  private inFlight = 0;
  private queuedLines = 0;
  /** The last delivered interval batches, oldest first, for the resend after a reconnect. */
  private ring: Batch[] = [];
  /** Copies from `ring` still to write on this connection, before anything in `queue`. */
  private resend: Batch[] = [];
  private resendInFlight = 0;
  /** Bumped on every disconnect: acks from an older connection are ignored. */
  private generation = 0;

  /** Core metrics waiting for creation tokens (see hold()), and the timer that queues them again. */
  private held: Batch[] = [];
  private holdTimer: NodeJS.Timeout | undefined;

  private sentLines = 0;
  private readonly drops: DropLog;
  private closed = false;
  private readonly waiters = new DrainWaiters();

  constructor(
    private readonly config: GraphiteConfig,
    options: GraphiteSinkOptions,
  ) {
    this.namer = options.namer;
    this.top = options.top;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.limiter = new CreateLimiter(config.max_creates_per_minute);
    this.drops = new DropLog(this.logger, options.now ?? Date.now, (n) => `backlog full (${config.backlog_max_lines} lines): dropped ${n} oldest metric lines`);
    this.conn = new CarbonConnection(config.host, config.port, config.reconnect_min_ms, Math.max(config.reconnect_min_ms, config.reconnect_max_ms), this.logger, {
      connected: (reconnect) => this.onConnected(reconnect),
      disconnected: () => this.onDisconnected(),
    });
    this.client = new graphite({ carbon: new CarbonClient({ socket: this.conn }) });
    this.conn.start();
  }

  writeInterval(agg: IntervalAggregate): void {
    try {
      const planned = planInterval(agg, this.namer, this.top);
      this.enqueue({ kind: 'interval', start: agg.start, end: agg.start + agg.length, planned, metrics: null, lines: planned.length });
    } catch (err) {
      // Rendering plain data should not fail; if it does, losing one interval beats crashing.
      this.logger.error(`cannot render interval ${new Date(agg.start).toISOString()}: ${String(err)}`);
    }
  }

  writeHealth(health: HealthSnapshot): void {
    try {
      const planned = planHealth(health, this.namer, this.seriesHealth());
      this.enqueue({ kind: 'health', start: health.time, end: health.time, planned, metrics: null, lines: planned.length });
    } catch (err) {
      this.logger.error(`cannot render health: ${String(err)}`);
    }
  }

  deliveredUntil(): number {
    // The oldest undelivered interval bounds everything (held ones are older than the queue's).
    let until = Infinity;
    for (const b of this.held) if (b.kind === 'interval' && b.start < until) until = b.start;
    for (const b of this.queue) if (b.kind === 'interval' && b.start < until) until = b.start;
    return until;
  }

  /** New series written so far, and new series held back by max_creates_per_minute. */
  seriesHealth(): { admitted: number; folded: number } {
    return { admitted: this.limiter.created, folded: this.limiter.refused };
  }

  health(): SinkHealth {
    return { backlog: this.queuedLines, dropped: this.drops.total, sent: this.sentLines, connected: this.conn.connected };
  }

  flush(timeoutMs: number): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return this.waiters.wait(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush(CLOSE_FLUSH_MS);
    this.closed = true;
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    if (this.queuedLines > 0) this.logger.warn(`closing with ${this.queuedLines} metric lines not delivered to carbon`);
    this.drops.warn(true);
    await this.conn.end();
    this.waiters.wakeAll();
  }

  // --- queue

  private enqueue(batch: Batch): void {
    if (this.closed) {
      this.drop(batch.lines);
      return;
    }
    if (batch.lines === 0) return;
    this.queue.push(batch);
    this.queuedLines += batch.lines;
    // Over the bound: drop the oldest batches not yet written, never the one just added (a single
    // batch larger than the whole backlog is kept alone rather than lost outright).
    while (this.queuedLines > this.config.backlog_max_lines && this.queue.length - this.inFlight > 1) {
      const [old] = this.queue.splice(this.inFlight, 1);
      this.queuedLines -= old!.lines;
      this.drop(old!.lines);
    }
    this.pump();
  }

  private drop(lines: number): void {
    this.drops.add(lines);
  }


  /** Writes what may be written now: resends first, then the queue, up to MAX_IN_FLIGHT. */
  private pump(): void {
    if (!this.conn.connected) return;
    // Held core metrics go before anything new once a creation token is back: they are older.
    if (this.held.length > 0 && this.limiter.msUntilToken(this.now()) === 0) this.queue.splice(this.inFlight, 0, ...this.held.splice(0));
    while (this.resendInFlight + this.inFlight < MAX_IN_FLIGHT) {
      if (this.resendInFlight < this.resend.length) {
        this.send(this.resend[this.resendInFlight++]!, true);
      } else if (this.inFlight < this.queue.length) {
        this.send(this.queue[this.inFlight++]!, false);
      } else break;
      if (!this.conn.connected) return; // a synchronous failure ended the connection
    }
  }

  private send(batch: Batch, isResend: boolean): void {
    const generation = this.generation;
    if (batch.metrics === null) {
      // First write: decide now which new series may be created (see the top of this file).
      const { write, held } = planWrites(batch.planned ?? [], this.limiter, this.now());
      batch.metrics = write;
      batch.planned = null;
      const lines = Object.keys(write).length;
      this.queuedLines -= batch.lines - lines;
      batch.lines = lines;
      if (held.length > 0) this.hold({ kind: batch.kind, start: batch.start, end: batch.end, planned: held, metrics: null, lines: held.length });
    }
    // node-graphite treats a falsy timestamp as "now"; an interval at epoch 0 cannot occur.
    this.client.write(batch.metrics, batch.start, (err) => {
      if (generation !== this.generation) return; // that connection is gone; already requeued
      if (err) {
        // Normally 'close' follows and requeues everything in flight; if the connection is
        // already down without having said so, requeue now (a second requeue is harmless).
        if (!this.conn.connected) this.onDisconnected();
        return;
      }
      if (isResend) {
        this.resend.shift();
        this.resendInFlight--;
      } else {
        const i = this.queue.indexOf(batch); // 0: a stream acknowledges in order
        if (i >= 0) {
          this.queue.splice(i, 1);
          this.inFlight--;
          this.queuedLines -= batch.lines;
          this.sentLines += batch.lines;
          if (batch.kind === 'interval' && this.config.resend_intervals > 0) {
            this.ring.push(batch);
            if (this.ring.length > this.config.resend_intervals) this.ring.shift();
          }
        }
      }
      this.pump();
      if (this.idle()) this.waiters.wakeAll();
    });
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.resend.length === 0 && this.held.length === 0;
  }

  /**
   * Keeps core metrics whose new series carbon may not create yet (max_creates_per_minute spent)
   * and queues them again, at their own timestamp, once a creation token is back: carbon would
   * drop their points, and these are counts. Read positions are not committed past them.
   */
  private hold(batch: Batch): void {
    this.held.push(batch);
    this.queuedLines += batch.lines;
    this.armHoldTimer();
  }

  /** While metrics are held, looks again once a token should be back (pump() releases them). */
  private armHoldTimer(): void {
    if (this.holdTimer !== undefined || this.held.length === 0) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      if (this.closed) return;
      this.pump();
      this.armHoldTimer(); // still no token, or no connection
    }, Math.max(HOLD_RETRY_MS, this.limiter.msUntilToken(this.now())));
    this.holdTimer.unref();
  }

  private onConnected(reconnect: boolean): void {
    if (reconnect && this.ring.length) {
      this.resend = this.ring.slice();
      this.logger.info(`resending the last ${this.resend.length} intervals after reconnect`);
    }
    this.pump();
  }

  private onDisconnected(): void {
    this.generation++;
    this.inFlight = 0;
    this.resend = [];
    this.resendInFlight = 0;
  }
}
