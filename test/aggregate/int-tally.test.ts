import { describe, expect, it } from 'vitest';
import { IntTally } from '../../src/aggregate/int-tally.js';
import { Tally } from '../../src/aggregate/tally.js';

describe('IntTally counts integer keys as Tally does', () => {
  it('fills a Map with the same counts, keys in the order they first came, across many keys and growth', () => {
    const ints = new IntTally();
    const reference = new Tally<number>();
    // Ports, the absent −1, shape codes up to 2^26, repeats in between: enough keys to grow the table many times.
    let x = 12345;
    for (let i = 0; i < 50_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const key = i % 7 === 0 ? -1 : i % 5 === 0 ? x % (1 << 26) : x % 3000;
      ints.add(key);
      reference.add(key);
    }
    const got = new Map<number, number>();
    const want = new Map<number, number>();
    ints.addTo(got);
    reference.addTo(want);
    expect(ints.size).toBe(reference.size);
    expect([...got]).toEqual([...want]);
  });

  it('adds to what the Map holds already, mapping keys when asked', () => {
    const t = new IntTally();
    for (const key of [443, 22, 443, 443]) t.add(key);
    expect(t.has(443)).toBe(true);
    expect(t.has(80)).toBe(false);
    const into = new Map<string, number>([['port 22', 10]]);
    t.addMappedTo(into, (key) => `port ${key}`);
    expect([...into]).toEqual([
      ['port 22', 11],
      ['port 443', 3],
    ]);
  });

  it('refuses a key it could not tell apart (not an integer of 32 bits)', () => {
    const t = new IntTally();
    for (const key of [2 ** 40, 1.5, Number.NaN, -(2 ** 31)]) expect(() => t.add(key)).toThrow(RangeError);
    expect(t.size).toBe(0);
  });
});
