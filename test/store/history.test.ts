import { statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NONE } from '../../src/pipeline/types.js';
import { HistoryStore } from '../../src/store/history.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import type { HistoryOptions } from '../../src/store/options.js';
import { memoryLogger } from '../../src/util/log.js';
import { HOUR, SCHEMA_3_LAYOUT, T0, packet, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
const open: HistoryStore[] = [];
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  tmp.cleanup();
});

/** A store on the writer thread; T0 is a fixed date, so age retention is kept out of the way. */
async function store(overrides: Partial<HistoryOptions> = {}): Promise<HistoryStore> {
  const s = await HistoryStore.open({ path: tmp.file(), retentionDays: 36_500, ...overrides });
  open.push(s);
  return s;
}

const RANGE = { from: T0, to: T0 + HOUR };

describe('history store (writer thread)', () => {
  it('writes what was recorded at the next flush and answers questions about it', async () => {
    const s = await store();
    s.record(packet({ src: '203.0.113.7', dport: 22 }), NONE);
    s.record(packet({ src: '203.0.113.7', dport: 23, time: T0 + 1000 }), NONE);
    s.record(packet({ src: '198.51.100.9', dport: 80, verdict: 'allowed' }), NONE);
    s.recordIncident({ time: T0 + 500, kind: 'detection', subject: '203.0.113.7', severity: 3, text: 'detected vertical scan (severity 3)', detail: { ports: '22-23' } });
    expect(s.stats()).toMatchObject({ pendingSources: 2, pendingIncidents: 1, queuedBatches: 0 });
    s.flush();
    expect(s.stats()).toMatchObject({ pendingSources: 0, pendingIncidents: 0, queuedBatches: 1 });
    await s.written();
    const r = await s.search(RANGE);
    expect(r.totals).toEqual({ sources: 2, packets: 3, blocked: 2 });
    expect(r.sources[0]).toMatchObject({ source: '203.0.113.7', ports: [22, 23], detections: 1, maxSeverity: 3 });
    expect(await s.countries(RANGE)).toEqual([{ country: '', sources: 2, packets: 3, blocked: 2 }]);
    const t = await s.timeline('203.0.113.7', T0, T0 + HOUR);
    expect(t.hours).toHaveLength(1);
    expect(t.incidents[0]).toMatchObject({ kind: 'detection', detail: { ports: '22-23' } });
    expect((await s.incidents(T0, T0 + HOUR)).map((i) => i.subject)).toEqual(['203.0.113.7']);
    const stats = s.stats();
    expect(stats).toMatchObject({ batchesWritten: 1, rowsWritten: 2, incidentsWritten: 1, writeErrors: 0, queuedBatches: 0 });
    expect(stats.dbBytes).toBeGreaterThan(0);
    expect(stats.lastWriteMs).toBeGreaterThanOrEqual(0);
  });

  it('stores a flood past foldAfter in network rows, every packet once, and counts the folded sources', async () => {
    const s = await store({ foldAfter: 100, flushMs: 60_000 });
    for (let i = 0; i < 1000; i++) s.record(packet({ src: `${20 + (i % 4)}.${(i >> 8) & 255}.7.${i & 255}`, dport: 80 }), NONE);
    expect(s.stats()).toMatchObject({ foldedSources: 900, pendingSources: 104 });
    s.flush();
    await s.written();
    const r = await s.search(RANGE);
    expect(r.totals).toEqual({ sources: 104, packets: 1000, blocked: 1000 });
    expect(r.sources.filter((x) => x.folded > 0).map((x) => [x.source, x.folded]).sort()).toEqual([
      ['20.0.0.0/8', 225],
      ['21.0.0.0/8', 225],
      ['22.0.0.0/8', 225],
      ['23.0.0.0/8', 225],
    ]);
  });

  it('answers places a City database located the sources at, through the writer thread', async () => {
    const s = await store();
    s.record(packet({ src: '81.2.69.142', country: 'GB', city: 'London', location: { lat: 51.5142, lon: -0.0931 } }), NONE);
    s.record(packet({ src: '203.0.113.7', country: 'CN' }), NONE);
    s.flush();
    await s.written();
    expect(await s.cities(RANGE)).toEqual([{ country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931, sources: 1, packets: 1, blocked: 1 }]);
    expect((await s.search({ ...RANGE, city: 'London' })).sources.map((r) => r.source)).toEqual(['81.2.69.142']);
  });

  it('flushes by itself every flushMs', async () => {
    const s = await store({ flushMs: 20 });
    s.record(packet(), NONE);
    for (let i = 0; i < 100 && s.stats().rowsWritten === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.stats().rowsWritten).toBe(1);
  });

  it('hands the pending sightings to the writer before a question, so its answer counts them though the timer would wait a minute', async () => {
    const s = await store({ flushMs: 60_000, questionFlushMs: 0 });
    s.record(packet({ src: '203.0.113.7', dport: 22 }), NONE);
    s.recordIncident({ time: T0, kind: 'detection', subject: '203.0.113.7', severity: 3, text: 'detected', detail: {} });
    expect((await s.search(RANGE)).totals).toEqual({ sources: 1, packets: 1, blocked: 1 });
    expect(await s.incidents(T0, T0 + HOUR)).toHaveLength(1);
    // Nothing pending for the second question: no second batch.
    expect(s.stats()).toMatchObject({ batchesWritten: 1, rowsWritten: 1, incidentsWritten: 1, pendingSources: 0 });
  });

  it('hands sightings over for questions at most once a questionFlushMs (counted from the last flush)', async () => {
    const s = await store({ flushMs: 60_000, questionFlushMs: 60_000 });
    s.record(packet({ src: '203.0.113.7' }), NONE);
    expect((await s.search(RANGE)).totals.packets).toBe(0);
    s.flush();
    await s.written();
    s.record(packet({ src: '198.51.100.9' }), NONE);
    expect((await s.search(RANGE)).sources.map((x) => x.source)).toEqual(['203.0.113.7']);
    expect(s.stats()).toMatchObject({ batchesWritten: 1, pendingSources: 1 });
  });

  it('hands incidents to the writer every incidentFlushMs while the sightings wait for flushMs', async () => {
    const s = await store({ flushMs: 60_000, incidentFlushMs: 20, questionFlushMs: 60_000 });
    s.record(packet({ src: '203.0.113.7' }), NONE);
    s.recordIncident({ time: T0, kind: 'block', subject: '203.0.113.7', severity: 0, text: 'blocked', detail: {} });
    for (let i = 0; i < 200 && s.stats().incidentsWritten === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.stats()).toMatchObject({ incidentsWritten: 1, rowsWritten: 0, pendingSources: 1 });
  });

  it('rejects a question it cannot answer with the reason', async () => {
    const s = await store();
    await expect(s.search({ ...RANGE, address: 'not-an-address' })).rejects.toThrow('address: not an address or CIDR network: not-an-address');
  });

  it('when the writer is behind, folds new sources into their network\'s row rather than turning them away', async () => {
    const s = await store({ maxQueuedBatches: 1 });
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.flush();
    // The first batch cannot have been written yet: this runs before the writer's answer can arrive.
    s.record(packet({ src: '192.0.2.1', time: T0 + 1 }), NONE); // seen before: its own row
    for (const src of ['192.0.2.2', '192.0.2.2', '192.0.2.3']) s.record(packet({ src }), NONE); // new: folded
    expect(s.stats()).toMatchObject({ pendingSources: 2, foldedSources: 2, droppedPackets: { writer_behind: 0 } });
    await s.written();
    s.flush();
    await s.written();
    const found = (await s.search(RANGE)).sources.map((x) => [x.source, x.packets.total]);
    expect(found).toEqual(expect.arrayContaining([['192.0.2.1', 2], ['192.0.0.0/8', 3]]));
    expect(found).toHaveLength(2);
  });

  it('when the writer is behind and folding is off, turns new sources away (counted) and keeps the batch due until a batch is written, rather than dropping it', async () => {
    const s = await store({ maxQueuedBatches: 1, foldAfter: 0 });
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.flush();
    // The first batch cannot have been written yet: this runs before the writer's answer can arrive.
    s.record(packet({ src: '192.0.2.1', time: T0 + 1 }), NONE); // seen before: still recorded
    for (const src of ['192.0.2.2', '192.0.2.2', '192.0.2.3']) s.record(packet({ src }), NONE); // new: turned away
    expect(s.stats()).toMatchObject({ pendingSources: 1, droppedPackets: { writer_behind: 3 } });
    s.recordIncident({ time: T0, kind: 'block', subject: '192.0.2.2', severity: 0, text: 'blocked', detail: {} });
    s.flush();
    // The sightings wait; the incident went: incidents are few, and worth more than sightings.
    expect(s.stats()).toMatchObject({ pendingSources: 1, queuedBatches: 2, droppedRows: { writer_behind: 0, write_failed: 0, closed: 0 }, droppedPackets: { writer_behind: 3 } });
    await s.written();
    // The first batch written, the one due went by itself.
    await s.written();
    expect((await s.search(RANGE)).sources.map((x) => [x.source, x.packets.total])).toEqual([['192.0.2.1', 2]]);
    expect(await s.incidents(T0, T0 + HOUR)).toHaveLength(1);
    expect(s.stats()).toMatchObject({ batchesWritten: 3, rowsWritten: 2, incidentsWritten: 1, queuedBatches: 0, pendingSources: 0, droppedRows: { writer_behind: 0 } });
    // Caught up: new sources are taken again.
    s.record(packet({ src: '192.0.2.9' }), NONE);
    expect(s.stats().pendingSources).toBe(1);
  });

  it('while the writer is behind, a batch that fills keeps its rows and folds the rest: every packet stored once the writer catches up', async () => {
    const s = await store({ maxQueuedBatches: 1, maxPendingSources: 100, flushMs: 60_000 });
    const sources = Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.7.${i & 255}`);
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.flush();
    // A botnet cycling through 1,000 sources while the first batch is being written.
    for (let round = 0; round < 3; round++) for (const src of sources) s.record(packet({ src, time: T0 + round }), NONE);
    s.flush();
    expect(s.stats()).toMatchObject({ queuedBatches: 1, droppedPackets: { writer_behind: 0, write_failed: 0, closed: 0 } });
    expect(s.stats().pendingSources).toBeLessThanOrEqual(100 + 1);
    await s.written();
    await s.written();
    const r = await s.search(RANGE);
    expect(r.totals.packets).toBe(3001);
    expect(s.stats()).toMatchObject({ droppedRows: { writer_behind: 0, write_failed: 0, closed: 0 }, droppedPackets: { writer_behind: 0, write_failed: 0, closed: 0 } });
  });

  it('writes the last batch on close however many are queued', async () => {
    const s = await store({ maxQueuedBatches: 1 });
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.flush();
    s.record(packet({ src: '192.0.2.1', time: T0 + 5 }), NONE);
    await s.close();
    expect(s.stats()).toMatchObject({ rowsWritten: 2, droppedRows: { writer_behind: 0 } });
    const again = await store();
    expect((await again.search(RANGE)).sources.map((x) => [x.source, x.packets.total])).toEqual([['192.0.2.1', 2]]);
  });

  it('keeps the file under maxBytes as it writes, without waiting for the timed check', async () => {
    const maxBytes = 256 * 1024;
    const s = await store({ maxBytes });
    for (let h = 0; h < 8; h++) {
      for (let i = 0; i < 1500; i++) s.record(packet({ src: `10.${h}.${i >> 8}.${i & 255}`, time: T0 + h * HOUR + i, dport: i }), NONE);
      s.flush();
      await s.written();
    }
    for (let i = 0; i < 100 && s.stats().retainedRows === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await s.search(RANGE); // answered after any retention pass queued before it
    expect(s.stats().retainedRows).toBeGreaterThan(0);
    expect(statSync(tmp.file()).size).toBeLessThanOrEqual(maxBytes);
    expect(s.stats().dbBytes).toBeGreaterThan(0);
  });

  it('turns away an incident that is not plain data, counting it, and writes the rest', async () => {
    const s = await store();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    s.recordIncident({ time: T0, kind: 'alert', subject: 'x', severity: 0, text: 'a', detail: circular });
    s.recordIncident({ time: Number.NaN, kind: 'alert', subject: 'x', severity: 0, text: 'a', detail: {} });
    s.recordIncident({ time: T0, kind: 'alert', subject: 'x', severity: 0, text: 'kept', detail: { f: () => 1, n: 1 } as Record<string, unknown> });
    s.flush();
    await s.written();
    expect(s.stats()).toMatchObject({ droppedIncidents: 2, incidentsWritten: 1 });
    expect((await s.incidents(T0, T0 + 1)).map((i) => [i.text, i.detail])).toEqual([['kept', { n: 1 }]]);
  });

  it('drops and counts incidents beyond maxPendingIncidents', async () => {
    const s = await store({ maxPendingIncidents: 2 });
    for (let i = 0; i < 5; i++) s.recordIncident({ time: T0 + i, kind: 'alert', subject: 'x', severity: 0, text: 'a', detail: {} });
    expect(s.stats()).toMatchObject({ pendingIncidents: 2, droppedIncidents: 3 });
  });

  it('flushes what is pending on close, and has it after a restart', async () => {
    const first = await store();
    first.record(packet({ src: '203.0.113.7', dport: 22 }), NONE);
    first.recordIncident({ time: T0 + 1, kind: 'block', subject: '203.0.113.7', severity: 0, text: 'blocked for 3600 s', detail: { seconds: 3600 } });
    await first.close();
    expect(first.stats()).toMatchObject({ rowsWritten: 1, incidentsWritten: 1 });
    await expect(first.search(RANGE)).rejects.toThrow('history store is closed');
    const again = await store();
    expect((await again.search(RANGE)).sources.map((x) => [x.source, x.ports])).toEqual([['203.0.113.7', [22]]]);
    expect((await again.timeline('203.0.113.7', T0, T0 + HOUR)).incidents.map((i) => i.text)).toEqual(['blocked for 3600 s']);
  });

  it('counts what is recorded after close as dropped', async () => {
    const s = await store({ maxPendingSources: 1 });
    await s.close();
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.record(packet({ src: '192.0.2.2' }), NONE);
    expect(s.stats().droppedRows.closed).toBe(1);
  });

  it('survives its writer thread dying: questions fail with why, sightings are counted lost, close still resolves', async () => {
    const logger = memoryLogger();
    const s = await HistoryStore.open({ path: tmp.file(), retentionDays: 36_500 }, logger);
    s.record(packet({ src: '192.0.2.1' }), NONE);
    s.flush();
    await s.written();
    await (s as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(s.search(RANGE)).rejects.toThrow(/the history writer stopped \(exit code 1\)/);
    s.record(packet({ src: '192.0.2.2' }), NONE);
    s.flush();
    await s.written();
    await s.close();
    expect(s.stats()).toMatchObject({ rowsWritten: 1, droppedRows: { write_failed: 1 } });
    expect(logger.lines.join('\n')).toMatch(/error.*the history writer stopped/);
  });

  it('says in the log when it upgraded the file it opened, and from which schema', async () => {
    const path = tmp.file();
    const first = await store({ path });
    first.record(packet({ src: '192.0.2.1' }), NONE);
    await first.close();
    const raw = new Database(path);
    raw.exec(SCHEMA_3_LAYOUT);
    raw.close();
    const logger = memoryLogger();
    const s = await HistoryStore.open({ path, retentionDays: 36_500 }, logger);
    open.push(s);
    expect(logger.lines.join('\n')).toMatch(new RegExp(`info.*history file ${path} upgraded from schema 3 to ${SCHEMA_VERSION} in \\d+\\.\\d s \\(an older nfwatch no longer opens it\\)`));
    expect((await s.search(RANGE)).sources.map((x) => [x.source, x.packets.total])).toEqual([['192.0.2.1', 1]]);
    const again = memoryLogger();
    open.push(await HistoryStore.open({ path, retentionDays: 36_500 }, again));
    expect(again.lines.join('\n')).not.toMatch(/upgraded/);
  });

  it('refuses, at open, a file at the path that is not a history database', async () => {
    const path = tmp.file();
    writeFileSync(path, 'hello, not a database\n'.repeat(200));
    await expect(HistoryStore.open({ path })).rejects.toThrow(`history store ${path}: not an SQLite database (file is not a database); move it away or choose another path`);
  });

  it('refuses options that make no sense before starting a thread', async () => {
    await expect(HistoryStore.open({ path: tmp.file(), flushMs: 0 })).rejects.toThrow('history flushMs must be an integer from 1');
  });

  it('runs retention at start, on the writer thread', async () => {
    const old = Date.now() - 10 * 24 * HOUR;
    const s = await store({ retentionDays: 36_500 });
    s.record(packet({ time: old }), NONE);
    await s.close();
    const logger = memoryLogger();
    const again = await HistoryStore.open({ path: tmp.file(), retentionDays: 5 }, logger);
    open.push(again);
    for (let i = 0; i < 100 && again.stats().retainedRows === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(again.stats().retainedRows).toBe(1);
    expect((await again.search({ from: old - HOUR, to: Date.now() })).sources).toEqual([]);
    expect(logger.lines.join('\n')).toMatch(/history in .*history\.db, 5 days/);
  });
});
