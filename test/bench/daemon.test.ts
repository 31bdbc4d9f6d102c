import { describe, expect, it } from 'vitest';
import { exitCpuOf } from '../../src/bench/daemon.js';
import { stoppedLine } from '../../src/main.js';

describe('the CPU of a daemon run to its exit', () => {
  it('is read from the last line the daemon logs when it stops', () => {
    const line = stoppedLine({ user: 1_500_000, system: 250_000 }, 200 * 1024, 12.34);
    expect(line).toBe('stopped after 12.3 s: 1.75 s of CPU, peak RSS 200 MiB');
    const log = ['2026-12-02T13:00:00.000Z info SIGTERM: flushing and stopping', `2026-12-02T13:00:01.000Z info ${line}`, ''].join('\n');
    expect(exitCpuOf(log)).toBe(1.75);
  });

  it('is unknown when the daemon did not stop cleanly', () => {
    expect(exitCpuOf('2026-12-02T13:00:00.000Z info SIGTERM: flushing and stopping\n')).toBeNull();
    expect(exitCpuOf('')).toBeNull();
  });
});
