import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PacketEvent } from '../../src/pipeline/types.js';
import { HistoryDatabase } from '../../src/store/database.js';
import { historyOptions } from '../../src/store/options.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import { matchedSources, searchSql, type Access } from '../../src/store/search.js';
import { seqs } from '../track/helpers.js';
import { DROP_SCHEMA_3_COLUMNS, HOUR, SCHEMA_3_LAYOUT, SyncStore, T0, packet, storedRows, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** A mixed stream: a few sources over two hours, many ports (past the cap), hosts, windows, verdicts, owners, lists. */
function stream(n: number): PacketEvent[] {
  const next = seqs(7);
  const out: PacketEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = next();
    out.push(
      packet({
        time: T0 + Math.floor((i / n) * 2 * HOUR),
        src: ['203.0.113.7', '198.51.100.9', '2001:db8:5::1', '2001:db8:5::2'][r % 4],
        dport: 1 + (r % 90),
        dst: `192.0.2.${r % 40}`,
        verdict: r % 3 === 0 ? 'allowed' : 'blocked',
        window: [16384, 65535, 1024][r % 3],
        tool: r % 5 === 0 ? 'masscan' : '',
        os: r % 2 === 0 ? 'linux' : 'windows',
        country: i < n / 2 ? '' : 'NL',
        asn: i % 7 === 0 ? 64500 : undefined,
        org: i % 7 === 0 ? 'EXAMPLE' : undefined,
        listed: r % 11 === 0 ? ['drop'] : [],
      }),
    );
  }
  return out;
}

describe('writing sightings', () => {
  it('stores the same rows whether a source-hour came in one flush or in many', () => {
    const events = stream(2000);
    const once = new SyncStore(tmp.file('once.db'), { maxPortsPerRow: 16, maxHostsPerRow: 8 });
    once.record(...events).flush();
    const often = new SyncStore(tmp.file('often.db'), { maxPortsPerRow: 16, maxHostsPerRow: 8 });
    events.forEach((e, i) => {
      often.record(e);
      if (i % 37 === 0 || i < 20) often.flush();
    });
    often.flush();
    expect(often.batches).toBeGreaterThan(50);
    once.close();
    often.close();
    const a = storedRows(tmp.file('once.db'));
    const b = storedRows(tmp.file('often.db'));
    expect(a).toHaveLength(6); // 3 sources (the IPv6 pair is one /64) × 2 hours
    expect(b).toEqual(a);
    expect(a.some((r) => r.ports_capped === 1)).toBe(true);
    expect(a.some((r) => r.hosts_capped === 1)).toBe(true);
  });

  it('adds counts and merges sets on a second write of the same source-hour', () => {
    const s = new SyncStore(tmp.file());
    s.record(packet({ dport: 22, window: 16384, verdict: 'blocked', time: T0 + 10 })).flush();
    s.record(packet({ dport: 80, window: 16384, verdict: 'allowed', time: T0 + 5, country: 'DE', listed: ['drop'] })).flush();
    s.close();
    const [row] = storedRows(tmp.file());
    expect(row).toMatchObject({ source: '203.0.113.7', hour: T0, first_seen: T0 + 5, last_seen: T0 + 10, allowed: 1, blocked: 1, syns: 2, ports: ',22,80,', windows: ',16384,', country: 'DE', lists: '\x1fdrop\x1f' });
  });

  it('adds a new set of one member as the merge of sets does: appended up to the cap, then the row says capped; a member present changes nothing', () => {
    const s = new SyncStore(tmp.file(), { maxPortsPerRow: 3, maxHostsPerRow: 2, maxValuesPerRow: 2 });
    const row = (): Record<string, unknown> => {
      const r = storedRows(tmp.file())[0]!;
      return { ports: r.ports, ports_capped: r.ports_capped, hosts: r.hosts, hosts_capped: r.hosts_capped, tools: r.tools };
    };
    s.record(packet({ dport: 22, dst: '192.0.2.1', tool: 'zmap' })).flush();
    s.record(packet({ dport: 22, dst: '192.0.2.1', tool: 'zmap' })).flush();
    expect(row()).toEqual({ ports: ',22,', ports_capped: 0, hosts: '\x1f192.0.2.1\x1f', hosts_capped: 0, tools: '\x1fzmap\x1f' });
    s.record(packet({ dport: 23, dst: '192.0.2.2', tool: 'masscan' })).flush();
    expect(row()).toEqual({ ports: ',22,23,', ports_capped: 0, hosts: '\x1f192.0.2.1\x1f192.0.2.2\x1f', hosts_capped: 0, tools: '\x1fzmap\x1fmasscan\x1f' });
    s.record(packet({ dport: 80, dst: '192.0.2.3', tool: 'nmap' })).flush();
    expect(row()).toEqual({ ports: ',22,23,80,', ports_capped: 0, hosts: '\x1f192.0.2.1\x1f192.0.2.2\x1f', hosts_capped: 1, tools: '\x1fzmap\x1fmasscan\x1f' });
    // A port that is a prefix of one stored (2 of 22) is not taken for it.
    s.record(packet({ dport: 2, dst: '192.0.2.1' })).flush();
    expect(row()).toMatchObject({ ports: ',22,23,80,', ports_capped: 1 });
    s.close();
  });

  it('stores where a City database placed the source; on a merge the latest place (city and location together) wins, an unplaced write keeps it', () => {
    const s = new SyncStore(tmp.file());
    const place = (name: string): Record<string, unknown> => {
      const row = storedRows(tmp.file()).find((r) => r.source === name)!;
      return { country: row.country, city: row.city, lat: row.lat, lon: row.lon };
    };
    s.record(packet({ src: '203.0.113.7', time: T0, country: 'GB', city: 'London', location: { lat: 51.5142, lon: -0.0931 } }));
    s.record(packet({ src: '198.51.100.9', time: T0, country: 'CN' })).flush();
    expect(place('203.0.113.7')).toEqual({ country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931 });
    expect(place('198.51.100.9')).toEqual({ country: 'CN', city: '', lat: null, lon: null });
    s.record(packet({ src: '203.0.113.7', time: T0 + 1, country: 'NL', city: 'Amsterdam', location: { lat: 52.3759, lon: 4.8975 } })).flush();
    expect(place('203.0.113.7')).toEqual({ country: 'NL', city: 'Amsterdam', lat: 52.3759, lon: 4.8975 });
    // A Country database's answer (no city, no location), then no answer at all: the place stays.
    s.record(packet({ src: '203.0.113.7', time: T0 + 2, country: 'NL' })).flush();
    s.record(packet({ src: '203.0.113.7', time: T0 + 3 })).flush();
    expect(place('203.0.113.7')).toEqual({ country: 'NL', city: 'Amsterdam', lat: 52.3759, lon: 4.8975 });
    s.record(packet({ src: '198.51.100.9', time: T0 + 4, country: 'CN', city: 'Beijing', location: { lat: 39.9075, lon: 116.3972 } })).flush();
    expect(place('198.51.100.9')).toEqual({ country: 'CN', city: 'Beijing', lat: 39.9075, lon: 116.3972 });
    // A place with coordinates but no city name (a country's centre) replaces the place whole: no name keeps other coordinates.
    s.record(packet({ src: '198.51.100.9', time: T0 + 5, country: 'CN', city: '', location: { lat: 35, lon: 105 } })).flush();
    expect(place('198.51.100.9')).toEqual({ country: 'CN', city: '', lat: 35, lon: 105 });
    expect(storedRows(tmp.file())).toHaveLength(2);
    s.close();
  });

  it('keeps the addresses as numbers for ranges: IPv4 an integer, an IPv6 network 16 bytes', () => {
    const s = new SyncStore(tmp.file());
    s.record(packet({ src: '203.0.113.7' }), packet({ src: '2001:db8:1:2::9' })).flush();
    s.close();
    const rows = storedRows(tmp.file());
    expect(rows.map((r) => r.addr)).toEqual([Buffer.from('20010db8000100020000000000000000', 'hex'), 0xcb007107]);
  });
});

describe('reading for a search', () => {
  it('reads a wide range in the table\'s own order without sorting, a narrow one by the hour index, an address by the address index', () => {
    const path = tmp.file();
    new SyncStore(path).record(...stream(500)).flush().close();
    const db = new Database(path, { readonly: true });
    const plan = (access: Access, q: Parameters<typeof searchSql>[0]): string => {
      const { sql, params } = matchedSources(searchSql(q, 64), 'source, sum(blocked)', access);
      return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    };
    const range = { from: T0, to: T0 + 2 * HOUR };
    expect(plan('all', range)).toBe('SCAN sightings');
    // With a condition on single hours: the sources meeting it, from one pass, then each one's rows by the key.
    expect(plan('all', { ...range, window: 16384 })).toMatch(/^SEARCH sightings USING PRIMARY KEY \(source=\?\); LIST SUBQUERY \d+; SCAN sightings$/);
    expect(plan('hours', range)).toMatch(/^SEARCH sightings USING INDEX sightings_hour \(hour>\? AND hour<\?\); USE TEMP B-TREE FOR GROUP BY$/);
    expect(plan('address', { ...range, address: '203.0.113.0/24' })).toMatch(/^(MULTI-INDEX OR; INDEX 1; )?SEARCH sightings USING INDEX sightings_addr /);
    db.close();
  });
});

describe('opening the file', () => {
  it('creates a new file with its schema version, and opens it again after a restart', () => {
    const path = tmp.file('dir/below/history.db');
    const s = new SyncStore(path);
    expect(s.db.opened).toEqual({ created: true, schema: SCHEMA_VERSION, upgradedFrom: null, upgradeMs: 0 });
    s.record(packet()).flush();
    s.close();
    const again = HistoryDatabase.open(historyOptions({ path }));
    expect(again.opened).toEqual({ created: false, schema: SCHEMA_VERSION, upgradedFrom: null, upgradeMs: 0 });
    expect(again.timeline('203.0.113.7', T0, T0 + HOUR).hours).toHaveLength(1);
    again.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT value FROM meta WHERE key = 'schema'").get()).toEqual({ value: SCHEMA_VERSION });
    expect(raw.pragma('application_id', { simple: true })).toBe(0x6e667768);
    raw.close();
  });

  it('upgrades a file of schema 2: its rows are each one source (folded 0) placed nowhere, and new rows may fold', () => {
    const path = tmp.file();
    new SyncStore(path).record(packet()).flush().close();
    const raw = new Database(path);
    raw.exec(`${DROP_SCHEMA_3_COLUMNS} UPDATE meta SET value = 2 WHERE key = 'schema'`);
    raw.pragma('user_version = 2');
    raw.close();
    const again = new SyncStore(path, { foldAfter: 1 });
    again.record(packet({ src: '198.51.100.1' }), packet({ src: '198.51.100.2' })).flush();
    expect(again.db.search({ from: T0, to: T0 + HOUR }).sources.map((r) => [r.source, r.folded])).toEqual([
      ['198.0.0.0/8', 1],
      ['198.51.100.1', 0],
      ['203.0.113.7', 0],
    ]);
    again.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
    // The old row was placed by no City database.
    expect(storedRows(path).find((r) => r.source === '203.0.113.7')).toMatchObject({ folded: 0, city: '', lat: null, lon: null });
  });

  it('upgrades a file of schema 3 to one table in (source, hour) order: every row kept, two rows of a source-hour added up, merged into and searched as before', () => {
    const path = tmp.file();
    new SyncStore(path)
      .record(packet({ src: '203.0.113.7', dport: 22 }), packet({ src: '198.51.100.9', dport: 80, verdict: 'allowed' }), packet({ src: '2001:db8:5::1', time: T0 + HOUR }))
      .flush()
      .close();
    const before = storedRows(path);
    const raw = new Database(path);
    raw.exec(SCHEMA_3_LAYOUT);
    // Never written by the writer, which merged; the copy must not fail on it.
    raw.exec("INSERT INTO sightings SELECT * FROM sightings WHERE source = '198.51.100.9'");
    raw.close();
    const again = new SyncStore(path);
    expect(again.db.opened).toMatchObject({ created: false, schema: SCHEMA_VERSION, upgradedFrom: 3 });
    again.record(packet({ src: '203.0.113.7', dport: 23, time: T0 + 1 })).flush();
    expect(again.db.search({ from: T0, to: T0 + 2 * HOUR }).sources.map((r) => [r.source, r.packets.total, r.ports])).toEqual([
      ['198.51.100.9', 2, [80]],
      ['203.0.113.7', 2, [22, 23]],
      ['2001:db8:5::/64', 1, [22]],
    ]);
    again.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((check.prepare("SELECT sql FROM sqlite_schema WHERE name = 'sightings'").get() as { sql: string }).sql).toMatch(/PRIMARY KEY \(source, hour\)\s*\) WITHOUT ROWID$/);
    expect(check.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'sightings' ORDER BY name").all()).toEqual([{ name: 'sightings_addr' }, { name: 'sightings_hour' }]);
    check.close();
    const after = storedRows(path);
    expect(after.find((r) => r.source === '198.51.100.9')).toEqual({ ...before.find((r) => r.source === '198.51.100.9'), allowed: 2, syns: 2 });
    expect(after.find((r) => r.source === '2001:db8:5::/64')).toEqual(before.find((r) => r.source === '2001:db8:5::/64'));
  });

  it('refuses a file that is not SQLite, saying so', () => {
    const path = tmp.file();
    writeFileSync(path, 'ip,count\n203.0.113.7,5\n'.repeat(100));
    expect(() => HistoryDatabase.open(historyOptions({ path }))).toThrow(`history store ${path}: not an SQLite database (file is not a database)`);
  });

  it("refuses someone else's SQLite database", () => {
    const path = tmp.file();
    const other = new Database(path);
    other.exec('CREATE TABLE t (x)');
    other.close();
    expect(() => HistoryDatabase.open(historyOptions({ path }))).toThrow(/an SQLite database of something else \(application_id 0, 1 tables\), not nfwatch's history/);
  });

  it('refuses a file of a newer schema', () => {
    const path = tmp.file();
    new SyncStore(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => HistoryDatabase.open(historyOptions({ path }))).toThrow(`written by a newer nfwatch (schema 99; this one knows up to ${SCHEMA_VERSION})`);
  });

  it('refuses a corrupt file at open, not at some later write', () => {
    const path = tmp.file();
    const s = new SyncStore(path);
    for (let i = 0; i < 3000; i++) s.record(packet({ src: `10.1.${i >> 8}.${i & 255}`, dport: i % 1000 }));
    s.flush();
    s.close();
    // Scribble over pages past the header (the b-tree pages), leaving the file SQLite-shaped.
    const bytes = readFileSync(path);
    for (let i = 4096 * 3; i < bytes.length; i += 7) bytes[i] = 0xa5;
    writeFileSync(path, bytes);
    expect(() => HistoryDatabase.open(historyOptions({ path }))).toThrow(new RegExp(`history store ${path}: (corrupt|not an SQLite database)`));
  });
});
