// Live mode of `npm run bench -- --live RATE[,RATE...] --seconds N`: the daemon follows a file that
// a writer process (writer.ts) appends flood lines to at RATE lines/s with event times of now, as
// ulogd does under a SYN flood. Every second: lines written, lines the daemon processed
// (/metrics nfwatch_lines_total), the lag between them and the daemon's CPU % over that second.
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CorpusTruth } from './corpus.js';
import { BenchDaemon, check, graphiteChecks, now, sleep, type Check } from './daemon.js';
import { median } from './proc.js';
import type { WriterMessage } from './writer.js';

const WRITER = fileURLToPath(new URL('./writer.js', import.meta.url));

/** After the writer stops, how long the daemon may take to process what is left. */
const CATCH_UP_LIMIT_MS = 60_000;

export interface LiveSecond {
  second: number;
  written: number;
  processed: number;
  lag: number;
  cpuPercent: number;
}

export interface LiveResult {
  rate: number;
  seconds: number;
  samples: LiveSecond[];
  maxLag: number;
  /** Lag at the last second of writing. */
  finalLag: number;
  /** Median of the daemon's CPU % over the seconds the writer was writing. */
  medianCpuPercent: number;
  /** From the writer's stop until the daemon had processed every line; null when it did not within the limit. */
  catchUpSeconds: number | null;
  peakRssKiB: number;
  checks: Check[];
}

export interface LiveOptions {
  rate: number;
  seconds: number;
  seed: number;
  /** A fresh directory for this rate. */
  dir: string;
  /** Where the per-second rows go as they are measured. */
  out: (line: string) => void;
}

export async function runLive(options: LiveOptions): Promise<LiveResult> {
  const file = join(options.dir, 'ulogd.json');
  writeFileSync(file, '');
  const daemon = await BenchDaemon.start({ dir: options.dir, file });
  let writer: ChildProcess | undefined;
  let stopped = false;
  try {
    await daemon.waitReady();
    // Filled in by the writer's messages.
    const progress: { written: number; truth: CorpusTruth | null; doneAt: number | null } = { written: 0, truth: null, doneAt: null };
    writer = fork(WRITER, [file, String(options.rate), String(options.seconds), String(options.seed)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    writer.on('message', (m: WriterMessage) => {
      if (m.type === 'progress') progress.written = m.written;
      else {
        progress.truth = m.truth;
        progress.written = m.truth.lines;
        progress.doneAt = now();
      }
    });
    const writerExited = new Promise<number | null>((resolve) => writer!.once('exit', (code) => resolve(code)));

    options.out(`  ${'s'.padStart(4)} ${'written'.padStart(10)} ${'processed'.padStart(10)} ${'lag'.padStart(9)} ${'cpu %'.padStart(6)}`);
    const samples: LiveSecond[] = [];
    const start = now();
    let cpuBefore = daemon.cpuSeconds();
    let tBefore = start;
    let catchUpSeconds: number | null = null;
    let processed = 0;
    for (let second = 1; ; second++) {
      await sleep(Math.max(0, start + second * 1000 - now()));
      if (!daemon.running) throw new Error(`the daemon exited during the live run:\n${daemon.log().slice(-4000)}`);
      const writtenNow = progress.written;
      const scrape = await daemon.scrape(900);
      const cpu = daemon.cpuSeconds();
      const t = now();
      const cpuPercent = ((cpu - cpuBefore) / ((t - tBefore) / 1000)) * 100;
      cpuBefore = cpu;
      tBefore = t;
      if (scrape) processed = scrape.get('nfwatch_lines_total');
      const sample = { second, written: writtenNow, processed, lag: writtenNow - processed, cpuPercent };
      samples.push(sample);
      options.out(
        `  ${String(second).padStart(4)} ${fmt(sample.written).padStart(10)} ${fmt(sample.processed).padStart(10)} ${fmt(sample.lag).padStart(9)} ${sample.cpuPercent.toFixed(0).padStart(6)}${scrape ? '' : '  (/metrics did not answer)'}`,
      );
      const doneAt = progress.doneAt;
      if (doneAt !== null) {
        if (progress.truth && processed >= progress.truth.lines) {
          catchUpSeconds = (t - doneAt) / 1000;
          break;
        }
        if (t - doneAt > CATCH_UP_LIMIT_MS) break;
      }
    }
    await writerExited;
    const finalTruth = progress.truth;
    if (!finalTruth) throw new Error('the writer ended without reporting what it wrote');
    const peakRssKiB = daemon.peakRssKiB();
    const last = await daemon.scrape();
    const writing = samples.filter((s) => s.second <= options.seconds);
    const checks: Check[] = [
      check('/metrics lines', finalTruth.lines, last?.get('nfwatch_lines_total') ?? NaN),
      check('/metrics decode errors', 0, last?.total('nfwatch_decode_errors_total') ?? NaN),
    ];
    stopped = true;
    const exitCode = await daemon.stop();
    checks.push(check('exit code after SIGTERM', 0, exitCode ?? -1), ...graphiteChecks(daemon.graphite, finalTruth));
    return {
      rate: options.rate,
      seconds: options.seconds,
      samples,
      maxLag: Math.max(0, ...samples.map((s) => s.lag)),
      finalLag: writing.at(-1)?.lag ?? NaN,
      medianCpuPercent: median(writing.map((s) => s.cpuPercent)),
      catchUpSeconds,
      peakRssKiB,
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
