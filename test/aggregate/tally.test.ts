import { describe, expect, it } from 'vitest';
import { Tally } from '../../src/aggregate/tally.js';

describe('Tally counts by key while an interval is open', () => {
  it('counts runs of one key and keys that alternate alike, keys in the order they first came', () => {
    const t = new Tally<string>();
    const keys = ['ulogd', 'ulogd', 'ulogd', 'nflog', 'ulogd', 'nflog', 'nflog', 'other', 'ulogd'];
    for (const key of keys) t.add(key);
    const into = new Map<string, number>();
    t.addTo(into);
    expect([...into]).toEqual([
      ['ulogd', 5],
      ['nflog', 3],
      ['other', 1],
    ]);
    expect(t.size).toBe(3);
    expect(t.has('nflog')).toBe(true);
    expect(t.has('absent')).toBe(false);
  });

  it('tells keys apart as a Map does: an empty string, undefined, NaN and 0 / -0', () => {
    const t = new Tally<string | number | undefined>();
    for (const key of ['', undefined, undefined, '', Number.NaN, Number.NaN, 0, -0, 0]) t.add(key);
    const into = new Map<string | number | undefined, number>();
    t.addTo(into);
    expect([...into]).toEqual([
      ['', 2],
      [undefined, 2],
      [Number.NaN, 2],
      [0, 3],
    ]);
  });

  it('adds to the counts a Map holds already, mapping keys when asked', () => {
    const t = new Tally<number>();
    for (const key of [7, 7, 9]) t.add(key);
    const into = new Map<string, number>([['shape 9', 4]]);
    t.addMappedTo(into, (key) => `shape ${key}`);
    expect([...into]).toEqual([
      ['shape 9', 5],
      ['shape 7', 2],
    ]);
  });
});
