import { describe, expect, it } from 'vitest';
import { ABSENT, Ipv4Index } from '../../src/util/ipv4-index.js';
import { seqs } from '../track/helpers.js';

describe('an index of IPv4 addresses', () => {
  it('answers what was set, ABSENT for what was not, and forgets what was deleted', () => {
    const index = new Ipv4Index(7);
    index.set(0xc6120001, 5);
    index.set(0, 0);
    index.set(0xffffffff, 2 ** 31 - 2);
    expect(index.get(0xc6120001)).toBe(5);
    expect(index.get(0)).toBe(0);
    expect(index.get(0xffffffff)).toBe(2 ** 31 - 2);
    expect(index.get(0xc6120002)).toBe(ABSENT);
    expect(index.size).toBe(3);
    index.set(0xc6120001, 6);
    expect(index.get(0xc6120001)).toBe(6);
    expect(index.size).toBe(3);
    expect(index.delete(0xc6120001)).toBe(true);
    expect(index.delete(0xc6120001)).toBe(false);
    expect(index.get(0xc6120001)).toBe(ABSENT);
    expect(index.size).toBe(2);
  });

  it('agrees with a Map through a million random sets and deletes, across growth and wrap-around', () => {
    // Few distinct addresses in a small range, so runs form, collide and wrap past the last slot.
    for (const seed of [1, 2, 3]) {
      const index = new Ipv4Index(seed);
      const model = new Map<number, number>();
      const next = seqs(seed * 7919);
      for (let step = 0; step < 1_000_000; step++) {
        const r = next();
        const address = Math.imul(r % 3000, 0x01000001) >>> 0; // spread over the whole 32-bit range
        if (r & 0x80000000 && model.size > 0) {
          expect(index.delete(address)).toBe(model.delete(address));
        } else {
          index.set(address, step);
          model.set(address, step);
        }
        if (step % 997 === 0) expect(index.size).toBe(model.size);
      }
      expect(index.size).toBe(model.size);
      for (const [address, value] of model) expect(index.get(address)).toBe(value);
      for (let a = 0; a < 3000; a++) {
        const address = Math.imul(a, 0x01000001) >>> 0;
        expect(index.get(address)).toBe(model.get(address) ?? ABSENT);
      }
    }
  });

  it('turns a million addresses over in a bounded table, as a tracker evicting its oldest does', () => {
    const index = new Ipv4Index();
    const live: number[] = [];
    const next = seqs(42);
    for (let i = 0; i < 1_000_000; i++) {
      if (live.length === 10_000) expect(index.delete(live.shift()!)).toBe(true);
      const address = next();
      if (index.get(address) === ABSENT) {
        index.set(address, i);
        live.push(address);
      }
    }
    expect(index.size).toBe(live.length);
    // Half full at most: the table grew to hold 10 000, no further.
    expect(index.bytes).toBeLessThanOrEqual(32_768 * 8);
    for (const address of live.slice(-100)) expect(index.get(address)).not.toBe(ABSENT);
  });

  it('empties on clear()', () => {
    const index = new Ipv4Index();
    for (let a = 0; a < 5000; a++) index.set(a, a);
    index.clear();
    expect(index.size).toBe(0);
    expect(index.get(1)).toBe(ABSENT);
  });
});
