// A fresh, empty interval aggregate. Shared by the aggregator (which fills it) and by tests, so
// every aggregate has the same shape: all three verdicts present, all maps created.
import type { IntervalAggregate, VerdictCounts } from '../pipeline/types.js';

function emptyVerdict(): VerdictCounts {
  return { count: 0, protocols: new Map(), ports: new Map(), otherPorts: 0 };
}

/** An aggregate for the interval [start, start + length) with nothing counted yet. */
export function emptyAggregate(start: number, length: number): IntervalAggregate {
  return {
    start,
    length,
    verdicts: { allowed: emptyVerdict(), blocked: emptyVerdict(), unknown: emptyVerdict() },
    prefixes: new Map(),
    otherPrefixes: 0,
    sources: new Map(),
    counters: new Map(),
    syns: 0,
    synWindows: new Map(),
    synInitialTtls: new Map(),
    fingerprints: new Map(),
    otherFingerprints: 0,
    synOs: new Map(),
    tools: new Map(),
    countries: new Map(),
    lists: new Map(),
  };
}
