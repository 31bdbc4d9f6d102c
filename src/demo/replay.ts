// Demo replay: appends the lines of a recorded ulogd JSON capture to a file at their original pace,
// as ulogd would have written them, with every line's time moved to "now". nfwatch follows that
// file like ulogd's own, so its event-time intervals, live view and trackers see a live firewall.
//
// Only the time keys of a line are rewritten (oob.time.sec, oob.time.usec, timestamp/@timestamp),
// textually, so the rest of each line stays byte for byte what ulogd wrote. The capture is played in
// loops; each loop is shifted forward by the capture's span (divided by --speed) plus a gap.
//
//   node dist/demo/replay.js --capture demo/ulogd-lab-capture.jsonl --output .demo/ulogd.json
//        [--speed 1] [--once] [--gap 5] [--max-mb 64]
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseTimestamp, type NaiveZone } from '../decode/time.js';

// ---------------------------------------------------------------------------------------------
// Pure functions: reading and rewriting one line's time
// ---------------------------------------------------------------------------------------------

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `"key": <number or string>` in a JSON line; group 1 = the key and colon, group 2 = the value. */
function keyPattern(key: string): RegExp {
  return new RegExp(`("${escapeRegExp(key)}"\\s*:\\s*)(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|"(?:[^"\\\\]|\\\\.)*")`);
}

/**
 * Replace the value of top-level `key` in a one-line JSON object by `jsonValue` (already JSON:
 * a number's digits or a quoted string), keeping everything else as it was. Unchanged when the key
 * is absent. ulogd's keys are unique and flat ("oob.time.sec"), so the first match is the key.
 */
export function replaceJsonValue(line: string, key: string, jsonValue: string): string {
  return line.replace(keyPattern(key), (_m, head: string) => `${head}${jsonValue}`);
}

/** Epoch microseconds of a line: oob.time.sec/usec, else its timestamp; null when it has neither. */
export function lineTimeUsec(line: string, naive: NaiveZone = 'utc'): number | null {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return null;
  const r = record as Record<string, unknown>;
  const sec = r['oob.time.sec'];
  if (typeof sec === 'number' && Number.isFinite(sec) && sec > 0) {
    const usec = r['oob.time.usec'];
    return sec * 1_000_000 + (typeof usec === 'number' && Number.isFinite(usec) ? Math.trunc(usec) : 0);
  }
  const stamp = r['timestamp'] ?? r['@timestamp'];
  if (typeof stamp !== 'string') return null;
  const ms = parseTimestamp(stamp, naive);
  if (Number.isNaN(ms)) return null;
  // parseTimestamp keeps whole milliseconds; add back the microseconds it dropped.
  const frac = /[.,](\d{1,9})/.exec(stamp.slice(19, 30))?.[1] ?? '';
  const micros = frac === '' ? 0 : Number(frac.padEnd(6, '0').slice(0, 6)) % 1000;
  return ms * 1000 + micros;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * A timestamp as ulogd's JSON plugin writes it (localtime_r + strftime "%Y-%m-%dT%H:%M:%S",
 * ".%06u" microseconds when it has them, "%z" in newer versions), for epoch microseconds `usec`
 * in a zone `offsetMinutes` east of UTC.
 */
export function formatUlogdTimestamp(usec: number, offsetMinutes: number, style: { micros: boolean; offset: boolean }): string {
  const sec = Math.floor(usec / 1_000_000);
  const micros = usec - sec * 1_000_000;
  const d = new Date((sec + offsetMinutes * 60) * 1000);
  let s = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (style.micros) s += `.${pad(micros, 6)}`;
  if (style.offset) {
    const a = Math.abs(offsetMinutes);
    s += `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
  }
  return s;
}

/** Minutes east of UTC of this process's zone at epoch microseconds `usec`. */
export function localOffsetMinutes(usec: number): number {
  return -new Date(Math.floor(usec / 1000)).getTimezoneOffset();
}

/**
 * The line with its time moved to `usec` (epoch microseconds): oob.time.sec and oob.time.usec
 * where present, and timestamp/@timestamp in the style it had (with or without microseconds and
 * UTC offset), written for a zone `offsetMinutes` east of UTC.
 */
export function retimeLine(line: string, usec: number, offsetMinutes: number): string {
  const sec = Math.floor(usec / 1_000_000);
  let out = line;
  if (out.includes('"oob.time.sec"')) {
    out = replaceJsonValue(out, 'oob.time.sec', String(sec));
    out = replaceJsonValue(out, 'oob.time.usec', String(usec - sec * 1_000_000));
  }
  for (const key of ['timestamp', '@timestamp']) {
    const m = keyPattern(key).exec(out);
    const old = m?.[2];
    if (old === undefined || !old.startsWith('"')) continue;
    const text = old.slice(1, -1);
    const style = { micros: /T\d{2}:\d{2}:\d{2}[.,]\d/.test(text), offset: /(?:Z|[+-]\d{2}:?\d{2})$/.test(text) };
    out = replaceJsonValue(out, key, JSON.stringify(formatUlogdTimestamp(usec, offsetMinutes, style)));
  }
  return out;
}

/** One line of a capture with its original time. */
export interface CaptureLine {
  readonly text: string;
  /** Epoch microseconds as recorded. */
  readonly usec: number;
}

/**
 * A capture's lines with their times. A line without a time of its own (none in ulogd's output)
 * takes the previous line's; lines that are not JSON objects are kept and replayed as they are.
 */
export function parseCapture(text: string, naive: NaiveZone = 'utc'): CaptureLine[] {
  const out: CaptureLine[] = [];
  let last: number | null = null;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const t = lineTimeUsec(raw, naive);
    if (t !== null) last = t;
    out.push({ text: raw, usec: t ?? last ?? 0 });
  }
  // Lines before the first timed line take its time.
  const first = out.find((l) => l.usec !== 0)?.usec ?? 0;
  return out.map((l) => (l.usec === 0 ? { text: l.text, usec: first } : l));
}

/** The timing of a replay: where loop 0 starts and how long one loop lasts, both in wall time. */
export interface ReplayTiming {
  /** Earliest time in the capture (epoch µs): it is replayed at `startUsec`. */
  readonly t0Usec: number;
  /** Wall-clock epoch µs at which loop 0 begins. */
  readonly startUsec: number;
  /** Wall-clock µs between the starts of two loops: span / speed + gap. */
  readonly periodUsec: number;
  readonly speed: number;
}

export function replayTiming(lines: readonly CaptureLine[], startUsec: number, speed: number, gapUsec: number): ReplayTiming {
  if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`speed must be a positive number, not ${speed}`);
  if (!(gapUsec >= 0)) throw new Error(`gap must be >= 0, not ${gapUsec}`);
  let min = Infinity;
  let max = -Infinity;
  for (const l of lines) {
    if (l.usec < min) min = l.usec;
    if (l.usec > max) max = l.usec;
  }
  if (lines.length === 0) return { t0Usec: 0, startUsec, periodUsec: Math.max(gapUsec, 1_000_000), speed };
  // At least 1 ms per loop, so a one-line capture still moves forward in time.
  const periodUsec = Math.max(Math.ceil((max - min) / speed) + gapUsec, 1000);
  return { t0Usec: min, startUsec, periodUsec, speed };
}

/**
 * The new time (epoch µs) of a line recorded at `usec`, in loop `loop` (0, 1, …): loop 0 puts the
 * capture's earliest line at startUsec, and every loop is one period later than the one before.
 * It is also the wall time at which the line is written.
 */
export function replayTimeUsec(usec: number, loop: number, timing: ReplayTiming): number {
  return timing.startUsec + loop * timing.periodUsec + Math.round((usec - timing.t0Usec) / timing.speed);
}

// ---------------------------------------------------------------------------------------------
// The replay loop (I/O)
// ---------------------------------------------------------------------------------------------

export interface ReplayOptions {
  /** The capture (JSON lines). */
  capture: string;
  /** The file to append to (created with its directory). */
  output: string;
  /** Replay speed factor (2 = twice as fast; default 1: the original pace). */
  speed?: number;
  /** Loops to play; Infinity (default) until stopped. */
  loops?: number;
  /** Pause between two loops, seconds (default 5). */
  gapSeconds?: number;
  /** At the start of a loop, rename an output file larger than this to `<output>.1` (default 64 MiB; 0: never). */
  maxBytes?: number;
  /** Empty the output file first (default false: append). */
  truncate?: boolean;
  /** Wall clock in epoch ms (tests). */
  now?: () => number;
  /** Stops the replay. */
  signal?: AbortSignal;
  /** Called after each write with the lines written so far. */
  onWrite?: (linesWritten: number) => void;
}

export interface ReplayResult {
  lines: number;
  loops: number;
}

/** Replays the capture into the output file; resolves after `loops` loops or when aborted. */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const now = options.now ?? Date.now;
  const speed = options.speed ?? 1;
  const loops = options.loops ?? Infinity;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const lines = parseCapture(readFileSync(options.capture, 'utf8'));
  if (lines.length === 0) throw new Error(`${options.capture}: no lines to replay`);
  const timing = replayTiming(lines, now() * 1000, speed, (options.gapSeconds ?? 5) * 1_000_000);
  mkdirSync(dirname(resolve(options.output)), { recursive: true });
  let fd = openSync(options.output, options.truncate ? 'w' : 'a');
  let written = 0;
  let loop = 0;
  const aborted = (): boolean => options.signal?.aborted ?? false;
  try {
    for (; loop < loops && !aborted(); loop++) {
      if (loop > 0 && maxBytes > 0 && existsSync(options.output) && statSync(options.output).size > maxBytes) {
        // Rotation by rename, as logrotate does it: nfwatch finishes the old file and follows the new one.
        closeSync(fd);
        renameSync(options.output, `${options.output}.1`);
        fd = openSync(options.output, 'a');
      }
      let i = 0;
      while (i < lines.length && !aborted()) {
        const due = replayTimeUsec(lines[i]!.usec, loop, timing);
        const waitMs = Math.floor(due / 1000 - now());
        if (waitMs > 0) {
          try {
            await sleep(waitMs, undefined, options.signal ? { signal: options.signal } : {});
          } catch {
            break; // aborted
          }
        }
        // Everything due by now goes out in one write, as ulogd's sync=1 writes would have.
        const nowUsec = now() * 1000;
        let chunk = '';
        while (i < lines.length) {
          const line = lines[i]!;
          const t = replayTimeUsec(line.usec, loop, timing);
          if (t > nowUsec && chunk !== '') break;
          chunk += `${retimeLine(line.text, t, localOffsetMinutes(t))}\n`;
          i++;
        }
        writeSync(fd, chunk);
        written += chunk.split('\n').length - 1;
        options.onWrite?.(written);
      }
    }
  } finally {
    closeSync(fd);
  }
  return { lines: written, loops: loop };
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

const USAGE = `Usage: node dist/demo/replay.js --capture FILE --output FILE [--speed N] [--once | --loops N]
                                [--gap SECONDS] [--max-mb N] [--truncate]

Appends the capture's lines to the output file at their recorded pace (divided by --speed), with
oob.time.* and timestamp rewritten to the time each line is written, looping until stopped.
`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      capture: { type: 'string' },
      output: { type: 'string' },
      speed: { type: 'string', default: '1' },
      once: { type: 'boolean', default: false },
      loops: { type: 'string' },
      gap: { type: 'string', default: '5' },
      'max-mb': { type: 'string', default: '64' },
      truncate: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.capture === undefined || values.output === undefined) throw new Error(`--capture and --output are required\n\n${USAGE}`);
  const num = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, not "${text}"`);
    return n;
  };
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());
  const loops = values.once ? 1 : values.loops !== undefined ? num('loops', values.loops, 1) : Infinity;
  const speed = num('speed', values.speed, 0.001);
  process.stderr.write(`replay: ${values.capture} → ${values.output} at ${speed}× (${loops === Infinity ? 'looping' : `${loops} loop(s)`})\n`);
  const r = await replay({
    capture: values.capture,
    output: values.output,
    speed,
    loops,
    gapSeconds: num('gap', values.gap, 0),
    maxBytes: num('max-mb', values['max-mb'], 0) * 1024 * 1024,
    truncate: values.truncate,
    signal: controller.signal,
  });
  process.stderr.write(`replay: wrote ${r.lines} lines in ${r.loops} loop(s)\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`replay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
