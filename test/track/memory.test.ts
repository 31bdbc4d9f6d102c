import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { T0, packet, tracker } from './helpers.js';

const MB = 1024 * 1024;

/** A full GC, so the figure is what the tracker keeps rather than garbage not yet collected. */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('memory bound', () => {
  it('keeps 1 000 000 distinct (spoofed) source addresses under max_sources, counting the evictions', () => {
    const maxSources = 100_000; // the default
    const t = tracker({ max_sources: maxSources });
    // One event object, changed in place as the pipeline's decoder would hand over new ones.
    const e = packet({ dport: 22, sport: 6000, window: 16384, olen: 0, df: 0, ttl: 103, country: 'CN' });
    collect();
    const before = process.memoryUsage();
    const started = performance.now();
    const N = 1_000_000;
    for (let i = 0; i < N; i++) {
      e.srcIp = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
      e.time = T0 + (i >> 4); // ~16 000 packets per second of event time
      e.dstPort = 1 + (i % 1024);
      t.observe(e);
    }
    const elapsed = performance.now() - started;
    t.prune();
    const peak = process.memoryUsage();
    collect();
    const after = process.memoryUsage();
    const stats = t.stats();
    console.log(
      `track memory: ${N} sources through max_sources=${maxSources} in ${elapsed.toFixed(0)} ms ` +
        `(${((N / elapsed) * 1000).toFixed(0)}/s): rss ${(before.rss / MB).toFixed(0)} MB before, ${(peak.rss / MB).toFixed(0)} MB at the end, ` +
        `${(after.rss / MB).toFixed(0)} MB after GC; retained heap +${((after.heapUsed - before.heapUsed) / MB).toFixed(0)} MB, ` +
        `array buffers +${((after.arrayBuffers - before.arrayBuffers) / MB).toFixed(0)} MB; ` +
        `tracked ${stats.tracked}, evicted ${stats.evicted}, campaign groups ${t.summary().campaigns.groups}`,
    );
    expect(stats.tracked).toBeLessThanOrEqual(maxSources);
    expect(stats.tracked).toBe(maxSources);
    expect(stats.evicted).toBe(N - maxSources);
    // About 0.93 KB per tracked source with its campaign link and row (see docs/detection.md); a generous
    // bound against regressions: 100 000 sources must not take more than 300 MB.
    expect(after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers).toBeLessThan(300 * MB);
  }, 60_000);
});
