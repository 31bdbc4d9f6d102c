import { describe, expect, it } from 'vitest';
import { daemonConfig, exitCpuOf, nextPollMs, socketPathOf } from '../../src/bench/daemon.js';
import { parseConfigText } from '../../src/config/load.js';
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

describe('how often the bench asks the daemon for /metrics', () => {
  it('waits half the time the rate since ready says is left, so polls thicken toward the mark', () => {
    // 300,000 lines in 1 s since ready: 600,000 left take 2 s; half of it, at most 0.5 s.
    expect(nextPollMs(300_000, 900_000, 300_000, 1000)).toBe(500);
    // 30,000 left take 100 ms: wait 50.
    expect(nextPollMs(870_000, 900_000, 870_000, 2900)).toBe(50);
    // At or past the mark, or nearly there: the shortest wait, so the last line is timed closely.
    expect(nextPollMs(899_999, 900_000, 899_999, 3000)).toBe(10);
    expect(nextPollMs(900_000, 900_000, 900_000, 3000)).toBe(10);
  });

  it('polls at a fixed pace before any line gave a rate', () => {
    expect(nextPollMs(0, 1_000_000, 0, 500)).toBe(100);
    expect(nextPollMs(5, 1_000_000, 0, 0)).toBe(100);
  });
});

describe("the bench daemon's configuration", () => {
  const setup = { dir: '/tmp/bench-run', file: '/tmp/bench-run/corpus.json' };

  it('follows the corpus file from its beginning by default', () => {
    const config = parseConfigText(daemonConfig(setup, 2003, 8080));
    expect(config.sources.file.map((f) => [f.path, f.from])).toEqual([['/tmp/bench-run/corpus.json', 'beginning']]);
    expect(config.sources.socket).toEqual([]);
  });

  it("with input socket, listens on a unix socket in the run's directory as ulogd's socket mode needs, and follows no file", () => {
    const socketSetup = { ...setup, input: 'socket' as const };
    const config = parseConfigText(daemonConfig(socketSetup, 2003, 8080));
    expect(config.sources.socket.map((s) => s.unix_path)).toEqual([socketPathOf(socketSetup)]);
    expect(socketPathOf(socketSetup).startsWith('/tmp/bench-run/')).toBe(true);
    expect(config.sources.file).toEqual([]);
    // The same names as the file run: its events count under the same source.
    expect(config.sources.socket[0]!.name).toBe('bench');
  });
});
