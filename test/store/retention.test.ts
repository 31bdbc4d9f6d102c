import { statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryIncident } from '../../src/store/types.js';
import { HOUR, SyncStore, T0, packet, storedRows, tempDir } from './helpers.js';

const DAY = 24 * HOUR;
const KiB = 1024;

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const note = (time: number, subject = '203.0.113.7'): HistoryIncident => ({ time, kind: 'alert', subject, severity: 0, text: 'alert', detail: {} });

/** `sources` sources in each of `hours` hours from T0, each with a few ports. */
function fill(store: SyncStore, hours: number, sources: number): void {
  for (let h = 0; h < hours; h++) {
    for (let i = 0; i < sources; i++) {
      for (let p = 0; p < 4; p++) store.record(packet({ src: `10.${h}.${i >> 8}.${i & 255}`, time: T0 + h * HOUR + i, dport: 1000 + p * 7 + i }));
    }
    store.flush();
  }
}

describe('retention', () => {
  it('deletes hours and incidents older than retentionDays, keeping an hour partly inside', () => {
    const store = new SyncStore(tmp.file(), { retentionDays: 30 });
    const now = T0 + 40 * DAY + 30 * 60_000;
    // 192.0.2.2's hour began before the cutoff (now - 30 days) and ends after it.
    store.record(packet({ src: '192.0.2.1', time: now - 31 * DAY }), packet({ src: '192.0.2.2', time: now - 30 * DAY - 10 * 60_000 }), packet({ src: '192.0.2.3', time: now - DAY })).flush();
    store.db.write(null, [note(now - 31 * DAY), note(now - 29 * DAY)]);
    const r = store.db.retain(now);
    expect(r).toMatchObject({ rows: 1, incidents: 1 });
    expect(storedRows(tmp.file()).map((x) => x.source)).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(store.db.incidents(0, now).map((i) => i.time)).toEqual([now - 29 * DAY]);
    store.close();
  });

  it('deletes the oldest hours until the file is under maxBytes, and the file shrinks', () => {
    const maxBytes = 256 * KiB;
    const store = new SyncStore(tmp.file(), { maxBytes });
    fill(store, 12, 400);
    store.db.write(null, [note(T0 + 10), note(T0 + 11 * HOUR)]);
    const before = store.db.bytes();
    expect(store.db.overSize()).toBe(true);
    const r = store.db.retain(T0 + 12 * HOUR);
    expect(r.rows).toBeGreaterThan(0);
    expect(store.db.overSize()).toBe(false);
    const size = statSync(tmp.file()).size;
    expect(size).toBeLessThanOrEqual(maxBytes);
    expect(store.db.bytes()).toBeLessThan(before);
    // What is left is the newest hours, whole.
    const hours = [...new Set(storedRows(tmp.file()).map((x) => x.hour as number))].sort((a, b) => a - b);
    expect(hours.at(-1)).toBe(T0 + 11 * HOUR);
    expect(hours[0]).toBeGreaterThan(T0);
    expect(hours).toEqual(Array.from({ length: hours.length }, (_, i) => hours[0]! + i * HOUR));
    expect(store.db.incidents(0, T0 + DAY).map((i) => i.time)).toEqual([T0 + 11 * HOUR]);
    // The file stops growing: more hours, another pass, still under.
    fill(store, 3, 400);
    store.db.retain(T0 + 15 * HOUR);
    expect(statSync(tmp.file()).size).toBeLessThanOrEqual(maxBytes);
    store.close();
  });

  it('left with one hour too big, deletes its sources with the fewest packets first', () => {
    const maxBytes = 128 * KiB;
    const store = new SyncStore(tmp.file(), { maxBytes });
    for (let i = 0; i < 3000; i++) store.record(packet({ src: `10.9.${i >> 8}.${i & 255}`, time: T0 + i, dport: i }));
    for (let i = 0; i < 50; i++) store.record(packet({ src: '203.0.113.7', time: T0 + i, dport: 22 }));
    store.flush();
    expect(store.db.overSize()).toBe(true);
    store.db.retain(T0 + HOUR);
    expect(statSync(tmp.file()).size).toBeLessThanOrEqual(maxBytes);
    const left = storedRows(tmp.file());
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(3001);
    expect(left.map((x) => x.source)).toContain('203.0.113.7');
    store.close();
  });

  it('deletes nothing when nothing is old and the file is small', () => {
    const store = new SyncStore(tmp.file());
    store.record(packet({ time: T0 })).flush();
    expect(store.db.retain(T0 + HOUR)).toMatchObject({ rows: 0, incidents: 0 });
    store.close();
  });
});
