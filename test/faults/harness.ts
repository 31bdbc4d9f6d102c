// Shared pieces of the hostile-input specs: the real daemon process (dist/cli.js) on a config in a
// temp dir, a plaintext Graphite listener on 127.0.0.1 that records every line it receives, and real
// ulogd 2.0.8 lines (from test/fixtures/ulogd) stamped with the time a spec asks for.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localOffsetMinutes, retimeLine } from '../../src/demo/replay.js';
import { startNfwatch, type Nfwatch } from '../e2e/nfwatch.js';

export { freePort, sleep, waitFor } from '../e2e/lab.js';
export { startNfwatch, type Nfwatch };

const FIXTURES = fileURLToPath(new URL('../fixtures/ulogd/', import.meta.url));

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'nfw-fault-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The first line of a fixture file, e.g. 'ipv4-tcp-dropped.jsonl' (a blocked TCP SYN). */
export function fixtureLine(name: string, index = 0): string {
  const lines = readFileSync(join(FIXTURES, name), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const line = lines[index % lines.length];
  if (line === undefined) throw new Error(`fixture ${name} is empty`);
  return line;
}

/** A real blocked-SYN line from ulogd with its time moved to `epochMs` (oob.time.* and timestamp). */
export function packetLineAt(epochMs: number, fixture = 'ipv4-tcp-dropped.jsonl'): string {
  const usec = Math.round(epochMs * 1000);
  return retimeLine(fixtureLine(fixture), usec, localOffsetMinutes(usec));
}

/** A packet line with top-level keys replaced (values as JSON values: numbers, strings, null). */
export function packetLineWith(epochMs: number, patch: Record<string, unknown>, fixture = 'ipv4-tcp-dropped.jsonl'): string {
  const record = JSON.parse(packetLineAt(epochMs, fixture)) as Record<string, unknown>;
  return JSON.stringify({ ...record, ...patch });
}

/** One metric line as received: `path value timestamp`. */
export interface GraphitePoint {
  path: string;
  value: number;
  time: number;
}

/** A plaintext Graphite listener (carbon's line protocol) on 127.0.0.1 that keeps what it gets. */
export interface GraphiteListener {
  port: number;
  points(): GraphitePoint[];
  /** Every line received, exactly as sent (without its newline), also ones that are not `path value time`. */
  lines(): string[];
  /** The sum of the values of `path` over all points received. */
  sum(path: string | RegExp): number;
  /**
   * What carbon would hold: per path and timestamp the last value written (a rewrite replaces),
   * summed over timestamps and paths matching `path`.
   */
  carbonSum(path: string | RegExp): number;
  /** The largest value received for `path` (for cumulative health counters); -Infinity when none. */
  max(path: string): number;
  /** The newest value received for `path` (health gauges and counters); undefined before any. */
  latest(path: string): number | undefined;
  close(): Promise<void>;
}

/** Listens on `port` (0: any free port), e.g. the port of a carbon that was down and comes back. */
export async function graphiteListener(port = 0): Promise<GraphiteListener> {
  const received: GraphitePoint[] = [];
  const raw: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let rest = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        raw.push(line);
        const [path, value, time] = line.trim().split(' ');
        if (path && value !== undefined && time !== undefined) received.push({ path, value: Number(value), time: Number(time) });
      }
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('graphite listener has no port');
  const matches = (p: string, want: string | RegExp) => (typeof want === 'string' ? p === want : want.test(p));
  return {
    port: address.port,
    points: () => [...received],
    lines: () => [...raw],
    sum: (want) => received.filter((p) => matches(p.path, want)).reduce((a, p) => a + p.value, 0),
    carbonSum: (want) => {
      const last = new Map<string, number>();
      for (const p of received) if (matches(p.path, want)) last.set(`${p.path} ${p.time}`, p.value);
      let total = 0;
      for (const v of last.values()) total += v;
      return total;
    },
    max: (path) => received.filter((p) => p.path === path).reduce((a, p) => Math.max(a, p.value), -Infinity),
    latest: (path) => received.filter((p) => p.path === path).at(-1)?.value,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A daemon config in `dir`: the `sources` tables given, one-second intervals, Graphite to
 * `graphitePort` (prefix "nfw", hostname "fw"), web off. `extra` is appended as is. The listener is
 * not carbon: series creation is not paced (max_creates_per_minute = 0), so a spec sees every
 * series at once; the pacing itself is specified in test/sinks and test/e2e/stock-carbon.
 */
export function daemonConfig(dir: string, graphitePort: number, sources: readonly string[], extra = ''): string {
  return [
    '[general]',
    'hostname = "fw"',
    `state_dir = "${join(dir, 'state')}"`,
    ...sources,
    '[aggregate]',
    'interval_seconds = 1',
    'grace_seconds = 0.5',
    '[outputs.graphite]',
    'enabled = true',
    'host = "127.0.0.1"',
    `port = ${graphitePort}`,
    'prefix = "nfw"',
    'max_creates_per_minute = 0',
    '[web]',
    'enabled = false',
    extra,
  ].join('\n');
}

/** The [[sources.file]] table following `file` from its beginning, polled every 50 ms. */
export function fileSource(file: string, name = 'ulogd'): string[] {
  return ['[[sources.file]]', `name = "${name}"`, `path = "${file}"`, 'from = "beginning"', 'poll_ms = 50'];
}

/** The daemon following `file` (see daemonConfig). */
export function followConfig(dir: string, file: string, graphitePort: number, extra = ''): string {
  return daemonConfig(dir, graphitePort, fileSource(file), extra);
}

/** The daemon listening on the unix socket `dir`/ulogd.sock (see daemonConfig). */
export function unixSocketConfig(dir: string, graphitePort: number, extra = ''): string {
  return daemonConfig(dir, graphitePort, ['[[sources.socket]]', 'name = "ulogd"', `unix_path = "${join(dir, 'ulogd.sock')}"`], extra);
}

/** `toml` with the web view on, on a free port (the daemon logs its address), plus `settings`. */
export function withWeb(toml: string, settings: readonly string[] = []): string {
  return toml.replace('[web]\nenabled = false', ['[web]', 'enabled = true', 'port = 0', ...settings].join('\n'));
}

/**
 * A daemon in `dir` with only the web view, on 127.0.0.1:`port` (plus `webSettings`), following an
 * empty file it creates there; no output. For specs of the web view's own behaviour.
 */
export function webOnlyConfig(dir: string, port: number, webSettings: readonly string[] = []): string {
  const file = join(dir, 'ulogd.json');
  writeFileSync(file, '');
  return ['[general]', `state_dir = "${join(dir, 'state')}"`, '[[sources.file]]', `path = "${file}"`, 'from = "beginning"', '[outputs.graphite]', 'enabled = false', '[web]', 'host = "127.0.0.1"', `port = ${port}`, ...webSettings].join('\n');
}

/**
 * What one spec starts — Graphite listeners, temp dirs, daemons, sockets — stopped after it in
 * reverse order whatever happened: `const scope = new Scope(); afterEach(() => scope.close());`.
 */
export class Scope {
  private readonly stops: Array<() => Promise<unknown> | void> = [];

  async listener(port = 0): Promise<GraphiteListener> {
    const g = await graphiteListener(port);
    this.stops.push(() => g.close());
    return g;
  }

  temp(prefix?: string): string {
    const t = tempDir(prefix);
    this.stops.push(() => t.remove());
    return t.dir;
  }

  async daemon(dir: string, toml: string): Promise<Nfwatch> {
    const nfw = await startNfwatch(dir, toml);
    this.stops.push(() => nfw.stop());
    return nfw;
  }

  /**
   * A client connected to a unix socket path or a TCP address, as ulogd's JSON plugin (or anyone
   * else) connects; rejects when the connection fails. Errors after connecting are ignored (the
   * daemon may close it); destroyed after the spec.
   */
  async connect(target: string | { host: string; port: number }): Promise<Socket> {
    const socket = typeof target === 'string' ? createConnection(target) : createConnection(target);
    this.stops.push(() => void socket.destroy());
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  /** Anything else to undo after the spec. */
  defer(stop: () => Promise<unknown> | void): void {
    this.stops.push(stop);
  }

  async close(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop();
  }
}
