// Detections in, blocks out: a source whose scan is detected at min_severity or above goes into
// the nftables block set for block_seconds, unless the allowlist protects it, the cap is reached
// or this is a dry run. Every decision is logged (up to a rate) and counted. nft runs one change
// at a time, off the packet path; the tracker hands detections over synchronously.
import type { Detection } from '../track/query.js';
import type { Logger } from '../util/log.js';
import { protectedText, type Allowlist } from './allowlist.js';
import type { BlockEntry, NftBlockSet } from './nft-set.js';

export interface ResponsePolicy {
  dryRun: boolean;
  minSeverity: number;
  blockMs: number;
  maxEntries: number;
  /** Only sources on a threat list (absent: false). */
  onlyListed?: boolean;
}

export interface ResponseStats {
  /** Sources added to the block set (automatic and by hand). */
  blocked: number;
  /** Blocks a dry run would have made. */
  dryRun: number;
  /** Detections at min_severity not blocked: protected by the allowlist, or the cap reached. */
  allowlisted: number;
  full: number;
  /** Detections below min_severity, and campaign detections (sources are blocked, not campaigns). */
  belowSeverity: number;
  /** Detections at min_severity of sources on no threat list, with only_listed. */
  notListed: number;
  /** nft changes that failed. */
  failed: number;
  unblocked: number;
  /** Blocks nfwatch made that have not expired. */
  active: number;
}

/** A change of the block set made by nfwatch or by hand, as it is kept in the history. */
export interface BlockChange {
  kind: 'block' | 'unblock';
  target: string;
  /** Wall-clock time of the change, epoch ms. */
  time: number;
  /** The block's length (0 for an unblock). */
  seconds: number;
  severity: number;
  /** Why, for people: "severity 4: SYN port scan of ...", or "by hand (api)". */
  why: string;
}

/** nft changes waiting at most (each is one short nft run). */
const MAX_PENDING = 1000;
/** Decision log lines a minute at most; the rest is counted and summed up once a minute. */
const LOG_PER_MINUTE = 60;

export class Responder {
  readonly stats: ResponseStats = { blocked: 0, dryRun: 0, allowlisted: 0, full: 0, belowSeverity: 0, notListed: 0, failed: 0, unblocked: 0, active: 0 };
  /** Target → wall time its block ends, for the cap and the page. */
  private readonly active = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private logged = 0;
  private loggedSince = 0;
  private unlogged = 0;
  /** Told of every change made to the set (the history store keeps them). */
  onChange: ((change: BlockChange) => void) | null = null;

  constructor(
    private readonly policy: ResponsePolicy,
    private readonly allowlist: Allowlist,
    private readonly set: NftBlockSet,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes a detection from the tracker (synchronously, from the packet path): decides, queues, returns. */
  accept(d: Detection): void {
    if (d.kind !== 'scan' || d.source.scan.severity < this.policy.minSeverity) {
      this.stats.belowSeverity++;
      return;
    }
    const r = d.source;
    if (this.policy.onlyListed === true && r.listed.length === 0) {
      this.stats.notListed++;
      return;
    }
    const why = `severity ${r.scan.severity}: ${r.scan.label || r.scan.types.join(', ')}`;
    const protectedBy = this.allowlist.reason(r.address);
    if (protectedBy !== null) {
      this.stats.allowlisted++;
      this.note(`not blocked: ${r.address} is ${protectedText(protectedBy)}${protectedBy === 'private' ? ' (response.block_private = false)' : ''} (${why})`);
      return;
    }
    if (this.set.setFor(r.address) === '') {
      this.stats.allowlisted++;
      this.note(`not blocked: ${r.address}: its address family has no block set (${why})`);
      return;
    }
    this.expire();
    if (!this.active.has(r.address) && this.active.size >= this.policy.maxEntries) {
      this.stats.full++;
      this.note(`not blocked: ${r.address}: ${this.policy.maxEntries} blocks are active (response.max_entries) (${why})`);
      return;
    }
    const seconds = Math.round(this.policy.blockMs / 1000);
    if (this.policy.dryRun) {
      this.stats.dryRun++;
      this.active.set(r.address, this.clock() + this.policy.blockMs);
      this.stats.active = this.active.size;
      this.note(`dry run: would block ${r.address} for ${seconds} s (${why})`);
      return;
    }
    // The place is taken now, before nft runs, so a burst of detections cannot overshoot the cap.
    this.active.set(r.address, this.clock() + this.policy.blockMs);
    this.stats.active = this.active.size;
    this.change(
      `block ${r.address} for ${seconds} s (${why})`,
      async () => {
        await this.set.add(r.address, seconds, `nfwatch ${why}`);
        this.stats.blocked++;
        this.onChange?.({ kind: 'block', target: r.address, time: this.clock(), seconds, severity: r.scan.severity, why });
      },
      () => {
        this.active.delete(r.address);
        this.stats.active = this.active.size;
      },
    );
  }

  /** Blocks a target by hand (CLI, API), subject to the allowlist unless `force`. */
  async block(target: string, seconds: number, by: string, force = false): Promise<void> {
    const protectedBy = force ? null : this.allowlist.reason(target);
    if (protectedBy !== null) throw new Error(`${target} is ${protectedText(protectedBy)}: not blocked (force to override)`);
    await this.serialised(async () => {
      await this.set.add(target, seconds, `nfwatch by ${by}`);
      this.active.set(target, this.clock() + seconds * 1000);
      this.stats.blocked++;
      this.stats.active = this.active.size;
    });
    this.onChange?.({ kind: 'block', target, time: this.clock(), seconds, severity: 0, why: `by hand (${by})` });
    this.logger.warn(`blocked ${target} for ${seconds} s by ${by}`);
  }

  /** Removes a block; false when the set did not hold it. */
  async unblock(target: string, by: string): Promise<boolean> {
    const removed = await this.serialised(() => this.set.remove(target));
    this.active.delete(target);
    this.stats.active = this.active.size;
    if (removed) {
      this.stats.unblocked++;
      this.onChange?.({ kind: 'unblock', target, time: this.clock(), seconds: 0, severity: 0, why: `by hand (${by})` });
      this.logger.warn(`unblocked ${target} by ${by}`);
    }
    return removed;
  }

  get dryRun(): boolean {
    return this.policy.dryRun;
  }

  /** What the kernel's sets hold now (blocks by anyone, nfwatch's have an "nfwatch" comment). */
  list(): Promise<BlockEntry[]> {
    return this.set.list();
  }

  /** Resolves when every queued change has run. */
  settled(): Promise<void> {
    return this.chain;
  }

  private expire(): void {
    const now = this.clock();
    for (const [target, until] of this.active) if (until <= now) this.active.delete(target);
    this.stats.active = this.active.size;
  }

  /** Queues an automatic change; logs it when done, counts it (and undoes `undo`) when it fails. */
  private change(what: string, run: () => Promise<void>, undo: () => void): void {
    if (this.pending >= MAX_PENDING) {
      this.stats.failed++;
      undo();
      this.note(`not done (${MAX_PENDING} changes waiting): ${what}`);
      return;
    }
    this.pending++;
    this.chain = this.chain
      .then(run)
      .then(
        () => this.note(what),
        (err: unknown) => {
          this.stats.failed++;
          undo();
          this.logger.error(`could not ${what}: ${(err as Error).message}`);
        },
      )
      .finally(() => this.pending--);
  }

  /** Runs a change after those queued before it; its outcome is the caller's. */
  private serialised<T>(run: () => Promise<T>): Promise<T> {
    const result = this.chain.then(run);
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** A decision's log line, at most LOG_PER_MINUTE a minute; the rest summed up once a minute. */
  private note(line: string): void {
    const now = this.clock();
    if (now - this.loggedSince >= 60_000) {
      if (this.unlogged > 0) this.logger.warn(`response: ${this.unlogged} more decisions in the last minute (counted, not logged)`);
      this.loggedSince = now;
      this.logged = 0;
      this.unlogged = 0;
    }
    if (this.logged >= LOG_PER_MINUTE) {
      this.unlogged++;
      return;
    }
    this.logged++;
    this.logger.warn(`response: ${line}`);
  }
}
