// The series budget and the creation-rate limit, as a spec (src/aggregate/budget.ts).
import { describe, expect, it } from 'vitest';
import { CreateLimiter, foldCountsThroughBudget, foldIndexedCountsThroughBudget, foldThroughBudget, NameBudget, planWrites, SeriesBudgets, type PlannedMetric } from '../../src/aggregate/budget.js';
import { IntTally } from '../../src/aggregate/int-tally.js';

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

describe('NameBudget: a lifetime budget of distinct names for one family', () => {
  it('admits the first `limit` distinct names and refuses every later new one', () => {
    const b = new NameBudget(2);
    expect(b.admit('22')).toBe(true);
    expect(b.admit('443')).toBe(true);
    expect(b.admit('8080')).toBe(false);
    expect(b.size).toBe(2);
  });

  it('keeps an admitted name for ever (stable series names)', () => {
    const b = new NameBudget(1);
    b.admit('22');
    for (let i = 0; i < 1000; i++) b.admit(String(i + 1000));
    expect(b.admit('22')).toBe(true);
  });
});

describe('foldThroughBudget: one interval\'s counts through a family budget', () => {
  it('offers names busiest first, so busy values win over a scan\'s one-packet values', () => {
    const b = new NameBudget(2);
    const counts = new Map([[1001, 1], [22, 90], [1002, 1], [443, 40]]);
    expect(foldThroughBudget(counts, b)).toBe(2);
    expect([...counts.keys()].sort()).toEqual([22, 443]);
    expect(b.folded).toBe(2);
  });

  it('returns the folded sum so the family total stays exact', () => {
    const b = new NameBudget(3);
    const counts = new Map<number, number>();
    for (let p = 1; p <= 100; p++) counts.set(p, p);
    const total = 5050;
    const rest = foldThroughBudget(counts, b);
    expect([...counts.values()].reduce((a, v) => a + v, 0) + rest).toBe(total);
    expect([...counts.keys()].sort((x, y) => x - y)).toEqual([98, 99, 100]);
  });

  it('bounds series over time: a 65,535-port scan spread over an hour of intervals admits only `limit` ports', () => {
    const b = new NameBudget(100);
    let folded = 0;
    for (let minute = 0; minute < 60; minute++) {
      const counts = new Map<number, number>([[22, 30]]);
      for (let p = minute * 1093; p < Math.min(65_536, (minute + 1) * 1093); p++) if (p !== 22) counts.set(p, 1);
      folded += foldThroughBudget(counts, b);
    }
    expect(b.size).toBe(100);
    expect(b.has('22')).toBe(true);
    expect(folded).toBe(b.folded);
  });

  it('leaves NONE (negative) keys alone', () => {
    const counts = new Map([[-1, 5], [80, 1]]);
    expect(foldThroughBudget(counts, new NameBudget(0))).toBe(1);
    expect(counts.get(-1)).toBe(5);
  });

  it('once the budget is full, keeps exactly the admitted names in their order and folds the rest', () => {
    let seed = 12345;
    const next = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let round = 0; round < 50; round++) {
      const b = new NameBudget(20);
      // Admitted: numbers as String() writes them, other strings, and names no number is written as.
      const admitted = new Set<string>();
      while (!b.full) {
        const name = [String(next(70_000)), `k${next(50)}`, '0443', '1e3', 'NaN'][next(5)]!;
        if (b.admit(name)) admitted.add(name);
      }
      const counts = new Map<number | string, number>();
      for (let i = 0; i < 500; i++) {
        const key = next(4) === 0 ? `k${next(60)}` : next(10) === 0 ? -1 - next(3) : [443, 1000, next(70_000)][next(3)]!;
        counts.set(key, (counts.get(key) ?? 0) + 1 + next(5));
      }
      const expected = [...counts].filter(([k]) => (typeof k === 'number' && k < 0) || admitted.has(String(k)));
      const total = [...counts.values()].reduce((a, v) => a + v, 0);
      const foldedBefore = b.folded;
      const rest = foldThroughBudget(counts, b);
      expect([...counts]).toEqual(expected);
      expect(rest).toBe(total - expected.reduce((a, [, v]) => a + v, 0));
      expect(b.folded - foldedBefore).toBe(rest);
      expect(b.size).toBe(20);
    }
  });

  it('finds numbers among names a restart restored', () => {
    const budgets = new SeriesBudgets(2);
    budgets.restore({ 'dport.blocked': ['22', '0443'] });
    const counts = new Map([[22, 3], [443, 4]]);
    expect(foldThroughBudget(counts, budgets.get('dport.blocked'))).toBe(4);
    expect([...counts]).toEqual([[22, 3]]);
  });
});

describe('foldCountsThroughBudget and foldIndexedCountsThroughBudget: counts folded before they are a Map', () => {
  let seed = 777;
  const next = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;

  /** A budget of `limit` names that has admitted some ports already (a restart, earlier intervals). */
  function budgetWith(limit: number, ports: number): [NameBudget, NameBudget] {
    const a = new NameBudget(limit);
    const b = new NameBudget(limit);
    for (let i = 0; i < ports; i++) {
      const name = String([22, 443, next(70_000)][next(3)]);
      a.admit(name);
      b.admit(name);
    }
    return [a, b];
  }

  it('gives what addTo() and foldThroughBudget() give, keys in the same order, whether the budget is empty, filling or full', () => {
    for (let round = 0; round < 60; round++) {
      const limit = [1, 20, 100, 5000][next(4)]!;
      const [viaMap, direct] = budgetWith(limit, [0, limit / 2, limit][next(3)]!);
      const tally = new IntTally();
      // A scan's one-packet ports among busy ones, and the absent −1 (ICMP).
      const events = 1 + next(20_000);
      for (let i = 0; i < events; i++) tally.add(next(10) === 0 ? -1 : next(3) === 0 ? [22, 443, 53][next(3)]! : next(65_536));
      const expected = new Map<number, number>();
      tally.addTo(expected);
      const expectedRest = foldThroughBudget(expected, viaMap);
      const got = new Map<number, number>();
      expect(foldCountsThroughBudget(tally, got, direct)).toBe(expectedRest);
      expect([...got]).toEqual([...expected]);
      expect(direct.list()).toEqual(viaMap.list());
      expect(direct.folded).toBe(viaMap.folded);
    }
  });

  it('does the same for counts by index (SYN windows), the admitted ones added in ascending order', () => {
    for (let round = 0; round < 40; round++) {
      const limit = [1, 20, 100][next(3)]!;
      const [viaMap, direct] = budgetWith(limit, [0, limit / 2, limit][next(3)]!);
      const windows = new Uint32Array(65_536);
      const syns = 1 + next(30_000);
      for (let i = 0; i < syns; i++) windows[next(4) === 0 ? [29_200, 64_240, 1024][next(3)]! : next(65_536)]!++;
      // The Map the aggregate holds already: a window that was absent, which no budget folds.
      const expected = new Map<number, number>([[-1, 3]]);
      for (let w = 0; w < windows.length; w++) if (windows[w] !== 0) expected.set(w, windows[w]!);
      const expectedRest = foldThroughBudget(expected, viaMap);
      const got = new Map<number, number>([[-1, 3]]);
      expect(foldIndexedCountsThroughBudget(windows, got, direct)).toBe(expectedRest);
      expect([...got]).toEqual([...expected]);
      expect(direct.list()).toEqual(viaMap.list());
      expect(direct.folded).toBe(viaMap.folded);
    }
  });
});

describe('SeriesBudgets: one budget per family, in one place', () => {
  it('gives each family its own limit (with overrides, e.g. counter names) and sums the figures', () => {
    const budgets = new SeriesBudgets(1, { counter: 3 });
    expect(budgets.get('dport.blocked').admit('22')).toBe(true);
    expect(budgets.get('dport.blocked').admit('23')).toBe(false);
    expect(budgets.get('dport.allowed').admit('23')).toBe(true);
    for (const n of ['a', 'b', 'c']) expect(budgets.get('counter').admit(n)).toBe(true);
    expect(budgets.get('counter').admit('d')).toBe(false);
    expect(budgets.admitted).toBe(5);
  });
});

describe('CreateLimiter: new series per minute, shaped like carbon\'s MAX_CREATES_PER_MINUTE bucket', () => {
  it('allows a burst of 3/4 of a minute\'s series at once, then refuses until the bucket refills', () => {
    const l = new CreateLimiter(4);
    expect(['a', 'b', 'c', 'd'].map((p) => l.allow(p, T0, 'fold'))).toEqual([true, true, true, false]);
    expect(l.allow('d', T0 + 15_000, 'fold')).toBe(true); // 15 s = one token at 4/min
    expect(l.allow('e', T0 + 15_000, 'fold')).toBe(false);
    expect(l.created).toBe(4);
    expect(l.refused).toBe(2);
  });

  it('never charges series already written', () => {
    const l = new CreateLimiter(1);
    expect(l.allow('a', T0, 'fold')).toBe(true);
    for (let i = 0; i < 100; i++) expect(l.allow('a', T0, 'fold')).toBe(true);
    expect(l.isKnown('a')).toBe(true);
  });

  it('refuses core series too when the bucket is empty (carbon would drop their points), without counting them as folded', () => {
    const l = new CreateLimiter(2); // a burst of 2
    expect(['x', 'y', 'z'].map((p) => l.allow(p, T0, 'core'))).toEqual([true, true, false]);
    expect(l.refused).toBe(0);
    expect(l.msUntilToken(T0)).toBe(30_000);
    expect(l.allow('z', T0 + 30_000, 'core')).toBe(true);
  });

  it('under a flood of new names, never takes stock carbon\'s bucket (50, refilled 50/min) below 20: room for carbon\'s own ~20 series', () => {
    const l = new CreateLimiter(40);
    let carbon = 50;
    let lowest = carbon;
    let n = 0;
    let created = 0;
    for (let t = T0; t < T0 + 10 * MINUTE; t += 500) {
      carbon = Math.min(50, carbon + (500 / MINUTE) * 50);
      for (let k = 0; k < 10; k++) if (l.allow(`s${n++}`, t, 'fold')) {
        carbon--;
        created++;
      }
      lowest = Math.min(lowest, carbon);
    }
    expect(lowest).toBeGreaterThanOrEqual(20);
    // ... and still creates about 40 a minute.
    expect(created).toBeGreaterThanOrEqual(10 * 40);
    expect(created).toBeLessThanOrEqual(10 * 40 + 30);
  });

  it('lets secondary gauges (spare) use only the top third of the burst, so counts are never crowded out by health figures', () => {
    const l = new CreateLimiter(8); // a burst of 6: spare gauges may create while 5 or more tokens are left
    expect(['g1', 'g2', 'g3'].map((p) => l.allow(p, T0, 'spare'))).toEqual([true, true, false]);
    expect(['c1', 'c2', 'c3', 'c4', 'c5'].map((p) => l.allow(p, T0, 'fold'))).toEqual([true, true, true, true, false]);
  });

  it('never creates a gauge (defer) over the budget: it waits for a later snapshot', () => {
    const l = new CreateLimiter(1);
    expect(['h1', 'h2'].map((p) => l.allow(p, T0, 'defer'))).toEqual([true, false]);
    expect(l.available(T0)).toBe(0);
  });

  it('0 means no limit', () => {
    const l = new CreateLimiter(0);
    for (let i = 0; i < 1000; i++) expect(l.allow(`s${i}`, T0, 'fold')).toBe(true);
  });
});

describe('planWrites: one batch through the creation budget', () => {
  const fold = (path: string, value: number, other: string, first = false): PlannedMetric => ({ path, value, kind: 'fold', other, ...(first ? { first } : {}) });

  it('writes core first, then counters, then the busiest values; folds the others into their family\'s other', () => {
    const l = new CreateLimiter(6); // a burst of 5
    l.allow('dport.other', T0, 'core'); // written before: 4 creations left
    const out = planWrites(
      [
        fold('dport.1001', 1, 'dport.other'),
        fold('dport.22', 50, 'dport.other'),
        { path: 'blocked.count', value: 53, kind: 'core' },
        fold('nfacct.http.pkts', 7, 'nfacct.other.pkts', true),
        fold('dport.1002', 2, 'dport.other'),
      ],
      l,
      T0,
    );
    expect(out).toEqual({ write: { 'blocked.count': 53, 'nfacct.http.pkts': 7, 'dport.22': 50, 'dport.1002': 2, 'dport.other': 1 }, held: [] });
  });

  it('holds a core series it cannot create yet (with its value, folded values included) instead of writing it over the budget', () => {
    const l = new CreateLimiter(1); // a burst of 1
    const metrics = [{ path: 'blocked.count', value: 9, kind: 'core' as const }, ...Array.from({ length: 50 }, (_, i) => fold(`geo.c${i}`, i + 1, 'geo.other'))];
    const first = planWrites(metrics, l, T0);
    expect(first.write).toEqual({ 'blocked.count': 9 });
    expect(first.held).toEqual([{ path: 'geo.other', value: (50 * 51) / 2, kind: 'core' }]);
    // A minute later the held sum is created and written whole.
    expect(planWrites(first.held, l, T0 + MINUTE)).toEqual({ write: { 'geo.other': (50 * 51) / 2 }, held: [] });
  });

  it('keeps totals exact whatever is refused', () => {
    const l = new CreateLimiter(2); // a burst of 2
    const metrics = Array.from({ length: 50 }, (_, i) => fold(`geo.c${i}`, i + 1, 'geo.other'));
    const { write, held } = planWrites(metrics, l, T0);
    const total = Object.values(write).reduce((a, v) => a + v, 0) + held.reduce((a, m) => a + m.value, 0);
    expect(total).toBe((50 * 51) / 2);
    expect(Object.keys(write).sort()).toEqual(['geo.c48', 'geo.c49']);
  });

  it('drops a new gauge that does not fit (a later snapshot writes it), and writes it once created', () => {
    const l = new CreateLimiter(1);
    expect(planWrites([{ path: 'a', value: 1, kind: 'defer' }, { path: 'b', value: 2, kind: 'defer' }], l, T0).write).toEqual({ a: 1 });
    expect(planWrites([{ path: 'a', value: 3, kind: 'defer' }, { path: 'b', value: 4, kind: 'defer' }], l, T0 + MINUTE).write).toEqual({ a: 3, b: 4 });
  });
});

describe('SeriesBudgets across restarts: snapshot() and restore()', () => {
  it('a restored budget admits the saved names first and refuses new ones once full', () => {
    const before = new SeriesBudgets(2);
    before.get('dport.blocked').admit('22');
    before.get('dport.blocked').admit('443');
    before.get('country').admit('DE');
    const saved = JSON.parse(JSON.stringify(before.snapshot())) as unknown;
    const after = new SeriesBudgets(2);
    expect(after.restore(saved)).toBe(3);
    expect(after.get('dport.blocked').admit('8080')).toBe(false);
    expect(after.get('dport.blocked').admit('443')).toBe(true);
    expect(after.get('country').admit('FR')).toBe(true);
    expect(after.admitted).toBe(4);
  });

  it('keeps at most the (possibly lowered) limit, in admission order, and ignores what it does not know', () => {
    const after = new SeriesBudgets(2, { counter: 1 });
    expect(after.restore({ 'dport.allowed': ['80', '443', '22'], counter: ['a', 'b'], nonsense: ['x'], window: 'not a list', tool: [7, 'nmap-syn'] })).toBe(4);
    expect(after.get('dport.allowed').list()).toEqual(['80', '443']);
    expect(after.get('counter').list()).toEqual(['a']);
    expect(after.get('tool').list()).toEqual(['nmap-syn']);
    for (const garbage of [null, 42, 'x', []]) expect(new SeriesBudgets(2).restore(garbage)).toBe(0);
  });
});
