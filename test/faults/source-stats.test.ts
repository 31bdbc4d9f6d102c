// What the sources go through (refused and evicted connections, dropped partial lines, rotations,
// truncations, refused symlinks) is visible where operators look: Graphite health metrics,
// Prometheus /metrics and /api/summary. Runs the real daemon (dist/cli.js) on loopback.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, renameSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { daemonConfig, fileSource, freePort, packetLineAt, Scope, sleep, waitFor, type GraphiteListener, type Nfwatch } from './harness.js';

/** What a spec started, stopped after it whatever happened. */
const scope = new Scope();
let dir: string;
let graphite: GraphiteListener;
let nfwatch: Nfwatch | undefined;

beforeEach(async () => {
  dir = scope.temp('nfw-source-stats-');
  graphite = await scope.listener();
});

afterEach(async () => {
  await scope.close();
  nfwatch = undefined;
});

function lines(count: number): string {
  return Array.from({ length: count }, () => `${packetLineAt(Date.now())}\n`).join('');
}

function closed(client: Socket, ms = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    if (client.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('source statistics', () => {
  it('reports refused and evicted connections, dropped partial lines, rotations, truncations and refused symlinks in Graphite, /metrics and /api/summary', async () => {
    const file = join(dir, 'ulogd.json');
    writeFileSync(file, lines(3));
    const tcpPort = await freePort();
    const webPort = await freePort();
    nfwatch = await scope.daemon(
      dir,
      daemonConfig(dir, graphite.port, [...fileSource(file), '[[sources.socket]]', 'name = "sock"', `tcp_port = ${tcpPort}`, 'max_connections = 1']).replace(
        '[web]\nenabled = false',
        `[web]\nenabled = true\nhost = "127.0.0.1"\nport = ${webPort}`,
      ),
    );

    // Socket: a squatter with half a line is evicted by the next client (its half line dropped);
    // that client delivers, so the one after it is refused.
    const squatter = await scope.connect({ host: '127.0.0.1', port: tcpPort });
    squatter.write('{"half": ');
    await sleep(200);
    const client = await scope.connect({ host: '127.0.0.1', port: tcpPort });
    expect(await closed(squatter)).toBe(true);
    client.write(lines(2));
    await sleep(300);
    const refused = await scope.connect({ host: '127.0.0.1', port: tcpPort });
    expect(await closed(refused)).toBe(true);

    // File: a rotation by rename, a copytruncate, then a symlink put in the file's place.
    await sleep(300);
    renameSync(file, `${file}.1`);
    writeFileSync(file, lines(2));
    await waitFor('the rotation', () => (/following new/.test(nfwatch!.log()) ? true : undefined), 10_000);
    truncateSync(file, 0);
    await waitFor('the truncation', () => (/truncated/.test(nfwatch!.log()) ? true : undefined), 10_000);
    appendFileSync(file, lines(1));
    await sleep(300);
    renameSync(file, `${file}.2`);
    symlinkSync(`${file}.1`, file);
    await waitFor('the symlink refusal', () => (/symbolic link/.test(nfwatch!.log()) ? true : undefined), 10_000).catch(() => undefined);

    const want: Record<string, number> = {
      'nfw.nfwatch.sources.sock.connections': 1,
      'nfw.nfwatch.sources.sock.connections_refused': 1,
      'nfw.nfwatch.sources.sock.connections_evicted': 1,
      'nfw.nfwatch.sources.sock.partial_lines_dropped': 1,
      'nfw.nfwatch.sources.sock.lines_read': 2,
      'nfw.nfwatch.sources.ulogd.lines_read': 6,
      'nfw.nfwatch.sources.ulogd.rotations': 2,
      'nfw.nfwatch.sources.ulogd.truncations': 1,
      'nfw.nfwatch.sources.ulogd.symlinks_refused': 1,
    };
    await waitFor('the source statistics in Graphite', () =>
      Object.entries(want).every(([path, value]) => graphite.latest(path) === value) ? true : undefined, 10_000).catch(() => undefined);
    expect(Object.fromEntries(Object.keys(want).map((path) => [path, graphite.latest(path)]))).toEqual(want);

    const metrics = await (await fetch(`http://127.0.0.1:${webPort}/metrics`)).text();
    for (const sample of [
      'nfwatch_source_connections{source="sock"} 1',
      'nfwatch_source_connections_refused_total{source="sock"} 1',
      'nfwatch_source_connections_evicted_total{source="sock"} 1',
      'nfwatch_source_partial_lines_dropped_total{source="sock"} 1',
      'nfwatch_source_lines_total{source="ulogd"} 6',
      'nfwatch_source_rotations_total{source="ulogd"} 2',
      'nfwatch_source_truncations_total{source="ulogd"} 1',
      'nfwatch_source_symlinks_refused_total{source="ulogd"} 1',
    ]) {
      expect(metrics.split('\n')).toContain(sample);
    }
    expect(metrics).toMatch(/# TYPE nfwatch_source_connections_refused_total counter/);

    const summary = (await (await fetch(`http://127.0.0.1:${webPort}/api/summary`)).json()) as { health: { sources?: Record<string, Record<string, unknown>> } };
    expect(summary.health.sources?.sock).toMatchObject({ kind: 'socket', connections: 1, connectionsRefused: 1, connectionsEvicted: 1, partialLinesDropped: 1, linesRead: 2 });
    expect(summary.health.sources?.ulogd).toMatchObject({ kind: 'file', linesRead: 6, rotations: 2, truncations: 1, symlinksRefused: 1 });
  });
});
