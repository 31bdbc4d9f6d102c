// The floors `npm run bench` compares the daemon against, each run as its own process:
//   node dist/bench/floor.js FILE split   read FILE in 1 MiB chunks (as the daemon reads) and split it into line strings
//   node dist/bench/floor.js FILE parse   the same plus JSON.parse of every line
//   node dist/bench/floor.js FILE MODE N  also the CPU of the lines after the first N (steadyCpuSeconds)
// No daemon can do less per line than this. Prints one JSON line (FloorResult) on stdout; CPU and
// wall time are counted from when the work starts, so Node's own start-up is left out.
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { readPeakRssKiB } from './proc.js';
import { CHUNK_BYTES } from '../sources/file.js';

export type FloorMode = 'split' | 'parse';

export interface FloorResult {
  mode: FloorMode;
  lines: number;
  bytes: number;
  /** Characters split (split) or lines parsed to a value (parse): the work is used, so it cannot be skipped. */
  checksum: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** The CPU of the lines after the first `steadyFrom` (the whole run's when 0). */
  steadyFrom: number;
  steadyCpuSeconds: number;
  peakRssKiB: number;
}

/** The daemon's file source's read size, so the floor's reads cost what the daemon's do. */
const CHUNK = CHUNK_BYTES;
const LF = 10;

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function run(file: string, mode: FloorMode, steadyFrom: number): FloorResult {
  const cpu0 = cpuNow();
  let steadyCpu0 = cpu0;
  const t0 = performance.now();
  const fd = openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(CHUNK);
  let carry: Buffer = Buffer.alloc(0);
  let lines = 0;
  let bytes = 0;
  let kept = 0;
  const parse = mode === 'parse';
  const take = (text: string) => {
    if (lines === steadyFrom && steadyFrom > 0) steadyCpu0 = cpuNow();
    lines++;
    if (parse) {
      if (JSON.parse(text) !== null) kept++;
    } else kept += text.length;
  };
  for (;;) {
    const n = readSync(fd, chunk, 0, CHUNK, null);
    if (n === 0) break;
    bytes += n;
    const view = n === CHUNK ? chunk : chunk.subarray(0, n);
    let pos = 0;
    let newline = view.indexOf(LF, 0);
    if (carry.length > 0) {
      if (newline === -1) {
        carry = Buffer.concat([carry, view]);
        continue;
      }
      take(Buffer.concat([carry, view.subarray(0, newline)]).toString('utf8'));
      carry = Buffer.alloc(0);
      pos = newline + 1;
      newline = view.indexOf(LF, pos);
    }
    while (newline !== -1) {
      take(view.toString('utf8', pos, newline));
      pos = newline + 1;
      newline = view.indexOf(LF, pos);
    }
    // The unfinished last line is copied: the chunk buffer is reused by the next read.
    if (pos < n) carry = Buffer.from(view.subarray(pos, n));
  }
  if (carry.length > 0) take(carry.toString('utf8'));
  closeSync(fd);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu1 = cpuNow();
  return { mode, lines, bytes, checksum: kept, wallSeconds, cpuSeconds: cpu1 - cpu0, steadyFrom, steadyCpuSeconds: cpu1 - steadyCpu0, peakRssKiB: readPeakRssKiB('self') };
}

const [file, mode, from = '0'] = process.argv.slice(2);
const steadyFrom = Number(from);
if (file === undefined || (mode !== 'split' && mode !== 'parse') || !Number.isSafeInteger(steadyFrom) || steadyFrom < 0) {
  process.stderr.write('usage: node dist/bench/floor.js FILE split|parse [STEADY_FROM_LINE]\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(run(file, mode, steadyFrom))}\n`);
