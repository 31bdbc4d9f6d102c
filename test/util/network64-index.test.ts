import { describe, expect, it } from 'vitest';
import { ABSENT } from '../../src/util/ipv4-index.js';
import { Network64Index } from '../../src/util/network64-index.js';
import { seqs } from '../track/helpers.js';

describe('an index of IPv6 networks of up to 64 bits', () => {
  it('answers what was set, ABSENT for what was not, and forgets what was deleted; both words count', () => {
    const index = new Network64Index(7);
    index.set(0x20010db8, 0x00010002, 5);
    index.set(0, 0, 0);
    index.set(0xffffffff, 0xffffffff, 2 ** 31 - 2);
    expect(index.get(0x20010db8, 0x00010002)).toBe(5);
    expect(index.get(0, 0)).toBe(0);
    expect(index.get(0xffffffff, 0xffffffff)).toBe(2 ** 31 - 2);
    // The same first word or the same second word is another network.
    expect(index.get(0x20010db8, 0x00010003)).toBe(ABSENT);
    expect(index.get(0x20010db9, 0x00010002)).toBe(ABSENT);
    expect(index.size).toBe(3);
    index.set(0x20010db8, 0x00010002, 6);
    expect(index.get(0x20010db8, 0x00010002)).toBe(6);
    expect(index.size).toBe(3);
    expect(index.delete(0x20010db8, 0x00010002)).toBe(true);
    expect(index.delete(0x20010db8, 0x00010002)).toBe(false);
    expect(index.get(0x20010db8, 0x00010002)).toBe(ABSENT);
    expect(index.size).toBe(2);
  });

  it('agrees with a Map through a million random sets and deletes, across growth and wrap-around', () => {
    // Few distinct networks, sharing first or second words, so runs form, collide and wrap past the last slot.
    for (const seed of [1, 2, 3]) {
      const index = new Network64Index(seed);
      const model = new Map<string, number>();
      const next = seqs(seed * 7919);
      const words = (n: number): [number, number] => [Math.imul(n % 60, 0x01000001) >>> 0, Math.imul(n % 50, 0x00100001) >>> 0];
      for (let step = 0; step < 1_000_000; step++) {
        const r = next();
        const [high, low] = words(r % 3000);
        const key = `${high}:${low}`;
        if (r & 0x80000000 && model.size > 0) {
          expect(index.delete(high, low)).toBe(model.delete(key));
        } else {
          index.set(high, low, step);
          model.set(key, step);
        }
        if (step % 997 === 0) expect(index.size).toBe(model.size);
      }
      expect(index.size).toBe(model.size);
      for (let n = 0; n < 3000; n++) {
        const [high, low] = words(n);
        expect(index.get(high, low)).toBe(model.get(`${high}:${low}`) ?? ABSENT);
      }
    }
  });

  it('turns a million networks over in a bounded table, as a tracker evicting its oldest does', () => {
    const index = new Network64Index();
    const live: Array<[number, number]> = [];
    const next = seqs(42);
    for (let i = 0; i < 1_000_000; i++) {
      if (live.length === 10_000) expect(index.delete(...live.shift()!)).toBe(true);
      const network: [number, number] = [next(), next()];
      if (index.get(...network) === ABSENT) {
        index.set(...network, i);
        live.push(network);
      }
    }
    expect(index.size).toBe(live.length);
    // Half full at most: the table grew to hold 10 000, no further.
    expect(index.bytes).toBeLessThanOrEqual(32_768 * 12);
    for (const network of live.slice(-100)) expect(index.get(...network)).not.toBe(ABSENT);
  });
});
