// Series budgets: how many metric series nfwatch lets exist, over time, and how fast it asks
// carbon to create new ones. Pure (no I/O, the clock is an argument), shared by the aggregator
// (which names) and the Graphite sink (which paces creations).
//
// Two limits, one rule — a value whose own series is not allowed goes to its family's `other`
// series, so sums stay exact:
//  - NameBudget: a lifetime budget per family (destination ports of a verdict, SYN windows,
//    fingerprints, countries, log prefixes, tools, NFACCT counter names). The first `limit`
//    distinct names admitted keep their own series for ever; later new names are folded. Within
//    an interval names are offered busiest first, so busy ports and common values are admitted
//    before a scan's one-packet ports, and an admitted name never loses its series (stable names).
//  - CreateLimiter: a token bucket like carbon's own MAX_CREATES_PER_MINUTE bucket (carbon:
//    capacity = rate = 50 a minute), but refilled at perMinute (below carbon's rate) with a burst
//    of 3/4 of it. Carbon refills at least as fast as we do, so our creations never take carbon's
//    bucket lower than 50 - 30 = 20 (default 40; plus core series created over the limit): room
//    for carbon's own ~20 carbon.agents.* series, which go through the same bucket. A new series
//    that does not fit now is folded into its family's `other` (or, for a gauge, written later)
//    and created in a later minute. Secondary gauges ('spare') only use the top third of the
//    burst, so health figures never take the place of an interval's counts.

/** Key under which folded SYN windows are counted in IntervalAggregate.synWindows (not a real window). */
export const OTHER_WINDOW = 65536;
/** Key under which folded countries and tools are counted in IntervalAggregate.countries / tools. */
export const OTHER_VALUE = 'other';

/** Lifetime admission of distinct names for one family. */
export class NameBudget {
  private readonly names = new Set<string>();
  /** The admitted names that are numbers written as String() writes them, as numbers (ports, windows). */
  private readonly numbers = new Set<number>();
  /** Values (event counts or records) folded into `other` because their name was not admitted. */
  folded = 0;

  constructor(readonly limit: number) {}

  /** Names admitted so far. */
  get size(): number {
    return this.names.size;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** has(String(key)), without making the string for a number. */
  hasKey(key: number | string): boolean {
    return typeof key === 'number' ? this.numbers.has(key) : this.names.has(key);
  }

  /** No new name can be admitted. */
  get full(): boolean {
    return this.names.size >= this.limit;
  }

  /** The admitted names, oldest first. */
  list(): string[] {
    return [...this.names];
  }

  /** True when `name` has, or now gets, its own series; false when it must be folded. */
  admit(name: string): boolean {
    if (this.names.has(name)) return true;
    if (this.names.size >= this.limit) return false;
    this.names.add(name);
    const number = Number(name);
    if (String(number) === name) this.numbers.add(number);
    return true;
  }
}

/**
 * Passes a per-interval count map through a budget: names are offered busiest first (ties: the
 * smaller key), the ones not admitted are removed from `counts` and their sum is returned (to be
 * added to the family's `other`). Keys that are negative numbers (NONE) are left alone.
 */
export function foldThroughBudget<K extends number | string>(counts: Map<K, number>, budget: NameBudget): number {
  if (budget.full) return foldThroughFullBudget(counts, budget);
  const entries: Array<[K, number]> = [];
  for (const [k, v] of counts) if (typeof k !== 'number' || k >= 0) entries.push([k, v]);
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let rest = 0;
  for (const [k, v] of entries) {
    if (budget.admit(String(k))) continue;
    counts.delete(k);
    rest += v;
    budget.folded += v;
  }
  return rest;
}

/** Integer keys counted but not yet in a Map (IntTally): in the order they first came, and their counts. */
export interface IntCounts {
  keysInOrder(): readonly number[];
  count(key: number): number;
}

/** Offers the entries' names to the budget busiest first (ties: the smaller key), as foldThroughBudget does. */
function admitBusiestFirst(entries: Array<[number, number]>, budget: NameBudget): void {
  entries.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  // admit() refuses only once the budget is full: no later name can be admitted either.
  for (const [k] of entries) if (!budget.admit(String(k))) break;
}

/**
 * foldThroughBudget() of the Map `counts.addTo()` would fill, without filling it: the admitted
 * keys are added to `into` (in the order they came), the others summed and returned. An interval
 * of a port scan counts ~10,000 destination ports (a flood ~65,000), nearly all of which a full
 * budget folds; set in a Map first, each was an entry made, looked at and deleted, and the Map's
 * growth fresh memory every interval.
 */
export function foldCountsThroughBudget(counts: IntCounts, into: Map<number, number>, budget: NameBudget): number {
  const keys = counts.keysInOrder();
  if (!budget.full) {
    const entries: Array<[number, number]> = [];
    for (const k of keys) if (k >= 0) entries.push([k, counts.count(k)]);
    admitBusiestFirst(entries, budget);
  }
  let rest = 0;
  for (const k of keys) {
    const v = counts.count(k);
    if (k < 0 || budget.hasKey(k)) into.set(k, (into.get(k) ?? 0) + v);
    else rest += v;
  }
  budget.folded += rest;
  return rest;
}

/**
 * The same for counts by index (an interval's SYN windows, 0–65,535): the admitted windows are
 * added to `into` in ascending order, the others summed and returned.
 */
export function foldIndexedCountsThroughBudget(counts: Uint32Array, into: Map<number, number>, budget: NameBudget): number {
  if (!budget.full) {
    const entries: Array<[number, number]> = [];
    for (let k = 0; k < counts.length; k++) if (counts[k] !== 0) entries.push([k, counts[k]!]);
    admitBusiestFirst(entries, budget);
  }
  let rest = 0;
  for (let k = 0; k < counts.length; k++) {
    const v = counts[k]!;
    if (v === 0) continue;
    if (budget.hasKey(k)) into.set(k, (into.get(k) ?? 0) + v);
    else rest += v;
  }
  budget.folded += rest;
  return rest;
}

/**
 * foldThroughBudget() once the budget is full: no name can be admitted whatever the order they are
 * offered in, so only the admitted ones are kept (in their order) and nothing is sorted. A flood
 * brings ~65,000 ports and windows an interval, each of which was sorted, made a string and
 * deleted on its own.
 */
function foldThroughFullBudget<K extends number | string>(counts: Map<K, number>, budget: NameBudget): number {
  let rest = 0;
  const kept: Array<[K, number]> = [];
  for (const [k, v] of counts) {
    if ((typeof k === 'number' && k < 0) || budget.hasKey(k)) kept.push([k, v]);
    else rest += v;
  }
  if (rest === 0 && kept.length === counts.size) return 0;
  counts.clear();
  for (const [k, v] of kept) counts.set(k, v);
  budget.folded += rest;
  return rest;
}

/** The families the aggregator names, each with its own lifetime budget. */
export const SERIES_FAMILIES = ['dport.allowed', 'dport.blocked', 'dport.unknown', 'prefix', 'window', 'fingerprint', 'country', 'tool', 'counter'] as const;
export type SeriesFamily = (typeof SERIES_FAMILIES)[number];

/** One NameBudget per family. */
export class SeriesBudgets {
  private readonly families = new Map<SeriesFamily, NameBudget>();

  constructor(
    private readonly perFamily: number,
    overrides: Partial<Record<SeriesFamily, number>> = {},
  ) {
    for (const [family, limit] of Object.entries(overrides)) this.families.set(family as SeriesFamily, new NameBudget(limit));
  }

  get(family: SeriesFamily): NameBudget {
    let b = this.families.get(family);
    if (b === undefined) {
      b = new NameBudget(this.perFamily);
      this.families.set(family, b);
    }
    return b;
  }

  /** Names admitted over all families. */
  get admitted(): number {
    let n = 0;
    for (const b of this.families.values()) n += b.size;
    return n;
  }

  /** Values folded over all families. */
  get folded(): number {
    let n = 0;
    for (const b of this.families.values()) n += b.folded;
    return n;
  }

  /** The admitted names per family, in admission order (what a restart must keep). */
  snapshot(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [family, b] of this.families) if (b.size > 0) out[family] = b.list();
    return out;
  }

  /**
   * Admits names saved by snapshot() before any interval is named, so a restart keeps the series
   * the last run had instead of spending a new budget. Unknown families and non-string names are
   * ignored; a family keeps at most its (possibly lowered) limit. Returns the names admitted.
   */
  restore(saved: unknown): number {
    if (typeof saved !== 'object' || saved === null) return 0;
    let n = 0;
    for (const family of SERIES_FAMILIES) {
      const names = (saved as Record<string, unknown>)[family];
      if (!Array.isArray(names)) continue;
      const budget = this.get(family);
      for (const name of names) if (typeof name === 'string' && !budget.has(name) && budget.admit(name)) n++;
    }
    return n;
  }
}

/**
 * How a new series is treated when the creation budget is spent:
 *  - 'core': held back with its value and written later at its own timestamp, once the bucket has
 *    refilled (events.<verdict>.count, syn.count, protocol and input breakdowns, `other` series
 *    that something is folded into): never lost, never created faster than carbon allows;
 *  - 'fold': not created now, its value goes to the family's `other`;
 *  - 'defer': not written now (a gauge: the next snapshot writes it again);
 *  - 'spare': like 'defer', but created only while more than 2/3 of the burst is left (secondary
 *    health gauges: per-source, per-sink, per-reason figures).
 */
export type CreateKind = 'core' | 'fold' | 'defer' | 'spare';

/** A token bucket of series creations, mirroring carbon's MAX_CREATES_PER_MINUTE. */
export class CreateLimiter {
  private readonly known = new Set<string>();
  private tokens: number;
  private last: number | null = null;
  /** New series created (first written) so far. */
  created = 0;
  /** Creations refused: values folded into `other` ('fold') or gauges left for later ('defer'). */
  refused = 0;

  /** Largest burst: 3/4 of a minute's creations. */
  readonly burst: number;

  /** `perMinute` 0 disables the limit. */
  constructor(readonly perMinute: number) {
    this.burst = Math.max(1, Math.ceil((perMinute * 3) / 4));
    this.tokens = this.burst;
  }

  /** Series written before: no creation needed. */
  isKnown(path: string): boolean {
    return this.known.has(path);
  }

  /** Creation tokens available at `now` (epoch ms). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** How long from `now` until a creation token is available again (0: now). */
  msUntilToken(now: number): number {
    if (this.perMinute <= 0) return 0;
    const missing = 1 - this.available(now);
    return missing <= 0 ? 0 : Math.ceil((missing / this.perMinute) * 60_000);
  }

  /**
   * May `path` be written at `now`? Known series: always. New series: when a token is left (for
   * 'spare', more than 2/3 of the burst). Carbon drops the points of a series it cannot create, so
   * no kind may go over: a refused 'core' metric is held and offered again (planWrites).
   */
  allow(path: string, now: number, kind: CreateKind): boolean {
    if (this.perMinute <= 0 || this.known.has(path)) return true;
    this.refill(now);
    const floor = kind === 'spare' ? 1 + (this.burst * 2) / 3 : 1;
    if (this.tokens < floor) {
      if (kind !== 'core') this.refused++;
      return false;
    }
    this.tokens -= 1;
    this.known.add(path);
    this.created++;
    return true;
  }

  private refill(now: number): void {
    if (this.last !== null && now > this.last) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 60_000) * this.perMinute);
    if (this.last === null || now > this.last) this.last = now;
  }
}

/** One metric value as rendered, with what to do when its series is new and cannot be created. */
export interface PlannedMetric {
  path: string;
  value: number;
  kind: CreateKind;
  /** 'fold': the family's `other` path that takes the value instead. */
  other?: string;
  /** 'fold': offered before the other foldable metrics (NFACCT counters). */
  first?: boolean;
}

/**
 * Applies the creation budget to one batch: core metrics first, then foldable ones busiest first,
 * then gauges. Folded values are added to their `other` path, so the batch's totals are unchanged.
 * Returns path → value to write now, and the core metrics (and `other` sums) whose new series
 * cannot be created yet: the caller writes them later, at the batch's timestamp.
 */
export function planWrites(metrics: readonly PlannedMetric[], limiter: CreateLimiter, now: number): { write: Record<string, number>; held: PlannedMetric[] } {
  const write: Record<string, number> = {};
  const held = new Map<string, number>();
  const add = (into: Record<string, number> | Map<string, number>, path: string, value: number) => {
    if (into instanceof Map) into.set(path, (into.get(path) ?? 0) + value);
    else into[path] = (into[path] ?? 0) + value;
  };
  // A core path refused once in this batch stays refused (its value must not be split between now and later).
  const core = (path: string, value: number) => add(!held.has(path) && limiter.allow(path, now, 'core') ? write : held, path, value);
  const rank = (m: PlannedMetric) => (m.kind === 'core' ? 0 : m.kind === 'fold' ? (m.first ? 1 : 2) : m.kind === 'defer' ? 3 : 4);
  const ordered = metrics.slice().sort((a, b) => rank(a) - rank(b) || (a.kind === 'fold' ? b.value - a.value : 0));
  for (const m of ordered) {
    if (m.kind === 'core') core(m.path, m.value);
    else if (limiter.allow(m.path, now, m.kind)) add(write, m.path, m.value);
    else if (m.kind === 'fold' && m.other !== undefined) core(m.other, m.value);
  }
  return { write, held: [...held].map(([path, value]) => ({ path, value, kind: 'core' as const })) };
}
