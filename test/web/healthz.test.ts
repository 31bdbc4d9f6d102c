import { describe, expect, it } from 'vitest';
import type { HealthSnapshot, SinkHealth, SourceHealth } from '../../src/pipeline/types.js';
import { HealthJudge, type SourceFigures } from '../../src/web/healthz.js';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { webHealth } from '../../src/main.js';
import { memoryLogger } from '../../src/util/log.js';
import { buildPipeline } from '../../src/wire.js';
import { tempDir, waitFor } from '../faults/harness.js';
import { health } from './helpers.js';

const T = 1_800_000_000_000;

function source(kind: 'file' | 'socket', extra: Partial<SourceFigures> = {}): SourceHealth {
  return { kind, linesRead: 0, bytesRead: 0, connections: 0, connectionsRefused: 0, connectionsEvicted: 0, partialLinesDropped: 0, rotations: 0, truncations: 0, symlinksRefused: 0, ...extra };
}

function snap(sinks: Record<string, SinkHealth>, sources: Record<string, SourceHealth> = {}): HealthSnapshot {
  return health({ sinks, sources });
}

const up = (backlog = 0, sent = 0, dropped = 0): SinkHealth => ({ backlog, sent, dropped, connected: true });

describe('HealthJudge', () => {
  it('ok when every sink is connected with its backlog delivered and every source is fine', () => {
    const v = new HealthJudge().observe(snap({ graphite: up() }, { ulogd: source('file', { missingFile: 0 }) }), T);
    expect(v).toEqual({ status: 'ok', problems: [], sinks: { graphite: 'ok' }, sources: { ulogd: 'ok' } });
  });

  it('unreachable: not connected with something to deliver, for 2 s; not connected with nothing waiting is fine', () => {
    const judge = new HealthJudge();
    expect(judge.observe(snap({ influx: { backlog: 0, sent: 0, dropped: 0, connected: false } }), T).status).toBe('ok');
    // A first request in flight: not yet.
    expect(judge.observe(snap({ influx: { backlog: 12, sent: 0, dropped: 0, connected: false } }), T + 1000).status).toBe('ok');
    const v = judge.observe(snap({ influx: { backlog: 12, sent: 0, dropped: 0, connected: false } }), T + 3000);
    expect(v.status).toBe('degraded');
    expect(v.problems).toEqual([{ component: 'sink', name: 'influx', reason: 'unreachable', message: 'output influx cannot reach its server; 12 items waiting' }]);
  });

  it('stalled: connected, a backlog, and nothing sent for 30 s; any progress resets the clock', () => {
    const judge = new HealthJudge();
    expect(judge.observe(snap({ influx: up(50, 100) }), T).status).toBe('ok');
    expect(judge.observe(snap({ influx: up(60, 100) }), T + 29_000).status).toBe('ok');
    const v = judge.observe(snap({ influx: up(70, 100) }), T + 30_000);
    expect(v.sinks).toEqual({ influx: 'stalled' });
    expect(v.problems[0]!.message).toBe('output influx delivered nothing for 30 s; 70 items waiting');
    expect(judge.observe(snap({ influx: up(20, 150) }), T + 31_000).status).toBe('ok');
    // An empty backlog is never a stall, however long nothing was sent.
    expect(judge.observe(snap({ influx: up(0, 150) }), T + 100_000).status).toBe('ok');
    expect(judge.observe(snap({ influx: up(5, 150) }), T + 101_000).status).toBe('ok');
  });

  it('dropping: the drop counter grew in the last 5 minutes (a count already there at the first look is not news)', () => {
    const judge = new HealthJudge();
    expect(judge.observe(snap({ graphite: up(0, 10, 4) }), T).status).toBe('ok');
    expect(judge.observe(snap({ graphite: up(0, 20, 9) }), T + 1000).sinks).toEqual({ graphite: 'dropping' });
    expect(judge.observe(snap({ graphite: up(0, 30, 9) }), T + 1000 + 299_000).status).toBe('degraded');
    expect(judge.observe(snap({ graphite: up(0, 40, 9) }), T + 1000 + 300_000).status).toBe('ok');
  });

  it('a file source whose file does not exist, for 60 s', () => {
    const judge = new HealthJudge();
    const missing = { ulogd: source('file', { missingFile: 1 }) };
    expect(judge.observe(snap({}, missing), T).status).toBe('ok');
    expect(judge.observe(snap({}, missing), T + 59_000).status).toBe('ok');
    const v = judge.observe(snap({}, missing), T + 60_000);
    expect(v.problems).toEqual([{ component: 'source', name: 'ulogd', reason: 'waiting', message: 'source ulogd: its file has not existed for 60 s' }]);
    expect(judge.observe(snap({}, { ulogd: source('file', { missingFile: 0 }) }), T + 61_000).status).toBe('ok');
    // The clock starts again.
    expect(judge.observe(snap({}, missing), T + 62_000).status).toBe('ok');
  });

  it('a file source that cannot read its file (permissions, a refused symlink), for 5 s; a missing file that appears unreadable starts a new clock', () => {
    const judge = new HealthJudge();
    const missing = { ulogd: source('file', { missingFile: 1 }) };
    const unreadable = { ulogd: source('file', { missingFile: 0, unreadable: 1 }) };
    expect(judge.observe(snap({}, missing), T).status).toBe('ok');
    expect(judge.observe(snap({}, unreadable), T + 50_000).status).toBe('ok');
    expect(judge.observe(snap({}, unreadable), T + 54_000).status).toBe('ok');
    const v = judge.observe(snap({}, unreadable), T + 55_000);
    expect(v.problems).toEqual([{ component: 'source', name: 'ulogd', reason: 'unreadable', message: 'source ulogd: its file could not be read for 5 s (permissions, or refused: see the log)' }]);
    expect(judge.observe(snap({}, { ulogd: source('file', { missingFile: 0, unreadable: 0 }) }), T + 56_000).status).toBe('ok');
  });

  it('a socket source that ulogd has not been connected to for 60 s; an idle connected one is fine', () => {
    const judge = new HealthJudge();
    expect(judge.observe(snap({}, { s: source('socket') }), T).status).toBe('ok');
    expect(judge.observe(snap({}, { s: source('socket') }), T + 60_000).sources).toEqual({ s: 'unconnected' });
    expect(judge.observe(snap({}, { s: source('socket', { connections: 3 }) }), T + 600_000).status).toBe('ok');
    // A file source with no bytes read for a long time is a quiet firewall, not a problem.
    expect(judge.observe(snap({}, { f: source('file') }), T + 10_000_000).status).toBe('ok');
  });
});

describe("the daemon's health for /healthz (main.ts webHealth)", () => {
  it("adds a file source's missingFile and unreadable, so a file that does not exist or is refused can be told from a quiet one", async () => {
    const tmp = tempDir('nfw-healthz-unit-');
    const path = join(tmp.dir, 'ulogd.json');
    const config = parseConfigText(
      ['[general]', `state_dir = "${join(tmp.dir, 'state')}"`, '[[sources.file]]', 'name = "ulogd"', `path = "${path}"`, 'poll_ms = 20', '[outputs.graphite]', 'enabled = false', '[web]', 'enabled = false'].join('\n'),
    );
    const pipeline = await buildPipeline(config, memoryLogger('error'));
    await pipeline.start();
    try {
      const missing = await waitFor('the source to miss its file', () => ((webHealth(pipeline).sources?.ulogd as SourceFigures).missingFile === 1 ? true : undefined), 5000);
      expect(missing).toBe(true);
      writeFileSync(path, '');
      await waitFor('the source to open its file', () => ((webHealth(pipeline).sources?.ulogd as SourceFigures).missingFile === 0 ? true : undefined), 5000);
      // The API's view of the same snapshot has no such field.
      expect(Object.keys(pipeline.health().sources!.ulogd!)).not.toContain('missingFile');
      expect((webHealth(pipeline).sources?.ulogd as SourceFigures).unreadable).toBe(0);
      // A symlink put at the path is refused (follow_symlinks = false): unreadable until it goes.
      rmSync(path);
      writeFileSync(`${path}.real`, '');
      symlinkSync(`${path}.real`, path);
      await waitFor('the source to refuse the symlink', () => ((webHealth(pipeline).sources?.ulogd as SourceFigures).unreadable === 1 ? true : undefined), 5000);
      rmSync(path);
      writeFileSync(path, '');
      await waitFor('the source to read the regular file again', () => ((webHealth(pipeline).sources?.ulogd as SourceFigures).unreadable === 0 ? true : undefined), 5000);
    } finally {
      await pipeline.stop(100);
      tmp.remove();
    }
  });
});
