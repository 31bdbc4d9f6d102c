// `npm run bench`: the real daemon process, end to end, as users run it, against the floors of
// reading ulogd's file (split into lines; split and JSON.parse every line).
//
//   npm run bench [-- --lines N] [--rounds N] [--corpus normal,normal100k,flood,flood6,sources100k] [--seed N] [--json FILE]
//                 [--baseline CLI [--same-core]] [--history-off] [--input socket]
//   npm run bench -- --live RATE[,RATE...] [--seconds N] [--corpus flood6]
//
// Batch mode generates seeded corpora of ulogd 2.0.8 JSON lines (corpus.ts) into a temp dir, then,
// round after round, runs the floors (floor.ts) and the daemon (daemon.ts) over each, as separate
// processes, interleaved because the machine is shared and noisy, and reports medians. The daemon's
// own counters are checked against each corpus's truth; a mismatch is printed loudly and makes the
// exit code non-zero. With --baseline and --same-core, each round also runs this build and the
// baseline at once, both pinned to one CPU: each meets the same minute of the machine, so their CPU
// seconds compare within ~1 % where separate runs differ by 30 % from one minute to the next.
// Live mode (live.ts) measures the daemon following a file a writer appends to.
// Not a test: it is never part of `npm test`.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CORPUS_KINDS, END_AGE_SECONDS, generateCorpus, type CorpusKind, type CorpusTruth } from './corpus.js';
import { CLI, STEADY_FRACTION, daemonConfig, firstStart, measureDaemon, measureStartup, now, type BenchInput, type Check, type DaemonMeasurement, type StartupMeasurement } from './daemon.js';
import type { FloorMode, FloorResult } from './floor.js';
import { runLive, type LiveResult } from './live.js';
import type { LiveFlood } from './writer.js';
import { readThrough } from './page-cache.js';
import { describeMachine, median } from './proc.js';

const FLOOR = fileURLToPath(new URL('./floor.js', import.meta.url));

const USAGE = `Usage: npm run bench -- [options]

Batch mode (default): the daemon (dist/cli.js) over generated corpora, against the floors.
  --lines N          lines per corpus (default 1000000, or BENCH_LINES)
  --rounds N         measurements of each kind, reported as medians (default 3)
  --corpus LIST      any of ${CORPUS_KINDS.join(',')} (default normal,flood)
  --seed N           seed of the corpora (default 1)
  --json FILE        write the results as JSON to FILE instead of after the table
  --baseline CLI     also measure another build's daemon (e.g. a previous commit's dist/cli.js),
                     interleaved with this one, as the row "baseline daemon"
  --history-off      also measure this daemon with [history] disabled, as the row
                     "daemon, history off" (what the history store costs)
  --same-core        with --baseline: also run this daemon and the baseline at once, both
                     pinned to the same CPU (taskset; the CPU alternates by round), and compare
                     their CPU seconds: both meet the same minute of a shared machine
  --input socket     give the daemons each corpus as ulogd's socket mode does (a unix socket the
                     daemon listens on, the corpus streamed into it) instead of the file to
                     follow (--input file, the default); the floors read the file either way
Live mode: the daemon following a file a writer appends flood lines to (IPv6 ones with
--corpus flood6).
  --live RATES       lines per second, e.g. 20000,60000
  --seconds N        how long to write at each rate (default 20)
`;

/** The daemons a round measures: this build (shipped defaults), optionally without the history store, and another build. */
const DAEMON_KINDS = ['nfwatch daemon', 'daemon, history off', 'baseline daemon'] as const;
type DaemonKind = (typeof DAEMON_KINDS)[number];

interface Options {
  lines: number;
  rounds: number;
  corpora: CorpusKind[];
  seed: number;
  json: string | null;
  baseline: string | null;
  historyOff: boolean;
  sameCore: boolean;
  input: BenchInput;
  live: number[];
  seconds: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      lines: { type: 'string' },
      rounds: { type: 'string' },
      corpus: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      baseline: { type: 'string' },
      'history-off': { type: 'boolean' },
      'same-core': { type: 'boolean' },
      input: { type: 'string' },
      live: { type: 'string' },
      seconds: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (text: string | undefined, fallback: number, what: string, min: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min) throw new Error(`${what} must be an integer >= ${min}, not "${text}"`);
    return n;
  };
  const corpora = (values.corpus ?? 'normal,flood').split(',').map((c) => c.trim()).filter((c) => c !== '');
  for (const c of corpora) if (!(CORPUS_KINDS as readonly string[]).includes(c)) throw new Error(`unknown corpus "${c}" (${CORPUS_KINDS.join(', ')})`);
  if (values['same-core'] && values.baseline === undefined) throw new Error('--same-core compares this build with --baseline CLI: give both');
  const input = values.input ?? 'file';
  if (input !== 'file' && input !== 'socket') throw new Error(`--input is file or socket, not "${input}"`);
  if (input === 'socket' && values.live !== undefined) throw new Error('--live follows a file: --input socket is for batch mode');
  return {
    lines: int(values.lines ?? process.env.BENCH_LINES, 1_000_000, '--lines', 1000),
    rounds: int(values.rounds, 3, '--rounds', 1),
    corpora: corpora as CorpusKind[],
    seed: int(values.seed, 1, '--seed', 0),
    json: values.json ?? null,
    baseline: values.baseline ?? null,
    historyOff: values['history-off'] ?? false,
    sameCore: values['same-core'] ?? false,
    input,
    live: values.live === undefined ? [] : values.live.split(',').map((r) => int(r.trim(), 0, '--live rate', 1)),
    seconds: int(values.seconds, 20, '--seconds', 1),
  };
}

const out = (line = '') => process.stdout.write(`${line}\n`);
/** Progress goes to stderr, so stdout holds only the report. */
const note = (line: string) => process.stderr.write(`${line}\n`);

function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function table(header: string[], rows: string[][], rightFrom = 2): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= rightFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** Failed checks are printed loudly and make the exit code non-zero; returns whether all passed. */
function report(label: string, checks: readonly Check[]): boolean {
  const failed = checks.filter((c) => !c.ok);
  for (const c of failed) {
    note(`!!! CHECK FAILED ${label}: ${c.what}: expected ${c.expected}, the daemon says ${c.actual}`);
  }
  if (failed.length > 0) process.exitCode = 1;
  return failed.length === 0;
}

/** The results as JSON: into --json FILE, or as one line after the table. */
function writeResults(options: Options, json: unknown): void {
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify(json, null, 2)}\n`);
    out(`JSON written to ${options.json}`);
  } else {
    out();
    out(JSON.stringify(json));
  }
}

// ---------------------------------------------------------------------------------------------
// Batch mode

function runFloor(file: string, mode: FloorMode, steadyFrom: number): Promise<FloorResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FLOOR, file, mode, String(steadyFrom)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (text += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`floor ${mode} exited with ${code}`));
      else resolve(JSON.parse(text) as FloorResult);
    });
  });
}

interface Row {
  corpus: CorpusKind;
  what: 'floor: read + split' | 'floor: + JSON.parse' | DaemonKind;
  linesPerSecond: number[];
  cpuSeconds: number[];
  /** CPU per line after the first STEADY_FRACTION of the corpus (none: no figure that round). */
  steadyCpuPerLine: number[];
  peakRssKiB: number[];
  /** A daemon's CPU from spawn to its exit (DaemonMeasurement.exitCpuSeconds; none: no figure that round). */
  exitCpuSeconds: number[];
}

/** One round's run of this build and the baseline at once, on one CPU (--same-core). */
interface SameCorePair {
  corpus: CorpusKind;
  round: number;
  cpu: number;
  /** Each daemon's CPU from spawn to done, start-up included. */
  cpuSeconds: number;
  baselineCpuSeconds: number;
}

interface SameCoreSummary {
  corpus: CorpusKind;
  pairs: number;
  /** Sums over the pairs. */
  cpuSeconds: number;
  baselineCpuSeconds: number;
  /** The baseline's CPU over this build's, pair by pair, and their median. */
  ratios: number[];
  medianRatio: number;
}

function sameCoreSummaries(pairs: readonly SameCorePair[], corpora: readonly CorpusKind[]): SameCoreSummary[] {
  const out: SameCoreSummary[] = [];
  for (const corpus of corpora) {
    const of = pairs.filter((p) => p.corpus === corpus);
    if (of.length === 0) continue;
    const ratios = of.map((p) => p.baselineCpuSeconds / p.cpuSeconds);
    out.push({
      corpus,
      pairs: of.length,
      cpuSeconds: of.reduce((sum, p) => sum + p.cpuSeconds, 0),
      baselineCpuSeconds: of.reduce((sum, p) => sum + p.baselineCpuSeconds, 0),
      ratios,
      medianRatio: median(ratios),
    });
  }
  return out;
}

interface Medians {
  corpus: CorpusKind;
  what: string;
  linesPerSecond: number;
  cpuSecondsPerMillionLines: number;
  peakRssMiB: number;
  cpuRatioToParseFloor: number;
  /** The same with nothing subtracted: the process's CPU from spawn to done (start-up included) over the floor process's. */
  wholeProcessCpuRatio: number;
  /**
   * CPU per line after the first STEADY_FRACTION of the corpus over the JSON.parse floor's over the
   * same lines: without V8's compiling and warming up of the packet path, which every process pays
   * once over its first ~100,000 lines. Null when a round had no figure.
   */
  steadyCpuSecondsPerMillionLines: number | null;
  steadyCpuRatio: number | null;
  /**
   * A daemon's CPU from spawn to its exit after SIGTERM, the history's last batch written (the
   * figures above stop at its last line); null for a floor, or when a round had no figure.
   */
  exitCpuSeconds: number | null;
  /**
   * exitCpuSeconds less the start-up, per line, over the JSON.parse floor's: the work a run's lines
   * caused, wherever it fell (the history writes its last batch, a minute's worth, at exit).
   */
  exitCpuRatio: number | null;
  rounds: number;
}

function writeCorpus(kind: CorpusKind, file: string, lines: number, seed: number): { truth: CorpusTruth; seconds: number } {
  const t0 = now();
  const fd = openSync(file, 'w');
  try {
    const truth = generateCorpus(kind, { seed, lines, nowUsec: Date.now() * 1000 }, (text) => writeSync(fd, text));
    return { truth, seconds: (now() - t0) / 1000 };
  } finally {
    closeSync(fd);
  }
}

function describeCorpus(truth: CorpusTruth, file: string, seconds: number): string {
  const span = (truth.lastEventUsec - truth.firstEventUsec) / 1e6;
  const first = new Date(truth.firstEventUsec / 1000).toISOString();
  return (
    `  ${truth.kind.padEnd(12)} ${fmtInt(truth.lines)} lines, ${fmt(truth.bytes / 2 ** 20, 0)} MiB (~${Math.round(truth.bytes / truth.lines)} B/line): ` +
    `${fmtInt(truth.allowed)} allowed, ${fmtInt(truth.blocked)} blocked (${fmtInt(truth.ipv6Packets)} IPv6), ${fmtInt(truth.nfacctLines)} NFACCT; ` +
    `${fmtInt(truth.distinctSources)} sources; events from ${first} over ${fmt(span, 1)} s ` +
    `(${fmtInt(truth.lines / Math.max(span, 1e-6))}/s; last ${END_AGE_SECONDS} s before generation); written in ${fmt(seconds, 1)} s → ${file}`
  );
}

/** The daemon's own start-up checks on a config like the bench's (clear errors before any round). */
function checkConfig(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'nfwatch.toml');
  writeFileSync(path, daemonConfig({ dir, file: join(dir, 'ulogd.json') }, 2003, 8733));
  const result = spawnSync(process.execPath, [CLI, '--check-config', path], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the bench's daemon configuration does not pass --check-config:\n${result.stderr}`);
}

async function batch(options: Options, tmp: string): Promise<void> {
  out(`seed ${options.seed}; ${fmtInt(options.lines)} lines per corpus; ${options.rounds} round(s); corpora: ${options.corpora.join(', ')}; the daemons ${options.input === 'socket' ? "read each corpus from a unix socket it is streamed into, as ulogd's socket mode writes" : 'follow each corpus file from its beginning'}`);
  checkConfig(join(tmp, 'check'));
  out('corpora (ulogd 2.0.8 JSON, Debian stacks; truth counted while generating):');
  const truths = new Map<CorpusKind, { truth: CorpusTruth; file: string }>();
  for (const kind of options.corpora) {
    const file = join(tmp, `${kind}.json`);
    note(`generating ${kind}...`);
    const { truth, seconds } = writeCorpus(kind, file, options.lines, options.seed);
    truths.set(kind, { truth, file });
    out(describeCorpus(truth, file, seconds));
  }
  out();

  const startups: StartupMeasurement[] = [];
  const rows = new Map<string, Row>();
  const row = (corpus: CorpusKind, what: Row['what']): Row => {
    const key = `${corpus} ${what}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { corpus, what, linesPerSecond: [], cpuSeconds: [], steadyCpuPerLine: [], peakRssKiB: [], exitCpuSeconds: [] }));
    return r;
  };
  const daemonRuns: Array<{ corpus: CorpusKind; round: number; run: DaemonMeasurement }> = [];
  const pairs: SameCorePair[] = [];
  let allPassed = true;

  const input = options.input;
  const first = await firstStart(join(tmp, 'first-start'), undefined, input);
  const { stateFiles } = first;
  // The baseline keeps what its own first start made (another build may keep its AS table elsewhere),
  // and its own start-up is what is subtracted from its runs.
  const baselineFirst = options.baseline === null ? null : await firstStart(join(tmp, 'baseline-first-start'), options.baseline, input);
  const baselineStartups: StartupMeasurement[] = [];
  note(`first start on an empty file and state_dir (reads the build's AS table; where it has none, parses the CSV and keeps the table in state_dir, and every run below starts with it): ready after ${fmt(first.startup.readySeconds, 2)} s, ${fmt(first.startup.cpuSeconds, 2)} s CPU, ${fmt(first.startup.peakRssKiB / 1024, 0)} MiB`);
  for (let round = 1; round <= options.rounds; round++) {
    const tag = `round ${round}/${options.rounds}`;
    const startup = await measureStartup({ dir: join(tmp, `r${round}-startup`), file: join(tmp, `r${round}-empty.json`), input, stateFiles });
    startups.push(startup);
    note(`${tag} startup on an empty file: ready after ${fmt(startup.readySeconds, 2)} s, ${fmt(startup.cpuSeconds, 2)} s CPU, ${fmt(startup.peakRssKiB / 1024, 0)} MiB`);
    if (options.baseline !== null) {
      const b = await measureStartup({ dir: join(tmp, `r${round}-baseline-startup`), file: join(tmp, `r${round}-baseline-empty.json`), input, cli: options.baseline, stateFiles: baselineFirst!.stateFiles });
      baselineStartups.push(b);
      note(`${tag} baseline startup on an empty file: ready after ${fmt(b.readySeconds, 2)} s, ${fmt(b.cpuSeconds, 2)} s CPU`);
    }
    for (const kind of options.corpora) {
      const { truth, file } = truths.get(kind)!;
      const steadyFrom = Math.floor(truth.lines * STEADY_FRACTION);
      // The floors and daemons below read the corpus within seconds of one another; this read
      // makes the first of them meet it in the page cache too.
      readThrough(file);
      for (const mode of ['split', 'parse'] as const) {
        const f = await runFloor(file, mode, steadyFrom);
        if (f.lines !== truth.lines) {
          note(`!!! CHECK FAILED ${tag} ${kind} floor ${mode}: ${f.lines} lines read, the corpus has ${truth.lines}`);
          process.exitCode = 1;
        }
        const r = row(kind, mode === 'split' ? 'floor: read + split' : 'floor: + JSON.parse');
        r.linesPerSecond.push(f.lines / f.wallSeconds);
        r.cpuSeconds.push(f.cpuSeconds);
        if (f.lines > f.steadyFrom) r.steadyCpuPerLine.push(f.steadyCpuSeconds / (f.lines - f.steadyFrom));
        r.peakRssKiB.push(f.peakRssKiB);
        note(`${tag} ${kind} floor ${mode}: ${fmtInt(f.lines / f.wallSeconds)} lines/s, ${fmt(f.cpuSeconds, 2)} s CPU`);
      }
      const daemons: Array<[DaemonKind, string, string, readonly string[]]> = [['nfwatch daemon', CLI, '', stateFiles]];
      if (options.historyOff) daemons.push(['daemon, history off', CLI, '[history]\nenabled = false\n', stateFiles]);
      if (options.baseline !== null) daemons.push(['baseline daemon', options.baseline, '', baselineFirst!.stateFiles]);
      // Each round starts with another of them: whatever the minute after the floors favours is shared.
      const turn = (round - 1) % daemons.length;
      for (const [what, cli, extraToml, files] of [...daemons.slice(turn), ...daemons.slice(0, turn)]) {
        const d = await measureDaemon({ dir: join(tmp, `r${round}-${kind}-${what.replace(/\W+/g, '-')}`), file, input, cli, extraToml, stateFiles: files }, truth);
        daemonRuns.push({ corpus: kind, round, run: d });
        const r = row(kind, what);
        r.linesPerSecond.push(d.linesPerSecond);
        r.cpuSeconds.push(d.cpuSeconds);
        if (d.steady !== null && d.steady.lines > 0) r.steadyCpuPerLine.push(d.steady.cpuSeconds / d.steady.lines);
        r.peakRssKiB.push(d.peakRssKiB);
        if (d.exitCpuSeconds !== null) r.exitCpuSeconds.push(d.exitCpuSeconds);
        const passed = report(`${tag} ${kind} ${what}`, d.checks);
        allPassed &&= passed;
        note(
          `${tag} ${kind} ${what}: ${fmtInt(d.linesPerSecond)} lines/s, done ${fmt(d.wallSeconds, 1)} s after spawn, ${fmt(d.cpuSeconds, 2)} s CPU` +
            `${d.exitCpuSeconds === null ? '' : ` (${fmt(d.exitCpuSeconds, 2)} s to its exit)`}, ` +
            `${fmt(d.peakRssKiB / 1024, 0)} MiB peak, /healthz ${d.health}, ${d.checks.length} checks ${passed ? 'passed' : 'FAILED'}`,
        );
      }
      if (options.sameCore) {
        const cpu = (round - 1) % availableParallelism();
        const at = (what: string) => join(tmp, `r${round}-${kind}-same-core-${what}`);
        const [own, base] = await Promise.all([
          measureDaemon({ dir: at('this'), file, input, stateFiles, cpu }, truth),
          measureDaemon({ dir: at('baseline'), file, input, cli: options.baseline!, stateFiles: baselineFirst!.stateFiles, cpu }, truth),
        ]);
        const ownPassed = report(`${tag} ${kind} same-core this build`, own.checks);
        const passed = report(`${tag} ${kind} same-core baseline`, base.checks) && ownPassed;
        allPassed &&= passed;
        pairs.push({ corpus: kind, round, cpu, cpuSeconds: own.cpuSeconds, baselineCpuSeconds: base.cpuSeconds });
        note(`${tag} ${kind} same core (CPU ${cpu}): this build ${fmt(own.cpuSeconds, 2)} s CPU, the baseline ${fmt(base.cpuSeconds, 2)} s (${fmt(base.cpuSeconds / own.cpuSeconds, 3)}×), checks ${passed ? 'passed' : 'FAILED'}`);
      }
    }
  }

  // Medians; the daemon's CPU is the work of the lines: its start-up on an empty file subtracted.
  const startupCpu = median(startups.map((s) => s.cpuSeconds));
  const baselineStartupCpu = baselineStartups.length > 0 ? median(baselineStartups.map((s) => s.cpuSeconds)) : startupCpu;
  const startupOf = (what: string): number => (what === 'baseline daemon' ? baselineStartupCpu : (DAEMON_KINDS as readonly string[]).includes(what) ? startupCpu : 0);
  const medians: Medians[] = [];
  for (const kind of options.corpora) {
    const lines = truths.get(kind)!.truth.lines;
    const perMillion = (r: Row) => (median(r.cpuSeconds) - startupOf(r.what)) / (lines / 1e6);
    const parseFloor = rows.get(`${kind} floor: + JSON.parse`)!;
    // A median only of a figure every round has.
    const ofEveryRound = (r: Row, figures: number[]): number | null => (figures.length === r.cpuSeconds.length ? median(figures) : null);
    const floorSteady = ofEveryRound(parseFloor, parseFloor.steadyCpuPerLine);
    for (const what of ['floor: read + split', 'floor: + JSON.parse', ...DAEMON_KINDS] as const) {
      const r = rows.get(`${kind} ${what}`);
      if (r === undefined) continue;
      const steady = ofEveryRound(r, r.steadyCpuPerLine);
      const exit = ofEveryRound(r, r.exitCpuSeconds);
      medians.push({
        corpus: kind,
        what,
        linesPerSecond: median(r.linesPerSecond),
        cpuSecondsPerMillionLines: perMillion(r),
        peakRssMiB: median(r.peakRssKiB) / 1024,
        cpuRatioToParseFloor: perMillion(r) / perMillion(parseFloor),
        wholeProcessCpuRatio: median(r.cpuSeconds) / median(parseFloor.cpuSeconds),
        steadyCpuSecondsPerMillionLines: steady === null ? null : steady * 1e6,
        steadyCpuRatio: steady === null || floorSteady === null ? null : steady / floorSteady,
        exitCpuSeconds: exit,
        exitCpuRatio: exit === null ? null : (exit - startupOf(what)) / (lines / 1e6) / perMillion(parseFloor),
        rounds: r.linesPerSecond.length,
      });
    }
  }

  out(`medians of ${options.rounds} round(s); daemon CPU minus its start-up on an empty file (${fmt(startupCpu, 2)} s${baselineStartups.length > 0 ? `; the baseline's ${fmt(baselineStartupCpu, 2)} s` : ''}); "whole process": nothing subtracted, spawn to done over the floor process; ` +
      `"steady": the lines after the first ${fmt(STEADY_FRACTION * 100, 0)} % of the corpus over the floor's same lines (V8's compiling of the packet path, once a process, left out); "to exit": the daemon's CPU to its exit after SIGTERM less its start-up (the history's last batch, written at exit, included):`);
  const rowsText = medians.map((m) => [
    m.corpus, m.what, fmtInt(m.linesPerSecond), fmt(m.cpuSecondsPerMillionLines, 2), fmt(m.peakRssMiB, 0), `${fmt(m.cpuRatioToParseFloor, 2)}×`, `${fmt(m.wholeProcessCpuRatio, 2)}×`,
    m.steadyCpuRatio === null ? '–' : `${fmt(m.steadyCpuRatio, 2)}×`,
    m.exitCpuRatio === null ? '–' : `${fmt(m.exitCpuRatio, 2)}×`,
  ]);
  for (const line of table(['corpus', 'what', 'lines/s', 'CPU s per 1M lines', 'peak RSS MiB', 'CPU ratio to JSON.parse floor', 'whole process', 'steady', 'to exit'], rowsText)) out(line);
  out(
    `daemon start-up (empty file, until /metrics answers): ${fmt(median(startups.map((s) => s.readySeconds)), 2)} s, ` +
      `${fmt(startupCpu, 2)} s CPU, ${fmt(median(startups.map((s) => s.peakRssKiB)) / 1024, 0)} MiB peak RSS; ` +
      `the first start (empty state_dir): ${fmt(first.startup.readySeconds, 2)} s, ${fmt(first.startup.cpuSeconds, 2)} s CPU, ${fmt(first.startup.peakRssKiB / 1024, 0)} MiB`,
  );
  const sameCore = sameCoreSummaries(pairs, options.corpora);
  if (sameCore.length > 0) {
    out('this build and the baseline at once on one CPU (start-up included; a ratio above 1: the baseline took more CPU):');
    const pairRows = sameCore.map((p) => [p.corpus, String(p.pairs), fmt(p.cpuSeconds, 2), fmt(p.baselineCpuSeconds, 2), `${fmt(p.medianRatio, 3)}×`, p.ratios.map((r) => fmt(r, 3)).join(' / ')]);
    for (const line of table(['corpus', 'pairs', 'this build CPU s', 'baseline CPU s', 'median baseline/this', 'by round'], pairRows)) out(line);
  }
  out(`truth checks: ${allPassed ? 'all passed' : 'FAILED (see the !!! lines above)'}`);

  const json = {
    machine: describeMachine(),
    seed: options.seed,
    lines: options.lines,
    rounds: options.rounds,
    input: options.input,
    corpora: Object.fromEntries([...truths].map(([k, v]) => [k, v.truth])),
    startup: { readySeconds: median(startups.map((s) => s.readySeconds)), cpuSeconds: startupCpu, peakRssMiB: median(startups.map((s) => s.peakRssKiB)) / 1024, runs: startups, first: first.startup },
    ...(baselineFirst === null ? {} : { baselineStartup: { cpuSeconds: baselineStartupCpu, runs: baselineStartups, first: baselineFirst.startup } }),
    results: medians,
    daemonRuns,
    ...(sameCore.length > 0 ? { sameCore, sameCorePairs: pairs } : {}),
    checksPassed: allPassed,
  };
  writeResults(options, json);
}

// ---------------------------------------------------------------------------------------------
// Live mode

async function live(options: Options, tmp: string): Promise<void> {
  // The flood corpus, or the IPv6 one when --corpus names only it.
  const kind: LiveFlood = options.corpora.length === 1 && options.corpora[0] === 'flood6' ? 'flood6' : 'flood';
  if (options.corpora.some((c) => c !== kind)) note(`live mode writes the flood or the flood6 corpus only; writing ${kind}`);
  out(`live: seed ${options.seed}; ${kind} lines at ${options.live.map(fmtInt).join(', ')} lines/s for ${options.seconds} s each`);
  const results: LiveResult[] = [];
  let allPassed = true;
  const { stateFiles } = await firstStart(join(tmp, 'first-start'));
  for (const rate of options.live) {
    out();
    out(`rate ${fmtInt(rate)} lines/s (+ NFACCT lines once a second):`);
    const dir = join(tmp, `live-${rate}`);
    mkdirSync(dir, { recursive: true });
    const result = await runLive({ kind, rate, seconds: options.seconds, seed: options.seed, dir, out, stateFiles });
    results.push(result);
    const passed = report(`live ${rate}/s`, result.checks);
    allPassed &&= passed;
    out(
      `  max lag ${fmtInt(result.maxLag)} lines (${fmt(result.maxLagSeconds, 2)} s of the file's growth), final lag ${fmtInt(result.finalLag)} lines, ` +
        `caught up ${result.catchUpSeconds === null ? 'NOT within 60 s' : `${fmt(result.catchUpSeconds, 1)} s after the writer stopped`}, ` +
        `median CPU ${fmt(result.medianCpuPercent, 0)} %, peak RSS ${fmt(result.peakRssKiB / 1024, 0)} MiB, ${result.checks.length} checks ${passed ? 'passed' : 'FAILED'}`,
    );
  }
  out();
  const rows = results.map((r) => [
    fmtInt(r.rate), fmtInt(r.maxLag), fmt(r.maxLagSeconds, 2), fmtInt(r.finalLag), r.catchUpSeconds === null ? '>60' : fmt(r.catchUpSeconds, 1), fmt(r.medianCpuPercent, 0), fmt(r.peakRssKiB / 1024, 0),
  ]);
  for (const line of table(['lines/s', 'max lag', 'max lag s', 'final lag', 'catch-up s', 'median CPU %', 'peak RSS MiB'], rows, 0)) out(line);
  out(`truth checks: ${allPassed ? 'all passed' : 'FAILED (see the !!! lines above)'}`);
  const json = { machine: describeMachine(), seed: options.seed, seconds: options.seconds, live: results, checksPassed: allPassed };
  writeResults(options, json);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build`);
  if (options.baseline !== null && !existsSync(options.baseline)) throw new Error(`--baseline ${options.baseline}: no such file`);
  const m = describeMachine();
  out(`machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalRamGiB} GiB RAM, Linux ${m.kernel}, node ${m.node}, load average ${m.loadAverage1m} at start`);
  const started = now();
  const tmp = mkdtempSync(join(tmpdir(), 'nfwatch-bench-'));
  // Ctrl-C reaches the daemon and the children too (same process group); the corpora must not stay behind.
  process.once('SIGINT', () => {
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
  try {
    if (options.live.length > 0) await live(options, tmp);
    else await batch(options, tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  note(`bench took ${fmt((now() - started) / 1000, 0)} s`);
}

await main();
