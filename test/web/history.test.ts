import { describe, expect, it } from 'vitest';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import { IntervalHistory } from '../../src/web/history.js';

describe('interval history for the web view', () => {
  it('turns intervals into per-second verdict rates and keeps only the newest', () => {
    const h = new IntervalHistory(2);
    for (let i = 0; i < 3; i++) {
      const a = emptyAggregate(1_000_000 + i * 10_000, 10_000);
      a.verdicts.allowed.count = 10 * (i + 1);
      a.verdicts.blocked.count = 50;
      h.add(a);
    }
    expect(h.verdicts()).toEqual([
      { time: 1010, allowed: 2, blocked: 5, unknown: 0, syns: 0 },
      { time: 1020, allowed: 3, blocked: 5, unknown: 0, syns: 0 },
    ]);
    expect(h.totals).toMatchObject({ allowed: 60, blocked: 150 });
  });

  it('gives NFACCT counters their totals and current rates', () => {
    const h = new IntervalHistory();
    const a = emptyAggregate(0, 10_000);
    a.counters.set('ipv4.http', { pkts: 100, bytes: 80_000 });
    h.add(a);
    const b = emptyAggregate(10_000, 10_000);
    h.add(b); // not polled in the newest interval
    const [http] = h.counters();
    expect(http).toMatchObject({ name: 'ipv4.http', pkts: 100, bytes: 80_000, pktsPerSecond: 0 });
    expect(http!.points).toEqual([{ time: 0, pkts: 10, bytes: 8000 }]);
  });
});
