// Detections in, alerts out: which detections become alerts (severity floor, age), once per source
// or campaign (de-duplication), how many a minute (a token bucket), and delivery to every channel
// off the hot path. The tracker hands detections over synchronously; nothing here blocks it.
import type { Alert, AlertChannel } from '../pipeline/types.js';
import type { Detection } from '../track/query.js';
import type { Logger } from '../util/log.js';
import { alertOf } from './text.js';

export interface AlertPolicy {
  minSeverity: number;
  campaigns: boolean;
  dedupeMs: number;
  maxPerMinute: number;
  /** 0: no limit. */
  maxAgeMs: number;
  /** Name of this host in the alert text. */
  host: string;
  /** Scans only from sources on a threat list (absent: false). */
  onlyListed?: boolean;
}

export interface AlertStats {
  /** Detections handed over by the tracker. */
  detections: number;
  /** Alerts queued for delivery. */
  alerts: number;
  /** Detections not alerted, by reason. */
  belowSeverity: number;
  deduplicated: number;
  rateLimited: number;
  stale: number;
  /** Scans from sources on no threat list, with only_listed. */
  notListed: number;
  /** Alerts dropped because the delivery queue was full (a channel slower than the alert rate). */
  queueFull: number;
  /** Per channel: alerts delivered and failed. */
  channels: Record<string, { sent: number; failed: number }>;
}

/** Sources and campaigns remembered for de-duplication at most (the oldest are forgotten first). */
const MAX_REMEMBERED = 10_000;
/** Alerts waiting for delivery at most. */
const MAX_QUEUED = 1000;

export class AlertDispatcher {
  readonly stats: AlertStats;
  /** Key → severity and wall time of its last alert. */
  private readonly last = new Map<string, { severity: number; at: number }>();
  private tokens: number;
  private refilledAt: number;
  private readonly queue: Alert[] = [];
  private draining: Promise<void> | null = null;
  private rateLimitedLogged = 0;
  private rateLimitedLogAt = 0;
  /** Alerts delivered to every channel or given up on, for tests and shutdown. */
  private settled = 0;
  /** Told of every alert queued (the history store keeps them); synchronous, so it must only queue. */
  onAlert: ((alert: Alert, time: number) => void) | null = null;

  constructor(
    private readonly policy: AlertPolicy,
    readonly channels: readonly AlertChannel[],
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.tokens = policy.maxPerMinute;
    this.refilledAt = clock();
    this.stats = {
      detections: 0,
      alerts: 0,
      belowSeverity: 0,
      deduplicated: 0,
      rateLimited: 0,
      stale: 0,
      notListed: 0,
      queueFull: 0,
      channels: Object.fromEntries(channels.map((c) => [c.name, { sent: 0, failed: 0 }])),
    };
  }

  /** Takes a detection from the tracker (synchronously, from the packet path): decides, queues, returns. */
  accept(d: Detection): void {
    this.stats.detections++;
    const now = this.clock();
    if (this.policy.maxAgeMs > 0 && d.time < now - this.policy.maxAgeMs) {
      this.stats.stale++;
      return;
    }
    if (d.kind === 'campaign' ? !this.policy.campaigns : d.source.scan.severity < this.policy.minSeverity) {
      this.stats.belowSeverity++;
      return;
    }
    if (this.policy.onlyListed === true && d.kind === 'scan' && d.source.listed.length === 0) {
      this.stats.notListed++;
      return;
    }
    const alert = alertOf(d, this.policy.host, this.policy.minSeverity);
    const before = this.last.get(alert.key);
    if (before !== undefined && alert.severity <= before.severity && now - before.at < this.policy.dedupeMs) {
      this.stats.deduplicated++;
      return;
    }
    if (!this.take(now)) {
      this.stats.rateLimited++;
      this.noteRateLimited(now);
      return;
    }
    this.remember(alert.key, alert.severity, now);
    if (this.queue.length >= MAX_QUEUED) {
      this.stats.queueFull++;
      return;
    }
    this.stats.alerts++;
    this.logger.warn(`alert: ${alert.title}`);
    this.onAlert?.(alert, d.time);
    this.queue.push(alert);
    this.draining ??= this.drain();
  }

  /** Resolves once every queued alert was delivered or given up on (or after `timeoutMs`). */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = this.clock() + timeoutMs;
    while (this.draining !== null && this.clock() < deadline) {
      await Promise.race([this.draining, new Promise((r) => setTimeout(r, Math.max(1, deadline - this.clock())).unref())]);
    }
  }

  /** Alerts delivered or given up on so far. */
  get done(): number {
    return this.settled;
  }

  private take(now: number): boolean {
    const perMs = this.policy.maxPerMinute / 60_000;
    this.tokens = Math.min(this.policy.maxPerMinute, this.tokens + (now - this.refilledAt) * perMs);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private remember(key: string, severity: number, now: number): void {
    this.last.delete(key);
    if (this.last.size >= MAX_REMEMBERED) this.last.delete(this.last.keys().next().value as string);
    this.last.set(key, { severity, at: now });
  }

  /** One log line a minute for what the rate limit held back, not one per alert. */
  private noteRateLimited(now: number): void {
    if (now - this.rateLimitedLogAt < 60_000) return;
    this.logger.warn(`alerts: more than ${this.policy.maxPerMinute} a minute; ${this.stats.rateLimited - this.rateLimitedLogged} held back since the last notice (counted in alerts_rate_limited)`);
    this.rateLimitedLogged = this.stats.rateLimited;
    this.rateLimitedLogAt = now;
  }

  private async drain(): Promise<void> {
    try {
      for (let alert = this.queue.shift(); alert !== undefined; alert = this.queue.shift()) {
        const current = alert;
        const results = await Promise.allSettled(this.channels.map((c) => c.send(current)));
        results.forEach((r, i) => {
          const channel = this.channels[i]!;
          const counts = this.stats.channels[channel.name]!;
          if (r.status === 'fulfilled') counts.sent++;
          else {
            counts.failed++;
            this.logger.error(`alert to ${channel.name} failed (${current.key}): ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
          }
        });
        this.settled++;
      }
    } finally {
      this.draining = null;
    }
  }
}
