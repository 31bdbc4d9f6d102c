// Hostile input on the socket source: whoever can reach the TCP listener must not be able to lock
// ulogd out of its unix socket, and ulogd's own connection is never dropped for being quiet.
// Runs the real daemon (dist/cli.js) with real sockets on loopback and a temp dir.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { daemonConfig, freePort, packetLineAt, Scope, sleep, waitFor, type GraphiteListener, type Nfwatch } from './harness.js';

const BLOCKED = 'nfw.events.blocked.count';

/** What a spec started, stopped after it whatever happened. */
const scope = new Scope();
let dir: string;
let graphite: GraphiteListener;
let nfwatch: Nfwatch | undefined;

beforeEach(async () => {
  dir = scope.temp('nfw-socket-');
  graphite = await scope.listener();
});

afterEach(async () => {
  await scope.close();
  nfwatch = undefined;
});

function socketConfig(options: { unixPath: string; tcpPort: number; extra?: string }): string {
  const source = ['[[sources.socket]]', 'name = "ulogd-socket"', `unix_path = "${options.unixPath}"`, 'tcp_host = "127.0.0.1"', `tcp_port = ${options.tcpPort}`, options.extra ?? ''];
  return daemonConfig(dir, graphite.port, source);
}

function closed(client: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (client.destroyed || client.readableEnded) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Writes `count` real packet lines stamped now; resolves once written (rejects on EPIPE/reset). */
function sendLines(client: Socket, count: number): Promise<void> {
  const text = Array.from({ length: count }, () => `${packetLineAt(Date.now())}\n`).join('');
  return new Promise((resolve, reject) => {
    client.once('error', reject);
    client.write(text, (error) => (error ? reject(error) : resolve()));
  });
}

describe('socket source under hostile connections', () => {
  it('accepts ulogd on the unix socket while any local user holds every TCP slot open and idle', async () => {
    const unixPath = join(dir, 'run', 'ulogd.sock');
    const tcpPort = await freePort();
    nfwatch = await scope.daemon(dir, socketConfig({ unixPath, tcpPort }));

    // ulogd's connection from an earlier event: it delivered, then the firewall went quiet.
    const ulogd = await scope.connect(unixPath);
    await sendLines(ulogd, 10);
    await waitFor('the first 10 events in Graphite', () => (graphite.carbonSum(BLOCKED) === 10 ? true : undefined), 10_000);

    // Any local user: 20 idle TCP connections, more than max_connections (16).
    for (let i = 0; i < 20; i++) await scope.connect({ host: '127.0.0.1', port: tcpPort }).catch(() => undefined);
    await sleep(300);

    // A second JSON stack of ulogd (or ulogd reconnecting after SIGHUP) connects now.
    const second = await scope.connect(unixPath);
    await sendLines(second, 10);
    // And the quiet connection speaks again.
    await sendLines(ulogd, 10);

    await waitFor('30 events in Graphite', () => (graphite.carbonSum(BLOCKED) >= 30 ? true : undefined), 10_000).catch(() => undefined);
    await sleep(1500);
    expect(graphite.carbonSum(BLOCKED)).toBe(30);
    expect(ulogd.destroyed).toBe(false);
  });

  it('never drops ulogd\'s quiet unix connection to make room, not even at its own limit', async () => {
    const unixPath = join(dir, 'ulogd.sock');
    const tcpPort = await freePort();
    nfwatch = await scope.daemon(dir, socketConfig({ unixPath, tcpPort, extra: 'max_connections = 2\nunix_max_connections = 1' }));

    const ulogd = await scope.connect(unixPath);
    await sendLines(ulogd, 5);
    await waitFor('5 events in Graphite', () => (graphite.carbonSum(BLOCKED) === 5 ? true : undefined), 10_000);
    // While ulogd is silent, clients come and go on both sides, far more than the limits.
    for (let i = 0; i < 10; i++) {
      const other = await scope.connect(unixPath).catch(() => undefined);
      if (other) expect(await closed(other, 2000)).toBe(true);
    }
    for (let i = 0; i < 30; i++) {
      const c = await scope.connect({ host: '127.0.0.1', port: tcpPort }).catch(() => undefined);
      if (c && i % 3 === 0) c.destroy();
    }
    expect(await closed(ulogd, 1000)).toBe(false);
    await sendLines(ulogd, 5);
    await waitFor('10 events in Graphite', () => (graphite.carbonSum(BLOCKED) >= 10 ? true : undefined), 10_000);
    await sleep(1500);
    expect(graphite.carbonSum(BLOCKED)).toBe(10);
  });

  it('evicts a TCP connection that never delivered a complete line when a new one arrives at the limit, and counts it', async () => {
    const unixPath = join(dir, 'ulogd.sock');
    const tcpPort = await freePort();
    nfwatch = await scope.daemon(dir, socketConfig({ unixPath, tcpPort, extra: 'max_connections = 2' }));

    // ulogd over TCP: delivered lines, then quiet. It must be kept.
    const ulogd = await scope.connect({ host: '127.0.0.1', port: tcpPort });
    await sendLines(ulogd, 5);
    await waitFor('5 events in Graphite', () => (graphite.carbonSum(BLOCKED) === 5 ? true : undefined), 10_000);

    // A squatter fills the last slot with a connection that sends half a line and nothing more.
    const squatter = await scope.connect({ host: '127.0.0.1', port: tcpPort });
    squatter.write('{"timestamp": "2026-');
    await sleep(200);

    // A new client at the limit: the squatter goes, the newcomer is served.
    const newcomer = await scope.connect({ host: '127.0.0.1', port: tcpPort });
    expect(await closed(squatter, 3000)).toBe(true);
    await sendLines(newcomer, 5);
    await sendLines(ulogd, 5);
    await waitFor('15 events in Graphite', () => (graphite.carbonSum(BLOCKED) >= 15 ? true : undefined), 10_000);

    // Both slots now hold connections that delivered: a further client is refused, nobody evicted.
    const refused = await scope.connect({ host: '127.0.0.1', port: tcpPort });
    expect(await closed(refused, 3000)).toBe(true);
    expect(ulogd.destroyed).toBe(false);
    expect(newcomer.destroyed).toBe(false);

    await waitFor('source statistics in the health metrics', () =>
      graphite.latest('nfw.nfwatch.sources.ulogd-socket.connections_evicted') === 1 && graphite.latest('nfw.nfwatch.sources.ulogd-socket.connections_refused') === 1
        ? true
        : undefined, 10_000);
    // The half line the squatter left was dropped, and counted.
    expect(graphite.latest('nfw.nfwatch.sources.ulogd-socket.partial_lines_dropped')).toBe(1);
    await sleep(1000);
    expect(graphite.carbonSum(BLOCKED)).toBe(15);
    expect(nfwatch.log()).toMatch(/evict/i);
  });

  it('creates the unix socket 0660 by default, with the configured mode and group', async () => {
    const defaults = join(dir, 'a', 'ulogd.sock');
    nfwatch = await scope.daemon(dir, socketConfig({ unixPath: defaults, tcpPort: 0 }));
    expect(statSync(defaults).mode & 0o7777).toBe(0o660);
    expect(await nfwatch.stop()).toBe(0);

    const configured = join(dir, 'b', 'ulogd.sock');
    nfwatch = await scope.daemon(dir, socketConfig({ unixPath: configured, tcpPort: 0, extra: 'unix_mode = "0600"\nunix_group = "65534"' }));
    const s = statSync(configured);
    expect(s.mode & 0o7777).toBe(0o600);
    expect(s.gid).toBe(65534);
  });
});
