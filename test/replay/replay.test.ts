// `nfwatch replay` as an operator runs it: the built CLI on a plain and a gzip file, into a plaintext
// Graphite listener; exact counts per verdict at their event times, the summary, the daemon's state
// left alone.
import { execFile } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES } from '../../src/sources/file.js';
import { CLI, ensureStopped, requireBuild } from '../e2e/nfwatch.js';
import { followConfig, graphiteListener, packetLineAt, startNfwatch, tempDir, waitFor, type GraphiteListener, type Nfwatch } from '../faults/harness.js';

const run = promisify(execFile);
const ALLOWED_FIXTURE = 'ipv4-curl-linux.jsonl';

describe('nfwatch replay (built CLI)', () => {
  const tmp = tempDir('nfw-replay-');
  let carbon: GraphiteListener;
  let stdout = '';
  let stderr = '';
  let code = -1;
  // Whole seconds, a few minutes ago: b.json.gz holds the earlier events, a.json the later ones.
  const base = Math.floor((Date.now() - 10 * 60_000) / 1000) * 1000;
  const bStart = base;
  const aStart = base + 120_000;

  beforeAll(async () => {
    requireBuild();
    carbon = await graphiteListener();
    const a: string[] = [];
    for (let i = 0; i < 30; i++) a.push(packetLineAt(aStart + i * 100)); // 30 blocked over 3 s
    for (let i = 0; i < 10; i++) a.push(packetLineAt(aStart + 5000 + i * 50, ALLOWED_FIXTURE)); // 10 allowed
    a.push('this is not json');
    a.push(packetLineAt(aStart + 6000)); // the last line, without its newline: blocked 31
    writeFileSync(join(tmp.dir, 'a.json'), a.join('\n'));
    const b: string[] = [];
    for (let i = 0; i < 20; i++) b.push(packetLineAt(bStart + i * 200)); // 20 blocked over 4 s
    for (let i = 0; i < 5; i++) b.push(packetLineAt(bStart + 4500 + i * 10, ALLOWED_FIXTURE)); // 5 allowed
    writeFileSync(join(tmp.dir, 'b.json.gz'), gzipSync(`${b.join('\n')}\n`));
    // The daemon's configuration: it follows ulogd.json and keeps its positions in state/.
    writeFileSync(join(tmp.dir, 'nfwatch.toml'), followConfig(tmp.dir, join(tmp.dir, 'ulogd.json'), carbon.port));
    try {
      ({ stdout, stderr } = await run(process.execPath, [CLI, 'replay', '--config', join(tmp.dir, 'nfwatch.toml'), join(tmp.dir, 'a.json'), join(tmp.dir, 'b.json.gz')], { timeout: 60_000 }));
      code = 0;
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      code = e.code ?? -1;
      stdout = e.stdout ?? '';
      stderr = e.stderr ?? '';
    }
    await waitFor('every event in carbon', () => (carbon.carbonSum('nfw.events.blocked.count') >= 51 && carbon.carbonSum('nfw.events.allowed.count') >= 15 ? true : undefined), 10_000).catch(() => undefined);
  }, 90_000);

  afterAll(async () => {
    await carbon?.close();
    tmp.remove();
  });

  it('exits 0', () => {
    expect(code, `${stdout}\n${stderr}`).toBe(0);
  });

  it('writes exactly the counts of the files, per verdict and by input, at their event times', () => {
    expect(carbon.carbonSum('nfw.events.blocked.count')).toBe(51);
    expect(carbon.carbonSum('nfw.events.allowed.count')).toBe(15);
    expect(carbon.carbonSum('nfw.events.input.ulogd')).toBe(66);
    const blocked = carbon.points().filter((p) => p.path === 'nfw.events.blocked.count');
    const at = (ms: number) => blocked.filter((p) => p.time === ms / 1000).reduce((s, p) => s + p.value, 0);
    // One-second intervals: b's 20 blocked SYNs, five a second; a's 30, ten a second, then one.
    expect([0, 1, 2, 3].map((s) => at(bStart + s * 1000))).toEqual([5, 5, 5, 5]);
    expect([0, 1, 2, 6].map((s) => at(aStart + s * 1000))).toEqual([10, 10, 10, 1]);
    // Nothing at wall-clock time: no nfwatch.* health lines from a replay.
    expect(carbon.points().filter((p) => p.path.startsWith('nfw.nfwatch.'))).toEqual([]);
  });

  it('prints the summary: files, lines, events, decode errors by reason, intervals, time range', () => {
    expect(stdout).toContain('replay summary');
    expect(stdout).toMatch(/files: +2 \(/);
    expect(stdout).toMatch(/lines: +67\n/);
    expect(stdout).toMatch(/events: +66\n/);
    expect(stdout).toMatch(/decode errors: +1 \(not_json 1\)\n/);
    expect(stdout).toMatch(/late events: +0\n/);
    // b: 5 intervals (4 blocked + 1 allowed second); a: seconds 0-2, 5, 6.
    expect(stdout).toMatch(/intervals: +10\n/);
    expect(stdout).toContain(`time range:     ${new Date(bStart).toISOString()} .. ${new Date(aStart + 7000).toISOString()}`);
    expect(stdout).toMatch(/elapsed: +\d+\.\ds\n/);
    expect(stdout).toMatch(/graphite: +\d+ sent, 0 dropped, 0 undelivered/);
    expect(stdout).not.toContain('NOT COMPLETE');
  });

  it('replays by first event time (b.json.gz before a.json) and reports progress as plain lines when stderr is not a terminal', () => {
    expect(stderr).toContain('replaying 2 files as source "ulogd": b.json.gz, a.json');
    expect(stderr).toMatch(/replay: 100% \([\d.]+ [KM]?i?B of [\d.]+ [KM]?i?B\), 67 lines, \d+ lines\/s, file 2\/2 a\.json/);
    expect(stderr).not.toContain('\r');
  });

  it("leaves the daemon's saved read positions alone (its state directory is not even created)", () => {
    expect(existsSync(join(tmp.dir, 'state'))).toBe(false);
  });

  it('refuses bad arguments with exit 2 and usage', async () => {
    const err = await run(process.execPath, [CLI, 'replay', '--config', join(tmp.dir, 'nfwatch.toml')]).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain('no FILE given');
  });
});

describe('nfwatch replay writes what the live daemon wrote for the same file', () => {
  const tmp = tempDir('nfw-replay-live-');
  let live: GraphiteListener;
  let replayed: GraphiteListener;
  let daemon: Nfwatch | undefined;
  const base = Math.floor((Date.now() - 5 * 60_000) / 1000) * 1000;
  const FIXTURES = ['ipv4-tcp-dropped.jsonl', ALLOWED_FIXTURE, 'ipv4-udp.jsonl', 'syn-port6000.jsonl', 'ipv6-tcp.jsonl', 'ipv4-icmp.jsonl'];

  /**
   * What carbon holds per `path time` for the metrics counted from events. Left out: nfwatch.*
   * health (wall-clock) and the tracker's gauges (scans, campaigns, track: the state of the live
   * window, written by the daemon when it has one; replay does not track).
   */
  const held = (g: GraphiteListener) => {
    const last = new Map<string, number>();
    for (const p of g.points()) if (!/^nfw\.(nfwatch|scans|campaigns|track)\./.test(p.path)) last.set(`${p.path} ${p.time}`, p.value);
    return Object.fromEntries([...last].sort(([a], [b]) => a.localeCompare(b)));
  };

  beforeAll(async () => {
    requireBuild();
    live = await graphiteListener();
    replayed = await graphiteListener();
    // 4,000 lines over 200 s of six kinds, a tenth of them up to 0.8 s out of order (NFLOG
    // batching): ~3.5 MiB, so the replay reads the file in several chunks into its one buffer.
    const lines: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const jitter = i % 10 === 3 ? -800 : 0;
      lines.push(packetLineAt(base + i * 50 + jitter, FIXTURES[i % FIXTURES.length]));
    }
    const file = join(tmp.dir, 'ulogd.json');
    writeFileSync(file, `${lines.join('\n')}\n`);
    daemon = await startNfwatch(tmp.dir, followConfig(tmp.dir, file, live.port));
    await waitFor('4,000 events from the daemon', () => (live.carbonSum(/^nfw\.events\.(allowed|blocked|unknown)\.count$/) >= 4000 ? true : undefined), 20_000);
    await daemon.stop();
    const config = join(tmp.dir, 'replay.toml');
    writeFileSync(config, followConfig(tmp.dir, file, replayed.port));
    await run(process.execPath, [CLI, 'replay', '--config', config, file], { timeout: 60_000 });
    await waitFor('4,000 events from the replay', () => (replayed.carbonSum(/^nfw\.events\.(allowed|blocked|unknown)\.count$/) >= 4000 ? true : undefined), 10_000);
  }, 90_000);

  afterAll(async () => {
    await ensureStopped(daemon);
    await live?.close();
    await replayed?.close();
    tmp.remove();
  });

  it('the same value for every metric path and timestamp', () => {
    expect(statSync(join(tmp.dir, 'ulogd.json')).size).toBeGreaterThan(2 * CHUNK_BYTES);
    const fromLive = held(live);
    expect(Object.keys(fromLive).length).toBeGreaterThan(40);
    expect(held(replayed)).toEqual(fromLive);
  });
});
