// Live mode of `npm run bench -- --live RATE[,RATE...] --seconds N`: the daemon follows a file that
// a writer process (writer.ts) appends flood lines to at RATE lines/s, as ulogd does under a SYN
// flood. The writer pre-generates every line before the measurement, with event times laid out
// from a start time T0 a few seconds ahead, and from T0 on only copies pre-made bytes into the file
// on schedule. Every second: lines written, lines the daemon processed (/metrics
// nfwatch_lines_total), the lag between them, the daemon's CPU % and the writer's own CPU % over
// that second, so a writer that cannot keep up (and so does not offer the configured rate) shows.
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CorpusTruth } from './corpus.js';
import { BenchDaemon, check, graphiteChecks, now, sleep, type Check } from './daemon.js';
import { median, readCpuSeconds } from './proc.js';
import type { LiveFlood, WriterMessage } from './writer.js';

const WRITER = fileURLToPath(new URL('./writer.js', import.meta.url));

/** After the writer stops, how long the daemon may take to process what is left. */
const CATCH_UP_LIMIT_MS = 60_000;
/** The writer this far behind its schedule (as a fraction) is reported loudly: the offered rate was not the configured one. */
const BEHIND_LIMIT = 0.05;

export interface LiveSecond {
  second: number;
  written: number;
  processed: number;
  lag: number;
  cpuPercent: number;
  /** The writer's own CPU % over the second (NaN once it has exited). */
  writerCpuPercent: number;
  /** Lines due by the schedule at this second (null after the writing time). */
  scheduled: number | null;
}

export interface LiveResult {
  rate: number;
  seconds: number;
  samples: LiveSecond[];
  maxLag: number;
  /** maxLag as seconds of the file's growth (maxLag / scheduledRate): how far behind ulogd's writing the daemon fell at worst. */
  maxLagSeconds: number;
  /** Lag at the last second of writing. */
  finalLag: number;
  /** Median of the daemon's CPU % over the seconds the writer was writing. */
  medianCpuPercent: number;
  /** Median of the writer's CPU % over the seconds it was writing. */
  medianWriterCpuPercent: number;
  /** From the writer's stop until the daemon had processed every line; null when it did not within the limit. */
  catchUpSeconds: number | null;
  peakRssKiB: number;
  /** Lines per second the schedule offers: RATE flood lines plus the NFACCT lines. */
  scheduledRate: number;
  /** Lines written / seconds of writing (the configured seconds, or longer when the writer overran them). */
  achievedRate: number;
  /** The writer fell more than 5 % behind its schedule at some point (the lag figures then mean little). */
  writerBehind: boolean;
  /** Pre-generation of the lines before the measurement, and how long writing started after T0 (0 normally). */
  pregenSeconds: number;
  lateStartMs: number;
  checks: Check[];
}

export interface LiveOptions {
  /** Which flood the writer appends. */
  kind: LiveFlood;
  rate: number;
  seconds: number;
  seed: number;
  /** A fresh directory for this rate. */
  dir: string;
  /** Where the per-second rows go as they are measured. */
  out: (line: string) => void;
  /** Files the daemon's state_dir starts with (DaemonSetup.stateFiles). */
  stateFiles?: readonly string[];
}

type Ready = Extract<WriterMessage, { type: 'ready' }>;
type Done = Extract<WriterMessage, { type: 'done' }>;

export async function runLive(options: LiveOptions): Promise<LiveResult> {
  const file = join(options.dir, 'ulogd.json');
  writeFileSync(file, '');
  const daemon = await BenchDaemon.start({ dir: options.dir, file, stateFiles: options.stateFiles });
  let writer: ChildProcess | undefined;
  let stopped = false;
  try {
    await daemon.waitReady();
    // Filled in by the writer's messages.
    const progress: { written: number; done: Done | null; doneAt: number | null } = { written: 0, done: null, doneAt: null };
    let onReady: (m: Ready) => void = () => undefined;
    const readyMessage = new Promise<Ready>((resolve) => (onReady = resolve));
    writer = fork(WRITER, [file, String(options.rate), String(options.seconds), String(options.seed), options.kind], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, '--expose-gc'],
    });
    const writerPid = writer.pid;
    writer.on('message', (m: WriterMessage) => {
      if (m.type === 'ready') onReady(m);
      else if (m.type === 'progress') progress.written = m.written;
      else {
        progress.written = m.written;
        progress.done = m;
        progress.doneAt = now();
      }
    });
    const writerExited = new Promise<number | null>((resolve) => writer!.once('exit', (code) => resolve(code)));
    const ready = await Promise.race([
      readyMessage,
      writerExited.then((code): never => {
        throw new Error(`the writer exited with ${String(code)} before its lines were ready`);
      }),
    ]);
    const truth: CorpusTruth = ready.truth;
    const { schedule } = ready;
    const scheduledRate = truth.lines / options.seconds;
    /** now() at T0, when the writer starts writing. */
    const start = now() + (ready.t0Ms - Date.now());
    options.out(
      `  ${fmt(truth.lines)} lines (${(truth.bytes / 2 ** 20).toFixed(0)} MiB) pre-generated in ${ready.pregenSeconds.toFixed(1)} s by the writer; ` +
        `writing starts ${(Math.max(0, start - now()) / 1000).toFixed(1)} s later, ${fmt(scheduledRate)} lines/s scheduled`,
    );
    const writerCpu = (): number => {
      try {
        return writerPid === undefined ? NaN : readCpuSeconds(writerPid);
      } catch {
        return NaN; // exited
      }
    };

    options.out(
      `  ${'s'.padStart(4)} ${'written'.padStart(10)} ${'processed'.padStart(10)} ${'lag'.padStart(9)} ${'cpu %'.padStart(6)} ${'writer %'.padStart(9)}`,
    );
    const samples: LiveSecond[] = [];
    await sleep(Math.max(0, start - now()));
    let cpuBefore = daemon.cpuSeconds();
    let writerCpuBefore = writerCpu();
    let tBefore = now();
    let catchUpSeconds: number | null = null;
    let processed = 0;
    let writerBehind = false;
    for (let second = 1; ; second++) {
      await sleep(Math.max(0, start + second * 1000 - now()));
      if (!daemon.running) throw new Error(`the daemon exited during the live run:\n${daemon.log().slice(-4000)}`);
      const writtenNow = progress.written;
      const wCpu = writerCpu();
      const scrape = await daemon.scrape(900);
      const cpu = daemon.cpuSeconds();
      const t = now();
      const cpuPercent = ((cpu - cpuBefore) / ((t - tBefore) / 1000)) * 100;
      const writerCpuPercent = ((wCpu - writerCpuBefore) / ((t - tBefore) / 1000)) * 100;
      cpuBefore = cpu;
      writerCpuBefore = wCpu;
      tBefore = t;
      if (scrape) processed = scrape.get('nfwatch_lines_total');
      const scheduled = schedule[second] ?? null;
      const sample: LiveSecond = { second, written: writtenNow, processed, lag: writtenNow - processed, cpuPercent, writerCpuPercent, scheduled };
      samples.push(sample);
      options.out(
        `  ${String(second).padStart(4)} ${fmt(sample.written).padStart(10)} ${fmt(sample.processed).padStart(10)} ${fmt(sample.lag).padStart(9)} ` +
          `${pct(sample.cpuPercent).padStart(6)} ${pct(sample.writerCpuPercent).padStart(9)}${scrape ? '' : '  (/metrics did not answer)'}`,
      );
      if (scheduled !== null && writtenNow < (1 - BEHIND_LIMIT) * scheduled) {
        writerBehind = true;
        options.out(
          `  !!! WRITER BEHIND SCHEDULE at ${second} s: ${fmt(writtenNow)} lines written of ${fmt(scheduled)} due ` +
            `(${((100 * writtenNow) / scheduled).toFixed(1)} %): the offered rate is not the configured one`,
        );
      }
      const doneAt = progress.doneAt;
      if (doneAt !== null) {
        if (processed >= truth.lines) {
          catchUpSeconds = (t - doneAt) / 1000;
          break;
        }
        if (t - doneAt > CATCH_UP_LIMIT_MS) break;
      }
    }
    await writerExited;
    const done = progress.done;
    if (!done) throw new Error('the writer ended without reporting what it wrote');
    if (done.written !== truth.lines) throw new Error(`the writer wrote ${done.written} of its ${truth.lines} lines`);
    const achievedRate = done.written / Math.max(options.seconds, done.spanSeconds);
    const writing = samples.filter((s) => s.second <= options.seconds);
    const medianWriterCpuPercent = median(writing.map((s) => s.writerCpuPercent));
    options.out(
      `  offered rate achieved ${fmt(achievedRate)} lines/s of ${fmt(scheduledRate)} scheduled (${((100 * achievedRate) / scheduledRate).toFixed(1)} %; ` +
        `all ${fmt(done.written)} lines written within ${done.spanSeconds.toFixed(2)} s of T0), writer median CPU ${pct(medianWriterCpuPercent)} %`,
    );
    if (achievedRate < (1 - BEHIND_LIMIT) * scheduledRate || done.lateStartMs > 1000 * BEHIND_LIMIT * options.seconds) {
      writerBehind = true;
      options.out(
        `  !!! WRITER DID NOT KEEP UP: ${fmt(achievedRate)} of ${fmt(scheduledRate)} lines/s` +
          `${done.lateStartMs > 0 ? `, started ${fmt(done.lateStartMs)} ms after T0 (pre-generation overran its estimate)` : ''}: the lag figures above do not describe the configured rate`,
      );
    }
    const peakRssKiB = daemon.peakRssKiB();
    const last = await daemon.scrape();
    const checks: Check[] = [
      check('/metrics lines', truth.lines, last?.get('nfwatch_lines_total') ?? NaN),
      check('/metrics decode errors', 0, last?.total('nfwatch_decode_errors_total') ?? NaN),
      check('/metrics history dropped packets', 0, last?.total('nfwatch_history_dropped_packets_total') ?? NaN),
    ];
    stopped = true;
    const exitCode = await daemon.stop();
    checks.push(check('exit code after SIGTERM', 0, exitCode ?? -1), ...graphiteChecks(daemon.graphite, truth));
    const maxLag = Math.max(0, ...samples.map((s) => s.lag));
    return {
      rate: options.rate,
      seconds: options.seconds,
      samples,
      maxLag,
      maxLagSeconds: maxLag / scheduledRate,
      finalLag: writing.at(-1)?.lag ?? NaN,
      medianCpuPercent: median(writing.map((s) => s.cpuPercent)),
      medianWriterCpuPercent,
      catchUpSeconds,
      peakRssKiB,
      scheduledRate,
      achievedRate,
      writerBehind,
      pregenSeconds: ready.pregenSeconds,
      lateStartMs: done.lateStartMs,
      checks,
    };
  } finally {
    if (writer && writer.exitCode === null && writer.signalCode === null) writer.kill();
    if (!stopped) await daemon.stop();
  }
}

function fmt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}

function pct(n: number): string {
  return Number.isFinite(n) ? n.toFixed(0) : '—';
}
