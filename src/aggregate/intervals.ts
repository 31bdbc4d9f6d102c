// Event-time interval aggregation with replay-safe checkpoints.
//
// Why it is built this way: carbon (and InfluxDB) keep the last value written for a series and
// timestamp. If every interval is written with counts that are complete for that interval, a
// replay after a crash rewrites the same values and nothing is double-counted. So:
//  - events are bucketed by their own time (ulogd's), not by arrival;
//  - an interval is closed only when every source's watermark has passed its end;
//  - for each open interval we remember the earliest read position of each source that fed it;
//    the checkpoint resumes there, so a replay rebuilds every undelivered interval whole;
//  - an event older than what was already closed ("late") is counted into the oldest open
//    interval instead of reopening a closed one; on replay the same rule puts it in the same place,
//    and lines that were already counted into closed intervals are recognised by `skipBelow`.
import { NONE, type Checkpoint, type CounterEvent, type IntervalAggregate, type PacketEvent, type Verdict } from '../pipeline/types.js';
import { emptyAggregate } from './empty.js';
import { keyOfShape } from '../enrich/fingerprint.js';
import { foldCountsThroughBudget, foldIndexedCountsThroughBudget, foldThroughBudget, OTHER_VALUE, OTHER_WINDOW, SeriesBudgets } from './budget.js';
import { IntTally } from './int-tally.js';
import { Tally } from './tally.js';

export interface AggregatorOptions {
  intervalMs: number;
  graceMs: number;
  latenessMs: number;
  maxPrefixes: number;
  maxOpenIntervals: number;
  /** Distinct NFACCT counter names written over the aggregator's life; later new names → OTHER_COUNTER. */
  maxCounterNames: number;
  /**
   * Distinct names written over the aggregator's life per family (destination ports of each
   * verdict, log prefixes, SYN windows, fingerprints, countries, tools); later new names are
   * summed into the family's `other`. Default DEFAULT_MAX_SERIES.
   */
  maxSeries?: number;
}

/** aggregate.max_series' default. */
export const DEFAULT_MAX_SERIES = 100;
export { OTHER_VALUE, OTHER_WINDOW } from './budget.js';

export interface AggregatorSource {
  name: string;
  replayable: boolean;
  nfacct: 'deltas' | 'totals';
}

interface SourceState {
  readonly name: string;
  readonly replayable: boolean;
  readonly totals: boolean;
  atEnd: boolean;
  maxEventTime: number;
  /** Position after the last line handed to the aggregator. */
  readPos: number;
  /** Restored from a checkpoint: lines starting below this, older than skipTime, were delivered. */
  skipBelow: number;
  skipTime: number;
  skipExceptions: Set<number>;
  /** The restored checkpoint: still the right one to commit until the replay passes skipBelow. */
  restored: Checkpoint | undefined;
  /** Running-total mode: last totals per counter name. */
  lastTotals: Map<string, [number, number]>;
}

const VERDICTS = ['allowed', 'blocked', 'unknown'] as const;

interface VerdictTallies {
  protocols: IntTally;
  ports: IntTally;
}

/** An open interval's counts by key, family by family as in IntervalAggregate. */
interface Tallies {
  verdicts: Record<Verdict, VerdictTallies>;
  prefixes: Tally<string>;
  sources: Tally<string>;
  synInitialTtls: IntTally;
  synOs: Tally<string>;
  tools: Tally<string>;
  countries: Tally<string>;
  lists: Tally<string>;
}

function newTallies(): Tallies {
  const verdict = (): VerdictTallies => ({ protocols: new IntTally(), ports: new IntTally() });
  return {
    verdicts: { allowed: verdict(), blocked: verdict(), unknown: verdict() },
    prefixes: new Tally(),
    sources: new Tally(),
    synInitialTtls: new IntTally(),
    synOs: new Tally(),
    tools: new Tally(),
    countries: new Tally(),
    lists: new Tally(),
  };
}

/** Adds an open interval's tallies but its ports to its aggregate (when it closes). */
function addTallies(t: Tallies, a: IntervalAggregate): void {
  for (const verdict of VERDICTS) {
    // Ports go to their Map through the budget (applyBudgets).
    t.verdicts[verdict].protocols.addTo(a.verdicts[verdict].protocols);
  }
  t.prefixes.addTo(a.prefixes);
  t.sources.addTo(a.sources);
  t.synInitialTtls.addTo(a.synInitialTtls);
  t.synOs.addTo(a.synOs);
  t.tools.addTo(a.tools);
  t.countries.addTo(a.countries);
  t.lists.addTo(a.lists);
}

/** [pkts, bytes] before the first record of a counter in an interval; null: no baseline yet. */
type Baseline = [number, number] | null;

interface OpenInterval {
  aggregate: IntervalAggregate;
  /**
   * While the interval is open, the aggregate's per-key families are counted here (Tally: one
   * lookup an event) and added to its Maps when it closes.
   */
  tallies: Tallies;
  /**
   * SYNs by fingerprint shape code while the interval is open, made aggregate.fingerprints (by
   * key) when it closes: a flood of random windows is counted without a key string per SYN.
   */
  fingerprintCodes: IntTally;
  /**
   * SYNs by window while the interval is open, made aggregate.synWindows when it closes: a flood
   * of random windows is counted in an array instead of a Map of up to 65,536 entries. Made at
   * the interval's first SYN.
   */
  synWindows: Uint32Array | null;
  /** Earliest start position per source (Infinity: none). */
  minPos: number[];
  /** Per source, running-total baselines as of this interval's first record of each counter. */
  baselines: Map<string, Baseline>[];
  /** Per source, start positions of late lines counted here (see Checkpoint.late). */
  late: number[][];
}

/**
 * Running totals tracked per source: nfacct objects are few, but a stream of garbage names must
 * not grow memory. (The names written are bounded by options.maxCounterNames, over time: beyond
 * it, deltas are summed under OTHER_COUNTER so totals stay exact and series stay bounded.)
 */
export const MAX_COUNTER_NAMES = 10_000;
export const OTHER_COUNTER = '_other';

/** TCP windows: 0 to 65,535. */
const WINDOWS = 0x10000;
/** Window count arrays kept for the next intervals (more than two are seldom open at once). */
const SPARE_WINDOW_COUNTS = 2;

/** Distinct SYN fingerprint keys counted per interval; more are summed as "other". */
const MAX_FINGERPRINTS = 1000;

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * A record's member for a verdict, by comparison: `record[verdict]` with a verdict that changes
 * from packet to packet is a megamorphic keyed load (a hash lookup in V8's stub cache).
 */
function verdictOf<T>(record: Record<Verdict, T>, verdict: Verdict): T {
  return verdict === 'allowed' ? record.allowed : verdict === 'blocked' ? record.blocked : record.unknown;
}

/** Late lines remembered per checkpoint at most; beyond it a replay may count a few twice. */
const MAX_LATE_POSITIONS = 100_000;

export interface AggregatorStats {
  events: number;
  lateEvents: number;
  futureEvents: number;
  replaySkipped: number;
  /** Late lines beyond MAX_LATE_POSITIONS: a crash before their interval is delivered may lose them. */
  lateUntracked: number;
  /** Running-total counters beyond MAX_COUNTER_NAMES distinct names, not counted. */
  countersIgnored: number;
  /** Counter records whose name came after the maxCounterNames budget was spent (summed as _other). */
  countersFolded: number;
  /** Names admitted to their own series over all families (counter names included). */
  seriesAdmitted: number;
  /** Events (and counter records) folded into a family's `other` by the series budget. */
  seriesFolded: number;
  counterResets: number;
  openIntervals: number;
  closedIntervals: number;
}

export class IntervalAggregator {
  private readonly open = new Map<number, OpenInterval>();
  /**
   * The interval the last event went to, and its start (−1: none): events come in time order, so
   * most go where the one before went, and a Map looked up by a time in ms hashes a heap number.
   */
  private lastOpen: OpenInterval | undefined = undefined;
  private lastStart = -1;
  /** Starts of open intervals, ascending. */
  private starts: number[] = [];
  private readonly sources: SourceState[];
  /** Event time up to which intervals were closed. */
  private closedUntil = 0;
  private latePositions = 0;
  private readonly spareWindowCounts: Uint32Array[] = [];
  readonly stats: AggregatorStats = {
    events: 0,
    lateEvents: 0,
    futureEvents: 0,
    replaySkipped: 0,
    counterResets: 0,
    openIntervals: 0,
    closedIntervals: 0,
    lateUntracked: 0,
    countersIgnored: 0,
    countersFolded: 0,
    seriesAdmitted: 0,
    seriesFolded: 0,
  };
  /** Lifetime name budgets, one per family; counter names use options.maxCounterNames. */
  readonly budgets: SeriesBudgets;

  constructor(
    private readonly options: AggregatorOptions,
    sources: readonly AggregatorSource[],
    private readonly emit: (aggregate: IntervalAggregate) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.budgets = new SeriesBudgets(options.maxSeries ?? DEFAULT_MAX_SERIES, { counter: options.maxCounterNames });
    this.sources = sources.map((s) => ({
      name: s.name,
      replayable: s.replayable,
      totals: s.nfacct === 'totals',
      atEnd: !s.replayable,
      maxEventTime: -Infinity,
      readPos: NONE,
      skipBelow: NONE,
      skipTime: -Infinity,
      skipExceptions: new Set(),
      restored: undefined,
      lastTotals: new Map(),
    }));
  }

  /** Restores what a source's committed checkpoint says (before any of its lines arrive). */
  restore(source: number, checkpoint: Checkpoint): void {
    const s = this.sources[source]!;
    s.skipBelow = checkpoint.skipBelow;
    s.skipTime = checkpoint.flushedUntil;
    s.skipExceptions = new Set(checkpoint.late);
    s.restored = checkpoint;
    s.readPos = checkpoint.resumeAt;
    s.lastTotals = new Map(Object.entries(checkpoint.counters).map(([k, v]) => [k, [v[0], v[1]]]));
    if (checkpoint.flushedUntil > this.closedUntil) this.closedUntil = checkpoint.flushedUntil;
  }

  /** A line that produced no event still moves the read position. */
  advance(source: number, end: number): void {
    this.sources[source]!.readPos = end;
  }

  caughtUp(source: number, atEnd: boolean): void {
    this.sources[source]!.atEnd = atEnd;
  }

  addPacket(event: PacketEvent, start: number, end: number): void {
    const open = this.intervalFor(event.source, event.time, start, end);
    if (open === undefined) return;
    const a = open.aggregate;
    const t = open.tallies;
    const verdict = event.verdict;
    verdictOf(a.verdicts, verdict).count++;
    const v = verdictOf(t.verdicts, verdict);
    v.protocols.add(event.protocol);
    if (event.dstPort !== NONE) v.ports.add(event.dstPort);
    if (t.prefixes.size < this.options.maxPrefixes || t.prefixes.has(event.prefix)) t.prefixes.add(event.prefix);
    else a.otherPrefixes++;
    t.sources.add(this.sources[event.source]!.name);
    const fp = event.fingerprint;
    if (fp !== null) {
      a.syns++;
      const window = fp.window;
      if (window >= 0 && window < WINDOWS) (open.synWindows ??= this.windowCounts())[window]!++;
      else increment(a.synWindows, window);
      t.synInitialTtls.add(fp.initialTtl);
      t.synOs.add(event.os);
      const codes = open.fingerprintCodes;
      if (codes.size < MAX_FINGERPRINTS || codes.has(fp.code)) codes.add(fp.code);
      else a.otherFingerprints++;
    }
    if (event.tool !== '') t.tools.add(event.tool);
    if (event.geo !== null) t.countries.add(event.geo.country);
    const listed = event.listed;
    for (let i = 0; i < listed.length; i++) t.lists.add(listed[i]!);
  }

  addCounter(event: CounterEvent, start: number, end: number): void {
    const open = this.intervalFor(event.source, event.time, start, end);
    if (open === undefined) return;
    const s = this.sources[event.source]!;
    let pkts = event.pkts;
    let bytes = event.bytes;
    let name = event.name;
    if (s.totals && !s.lastTotals.has(name) && s.lastTotals.size >= MAX_COUNTER_NAMES) {
      // No room to remember another running total: it cannot become a delta.
      this.stats.countersIgnored++;
      return;
    }
    if (s.totals) {
      const previous = s.lastTotals.get(event.name);
      const baselines = open.baselines[event.source]!;
      if (!baselines.has(event.name)) baselines.set(event.name, previous ? [previous[0], previous[1]] : null);
      s.lastTotals.set(event.name, [event.pkts, event.bytes]);
      if (previous === undefined) {
        // First sight of a running total: it only sets the baseline (its history is not ours).
        pkts = 0;
        bytes = 0;
      } else if (event.pkts < previous[0] || event.bytes < previous[1]) {
        // The counter went backwards: it was reset (nfacct flush, reboot); count from zero.
        this.stats.counterResets++;
      } else {
        pkts -= previous[0];
        bytes -= previous[1];
      }
    }
    // A budget over the daemon's life, not per interval: 10,000 new garbage names every interval
    // would otherwise become 10,000 new series every interval.
    const budget = this.budgets.get('counter');
    if (!budget.admit(name)) {
      name = OTHER_COUNTER;
      this.stats.countersFolded++;
      budget.folded++;
      this.stats.seriesFolded = this.budgets.folded;
    }
    this.stats.seriesAdmitted = this.budgets.admitted;
    const counters = open.aggregate.counters;
    const totals = counters.get(name);
    if (totals) {
      totals.pkts += pkts;
      totals.bytes += bytes;
    } else {
      counters.set(name, { pkts, bytes });
    }
  }

  /** Finds or opens the interval for an event; undefined when the line was delivered before. */
  private intervalFor(source: number, time: number, start: number, end: number): OpenInterval | undefined {
    const s = this.sources[source]!;
    s.readPos = end;
    if (start !== NONE && start < s.skipBelow && time < s.skipTime && !s.skipExceptions.has(start)) {
      this.stats.replaySkipped++;
      return undefined;
    }
    this.stats.events++;
    if (time > s.maxEventTime) s.maxEventTime = time;
    let t = time;
    const late = t < this.closedUntil;
    if (late) {
      this.stats.lateEvents++;
      t = this.closedUntil;
    }
    const length = this.options.intervalMs;
    let bucket = Math.floor(t / length) * length;
    let open = bucket === this.lastStart ? this.lastOpen : this.open.get(bucket);
    if (open === undefined) {
      this.closeDue();
      if (this.starts.length >= this.options.maxOpenIntervals && bucket > this.starts[this.starts.length - 1]!) {
        // Far-future timestamps (a bad clock) must not open intervals without bound.
        this.stats.futureEvents++;
        bucket = this.starts[this.starts.length - 1]!;
        open = this.open.get(bucket)!;
      } else {
        if (bucket < this.closedUntil) bucket = this.closedUntil; // closeDue may have moved it
        open = this.open.get(bucket) ?? this.openInterval(bucket);
      }
    }
    if (bucket !== this.lastStart) {
      this.lastStart = bucket;
      this.lastOpen = open;
    }
    if (start !== NONE) {
      if (start < open.minPos[source]!) open.minPos[source] = start;
      if (late && s.replayable) {
        if (this.latePositions < MAX_LATE_POSITIONS) {
          open.late[source]!.push(start);
          this.latePositions++;
        } else this.stats.lateUntracked++;
      }
    }
    return open;
  }

  /** A zeroed array for an interval's SYN windows. */
  private windowCounts(): Uint32Array {
    return this.spareWindowCounts.pop() ?? new Uint32Array(WINDOWS);
  }

  private openInterval(start: number): OpenInterval {
    const open: OpenInterval = {
      aggregate: emptyAggregate(start, this.options.intervalMs),
      tallies: newTallies(),
      fingerprintCodes: new IntTally(),
      synWindows: null,
      minPos: this.sources.map(() => Infinity),
      baselines: this.sources.map(() => new Map()),
      late: this.sources.map(() => []),
    };
    this.open.set(start, open);
    // Usually appended at the end; keep ascending order for the rare late/out-of-order start.
    let i = this.starts.length;
    while (i > 0 && this.starts[i - 1]! > start) i--;
    this.starts.splice(i, 0, start);
    this.stats.openIntervals = this.starts.length;
    return open;
  }

  /** Event time that every source has passed: intervals ending at or before it are complete. */
  watermark(now: number = this.clock()): number {
    let mark = Infinity;
    for (const s of this.sources) {
      const byEvents = s.maxEventTime - this.options.latenessMs;
      const sourceMark = s.atEnd ? Math.max(now - this.options.graceMs, byEvents) : byEvents;
      if (sourceMark < mark) mark = sourceMark;
    }
    return mark === Infinity ? now - this.options.graceMs : mark;
  }

  /** Closes every interval the watermark has passed; returns how many were closed. */
  closeDue(now: number = this.clock()): number {
    const mark = this.watermark(now);
    const length = this.options.intervalMs;
    let closed = 0;
    while (this.starts.length > 0 && this.starts[0]! + length <= mark) {
      this.closeOldest();
      closed++;
    }
    // With no open interval, what the watermark passed is closed too: late events go forward.
    const aligned = Math.floor(mark / length) * length;
    if (this.starts.length === 0 && Number.isFinite(aligned) && aligned > this.closedUntil) this.closedUntil = aligned;
    return closed;
  }

  /** Closes everything (shutdown). */
  closeAll(): number {
    let closed = 0;
    while (this.starts.length > 0) {
      this.closeOldest();
      closed++;
    }
    return closed;
  }

  private closeOldest(): void {
    const start = this.starts.shift()!;
    const open = this.open.get(start)!;
    this.open.delete(start);
    if (start === this.lastStart) {
      this.lastStart = -1;
      this.lastOpen = undefined;
    }
    this.closedUntil = Math.max(this.closedUntil, start + this.options.intervalMs);
    for (const positions of open.late) this.latePositions -= positions.length;
    this.stats.openIntervals = this.starts.length;
    this.stats.closedIntervals++;
    addTallies(open.tallies, open.aggregate);
    open.fingerprintCodes.addMappedTo(open.aggregate.fingerprints, keyOfShape);
    this.applyBudgets(open);
    const windows = open.synWindows;
    if (windows !== null && this.spareWindowCounts.length < SPARE_WINDOW_COUNTS) this.spareWindowCounts.push(windows.fill(0));
    this.emit(open.aggregate);
  }

  /**
   * Folds the names the lifetime budgets do not admit into each family's `other`, busiest first.
   * Done when an interval closes (not per event) so that the interval's busiest names are offered
   * first; the same closed interval always yields the same names after a replay only if the
   * budgets are in the same state, which holds for a fresh budget replaying the same intervals.
   */
  private applyBudgets(open: OpenInterval): void {
    const a = open.aggregate;
    const b = this.budgets;
    for (const verdict of ['allowed', 'blocked', 'unknown'] as const) {
      const v = a.verdicts[verdict];
      v.otherPorts += foldCountsThroughBudget(open.tallies.verdicts[verdict].ports, v.ports, b.get(`dport.${verdict}`));
    }
    a.otherPrefixes += foldThroughBudget(a.prefixes, b.get('prefix'));
    a.otherFingerprints += foldThroughBudget(a.fingerprints, b.get('fingerprint'));
    // The Map holds only windows outside 0–65,535 (NONE: a SYN without one), which no budget folds;
    // the array holds the rest, added to the Map through the budget.
    const windows = a.synWindows.get(OTHER_WINDOW) ?? 0;
    a.synWindows.delete(OTHER_WINDOW);
    let foldedWindows = windows + foldThroughBudget(a.synWindows, b.get('window'));
    if (open.synWindows !== null) foldedWindows += foldIndexedCountsThroughBudget(open.synWindows, a.synWindows, b.get('window'));
    if (foldedWindows > 0) a.synWindows.set(OTHER_WINDOW, foldedWindows);
    for (const [family, map] of [['country', a.countries], ['tool', a.tools]] as const) {
      const before = map.get(OTHER_VALUE) ?? 0;
      map.delete(OTHER_VALUE);
      const folded = before + foldThroughBudget(map, b.get(family));
      if (folded > 0) map.set(OTHER_VALUE, folded);
    }
    this.stats.seriesAdmitted = b.admitted;
    this.stats.seriesFolded = b.folded;
  }

  /** Event time up to which intervals are closed (the next checkpoint's flushedUntil). */
  get flushedUntil(): number {
    return this.closedUntil;
  }

  /** What a replayable source must persist now so that a restart rebuilds every open interval. */
  checkpoint(source: number): Checkpoint {
    const s = this.sources[source]!;
    // Until the replay has passed the restored skip zone, the restored checkpoint stays valid
    // (a second crash replays the same lines again) and a new one could not describe both zones.
    if (s.restored !== undefined) {
      if (s.readPos < s.skipBelow) return s.restored;
      s.restored = undefined;
      s.skipExceptions = new Set();
    }
    let resumeAt = Infinity;
    const late: number[] = [];
    for (const start of this.starts) {
      const open = this.open.get(start)!;
      const pos = open.minPos[source]!;
      if (pos < resumeAt) resumeAt = pos;
      for (const p of open.late[source]!) late.push(p);
    }
    if (resumeAt === Infinity) resumeAt = s.readPos;
    const counters: Record<string, [number, number]> = {};
    if (s.totals) {
      for (const [name, last] of s.lastTotals) {
        let baseline: Baseline | undefined;
        for (const start of this.starts) {
          const b = this.open.get(start)!.baselines[source]!;
          if (b.has(name)) {
            baseline = b.get(name)!;
            break;
          }
        }
        if (baseline === undefined) counters[name] = [last[0], last[1]];
        else if (baseline !== null) counters[name] = [baseline[0], baseline[1]];
      }
    }
    return { resumeAt, skipBelow: s.readPos, flushedUntil: this.closedUntil, counters, late };
  }
}
