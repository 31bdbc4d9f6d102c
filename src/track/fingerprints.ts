// The SYN fingerprint histogram over the window: SYNs by fingerprint key, by TCP window and by
// initial TTL — the "graph tcp.window of SYNs" view that made the 16384 scanner stand out.
// Counts live in SLOTS per-slot counters per key, so they slide with event time; keys are bounded
// (beyond `max`, SYNs are counted as "other").
import { keyOfShape } from '../enrich/fingerprint.js';
import type { PacketEvent } from '../pipeline/types.js';
import { SLOTS } from './sources.js';

export class HistogramBucket {
  // A plain array of small integers, not a Uint32Array: a flood of random windows makes a bucket
  // per packet, and a typed array (with its backing store) costs several times more to allocate.
  readonly slots: number[] = new Array<number>(SLOTS).fill(0);
  total = 0;
  /** Last OS / tool seen with this key ('' none). */
  os = '';
  tool = '';
}

/**
 * No epoch yet: a small integer rather than −Infinity. A field that ever held a non-integer number
 * is a double in every object of its class, and `epoch % SLOTS` on a double is a call into C's
 * fmod: three of them a SYN, one for each histogram.
 */
const NO_EPOCH = -0x8000_0000;

export class WindowedHistogram<K> {
  /** The buckets in the order their keys came (what rows() gives for equal counts). */
  readonly buckets = new Map<K, HistogramBucket>();
  readonly other = new HistogramBucket();
  private epoch = NO_EPOCH;
  /**
   * For integer keys 0 … denseKeys − 1 (TCP windows, TTLs), the same buckets by key, so a SYN finds
   * its bucket with one array read: a flood's random windows made the Map's lookups a few per cent
   * of its CPU (by profile). null for other keys.
   */
  private readonly dense: Array<HistogramBucket | undefined> | null;

  constructor(
    private readonly max: number,
    denseKeys = 0,
  ) {
    this.dense = denseKeys > 0 ? new Array<HistogramBucket | undefined>(denseKeys).fill(undefined) : null;
  }

  /** Counts one at `epoch`; returns the bucket counted into. */
  add(key: K, epoch: number): HistogramBucket {
    if (epoch > this.epoch) this.advance(epoch);
    const index = this.denseIndex(key);
    let b = index >= 0 ? this.dense![index] : this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.max) b = this.other;
      else {
        this.buckets.set(key, (b = new HistogramBucket()));
        if (index >= 0) this.dense![index] = b;
      }
    }
    // A late event is counted into the newest slot.
    b.slots[this.epoch % SLOTS]!++;
    b.total++;
    return b;
  }

  /** Slides the window to `epoch`: clears the slots passed over and drops keys left at zero. */
  advance(epoch: number): void {
    if (epoch <= this.epoch) return;
    const steps = this.epoch === NO_EPOCH ? SLOTS : Math.min(epoch - this.epoch, SLOTS);
    const from = this.epoch === NO_EPOCH ? epoch - SLOTS : this.epoch;
    this.epoch = epoch;
    if (this.buckets.size === 0 && this.other.total === 0) return;
    for (const [key, b] of this.buckets) {
      if (clear(b, from, steps) !== 0) continue;
      this.buckets.delete(key);
      const index = this.denseIndex(key);
      if (index >= 0) this.dense![index] = undefined;
    }
    clear(this.other, from, steps);
  }

  /** The key's index in `dense`, −1 when it has none. */
  private denseIndex(key: K): number {
    const dense = this.dense;
    return dense !== null && typeof key === 'number' && key >= 0 && key < dense.length && Number.isInteger(key) ? key : -1;
  }

  /** Rows with a count in the window, largest first. */
  rows(): Array<{ key: K; count: number; os: string; tool: string }> {
    const out: Array<{ key: K; count: number; os: string; tool: string }> = [];
    for (const [key, b] of this.buckets) if (b.total > 0) out.push({ key, count: b.total, os: b.os, tool: b.tool });
    out.sort((a, b) => b.count - a.count);
    return out;
  }
}

function clear(b: HistogramBucket, from: number, steps: number): number {
  for (let i = 1; i <= steps; i++) {
    const slot = (from + i) % SLOTS;
    const v = b.slots[slot] ?? 0;
    if (v !== 0) {
      b.total -= v;
      b.slots[slot] = 0;
    }
  }
  return b.total;
}

export interface FingerprintRow {
  key: string;
  count: number;
  os: string;
  tool: string;
}

export interface FingerprintHistogram {
  windowSeconds: number;
  /** SYNs with a fingerprint in the window. */
  total: number;
  byKey: FingerprintRow[];
  /** SYNs beyond the key limit. */
  otherKeys: number;
  byWindow: Array<{ window: number; count: number }>;
  byInitialTtl: Array<{ initialTtl: number; count: number }>;
}

export class FingerprintStats {
  /** By shape code (the key is made for the rows asked for, not per SYN). */
  readonly byKey: WindowedHistogram<number>;
  readonly byWindow: WindowedHistogram<number>;
  readonly byTtl: WindowedHistogram<number>;

  constructor(maxKeys: number) {
    this.byKey = new WindowedHistogram<number>(maxKeys);
    this.byWindow = new WindowedHistogram<number>(Math.min(maxKeys, 65536), 65536);
    this.byTtl = new WindowedHistogram<number>(256, 256);
  }

  /** Counts one SYN that has a fingerprint. */
  observe(e: PacketEvent, epoch: number): void {
    const fp = e.fingerprint;
    if (fp === null) return;
    const b = this.byKey.add(fp.code, epoch);
    if (e.os !== '') b.os = e.os;
    if (e.tool !== '') b.tool = e.tool;
    this.byWindow.add(fp.window, epoch);
    this.byTtl.add(fp.initialTtl, epoch);
  }

  advance(epoch: number): void {
    this.byKey.advance(epoch);
    this.byWindow.advance(epoch);
    this.byTtl.advance(epoch);
  }

  histogram(windowSeconds: number, limit: number): FingerprintHistogram {
    const keys = this.byKey.rows();
    let total = this.byKey.other.total;
    for (const r of keys) total += r.count;
    return {
      windowSeconds,
      total,
      byKey: keys.slice(0, limit).map((r) => ({ key: keyOfShape(r.key), count: r.count, os: r.os, tool: r.tool })),
      otherKeys: this.byKey.other.total + keys.slice(limit).reduce((n, r) => n + r.count, 0),
      byWindow: this.byWindow.rows().slice(0, limit).map((r) => ({ window: r.key, count: r.count })),
      byInitialTtl: this.byTtl.rows().map((r) => ({ initialTtl: r.key, count: r.count })),
    };
  }
}
