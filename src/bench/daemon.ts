// The real daemon under measurement for `npm run bench`: `node dist/cli.js --config <tmp toml>` with
// the shipped defaults except paths and ports (GeoIP, fingerprints, tracker, web view on; Graphite
// to a listener run here), its /metrics read while it works, its CPU and memory read from /proc,
// and its figures checked against a corpus's truth.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ASN_CACHE_FILE } from '../enrich/asn-cache.js';
import { HISTORY_FILE } from '../store/options.js';
import { errorCode } from '../util/errors.js';
import type { CorpusTruth } from './corpus.js';
import { readCpuSeconds, readPeakRssKiB } from './proc.js';

/** The built daemon, next to this file's directory in dist/. */
/** This build's daemon. */
export const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** hostname "bench" under the default prefix "netfilter.{hostname}". */
export const GRAPHITE_PREFIX = 'netfilter.bench';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds on a monotonic clock. */
export function now(): number {
  return performance.now();
}

/** A port nothing listens on right now (the daemon binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

// ---------------------------------------------------------------------------------------------
// Graphite

/**
 * A plaintext Graphite listener that counts what it receives and keeps only the series the checks
 * need (events.<verdict>.count and nfacct.*), the way carbon keeps them: last value per path and
 * timestamp.
 */
export class GraphiteListener {
  bytes = 0;
  lines = 0;
  /** Points whose path and timestamp were written before (carbon keeps the last). */
  rewrites = 0;
  private readonly kept = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private rest = '';

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<GraphiteListener> {
    let listener: GraphiteListener | undefined;
    const server = createServer((socket) => listener?.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('graphite listener has no port');
    listener = new GraphiteListener(server, address.port);
    return listener;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      const text = this.rest + chunk.toString('latin1');
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      this.lines += lines.length;
      for (const line of lines) this.take(line);
    });
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private take(line: string): void {
    if (!line.startsWith(`${GRAPHITE_PREFIX}.events.`) && !line.startsWith(`${GRAPHITE_PREFIX}.nfacct.`)) return;
    const [path, value, time] = line.split(' ');
    if (path === undefined || value === undefined || time === undefined) return;
    if (!path.endsWith('.count') && !path.includes('.nfacct.')) return;
    const key = `${path} ${time}`;
    if (this.kept.has(key)) this.rewrites++;
    this.kept.set(key, Number(value));
  }

  /** Sum over timestamps of `path` as carbon would hold it. */
  sum(path: string): number {
    let total = 0;
    for (const [key, v] of this.kept) if (key.slice(0, key.lastIndexOf(' ')) === path) total += v;
    return total;
  }

  /** Resolves once every connection has closed (the daemon exited and its last bytes were read), or after `ms`. */
  async drained(ms: number): Promise<void> {
    const until = now() + ms;
    while (this.sockets.size > 0 && now() < until) await sleep(20);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// /metrics

/** One scrape of the Prometheus text: series (name plus labels as written) → value. */
export class Scrape {
  constructor(readonly series: ReadonlyMap<string, number>) {}

  static parse(text: string): Scrape {
    const series = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const space = line.lastIndexOf(' ');
      series.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    return new Scrape(series);
  }

  /** A series, e.g. get('nfwatch_events_total{verdict="allowed"}'); NaN when absent. */
  get(name: string): number {
    return this.series.get(name) ?? NaN;
  }

  /** The sum of every series of a family (0 when it has none). */
  total(family: string): number {
    let sum = 0;
    for (const [name, v] of this.series) if (name === family || name.startsWith(`${family}{`)) sum += v;
    return sum;
  }
}

// ---------------------------------------------------------------------------------------------
// The daemon process

/** How the daemon is given the corpus: following ulogd's file, or listening where ulogd's socket mode writes (the corpus streamed into it). */
export type BenchInput = 'file' | 'socket';

export interface DaemonSetup {
  /** A fresh directory of this run: config, state, log. */
  dir: string;
  /** The file it follows from the beginning (input "file"), or that is streamed into its unix socket (input "socket"). */
  file: string;
  /** Default "file". */
  input?: BenchInput;
  /** The daemon's cli.js (default this build's; another build's with --baseline). */
  cli?: string;
  /** Sections appended to the configuration (e.g. "[history]\nenabled = false"). */
  extraToml?: string;
  /** Files copied into its state_dir first: what a daemon that has started before has there (the parsed AS data). */
  stateFiles?: readonly string[];
  /** Pins the daemon, all its threads, to this CPU (`taskset`): two daemons at once on one CPU meet the same minute. */
  cpu?: number;
}

export class BenchDaemon {
  /** When it was spawned (now()). */
  readonly spawnedAt: number;
  private exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly pid: number,
    readonly webPort: number,
    readonly graphite: GraphiteListener,
    readonly logPath: string,
  ) {
    this.spawnedAt = now();
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  static async start(setup: DaemonSetup): Promise<BenchDaemon> {
    const graphite = await GraphiteListener.start();
    const webPort = await freePort();
    mkdirSync(join(setup.dir, 'state'), { recursive: true });
    for (const f of setup.stateFiles ?? []) copyFileSync(f, join(setup.dir, 'state', basename(f)));
    const configPath = join(setup.dir, 'nfwatch.toml');
    writeFileSync(configPath, daemonConfig(setup, graphite.port, webPort));
    const logPath = join(setup.dir, 'nfwatch.log');
    // The log goes straight to a file: piping it through this process would cost the bench's loop.
    const log = openSync(logPath, 'w');
    const command = [process.execPath, setup.cli ?? CLI, '--config', configPath];
    // taskset execs node in its own process: the pid is the daemon's.
    if (setup.cpu !== undefined) command.unshift('taskset', '-c', String(setup.cpu));
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', log, log] });
    closeSync(log);
    if (child.pid === undefined) throw new Error('the daemon did not start');
    return new BenchDaemon(child, child.pid, webPort, graphite, logPath);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** /metrics now; null when it does not answer (yet) within `timeoutMs`. */
  async scrape(timeoutMs = 2000): Promise<Scrape | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.webPort}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return null;
      return Scrape.parse(await res.text());
    } catch {
      return null;
    }
  }

  /** /healthz's status ("ok", "degraded") or "no answer". */
  async health(): Promise<string> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.webPort}/healthz`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { status?: unknown };
      return typeof body.status === 'string' ? body.status : `HTTP ${res.status}`;
    } catch {
      return 'no answer';
    }
  }

  /** Polls /metrics every 20 ms until it answers: the daemon is up (web listens before sources start). */
  async waitReady(timeoutMs = 30_000): Promise<{ at: number; scrape: Scrape }> {
    const until = now() + timeoutMs;
    while (now() < until) {
      if (!this.running) throw new Error(`the daemon exited with ${String(this.exitCode)} during start:\n${this.log()}`);
      const scrape = await this.scrape(500);
      if (scrape) return { at: now(), scrape };
      await sleep(20);
    }
    throw new Error(`the daemon did not answer /metrics within ${timeoutMs / 1000} s:\n${this.log()}`);
  }

  cpuSeconds(): number {
    return readCpuSeconds(this.pid);
  }

  peakRssKiB(): number {
    return readPeakRssKiB(this.pid);
  }

  /** SIGTERM (the daemon flushes every open interval), then waits for its exit and its last Graphite lines. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    await this.graphite.drained(2000);
    await this.graphite.close();
    return code;
  }

  /** For an interrupted bench: no flush, no waiting. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Where a daemon of input "socket" listens: in its run's directory. */
export function socketPathOf(setup: DaemonSetup): string {
  return join(setup.dir, 'ulogd.sock');
}

/** The shipped defaults apart from paths and ports; Graphite series creation not paced (the listener is no carbon). */
export function daemonConfig(setup: DaemonSetup, graphitePort: number, webPort: number): string {
  const source =
    setup.input === 'socket'
      ? ['[[sources.socket]]', 'name = "bench"', `unix_path = ${JSON.stringify(socketPathOf(setup))}`]
      : ['[[sources.file]]', 'name = "bench"', `path = ${JSON.stringify(setup.file)}`, 'from = "beginning"'];
  return [
    '[general]',
    'hostname = "bench"',
    `state_dir = ${JSON.stringify(join(setup.dir, 'state'))}`,
    '',
    ...source,
    '',
    '[outputs.graphite]',
    'enabled = true',
    'host = "127.0.0.1"',
    `port = ${graphitePort}`,
    'max_creates_per_minute = 0',
    '',
    '[web]',
    'enabled = true',
    'host = "127.0.0.1"',
    `port = ${webPort}`,
    '',
    setup.extraToml ?? '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Measurements

export interface Check {
  what: string;
  expected: number;
  actual: number;
  ok: boolean;
}

export function check(what: string, expected: number, actual: number): Check {
  return { what, expected, actual, ok: expected === actual };
}

/**
 * A first start (on an empty file, in `dir`, with an empty state_dir): it reads the build's AS
 * table or, where that does not match, parses the bundled AS data and keeps it in its state_dir, as
 * an installed daemon does once. Its measurement, and the files later runs are given
 * (DaemonSetup.stateFiles) so that each of them starts as every start after the first does.
 */
export async function firstStart(dir: string, cli?: string, input?: BenchInput): Promise<{ startup: StartupMeasurement; stateFiles: string[] }> {
  mkdirSync(dir, { recursive: true });
  const startup = await measureStartup({ dir, file: join(dir, 'empty.json'), cli, input });
  const table = join(dir, 'state', ASN_CACHE_FILE);
  return { startup, stateFiles: existsSync(table) ? [table] : [] };
}

export interface StartupMeasurement {
  /** Spawn until /metrics answered. */
  readySeconds: number;
  cpuSeconds: number;
  peakRssKiB: number;
}

/** The daemon on an empty file until /metrics answers: what every run costs before its first line. */
export async function measureStartup(setup: DaemonSetup): Promise<StartupMeasurement> {
  writeFileSync(setup.file, '');
  const daemon = await BenchDaemon.start(setup);
  try {
    const ready = await daemon.waitReady();
    const result = { readySeconds: (ready.at - daemon.spawnedAt) / 1000, cpuSeconds: daemon.cpuSeconds(), peakRssKiB: daemon.peakRssKiB() };
    return result;
  } finally {
    await daemon.stop();
  }
}

export interface DaemonMeasurement {
  /** Spawn until /metrics counted every line. */
  wallSeconds: number;
  readySeconds: number;
  /** Lines after ready / (done - ready). */
  linesPerSecond: number;
  /** utime + stime at done, start-up included (subtract StartupMeasurement.cpuSeconds). */
  cpuSeconds: number;
  /**
   * The CPU of the lines after the first STEADY_FRACTION of the corpus (from the first poll past
   * them to done): the daemon once V8 has compiled its packet path, as it runs for days. Null when
   * no poll fell between (a tiny corpus).
   */
  steady: { fromLine: number; lines: number; cpuSeconds: number } | null;
  peakRssKiB: number;
  /** /healthz when done. */
  health: string;
  /** Figures of the daemon's own read when done. */
  figures: Record<string, number>;
  checks: Check[];
  exitCode: number | null;
  /**
   * The CPU of the whole run to its exit, from the daemon's last log line (stoppedLine): with the
   * history's last batch, which SIGTERM writes after `cpuSeconds` was read. Null when it has none.
   */
  exitCpuSeconds: number | null;
}

/** How long the socket may take to appear after /metrics answered (the web view starts before the sources). */
const SOCKET_WAIT_MS = 30_000;

/** Streams a file into a unix socket, 1 MiB reads at a time, and closes the connection at its end. */
async function streamInto(socketPath: string, file: string): Promise<void> {
  const until = now() + SOCKET_WAIT_MS;
  for (;;) {
    const socket = connect(socketPath);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
    } catch (error) {
      socket.destroy();
      const code = errorCode(error);
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || now() > until) throw error;
      await sleep(20);
      continue;
    }
    await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), socket);
    return;
  }
}

/** The CPU seconds of a daemon's "stopped after … s of CPU" line in its log; null without one. */
export function exitCpuOf(log: string): number | null {
  const m = / stopped after [\d.]+ s: ([\d.]+) s of CPU, peak RSS \d+ MiB$/m.exec(log);
  return m === null ? null : Number(m[1]);
}

/**
 * Polls of /metrics while the daemon works: each costs the daemon ~1 ms of CPU, so they are spaced
 * by half the time its rate says is left to the next mark (the steady part's first line, the last
 * line), within these bounds: a few polls a run, and done timed to within MIN_POLL_MS.
 */
const FIRST_POLL_MS = 100;
const MIN_POLL_MS = 10;
const MAX_POLL_MS = 500;

/** The wait before the next poll: half the time the rate since ready says is left to `target` lines. */
export function nextPollMs(lines: number, target: number, linesSinceReady: number, msSinceReady: number): number {
  if (linesSinceReady <= 0 || msSinceReady <= 0) return FIRST_POLL_MS;
  const left = ((target - lines) * msSinceReady) / linesSinceReady;
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, left / 2));
}

/** The share of a corpus read before the steady CPU is counted (DaemonMeasurement.steady). */
export const STEADY_FRACTION = 0.2;
/** No line processed for this long: the daemon is stuck and the run is abandoned. */
const STALL_MS = 60_000;
/** How long after done the closed-interval totals of /metrics may take to catch up. */
const CLOSE_WAIT_MS = 5_000;

/** Runs the daemon over a corpus file from the beginning to its last line and checks it against `truth`. */
export async function measureDaemon(setup: DaemonSetup, truth: CorpusTruth): Promise<DaemonMeasurement> {
  const daemon = await BenchDaemon.start(setup);
  let stopped = false;
  try {
    const ready = await daemon.waitReady();
    // A socket source is live: the corpus's events, minutes old, are late for it (see the checks below).
    const live = setup.input === 'socket';
    // As ulogd's JSON plugin in socket mode writes: one connection, the lines as fast as it takes them.
    let feedError: unknown = null;
    const feeding = live
      ? streamInto(socketPathOf(setup), setup.file).catch((error: unknown) => {
          feedError = error;
        })
      : null;
    const linesAtReady = ready.scrape.get('nfwatch_lines_total');
    let last = ready.scrape;
    let lastProgress = now();
    let lastLines = linesAtReady;
    const steadyFrom = Math.floor(truth.lines * STEADY_FRACTION);
    let steadyStart: { line: number; cpu: number } | null = null;
    for (;;) {
      await sleep(nextPollMs(lastLines, steadyStart === null ? steadyFrom : truth.lines, lastLines - linesAtReady, now() - ready.at));
      if (!daemon.running) throw new Error(`the daemon exited while reading:\n${daemon.log()}`);
      if (feedError !== null) throw new Error(`streaming the corpus into the daemon's socket failed: ${String(feedError)}`);
      // A scrape that does not answer in time (a busy event loop) counts as no progress.
      const scrape = await daemon.scrape();
      if (scrape !== null) last = scrape;
      const lines = scrape?.get('nfwatch_lines_total') ?? lastLines;
      if (lines >= truth.lines) break;
      if (steadyStart === null && scrape !== null && lines >= steadyFrom) steadyStart = { line: lines, cpu: daemon.cpuSeconds() };
      if (lines > lastLines) {
        lastLines = lines;
        lastProgress = now();
      } else if (now() - lastProgress > STALL_MS) {
        throw new Error(`the daemon stalled at ${lines} of ${truth.lines} lines:\n${daemon.log().slice(-4000)}`);
      }
    }
    const doneAt = now();
    const cpuSeconds = daemon.cpuSeconds();
    await feeding;
    const peakRssKiB = daemon.peakRssKiB();
    const health = await daemon.health();

    // Packets are counted into nfwatch_events_total when their interval closes: give the last ones a moment.
    // For a live source those late events are counted into the interval open at the time, which
    // closes at the daemon's stop (the Graphite checks below cover them, per verdict).
    const closeUntil = live ? now() : now() + CLOSE_WAIT_MS;
    const closedPackets = (s: Scrape) => s.get('nfwatch_events_total{verdict="allowed"}') + s.get('nfwatch_events_total{verdict="blocked"}');
    while (closedPackets(last) < truth.packets && now() < closeUntil) {
      await sleep(250);
      last = (await daemon.scrape()) ?? last;
    }
    const figures: Record<string, number> = {
      lines: last.get('nfwatch_lines_total'),
      decodedEvents: last.get('nfwatch_decoded_events_total'),
      decodeErrors: last.total('nfwatch_decode_errors_total'),
      oversizedLines: last.get('nfwatch_oversized_lines_total'),
      lateEvents: last.get('nfwatch_late_events_total'),
      eventsAllowed: last.get('nfwatch_events_total{verdict="allowed"}'),
      eventsBlocked: last.get('nfwatch_events_total{verdict="blocked"}'),
      eventsUnknown: last.get('nfwatch_events_total{verdict="unknown"}'),
      trackedSources: last.get('nfwatch_tracked_sources'),
      trackedSourcesEvicted: last.get('nfwatch_tracked_sources_evicted_total'),
      sinkDropped: last.total('nfwatch_sink_dropped_total'),
      historyDroppedPackets: last.total('nfwatch_history_dropped_packets_total'),
    };
    const checks = [
      check('/metrics lines', truth.lines, figures.lines!),
      check('/metrics decoded events (packets + NFACCT)', truth.lines, figures.decodedEvents!),
      check('/metrics decode errors', 0, figures.decodeErrors!),
      check('/metrics oversized lines', 0, figures.oversizedLines!),
      ...(live
        ? []
        : [
            check('/metrics events allowed (closed intervals)', truth.allowed, figures.eventsAllowed!),
            check('/metrics events blocked (closed intervals)', truth.blocked, figures.eventsBlocked!),
          ]),
      check('/metrics sink dropped', 0, figures.sinkDropped!),
      // The history keeps every packet's sighting (none without it): a writer falling behind would drop some.
      check('/metrics history dropped packets', 0, figures.historyDroppedPackets!),
    ];

    stopped = true;
    const exitCode = await daemon.stop();
    checks.push(check('exit code after SIGTERM', 0, exitCode ?? -1), ...graphiteChecks(daemon.graphite, truth));
    // What the history holds after its last batch (written on SIGTERM): every packet once, folded or
    // not. A daemon with its history on (its /metrics says so) and no file fails the check (-1).
    if (last.series.has('nfwatch_history_rows_written_total')) {
      const historyFile = join(setup.dir, 'state', HISTORY_FILE);
      figures.historyPackets = existsSync(historyFile) ? await storedPackets(historyFile) : -1;
      checks.push(check('history packets stored', truth.packets, figures.historyPackets));
    }
    figures.graphiteBytes = daemon.graphite.bytes;
    figures.graphiteLines = daemon.graphite.lines;
    figures.graphiteRewrites = daemon.graphite.rewrites;
    return {
      wallSeconds: (doneAt - daemon.spawnedAt) / 1000,
      readySeconds: (ready.at - daemon.spawnedAt) / 1000,
      linesPerSecond: (truth.lines - linesAtReady) / ((doneAt - ready.at) / 1000),
      cpuSeconds,
      steady: steadyStart === null ? null : { fromLine: steadyStart.line, lines: truth.lines - steadyStart.line, cpuSeconds: cpuSeconds - steadyStart.cpu },
      peakRssKiB,
      health,
      figures,
      checks,
      exitCode,
      exitCpuSeconds: exitCpuOf(daemon.log()),
    };
  } finally {
    if (!stopped) await daemon.stop();
  }
}

/** Packets the history file holds (every source-hour's, by verdict), read after the daemon stopped. */
async function storedPackets(path: string): Promise<number> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT coalesce(sum(allowed + blocked + unknown), 0) AS n FROM sightings').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** What reached "carbon" after the daemon flushed on SIGTERM: packets by verdict and NFACCT sums. */
export function graphiteChecks(graphite: GraphiteListener, truth: CorpusTruth): Check[] {
  const checks = [
    check('graphite events.allowed.count', truth.allowed, graphite.sum(`${GRAPHITE_PREFIX}.events.allowed.count`)),
    check('graphite events.blocked.count', truth.blocked, graphite.sum(`${GRAPHITE_PREFIX}.events.blocked.count`)),
    check('graphite events.unknown.count', 0, graphite.sum(`${GRAPHITE_PREFIX}.events.unknown.count`)),
  ];
  for (const [name, c] of Object.entries(truth.nfacct)) {
    checks.push(check(`graphite nfacct.${name}.pkts`, c.pkts, graphite.sum(`${GRAPHITE_PREFIX}.nfacct.${name}.pkts`)));
    checks.push(check(`graphite nfacct.${name}.bytes`, c.bytes, graphite.sum(`${GRAPHITE_PREFIX}.nfacct.${name}.bytes`)));
  }
  return checks;
}
