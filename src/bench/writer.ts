// The live-mode writer of `npm run bench -- --live RATE`, a child process of its own so writing
// lines never competes with the bench's polling loop:
//   node dist/bench/writer.js FILE RATE SECONDS SEED     (started with an IPC channel)
// First, before anything is measured, it pre-generates every line of the run in memory: spoofed-
// SYN-flood lines (corpus.ts FloodTraffic) at exactly RATE packet lines per second of event time
// for SECONDS seconds, plus ulogd's NFACCT poll lines once a second, with event times laid out from
// a start time T0 a little in the future (the daemon accepts events up to 300 s ahead of its
// clock). It reports the truth and T0 ('ready'), waits for T0, and then only copies pre-made bytes:
// every BATCH_MS the lines whose event time has come, with one write(2) per batch. No line is
// generated while the bench measures. Reports progress after every batch and the totals at the end.
import { closeSync, openSync, writeSync, writevSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Flood6Traffic, FloodTraffic, NfacctPoller, Rng, TruthCounter, UlogdClock, corpusSeed, packetLine, type CorpusTruth } from './corpus.js';

export type WriterMessage =
  | {
      type: 'ready';
      /** Epoch ms at which writing starts; event times are laid out from it. */
      t0Ms: number;
      /** What the pre-generated lines contain: every one of them is written by the end. */
      truth: CorpusTruth;
      /** schedule[s]: lines due (event time reached) s seconds after T0, for s = 0..SECONDS. */
      schedule: number[];
      /** How long the pre-generation took (calibration included). */
      pregenSeconds: number;
    }
  | { type: 'progress'; written: number }
  | {
      type: 'done';
      written: number;
      /** From T0 until the last batch had been written. */
      spanSeconds: number;
      /** How late after T0 the writing started (pre-generation took longer than estimated); 0 normally. */
      lateStartMs: number;
    };

const BATCH_MS = 10;
/** Pre-made bytes live in chunks this large; a line never spans two chunks. */
const CHUNK_BYTES = 64 * 2 ** 20;
/** T0 = now + the pre-generation time estimated from a calibration run × SAFETY + LEAD_MS. */
const SAFETY = 1.3;
const LEAD_MS = 2000;
const CALIBRATION_PACKETS = 20_000;

function send(message: WriterMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, undefined, undefined, () => resolve());
    else resolve();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Append-only bytes in memory; offsets are global: chunk c holds [c × CHUNK_BYTES, c × CHUNK_BYTES + used[c]). */
class ByteStore {
  private readonly chunks: Buffer[] = [];
  private readonly used: number[] = [];
  private pos = CHUNK_BYTES;

  /** Appends `text` (ASCII) and a newline; returns the global offset just after them. */
  add(text: string): number {
    const len = text.length + 1;
    if (this.pos + len > CHUNK_BYTES) {
      if (len > CHUNK_BYTES) throw new Error(`a line of ${len} bytes`);
      this.chunks.push(Buffer.allocUnsafeSlow(CHUNK_BYTES));
      this.used.push(0);
      this.pos = 0;
    }
    const c = this.chunks.length - 1;
    const buf = this.chunks[c]!;
    buf.write(text, this.pos, 'latin1');
    buf[this.pos + len - 1] = 10;
    this.pos += len;
    this.used[c] = this.pos;
    return c * CHUNK_BYTES + this.pos;
  }

  /** The bytes in [from, to) as views of the chunks (one normally, two where a chunk ends). */
  pieces(from: number, to: number): Buffer[] {
    const out: Buffer[] = [];
    for (let c = Math.floor(from / CHUNK_BYTES); c <= Math.floor((to - 1) / CHUNK_BYTES); c++) {
      const base = c * CHUNK_BYTES;
      const lo = Math.max(from, base) - base;
      const hi = Math.min(to, base + this.used[c]!) - base;
      if (hi > lo) out.push(this.chunks[c]!.subarray(lo, hi));
    }
    return out;
  }
}

interface Premade {
  store: ByteStore;
  lines: number;
  /** ends[i]: global offset just after line i. */
  ends: Float64Array;
  /** due[i]: event time of line i in µs after T0 (non-decreasing). */
  due: Float64Array;
  truth: CorpusTruth;
}

/** The floods the writer can write: IPv4 sources, or IPv6 ones (each a new /64). */
export type LiveFlood = 'flood' | 'flood6';

/** `packets` flood lines at `rate` per second of event time from `t0Usec`, with NFACCT polls between them. */
function premake(kind: LiveFlood, rate: number, packets: number, seed: number, t0Usec: number): Premade {
  const rng = new Rng(corpusSeed(seed, 'live'));
  const traffic = kind === 'flood6' ? new Flood6Traffic(rng) : new FloodTraffic(rng);
  const poller = new NfacctPoller(rng);
  const clock = new UlogdClock();
  const counter = new TruthCounter('live flood', seed);
  const store = new ByteStore();
  // One NFACCT poll (4 lines) per second of event time, and one more for the partial second.
  const capacity = packets + 4 * (Math.ceil(packets / rate) + 2);
  const ends = new Float64Array(capacity);
  const due = new Float64Array(capacity);
  let n = 0;
  const add = (text: string, timeUsec: number) => {
    ends[n] = store.add(text);
    due[n] = timeUsec - t0Usec;
    n++;
  };
  for (let i = 1; i <= packets; i++) {
    const t = t0Usec + Math.round((i * 1e6) / rate);
    const poll = poller.due(t);
    if (poll !== null) {
      poller.poll(poll, clock, (text, name, pkts, bytes) => {
        counter.nfacct(text, name, pkts, bytes, poll);
        add(text, poll);
      });
    }
    const { spec, source } = traffic.next(t);
    const text = packetLine(spec, rng, clock);
    counter.packet(text, spec, source);
    add(text, t);
  }
  return { store, lines: n, ends: ends.subarray(0, n), due: due.subarray(0, n), truth: counter.truth };
}

/** The first index >= `lo` whose event time is after `usec` (due is non-decreasing). */
function upperBound(due: Float64Array, usec: number, lo = 0): number {
  let hi = due.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (due[mid]! <= usec) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One write(2) (writev(2) across a chunk boundary); more only if the kernel writes partially. */
function writeAll(fd: number, pieces: Buffer[]): void {
  let list = pieces;
  while (list.length > 0) {
    let n = list.length === 1 ? writeSync(fd, list[0]!) : writevSync(fd, list);
    while (n > 0 && list.length > 0) {
      const head = list[0]!;
      if (n >= head.length) {
        n -= head.length;
        list = list.slice(1);
      } else {
        list = [head.subarray(n), ...list.slice(1)];
        n = 0;
      }
    }
  }
}

async function main(file: string, rate: number, seconds: number, seed: number, kind: LiveFlood): Promise<void> {
  const packets = Math.round(rate * seconds);
  // Pre-generation, timed on a throwaway sample first (which also warms up the generator), so T0
  // can be set to when it will be done.
  const pregenStart = performance.now();
  const sample = Math.min(packets, CALIBRATION_PACKETS);
  premake(kind, rate, sample, seed + 1, Date.now() * 1000);
  const perPacketMs = (performance.now() - pregenStart) / sample;
  const t0Ms = Math.ceil(Date.now() + packets * perPacketMs * SAFETY + LEAD_MS);
  const made = premake(kind, rate, packets, seed, t0Ms * 1000);
  const pregenSeconds = (performance.now() - pregenStart) / 1000;
  const schedule: number[] = [];
  for (let s = 0; s <= seconds; s++) schedule.push(upperBound(made.due, s * 1e6));
  globalThis.gc?.(); // the generator's garbage, now rather than during the measurement
  await send({ type: 'ready', t0Ms, truth: made.truth, schedule, pregenSeconds });

  const { store, ends, due, lines } = made;
  const fd = openSync(file, 'a');
  for (let left = t0Ms - Date.now(); left > 0; left = t0Ms - Date.now()) await sleep(Math.min(left, 500));
  const lateStartMs = Math.max(0, Date.now() - t0Ms);
  /** performance.now() at T0. */
  const start = performance.now() - lateStartMs;
  let written = 0;
  let tick = 0;
  for (;;) {
    const elapsedMs = performance.now() - start;
    const end = upperBound(due, elapsedMs * 1000, written);
    if (end > written) {
      writeAll(fd, store.pieces(written === 0 ? 0 : ends[written - 1]!, ends[end - 1]!));
      written = end;
      process.send?.({ type: 'progress', written } satisfies WriterMessage);
    }
    if (written >= lines) break;
    tick = Math.max(tick + 1, Math.floor(elapsedMs / BATCH_MS) + 1);
    await sleep(start + tick * BATCH_MS - performance.now());
  }
  const spanSeconds = (performance.now() - start) / 1000;
  closeSync(fd);
  await send({ type: 'done', written, spanSeconds, lateStartMs });
  process.disconnect?.();
}

const [file, rate, seconds, seed, kind = 'flood'] = process.argv.slice(2);
if (file === undefined || !(Number(rate) > 0) || !(Number(seconds) > 0) || seed === undefined || (kind !== 'flood' && kind !== 'flood6')) {
  process.stderr.write('usage: node dist/bench/writer.js FILE RATE SECONDS SEED [flood|flood6]\n');
  process.exit(2);
}
await main(file, Number(rate), Number(seconds), Number(seed), kind);
