// Callers waiting for a sink to drain: each wait ends when the sink says it is idle, or at its
// own timeout, whichever comes first (SIGTERM must not wait forever for a server that is down).
export class DrainWaiters {
  private readonly waiting = new Set<() => void>();

  /** Resolves at the next wakeAll() or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiting.add(done);
    });
  }

  wakeAll(): void {
    for (const done of [...this.waiting]) done();
  }
}
