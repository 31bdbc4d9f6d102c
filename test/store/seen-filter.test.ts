import { describe, expect, it } from 'vitest';
import { SeenFilter, hashText } from '../../src/store/seen-filter.js';
import { mix32 } from '../../src/util/hash.js';

describe('seen filter', () => {
  it('never says "seen" of a source it was not given, until it is emptied', () => {
    const f = new SeenFilter(20);
    expect(f.testAndAdd(0xc0000201)).toBe(false);
    expect(f.testAndAdd(0xc0000201)).toBe(true);
    expect(f.testAndAdd(0xc0000202)).toBe(false);
    f.clear();
    expect(f.testAndAdd(0xc0000201)).toBe(false);
  });

  it('answers has() as testAndAdd() would, without making the source seen', () => {
    const f = new SeenFilter(20);
    for (let a = 0; a < 1000; a++) f.testAndAdd(0x0a000000 + a);
    for (let a = 0; a < 1000; a++) expect(f.has(0x0a000000 + a)).toBe(true);
    let wrong = 0;
    for (let a = 0; a < 1000; a++) {
      const address = 0xc6000000 + a;
      const said = f.has(address);
      if (said) wrong++;
      expect(f.has(address)).toBe(said);
      expect(f.testAndAdd(address)).toBe(said);
    }
    expect(wrong).toBeLessThan(10);
  });

  it('says "seen" wrongly a few times in a thousand with a million sources in 2^25 bits', () => {
    const f = new SeenFilter(25);
    for (let a = 0; a < 1_000_000; a++) f.testAndAdd((0x0a000000 + a * 7919) >>> 0);
    let wrong = 0;
    for (let a = 0; a < 100_000; a++) if (f.testAndAdd((0xc6000000 + a) >>> 0)) wrong++;
    expect(wrong / 100_000).toBeLessThan(0.005);
    expect(f.emptied).toBe(0);
  });

  it('starts empty again once half its bits are set, rather than seeing everything', () => {
    const f = new SeenFilter(10);
    for (let a = 0; a < 2000; a++) f.testAndAdd(a);
    expect(f.emptied).toBeGreaterThan(0);
    let wrong = 0;
    for (let a = 1_000_000; a < 1_000_100; a++) if (f.testAndAdd(a)) wrong++;
    expect(wrong).toBeLessThan(50);
  });

  it("keeps its first sources exactly (a 32nd of its bits' count of them), then their bits, forgetting none", () => {
    // 2^10 bits: its first 32 sources kept exactly.
    const f = new SeenFilter(10);
    const firsts = Array.from({ length: 32 }, (_, i) => (0x0a000000 + i * 7919) >>> 0);
    for (const a of firsts) expect(f.testAndAdd(a)).toBe(false);
    // Exact: no other source is "seen" (the same 32 in the bits: 260 of these 100,000 were).
    let wrong = 0;
    for (let a = 0; a < 100_000; a++) if (f.has((0xc6000000 + a) >>> 0)) wrong++;
    expect(wrong).toBe(0);
    // The 33rd makes the bits, with all that came before.
    expect(f.testAndAdd(0x0b000000)).toBe(false);
    for (const a of [...firsts, 0x0b000000]) expect([f.has(a), f.testAndAdd(a)]).toEqual([true, true]);
    // An hour's end empties it back to exact.
    f.clear();
    expect([f.has(firsts[0]!), f.testAndAdd(firsts[0]!), f.testAndAdd(firsts[0]!)]).toEqual([false, false, true]);
  });

  it('hashes alike inputs far apart (adjacent addresses, IPv6 networks as text)', () => {
    expect(mix32(1)).not.toBe(mix32(2));
    expect(Math.abs(mix32(1) - mix32(2))).toBeGreaterThan(1000);
    expect(hashText('2001:db8::/64')).not.toBe(hashText('2001:db9::/64'));
  });

  it('refuses a size it cannot hold', () => {
    expect(() => new SeenFilter(4)).toThrow(RangeError);
    expect(() => new SeenFilter(32)).toThrow(RangeError);
  });
});
