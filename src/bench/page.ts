// `npm run bench:page`: how the live scan-watch page holds up while events stream in. For each rate
// it starts a real nfwatch (DIR/dist/cli.js) on a temp config that follows a temp file, appends
// retimed packet lines of demo/ulogd-lab-capture.jsonl to that file at the rate, opens the page in
// headless Chromium and measures, once the event table is full:
//   - frames per second (requestAnimationFrame callbacks),
//   - main-thread long tasks (ms of long tasks per second),
//   - click latency: a click on a value in the live table until its filter chip shows,
//   - rows in the event table, and the events the page received per second.
// One extra run streams at 10× the default per-client limit with the limit raised to match, to show
// how the page degrades when the server does not sample for it. It prints figures, never fails on
// slowness; it exits 1 only when a run could not be carried out.
//
//   node dist/bench/page.js [--rates 20,200,2000] [--seconds 15] [--root DIR] [--extra-limit 2000]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { localOffsetMinutes, retimeLine } from '../demo/replay.js';

/** dist/bench/page.js → the repository root (the directory with package.json above dist/). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CAPTURE = join(ROOT, 'demo', 'ulogd-lab-capture.jsonl');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** web.client_events_per_second when the config does not set it (src/config/schema.ts). */
const DEFAULT_CLIENT_LIMIT = 200;
/** The writer appends a batch this often, as ulogd's sync writes would trickle in. */
const BATCH_MS = 50;
/** Streaming at the rate before measuring, so the table is full and the page in its steady state. */
const WARMUP_MS = 5000;
/** Lines streamed first when the warm-up alone would not fill the table (it draws 100 rows of a larger buffer). */
const FILL_LINES = 600;
/** The fill goes at this share of the client limit, so the server sends it all instead of a sample. */
const FILL_SHARE_OF_LIMIT = 0.75;
const CLICK_EVERY_MS = 2000;
/** A click whose chip has not shown by then counts as this many ms ("timeout"). */
const CLICK_TIMEOUT_MS = 10_000;
/** Clicks that landed beside a value (the table moved under the pointer) are retried this often. */
const CLICK_ATTEMPTS = 3;
/** Bound for every other wait on the daemon or the browser. */
const WAIT_MS = 20_000;
/** Bound for a wait on the page's main thread, which a page that cannot keep up holds for seconds. */
const PAGE_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

interface RunSpec {
  /** Lines appended per second. */
  readonly rate: number;
  /** web.client_events_per_second. */
  readonly clientLimit: number;
}

/** The runs: every rate at the default client limit, then the extra run at `extraLimit` (0: none). */
function runSpecs(rates: readonly number[], extraLimit: number): RunSpec[] {
  const specs = rates.map((rate) => ({ rate, clientLimit: DEFAULT_CLIENT_LIMIT }));
  if (extraLimit > 0) specs.push({ rate: extraLimit, clientLimit: extraLimit });
  return specs;
}

function parseRates(text: string): number[] {
  const rates = text.split(',').map((s) => Number(s.trim()));
  if (rates.length === 0 || rates.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error(`--rates must be positive numbers separated by commas, not "${text}"`);
  return rates;
}

/** The packet lines of a capture: NFACCT lines (with "sum.name") feed no table row. */
function packetLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.includes('"sum.name"'));
}

/** Lines due by `elapsedMs` at `rate` per second: the fractions carry over from batch to batch. */
function linesDue(rate: number, elapsedMs: number): number {
  return Math.floor((rate * elapsedMs) / 1000);
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The daemon's config: one followed file, the web page on `port`, nothing else. */
function configToml(o: { stateDir: string; logPath: string; port: number; clientLimit: number }): string {
  // JSON strings are valid TOML basic strings for these paths.
  const lines = [
    '[general]',
    `state_dir = ${JSON.stringify(o.stateDir)}`,
    'log_level = "warn"',
    '',
    '[[sources.file]]',
    'name = "ulogd"',
    `path = ${JSON.stringify(o.logPath)}`,
    'from = "beginning"',
    'poll_ms = 100',
    '',
    '[web]',
    'enabled = true',
    'host = "127.0.0.1"',
    `port = ${o.port}`,
  ];
  if (o.clientLimit !== DEFAULT_CLIENT_LIMIT) lines.push(`client_events_per_second = ${o.clientLimit}`);
  lines.push('', '[outputs.graphite]', 'enabled = false', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// In-page instrumentation (strings: this file is compiled without the DOM types)
// ---------------------------------------------------------------------------------------------

/**
 * Counts animation frames and long tasks from now on, and notes for every click whether it hit a
 * filterable value (capture phase, so before the page's own handler).
 */
const INSTALL = `(() => {
  const b = { frames: 0, longMs: 0, longTasks: 0, clicks: [], t0: performance.now(), stopped: false };
  const frame = () => { if (b.stopped) return; b.frames++; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  const add = (list) => { for (const e of list) { b.longMs += e.duration; b.longTasks++; } };
  b.observer = new PerformanceObserver((list) => add(list.getEntries()));
  b.observer.observe({ type: 'longtask', buffered: false });
  b.add = add;
  document.addEventListener('click', (e) => {
    const t = e.target instanceof Element ? e.target : null;
    b.clicks.push({ fv: t !== null && t.closest('.fv') !== null, on: t === null ? '' : t.tagName.toLowerCase() + (t.className ? '.' + String(t.className).split(' ').join('.') : '') });
  }, true);
  globalThis.__nfwatchBench = b;
  return true;
})()`;

/**
 * Stops the counters and returns them with the table's rows and the connection state (one round
 * trip to a busy page); long tasks not yet delivered to the observer are taken too.
 */
const FINISH = `(() => {
  const b = globalThis.__nfwatchBench;
  b.stopped = true;
  b.add(b.observer.takeRecords());
  b.observer.disconnect();
  return {
    frames: b.frames, longMs: b.longMs, longTasks: b.longTasks, elapsedMs: performance.now() - b.t0,
    rows: document.querySelectorAll('#events tbody tr').length,
    conn: document.getElementById('conn')?.dataset.state ?? '',
  };
})()`;

/**
 * Where to click: the centre of the newest row's verdict badge (any value when it has none), with
 * the clicks seen so far. One look at the page, so the box is that of the rows as they are: on a
 * busy page, separate round trips for the element, its box and the count each wait for a frame and
 * find other rows. null when the table has no value.
 */
const AIM = `(() => {
  const el = document.querySelector('#events tbody tr .verdict.fv') ?? document.querySelector('#events tbody tr .fv');
  if (el === null) return null;
  const r = el.getBoundingClientRect();
  return { x: r.left + r.width / 2, y: r.top + r.height / 2, before: globalThis.__nfwatchBench.clicks.length };
})()`;

/**
 * Truthy once the chip is there ("chip") or a click since the `before`-th hit no value: then what
 * it hit ("miss <element>").
 */
function chipOrMiss(before: number): string {
  return `(() => {
    if (document.querySelector('#chips .chip') !== null) return 'chip';
    const c = globalThis.__nfwatchBench.clicks;
    for (let i = ${before}; i < c.length; i++) if (!c[i].fv) return 'miss ' + c[i].on;
    return false;
  })()`;
}

interface PageFigures {
  frames: number;
  longMs: number;
  longTasks: number;
  elapsedMs: number;
  rows: number;
  conn: string;
}

function isPageFigures(v: unknown): v is PageFigures {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return ['frames', 'longMs', 'longTasks', 'elapsedMs', 'rows'].every((k) => typeof r[k] === 'number') && typeof r['conn'] === 'string';
}

// ---------------------------------------------------------------------------------------------
// Processes, files, waits
// ---------------------------------------------------------------------------------------------

/** Rejects after `ms`; the promise itself is left to settle (its error is ignored). */
async function bounded<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => undefined);
  try {
    return await Promise.race([p, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port nobody listens on now: the kernel's pick for port 0, released again. */
function freePort(): Promise<number> {
  return new Promise((res, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? res(port) : reject(new Error('no free port'))));
    });
  });
}

interface Daemon {
  readonly child: ChildProcess;
  /** The end of its stderr, for the error when it does not come up. */
  readonly output: () => string;
}

function startDaemon(root: string, configPath: string): Daemon {
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), '--config', configPath], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (err) => keep(Buffer.from(`cannot start: ${err.message}\n`)));
  return { child, output: () => tail.trim() };
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Until /healthz answers; fails early when the daemon exits (a config it rejects, say). */
async function waitHealthy(daemon: Daemon, port: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (!running(daemon.child)) throw new Error(`nfwatch exited before serving:\n${daemon.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100, undefined, { signal });
  }
  throw new Error(`nfwatch did not answer /healthz within ${WAIT_MS} ms:\n${daemon.output()}`);
}

/**
 * Appends capture lines, retimed to now, to the followed file at a rate, in a batch every BATCH_MS.
 * What is due is computed from the time since the rate was set, so timer jitter (the bench also
 * drives the browser) changes batch sizes, not the rate.
 */
class LineWriter {
  private readonly fd: number;
  private readonly timer: NodeJS.Timeout;
  private next = 0;
  private rate = 0;
  private since = Date.now();
  private sinceWritten = 0;
  /** Lines written since start. */
  written = 0;

  constructor(
    path: string,
    private readonly lines: readonly string[],
  ) {
    if (lines.length === 0) throw new Error('no packet lines to write');
    this.fd = openSync(path, 'a');
    this.timer = setInterval(() => this.tick(), BATCH_MS);
  }

  setRate(rate: number): void {
    this.tick();
    this.rate = rate;
    this.since = Date.now();
    this.sinceWritten = 0;
  }

  private tick(): void {
    const due = linesDue(this.rate, Date.now() - this.since) - this.sinceWritten;
    if (due <= 0) return;
    const usec = Date.now() * 1000;
    let chunk = '';
    for (let i = 0; i < due; i++) {
      // A microsecond apart, so the batch keeps its order.
      chunk += `${retimeLine(this.lines[this.next]!, usec + i, localOffsetMinutes(usec))}\n`;
      this.next = (this.next + 1) % this.lines.length;
    }
    writeSync(this.fd, chunk);
    this.sinceWritten += due;
    this.written += due;
  }

  stop(): void {
    clearInterval(this.timer);
    closeSync(this.fd);
  }
}

/** What arrives on the page's /stream connections, seen from outside the page (no cost inside it). */
class StreamWatch {
  events = 0;
  connections = 0;
  closes = 0;
  /** The daemon's own events/s, from every `stats` frame. */
  daemonRates: number[] = [];

  attach(page: Page): void {
    page.on('websocket', (ws) => {
      this.connections++;
      ws.on('close', () => this.closes++);
      ws.on('framereceived', ({ payload }) => {
        if (typeof payload !== 'string') return;
        if (payload.startsWith('{"type":"events"')) {
          const frame = JSON.parse(payload) as { events?: unknown };
          if (Array.isArray(frame.events)) this.events += frame.events.length;
        } else if (payload.startsWith('{"type":"stats"')) {
          const frame = JSON.parse(payload) as { eventsPerSecond?: unknown };
          if (typeof frame.eventsPerSecond === 'number') this.daemonRates.push(frame.eventsPerSecond);
        }
      });
    });
  }

  reset(): void {
    this.events = 0;
    this.connections = 0;
    this.closes = 0;
    this.daemonRates = [];
  }
}

// ---------------------------------------------------------------------------------------------
// Clicks
// ---------------------------------------------------------------------------------------------

type ClickOutcome = 'ok' | 'timeout' | 'missed' | 'no-target' | 'stuck-filter';

interface ClickSample {
  outcome: ClickOutcome;
  /** Click to chip; CLICK_TIMEOUT_MS for a timeout; null when no click could be measured. */
  ms: number | null;
  /** Clicks that hit no value before this one. */
  misses: number;
}

/** Remaining ms until `deadline`, at least 1 (a zero timeout means "none" to Playwright). */
const left = (deadline: number): number => Math.max(1, deadline - Date.now());

/**
 * Removes every filter chip again (with "clear all" when there are several) within `budgetMs`:
 * 'stuck' when they are still there, 'no-answer' when the page did not even say whether it has any.
 */
async function clearChips(page: Page, budgetMs: number): Promise<'clear' | 'stuck' | 'no-answer'> {
  const deadline = Date.now() + budgetMs;
  try {
    while (Date.now() < deadline) {
      if ((await bounded('looking for chips', left(deadline), page.$$('#chips .chip'))).length === 0) return 'clear';
      const all = page.locator('#chips .chip-clear');
      const button = (await bounded('looking for chips', left(deadline), all.count())) > 0 ? all.first() : page.locator('#chips .chip-x').first();
      try {
        await button.click({ timeout: left(deadline) });
        await page.waitForSelector('#chips .chip', { state: 'detached', timeout: left(deadline) });
        return 'clear';
      } catch {
        // a chip re-rendered under the click; look again
      }
    }
  } catch {
    return 'no-answer';
  }
  return 'stuck';
}

/** Where to click, and how many clicks the page had seen before. */
interface Aim {
  x: number;
  y: number;
  before: number;
}

function isAim(v: unknown): v is Aim {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r['x'] === 'number' && typeof r['y'] === 'number' && typeof r['before'] === 'number';
}

/**
 * One click latency, as a user sees it: from the click on a value in the live table (the newest
 * row's verdict badge: badges of all rows start at the same x, so when the rows move on under the
 * pointer another row's badge is hit) until its filter chip exists. The filter is removed again afterwards. A page too busy to be aimed at, to
 * take the click or to show the chip within CLICK_TIMEOUT_MS is a timeout.
 */
async function clickOnce(page: Page): Promise<ClickSample> {
  let misses = 0;
  // A page that cannot answer within CLICK_TIMEOUT_MS would not have taken a user's click either.
  const before = await clearChips(page, CLICK_TIMEOUT_MS);
  if (before === 'no-answer') return { outcome: 'timeout', ms: CLICK_TIMEOUT_MS, misses };
  if (before === 'stuck') return { outcome: 'stuck-filter', ms: null, misses };
  for (let attempt = 0; attempt < CLICK_ATTEMPTS; attempt++) {
    let at: unknown;
    try {
      at = await bounded('aiming', CLICK_TIMEOUT_MS, page.evaluate(AIM));
    } catch {
      return { outcome: 'timeout', ms: CLICK_TIMEOUT_MS, misses };
    }
    if (!isAim(at)) return { outcome: 'no-target', ms: null, misses };
    const t0 = Date.now();
    const deadline = t0 + CLICK_TIMEOUT_MS;
    let outcome: unknown = 'timeout';
    try {
      await bounded('click', CLICK_TIMEOUT_MS, page.mouse.click(at.x, at.y));
      outcome = await (await page.waitForFunction(chipOrMiss(at.before), undefined, { timeout: left(deadline) })).jsonValue();
    } catch {
      // the page did not take the click or did not show the chip in time
    }
    const ms = Date.now() - t0;
    if (typeof outcome === 'string' && outcome.startsWith('miss')) {
      process.stderr.write(`bench:page: click ${Math.round(at.x)},${Math.round(at.y)} hit no value but ${outcome.slice(5) || 'nothing'} after ${ms} ms; again\n`);
      misses++;
      continue;
    }
    // A late chip may still come; the next sample clears it in any case.
    await clearChips(page, CLICK_TIMEOUT_MS);
    return outcome === 'chip' ? { outcome: 'ok', ms, misses } : { outcome: 'timeout', ms: CLICK_TIMEOUT_MS, misses };
  }
  return { outcome: 'missed', ms: null, misses };
}

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

interface RunResult extends RunSpec {
  /** The machine's 1-minute load average when the run began: other work skews the figures. */
  loadBefore: number;
  /** Measured period as the page counted it (clicks on a busy page can stretch it). */
  seconds: number | null;
  /** The page figures are null when it did not answer within PAGE_MS. */
  fps: number | null;
  longTaskMsPerSecond: number | null;
  longTasks: number | null;
  rows: number | null;
  /** #conn's data-state at the end ("live", "down", …). */
  connState: string | null;
  /** No row was in the table within PAGE_MS of connecting (measured anyway). */
  noRowsBeforeWarmup: boolean;
  /** Median and max over the clicks, a timeout counting as CLICK_TIMEOUT_MS. */
  clickMedianMs: number | null;
  clickMaxMs: number | null;
  /** Every click sample's outcome, in order. */
  clickOutcomes: ClickOutcome[];
  /** Clicks that hit no value (the table moved under the pointer) and were retried. */
  clickMisses: number;
  linesWrittenPerSecond: number;
  /** Events that reached the page over /stream. */
  pageEventsPerSecond: number;
  /** The daemon's events/s (median of its stats frames). */
  daemonEventsPerSecond: number | null;
  /** /stream connections opened and closed while measuring (a slow-client close, a reconnect). */
  streamOpened: number;
  streamClosed: number;
  error?: string;
}

interface Options {
  root: string;
  seconds: number;
  lines: readonly string[];
  signal: AbortSignal;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** The latency of a sample (a timeout as CLICK_TIMEOUT_MS); none for samples that measured nothing. */
const latency = (s: ClickSample): number[] => (s.ms === null ? [] : [s.ms]);

async function runOnce(spec: RunSpec, o: Options): Promise<RunResult> {
  const loadBefore = round(loadavg()[0] ?? 0, 2);
  const tmp = mkdtempSync(join(tmpdir(), 'nfwatch-bench-page-'));
  let daemon: Daemon | null = null;
  let writer: LineWriter | null = null;
  let closeBrowser: (() => Promise<void>) | null = null;
  try {
    const port = await freePort();
    const logPath = join(tmp, 'ulogd.json');
    const configPath = join(tmp, 'nfwatch.toml');
    writeFileSync(logPath, '');
    writeFileSync(configPath, configToml({ stateDir: join(tmp, 'state'), logPath, port, clientLimit: spec.clientLimit }));
    daemon = startDaemon(o.root, configPath);
    await waitHealthy(daemon, port, o.signal);
    writer = new LineWriter(logPath, o.lines);
    writer.setRate(spec.rate);

    const context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
      timeout: WAIT_MS,
    });
    closeBrowser = () => bounded('closing the browser', WAIT_MS, context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const stream = new StreamWatch();
    stream.attach(page);
    await page.goto(`http://127.0.0.1:${port}/`, { timeout: WAIT_MS });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: WAIT_MS });
    // A page that cannot keep up may not even get its first rows in; that is a finding, so it is
    // noted and measured all the same.
    const noRowsBeforeWarmup = await page.waitForSelector('#events tbody tr', { state: 'attached', timeout: PAGE_MS }).then(
      () => false,
      () => true,
    );

    // The page has no backlog: only lines written while it is connected become rows. At low rates
    // the warm-up alone would leave the table mostly empty, so fill it first, below the client
    // limit so that all of it is sent rather than a sample.
    if (linesDue(spec.rate, WARMUP_MS) < FILL_LINES) {
      const fillRate = spec.clientLimit * FILL_SHARE_OF_LIMIT;
      writer.setRate(fillRate);
      await sleep((FILL_LINES / fillRate) * 1000, undefined, { signal: o.signal });
      writer.setRate(spec.rate);
    }
    await sleep(WARMUP_MS, undefined, { signal: o.signal });

    await bounded('installing the counters', PAGE_MS, page.evaluate(INSTALL));
    stream.reset();
    const writtenBefore = writer.written;
    const started = Date.now();
    const end = started + o.seconds * 1000;
    const samples: ClickSample[] = [];
    // A click every CLICK_EVERY_MS; one that is not done by the next slot skips it. None in the
    // last second, so the period ends with the filter removed.
    for (let at = started + CLICK_EVERY_MS; at <= end - 1000; at += CLICK_EVERY_MS) {
      if (Date.now() > at) continue;
      await sleep(at - Date.now(), undefined, { signal: o.signal });
      samples.push(await clickOnce(page));
    }
    if (Date.now() < end) await sleep(end - Date.now(), undefined, { signal: o.signal });
    const figures: unknown = await bounded('reading the counters', PAGE_MS, page.evaluate(FINISH)).catch(() => null);
    const wallSeconds = (Date.now() - started) / 1000;
    if (figures !== null && !isPageFigures(figures)) throw new Error(`unexpected figures from the page: ${JSON.stringify(figures)}`);
    const seconds = figures === null ? null : figures.elapsedMs / 1000;
    const perSecond = (n: number | undefined): number | null => (seconds === null || n === undefined ? null : round(n / seconds));

    const latencies = samples.flatMap(latency);
    return {
      ...spec,
      loadBefore,
      seconds: seconds === null ? null : round(seconds),
      fps: perSecond(figures?.frames),
      longTaskMsPerSecond: perSecond(figures?.longMs),
      longTasks: figures?.longTasks ?? null,
      rows: figures?.rows ?? null,
      connState: figures?.conn ?? null,
      noRowsBeforeWarmup,
      clickMedianMs: median(latencies),
      clickMaxMs: latencies.length > 0 ? Math.max(...latencies) : null,
      clickOutcomes: samples.map((s) => s.outcome),
      clickMisses: samples.reduce((n, s) => n + s.misses, 0),
      linesWrittenPerSecond: round((writer.written - writtenBefore) / wallSeconds),
      pageEventsPerSecond: round(stream.events / wallSeconds),
      daemonEventsPerSecond: median(stream.daemonRates),
      streamOpened: stream.connections,
      streamClosed: stream.closes,
    };
  } finally {
    await closeBrowser?.().catch((err: unknown) => process.stderr.write(`bench:page: ${String(err)}\n`));
    writer?.stop();
    if (daemon !== null) await stopChild(daemon.child, 5000);
    rmSync(tmp, { recursive: true, force: true });
  }
}

function failed(spec: RunSpec, err: unknown): RunResult {
  return {
    ...spec,
    loadBefore: round(loadavg()[0] ?? 0, 2),
    seconds: null,
    fps: null,
    longTaskMsPerSecond: null,
    longTasks: null,
    rows: null,
    connState: null,
    noRowsBeforeWarmup: false,
    clickMedianMs: null,
    clickMaxMs: null,
    clickOutcomes: [],
    clickMisses: 0,
    linesWrittenPerSecond: 0,
    pageEventsPerSecond: 0,
    daemonEventsPerSecond: null,
    streamOpened: 0,
    streamClosed: 0,
    error: err instanceof Error ? err.message : String(err),
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const num = (n: number | null, digits = 1): string => (n === null ? '–' : n.toFixed(digits));

/** What the figures do not show: timeouts, unmeasured clicks, a dropped stream, a stretched period. */
function notes(r: RunResult, seconds: number): string {
  const count = (o: ClickOutcome): number => r.clickOutcomes.filter((x) => x === o).length;
  const out: string[] = [];
  if (count('timeout') > 0) out.push(`${count('timeout')}/${r.clickOutcomes.length} clicks timed out`);
  for (const o of ['missed', 'no-target', 'stuck-filter'] as const) if (count(o) > 0) out.push(`${count(o)} click(s) ${o}`);
  if (r.clickMisses > 0) out.push(`${r.clickMisses} click(s) beside a value, retried`);
  if (r.noRowsBeforeWarmup) out.push(`no rows ${PAGE_MS / 1000} s after connecting`);
  if (r.connState !== null && r.connState !== 'live') out.push(`conn ${r.connState} at end`);
  if (r.streamClosed > 0) out.push(`stream closed ${r.streamClosed}×`);
  if (r.seconds === null) out.push('page did not answer at the end');
  else if (r.seconds > seconds * 1.2) out.push(`period stretched to ${r.seconds.toFixed(0)} s`);
  return out.join(', ');
}

function columns(seconds: number): readonly [string, (r: RunResult) => string][] {
  return [
    ['rate ev/s', (r) => String(r.rate)],
    ['client limit', (r) => String(r.clientLimit)],
    ['fps', (r) => num(r.fps)],
    ['long-task ms/s', (r) => num(r.longTaskMsPerSecond)],
    ['click median ms', (r) => num(r.clickMedianMs, 0)],
    ['click max ms', (r) => num(r.clickMaxMs, 0)],
    ['rows', (r) => num(r.rows, 0)],
    ['page ev/s', (r) => num(r.pageEventsPerSecond, 0)],
    ['load 1m', (r) => num(r.loadBefore)],
    ['notes', (r) => notes(r, seconds)],
  ];
}

function formatTable(results: readonly RunResult[], seconds: number): string {
  const cols = columns(seconds);
  const cells = results.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  // Numbers right-aligned; the first column and the notes left-aligned.
  const left = (i: number): boolean => i === 0 || i === cols.length - 1;
  const line = (c: readonly string[]): string =>
    c
      .map((s, i) => (left(i) ? s.padEnd(widths[i]!) : s.padStart(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const out = [line(cols.map(([h]) => h)), widths.map((w) => '-'.repeat(w)).join('-|-')];
  results.forEach((r, i) => out.push(r.error === undefined ? line(cells[i]!) : `${line(cells[i]!.slice(0, 2))} | error: ${r.error.split('\n')[0]}`));
  return out.join('\n');
}

function chromiumVersion(): string {
  try {
    return execFileSync(CHROMIUM, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).toString().trim();
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      rates: { type: 'string', default: '20,200,2000' },
      seconds: { type: 'string', default: '15' },
      root: { type: 'string', default: ROOT },
      'extra-limit': { type: 'string', default: String(DEFAULT_CLIENT_LIMIT * 10) },
    },
    strict: true,
  });
  const rates = parseRates(values.rates);
  const seconds = Number(values.seconds);
  if (!(seconds >= 3)) throw new Error(`--seconds must be a number >= 3, not "${values.seconds}"`);
  const extraLimit = Number(values['extra-limit']);
  if (!(extraLimit >= 0)) throw new Error(`--extra-limit must be a number >= 0, not "${values['extra-limit']}"`);
  const root = resolve(values.root);
  const lines = packetLines(readFileSync(CAPTURE, 'utf8'));

  // Ctrl-C ends the current run through its cleanup instead of leaving the daemon and browser behind.
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());

  const browserVersion = chromiumVersion();
  const header = `bench:page ${browserVersion} · ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}) · node ${process.version} · nfwatch at ${root} · ${seconds} s per rate`;
  process.stdout.write(`${header}\n`);
  const results: RunResult[] = [];
  for (const spec of runSpecs(rates, extraLimit)) {
    if (controller.signal.aborted) break;
    process.stderr.write(`bench:page: ${spec.rate} ev/s, client limit ${spec.clientLimit}…\n`);
    results.push(await runOnce(spec, { root, seconds, lines, signal: controller.signal }).catch((err: unknown) => failed(spec, err)));
  }
  process.stdout.write(`\n${formatTable(results, seconds)}\n\n`);
  process.stdout.write(`bench:page json ${JSON.stringify({ chromium: browserVersion, cpus: availableParallelism(), node: process.version, root, seconds, results })}\n`);
  return results.some((r) => r.error !== undefined) || controller.signal.aborted ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:page: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
