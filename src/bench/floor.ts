// The floors `npm run bench` compares the daemon against, each run as its own process:
//   node dist/bench/floor.js FILE split   read FILE in 256 KiB chunks and split it into line strings
//   node dist/bench/floor.js FILE parse   the same plus JSON.parse of every line
// No daemon can do less per line than this. Prints one JSON line (FloorResult) on stdout; CPU and
// wall time are counted from when the work starts, so Node's own start-up is left out.
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { readPeakRssKiB } from './proc.js';

export type FloorMode = 'split' | 'parse';

export interface FloorResult {
  mode: FloorMode;
  lines: number;
  bytes: number;
  /** Characters split (split) or lines parsed to a value (parse): the work is used, so it cannot be skipped. */
  checksum: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssKiB: number;
}

const CHUNK = 256 * 1024;
const LF = 10;

function run(file: string, mode: FloorMode): FloorResult {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const fd = openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(CHUNK);
  let carry: Buffer = Buffer.alloc(0);
  let lines = 0;
  let bytes = 0;
  let kept = 0;
  const parse = mode === 'parse';
  const take = (text: string) => {
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
  const cpu = process.cpuUsage(cpu0);
  return { mode, lines, bytes, checksum: kept, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssKiB: readPeakRssKiB('self') };
}

const [file, mode] = process.argv.slice(2);
if (file === undefined || (mode !== 'split' && mode !== 'parse')) {
  process.stderr.write('usage: node dist/bench/floor.js FILE split|parse\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(run(file, mode))}\n`);
