// What a sink dropped: counted for health, and said in the log at most once per interval so a
// long outage does not flood it.
import type { Logger } from '../util/log.js';

const WARNING_EVERY_MS = 10_000;

export class DropLog {
  /** Cumulative, for SinkHealth.dropped. */
  total = 0;
  private sinceWarning = 0;
  private lastWarning = -Infinity;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
    /** The warning for `n` dropped items. */
    private readonly describe: (n: number) => string,
  ) {}

  add(n: number): void {
    this.total += n;
    this.sinceWarning += n;
    this.warn(false);
  }

  /** Logs what was dropped since the last warning; `force` ignores the rate limit (close). */
  warn(force: boolean): void {
    if (this.sinceWarning === 0) return;
    const now = this.now();
    if (!force && now - this.lastWarning < WARNING_EVERY_MS) return;
    this.logger.warn(this.describe(this.sinceWarning));
    this.lastWarning = now;
    this.sinceWarning = 0;
  }
}
