import { describe, expect, it } from 'vitest';
import { MAX_ROWS, MAX_VALUE, RowMembers } from '../../src/store/row-members.js';

describe("a batch's index of its rows' members (RowMembers)", () => {
  it('answers as a set of (row, set, value) would, through growth from 1,024 slots to many times more', () => {
    let seed = 99;
    const next = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const index = new RowMembers();
    const reference = new Set<string>();
    for (let i = 0; i < 40_000; i++) {
      const row = next(3000);
      const set = next(2);
      const value = next(4) === 0 ? next(MAX_VALUE) : next(100);
      const key = `${row}/${set}/${value}`;
      expect(index.has(row, set, value), key).toBe(reference.has(key));
      if (!reference.has(key)) {
        index.add(row, set, value);
        reference.add(key);
      }
    }
    expect(index.size).toBe(reference.size);
    // The other set of the same row and value is another member.
    for (const key of [...reference].slice(0, 2000)) {
      const [row, set, value] = key.split('/').map(Number) as [number, number, number];
      expect(index.has(row, set, value)).toBe(true);
      expect(index.has(row, 1 - set, value)).toBe(reference.has(`${row}/${1 - set}/${value}`));
    }
    expect(index.bytes).toBeGreaterThanOrEqual(2 * reference.size * 8);
  });

  it('keeps nothing for a row or value it cannot pack: the caller asks its array for those', () => {
    const index = new RowMembers();
    index.add(MAX_ROWS, 0, 5);
    index.add(7, 1, MAX_VALUE);
    expect([index.has(MAX_ROWS, 0, 5), index.has(7, 1, MAX_VALUE), index.size]).toEqual([false, false, 0]);
    index.add(MAX_ROWS - 1, 1, MAX_VALUE - 1);
    expect([index.has(MAX_ROWS - 1, 1, MAX_VALUE - 1), index.has(MAX_ROWS - 1, 0, MAX_VALUE - 1)]).toEqual([true, false]);
  });
});
