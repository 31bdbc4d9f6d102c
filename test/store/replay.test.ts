// Exactly once across restarts: the lines a source replays after a restart (a file resuming at its
// last checkpoint) were stored before and are skipped; incidents written twice are stored once.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NONE, type PacketEvent } from '../../src/pipeline/types.js';
import type { SightingBatch } from '../../src/store/batch.js';
import { HistoryDatabase } from '../../src/store/database.js';
import { HistoryStore } from '../../src/store/history.js';
import { historyOptions, type HistoryOptions } from '../../src/store/options.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import { Sightings } from '../../src/store/sightings.js';
import type { HistoryIncident } from '../../src/store/types.js';
import { memoryLogger } from '../../src/util/log.js';
import { DROP_SCHEMA_3_COLUMNS, HOUR, SyncStore, T0, packet, storedRows, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
const open: HistoryStore[] = [];
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  tmp.cleanup();
});

const NAMES = ['ulogd', 'sock'];
const RANGE = { from: T0, to: T0 + HOUR };

async function store(overrides: Partial<HistoryOptions> = {}, logger = memoryLogger()): Promise<HistoryStore> {
  const s = await HistoryStore.open({ path: tmp.file(), retentionDays: 36_500, sourceNames: NAMES, ...overrides }, logger);
  open.push(s);
  return s;
}

/** The event a file source "ulogd" (index 0) read ending at `position`: one per position, a few sources. */
function line(position: number, source = 0): PacketEvent {
  const e = packet({ src: `203.0.113.${position % 5}`, dport: position, time: T0 + position * 1000 });
  e.source = source;
  return e;
}

const detection: HistoryIncident = { time: T0 + 5000, kind: 'detection', subject: '203.0.113.1', severity: 3, text: 'detected vertical scan (severity 3)', detail: { ports: '1-50' } };

function positionsOf(path: string): Array<{ source: string; position: number }> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT source, position FROM positions ORDER BY source').all() as Array<{ source: string; position: number }>;
  } finally {
    db.close();
  }
}

describe('after a restart (writer thread)', () => {
  it('skips the lines a source replays up to the stored position, stores the new ones, and stores an incident once', async () => {
    const first = await store();
    for (let p = 1; p <= 100; p++) first.record(line(p), p);
    first.recordIncident(detection);
    await first.close();
    expect(first.stats()).toMatchObject({ skippedReplayed: 0, incidentsWritten: 1 });
    expect(positionsOf(tmp.file())).toEqual([{ source: 'ulogd', position: 100 }]);

    const logger = memoryLogger();
    const again = await store({}, logger);
    // Resumed at an older checkpoint: 1..100 again, then 101..150 new; the tracker detects again.
    for (let p = 1; p <= 150; p++) again.record(line(p), p);
    again.recordIncident(detection);
    again.flush();
    await again.written();
    expect(again.stats()).toMatchObject({ skippedReplayed: 100, incidentsWritten: 1, writeErrors: 0 });
    const r = await again.search({ from: T0, to: T0 + HOUR });
    expect(r.totals.packets).toBe(150);
    expect(r.sources.map((s) => s.packets.total).sort()).toEqual([30, 30, 30, 30, 30]);
    expect(r.sources.flatMap((s) => s.ports).sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(await again.incidents(T0, T0 + HOUR)).toHaveLength(1);
    await again.close();
    expect(positionsOf(tmp.file())).toEqual([{ source: 'ulogd', position: 150 }]);
    const log = logger.lines.join('\n');
    expect(log).toMatch(/history: skipping lines of ulogd already stored \(up to position 100\)/);
    expect(log).toMatch(/history: skipped 100 lines of ulogd already stored; recording from position 101/);
  });

  it('never skips events without positions (a socket source: NONE)', async () => {
    const first = await store();
    for (let p = 1; p <= 10; p++) first.record(line(p, 1), NONE);
    await first.close();
    expect(positionsOf(tmp.file())).toEqual([]);
    const again = await store();
    for (let p = 1; p <= 10; p++) again.record(line(p, 1), NONE);
    again.flush();
    await again.written();
    expect(again.stats().skippedReplayed).toBe(0);
    expect((await again.search(RANGE)).totals.packets).toBe(20);
  });

  it('keeps positions by source name: another order of the sources at the next start still skips the right ones', async () => {
    const first = await store({ sourceNames: ['a', 'b'] });
    for (let p = 1; p <= 10; p++) first.record(line(p, 0), p);
    for (let p = 1; p <= 20; p++) first.record(line(p, 1), p * 10);
    await first.close();
    expect(positionsOf(tmp.file())).toEqual([
      { source: 'a', position: 10 },
      { source: 'b', position: 200 },
    ]);
    const again = await store({ sourceNames: ['b', 'a'] });
    for (let p = 1; p <= 12; p++) again.record(line(p, 1), p); // "a": 1..10 skipped
    again.record(line(21, 0), 210); // "b": new
    await again.close();
    expect(again.stats().skippedReplayed).toBe(10);
    expect(positionsOf(tmp.file())).toEqual([
      { source: 'a', position: 12 },
      { source: 'b', position: 210 },
    ]);
  });
});

describe('replay in the recorder', () => {
  function recorder(stored: Record<string, number>): { s: Sightings; batches: SightingBatch[]; notices: string[] } {
    const batches: SightingBatch[] = [];
    const notices: string[] = [];
    const s = new Sightings(historyOptions({ path: 'unused', sourceNames: NAMES }), (b) => batches.push(b), stored, (m) => notices.push(m));
    return { s, batches, notices };
  }

  it('stops checking a source at its first position past the stored one', () => {
    const { s, batches, notices } = recorder({ ulogd: 5 });
    for (const p of [3, 4, 5, 6, 2, 5]) s.record(line(p), p);
    expect(s.skippedReplayed).toBe(3);
    s.flush();
    expect(batches[0]!.packets).toBe(3);
    expect(Array.from(batches[0]!.positions)).toEqual([6, NONE]);
    expect(notices).toEqual(['history: skipping lines of ulogd already stored (up to position 5)', 'history: skipped 3 lines of ulogd already stored; recording from position 6']);
  });

  it('does not skip NONE positions even where a name has a stored position, nor log anything when nothing was skipped', () => {
    const { s, notices } = recorder({ sock: 500, ulogd: 10 });
    s.record(line(1, 1), NONE);
    s.record(line(2, 1), NONE);
    s.record(line(11, 0), 11);
    expect(s.skippedReplayed).toBe(0);
    expect(s.pending).toBeGreaterThan(0);
    expect(notices).toEqual([]);
  });

  it('carries the highest position of each source in its batch, NONE for sources without one', () => {
    const { s, batches } = recorder({});
    s.record(line(1, 0), 7);
    s.record(line(2, 0), 9);
    s.record(line(3, 1), NONE);
    s.flush();
    s.record(line(4, 0), 12);
    s.flush();
    expect(batches.map((b) => Array.from(b.positions))).toEqual([
      [9, NONE],
      [12, NONE],
    ]);
  });
});

describe('positions in the file', () => {
  it('are written in the same transaction as the batch: a batch whose write fails stores no position', () => {
    const path = tmp.file();
    const options = historyOptions({ path, sourceNames: NAMES });
    const db = HistoryDatabase.open(options);
    const errors: string[] = [];
    const s = new Sightings(options, (b) => {
      try {
        db.write(b, [detection]);
      } catch (e) {
        errors.push(String(e));
      }
    });
    for (let p = 1; p <= 10; p++) s.record(line(p), p);
    s.flush();
    expect(db.positions()).toEqual({ ulogd: 10 });
    // The next batch fails (its new row cannot be inserted): neither its rows nor its position stay.
    const raw = new Database(path);
    raw.exec("CREATE TRIGGER refuse BEFORE INSERT ON sightings BEGIN SELECT RAISE(ABORT, 'refused'); END");
    raw.close();
    s.record(packet({ src: '192.0.2.99', time: T0 + 11_000 }), 11);
    s.flush();
    expect(errors).toHaveLength(1);
    expect(db.positions()).toEqual({ ulogd: 10 });
    db.close();
    expect(storedRows(path).map((r) => r.source)).not.toContain('192.0.2.99');
    expect(positionsOf(path)).toEqual([{ source: 'ulogd', position: 10 }]);
  });

  it('are read back by the synchronous store, which then skips what was stored', () => {
    const path = tmp.file();
    const a = new SyncStore(path, { sourceNames: NAMES });
    for (let p = 1; p <= 20; p++) a.recordAt(p, line(p));
    a.flush().close();
    const b = new SyncStore(path, { sourceNames: NAMES });
    for (let p = 1; p <= 30; p++) b.recordAt(p, line(p));
    b.flush().close();
    expect(b.sightings.skippedReplayed).toBe(20);
    const total = storedRows(path).reduce((n, r) => n + Number(r.allowed) + Number(r.blocked) + Number(r.unknown), 0);
    expect(total).toBe(30);
  });
});

describe('incidents stored once', () => {
  it('ignores an incident equal to a stored one (time, kind, subject, severity, text), even in the same write', () => {
    const path = tmp.file();
    const db = HistoryDatabase.open(historyOptions({ path }));
    db.write(null, [detection, detection, { ...detection, detail: { other: true } }]);
    db.write(null, [detection, { ...detection, severity: 4 }]);
    expect(db.incidents(T0, T0 + HOUR).map((i) => [i.severity, i.detail])).toEqual([
      [4, { ports: '1-50' }],
      [3, { ports: '1-50' }],
    ]);
    db.close();
  });

  it('upgrades a file of schema 1: duplicates go (the first stays), then the unique index and the positions table', () => {
    const path = tmp.file();
    new SyncStore(path).close();
    // Back to schema 1 as it was, with an incident stored three times.
    const raw = new Database(path);
    raw.exec(`DROP INDEX incidents_once; DROP TABLE positions; ${DROP_SCHEMA_3_COLUMNS} UPDATE meta SET value = 1 WHERE key = 'schema'`);
    raw.pragma('user_version = 1');
    const add = raw.prepare('INSERT INTO incidents (time, kind, subject, severity, text, detail) VALUES (?, ?, ?, ?, ?, ?)');
    add.run(T0, 'detection', 'x', 3, 'same', '{"n":1}');
    add.run(T0, 'detection', 'x', 3, 'same', '{"n":2}');
    add.run(T0, 'detection', 'x', 3, 'same', '{"n":3}');
    add.run(T0, 'alert', 'x', 3, 'same', '{}');
    raw.close();

    const db = HistoryDatabase.open(historyOptions({ path, sourceNames: NAMES }));
    expect(db.incidents(T0, T0 + 1).map((i) => [i.kind, i.detail])).toEqual([
      ['alert', {}],
      ['detection', { n: 1 }],
    ]);
    db.write(null, [{ time: T0, kind: 'detection', subject: 'x', severity: 3, text: 'same', detail: {} }]);
    expect(db.incidents(T0, T0 + 1)).toHaveLength(2);
    expect(db.positions()).toEqual({});
    db.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema'").get()).toEqual({ value: SCHEMA_VERSION });
    check.close();
  });
});
