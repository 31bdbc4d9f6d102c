import { describe, expect, it } from 'vitest';
import { WindowedHistogram } from '../../src/track/fingerprints.js';
import { SLOTS } from '../../src/track/sources.js';

describe('WindowedHistogram', () => {
  it('counts integer keys found by index exactly as keys found by lookup: rows, their order, the window sliding, keys dropped and back', () => {
    const byIndex = new WindowedHistogram<number>(300, 1024);
    const byLookup = new WindowedHistogram<number>(300);
    let x = 7;
    for (let i = 0; i < 20_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      // Keys in and out of the indexed range, epochs that advance (dropping keys) and come late.
      const key = i % 11 === 0 ? 1024 + (x % 50) : x % 400;
      const epoch = 1 + Math.floor(i / 700) - (i % 13 === 0 ? 1 : 0);
      expect(byIndex.add(key, epoch).total).toBe(byLookup.add(key, epoch).total);
      if (i % 997 === 0) expect(byIndex.rows()).toEqual(byLookup.rows());
    }
    expect(byIndex.rows()).toEqual(byLookup.rows());
    expect(byIndex.other.total).toBe(byLookup.other.total);
    expect(byIndex.other.total).toBeGreaterThan(0);
    // Past the window every key is dropped; a key counted again starts from one.
    byIndex.advance(1000);
    byLookup.advance(1000);
    expect(byIndex.rows()).toEqual([]);
    expect(byIndex.add(5, 1000 + SLOTS).total).toBe(1);
    expect(byLookup.add(5, 1000 + SLOTS).total).toBe(1);
  });

  it('gives equal counts in the order their keys first came', () => {
    const h = new WindowedHistogram<number>(10, 65536);
    for (const w of [29200, 16384, 29200, 16384, 1024]) h.add(w, 1);
    expect(h.rows().map((r) => [r.key, r.count])).toEqual([
      [29200, 2],
      [16384, 2],
      [1024, 1],
    ]);
  });
});
