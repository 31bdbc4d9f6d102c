import { describe, expect, it } from 'vitest';
import { PortWindowSet } from '../../src/track/port-window-set.js';
import { WindowSet } from '../../src/track/sources.js';
import { seqs } from './helpers.js';

/** A seeded fraction in [0, 1), so a failure can be replayed. */
function random(seed: number): () => number {
  const next = seqs(seed);
  return () => next() / 2 ** 32;
}

function sameState(ports: PortWindowSet, reference: WindowSet<number>, oldest: number): void {
  expect(ports.size).toBe(reference.size);
  expect(ports.counted).toBe(reference.counted);
  expect(ports.atLeast(oldest)).toBe(reference.atLeast(oldest));
  expect(ports.keys().sort((a, b) => a - b)).toEqual(reference.keys().sort((a, b) => a - b));
}

describe('a source\'s destination ports in the window (PortWindowSet)', () => {
  it('keeps exactly what a WindowSet of numbers keeps, through adds, caps, sweeps and clears', () => {
    for (const seed of [1, 2, 3, 42, 6000]) {
      const next = random(seed);
      const ports = new PortWindowSet();
      const reference = new WindowSet<number>();
      let epoch = 1000;
      for (let step = 0; step < 20_000; step++) {
        const r = next();
        if (r < 0.004) {
          epoch += 1 + Math.floor(next() * 3);
          const oldest = epoch - 7;
          ports.sweep(oldest);
          reference.sweep(oldest);
        } else if (r < 0.0045) {
          ports.clear();
          reference.clear();
        } else {
          // Few ports, many ports, and the edges of the range.
          const port = next() < 0.5 ? Math.floor(next() * 40) : next() < 0.5 ? Math.floor(next() * 65536) : next() < 0.5 ? 0 : 65535;
          const counts = next() < 0.5;
          const cap = seed === 42 ? 16 : 1024;
          expect(ports.add(port, epoch, counts, cap)).toBe(reference.add(port, epoch, counts, cap));
        }
        if (step % 97 === 0) {
          sameState(ports, reference, epoch - 7);
          const probe = Math.floor(next() * 65536);
          expect(ports.keys().includes(probe)).toBe(reference.has(probe));
        }
      }
      sameState(ports, reference, epoch - 7);
    }
  });

  it('counts a member once when a counting packet hits it after a non-counting one', () => {
    const ports = new PortWindowSet();
    ports.add(22, 10, false, 1024);
    ports.add(22, 10, true, 1024);
    ports.add(22, 11, true, 1024);
    ports.add(22, 12, false, 1024);
    expect(ports.counted).toBe(1);
    // Counted stays with the member as its epoch moves: a sweep before epoch 12 keeps it, counted.
    ports.sweep(12);
    expect([ports.size, ports.counted]).toEqual([1, 1]);
    ports.sweep(13);
    expect([ports.size, ports.counted]).toEqual([0, 0]);
  });

  it('turns away a new port at the cap, says so while the epoch lasts, and takes it once a sweep made room', () => {
    const ports = new PortWindowSet();
    for (let port = 1; port <= 16; port++) expect(ports.add(port, 5, true, 16)).toBe(true);
    expect(ports.add(17, 6, true, 16)).toBe(false);
    expect(ports.keys().includes(17)).toBe(false);
    expect(ports.atLeast(6)).toBe(true);
    expect(ports.atLeast(7)).toBe(false);
    ports.add(1, 7, true, 16);
    ports.sweep(7);
    expect(ports.keys()).toEqual([1]);
    expect(ports.add(17, 7, true, 16)).toBe(true);
    expect(ports.keys().sort((a, b) => a - b)).toEqual([1, 17]);
  });
});
