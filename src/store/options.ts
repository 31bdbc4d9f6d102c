// The history store's settings, with their defaults. Plain data: the same object goes to the
// writer thread (workerData), so nothing here may be a function.

/** The history's file in general.state_dir when history.path is empty. */
export const HISTORY_FILE = 'history.sqlite';

export interface HistoryOptions {
  /** The SQLite file (its directory is created if missing). */
  path: string;
  /** IPv6 sources are kept as their network of this many bits (as the tracker groups them). */
  ipv6PrefixLength: number;
  /** How often pending sightings go to the writer, ms. */
  flushMs: number;
  /** Incidents (detections, alerts, blocks) go to the writer at least this often, ms, whatever flushMs: they are few, and worth more than sightings. */
  incidentFlushMs: number;
  /**
   * A question hands the pending sightings to the writer first unless they went less than this
   * long ago, ms: an answer counts what was recorded before it was asked (to within this), while
   * the timer hands sightings over only every flushMs.
   */
  questionFlushMs: number;
  /** Source-hours held in memory at most; reaching it hands them to the writer early. */
  maxPendingSources: number;
  /** Batches handed to the writer and not yet written at most; beyond it the pending batch waits (sightings.ts folds what does not fit). */
  maxQueuedBatches: number;
  /** Incidents waiting for the next flush at most; beyond it they are dropped (counted). */
  maxPendingIncidents: number;
  /** Sightings and incidents older than this many days are deleted. */
  retentionDays: number;
  /** The database file is kept under this many bytes by deleting the oldest hours. */
  maxBytes: number;
  /** How often retention runs, ms (also at start, and after a write that took the file over maxBytes). */
  retentionCheckMs: number;
  /** Distinct destination ports kept per source-hour (and per search row). */
  maxPortsPerRow: number;
  /** Distinct destination hosts kept per source-hour. */
  maxHostsPerRow: number;
  /** Distinct values kept per source-hour of each small set: windows, fingerprints, tools, OS, lists. */
  maxValuesPerRow: number;
  /** Distinct sources in an hour past which a source seen once is kept in its network's row (sightings.ts); 0: never. */
  foldAfter: number;
  /**
   * The pipeline's source names by source index (PacketEvent.source): the store keeps, per name,
   * the highest position written, and skips lines a restarted source replays up to it.
   */
  sourceNames: readonly string[];
}

export const HISTORY_DEFAULTS: Readonly<Omit<HistoryOptions, 'path'>> = Object.freeze({
  ipv6PrefixLength: 64,
  flushMs: 60_000,
  incidentFlushMs: 5000,
  questionFlushMs: 1000,
  maxPendingSources: 100_000,
  maxQueuedBatches: 4,
  maxPendingIncidents: 10_000,
  retentionDays: 30,
  maxBytes: 1024 ** 3,
  retentionCheckMs: 10 * 60_000,
  maxPortsPerRow: 64,
  maxHostsPerRow: 64,
  maxValuesPerRow: 16,
  foldAfter: 10_000,
  sourceNames: Object.freeze([]) as readonly string[],
});

/** Defaults filled in; a bad value is refused here, once, rather than misbehaving later. */
export function historyOptions(given: Partial<HistoryOptions> & { path: string }): HistoryOptions {
  const o: HistoryOptions = { ...HISTORY_DEFAULTS, ...stripUndefined(given), path: given.path };
  if (o.path === '') throw new RangeError('history path is empty');
  const whole = (name: keyof HistoryOptions, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`history ${name} must be an integer from ${min} to ${max}, not ${String(v)}`);
  };
  whole('ipv6PrefixLength', 1, 128);
  whole('flushMs', 1);
  whole('incidentFlushMs', 1);
  whole('questionFlushMs', 0);
  whole('maxPendingSources', 1);
  whole('maxQueuedBatches', 1);
  whole('maxPendingIncidents', 0);
  whole('retentionCheckMs', 1);
  whole('maxPortsPerRow', 1, 65536);
  whole('maxHostsPerRow', 1, 100_000);
  whole('maxValuesPerRow', 1, 1000);
  whole('foldAfter', 0);
  if (!Array.isArray(o.sourceNames) || !o.sourceNames.every((n) => typeof n === 'string')) throw new RangeError('history sourceNames must be an array of names');
  if (!(o.retentionDays > 0)) throw new RangeError(`history retentionDays must be above 0, not ${o.retentionDays}`);
  // Below this the schema alone does not fit: every write would start a retention pass.
  if (!(o.maxBytes >= 64 * 1024)) throw new RangeError(`history maxBytes must be at least 65536, not ${o.maxBytes}`);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
