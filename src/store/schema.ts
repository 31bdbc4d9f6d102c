// The history file: opening it, telling whether it is ours, creating or upgrading its tables.
// A file that is not SQLite, someone else's SQLite database, one of a newer schema, or a corrupt
// one is refused here with one clear sentence, rather than failing on some later write. A file
// of an older schema is upgraded in place, in one transaction (MIGRATIONS).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { errorText } from '../util/errors.js';

/** SQLite's application_id for nfwatch's history: "nfwh". `file(1)` shows it. */
export const APPLICATION_ID = 0x6e667768;
export const SCHEMA_VERSION = 4;

/** The sightings' columns as schema 1 made them (schema 3 added four; schema 4 keeps all in another table). */
const SIGHTING_COLUMNS_1 = `
  source TEXT NOT NULL,
  hour INTEGER NOT NULL,
  addr BLOB,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  allowed INTEGER NOT NULL,
  blocked INTEGER NOT NULL,
  unknown INTEGER NOT NULL,
  syns INTEGER NOT NULL,
  ports TEXT NOT NULL,
  ports_capped INTEGER NOT NULL,
  hosts TEXT NOT NULL,
  hosts_capped INTEGER NOT NULL,
  windows TEXT NOT NULL,
  fingerprints TEXT NOT NULL,
  tools TEXT NOT NULL,
  os TEXT NOT NULL,
  lists TEXT NOT NULL,
  country TEXT NOT NULL,
  asn INTEGER,
  org TEXT NOT NULL,
  cloud TEXT NOT NULL`;

/**
 * Schema 2: exactly once across restarts. An incident is stored once however often it is written
 * (a source replaying lines after a restart makes the tracker detect again: INSERT OR IGNORE);
 * and per source name the highest position whose sightings were written, in the same
 * transaction as them.
 */
const SCHEMA_2 = `
CREATE UNIQUE INDEX incidents_once ON incidents (time, kind, subject, severity, text);
CREATE TABLE positions (source TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
`;

/**
 * Schema 3: a row may stand for many sources seen once (a network's row during a flood of new
 * sources, sightings.ts): how many. And where a City database placed the source: its city, and
 * its coordinates (NULL when none did), for the map by city.
 */
const SCHEMA_3 = `
ALTER TABLE sightings ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sightings ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE sightings ADD COLUMN lat REAL;
ALTER TABLE sightings ADD COLUMN lon REAL;
`;

/**
 * Schema 4: the sightings are kept in (source, hour) order, the table being its own index on them
 * (WITHOUT ROWID). A row merged into is then changed in one b-tree, not in the table and in an
 * index that carried the search's sums: when every source comes back only after the rows of many
 * others (a botnet taking turns), nearly every row written is a merge (measured in process, a
 * million rows of 100,000 sources over three hours: 24 us a row with the index, whatever the
 * order; 17 with this table, rows in key order). The search's pass over most of the table reads it
 * in source order as before, whole rows rather than the index's (a million rows: 0.56-0.71 s
 * against 0.46-0.54 s). Two rows of one source-hour cannot be stored; none ever were (the writer
 * merged), but the copy adds any up rather than failing.
 */
const SCHEMA_4 = `
CREATE TABLE sightings_by_source (
${SIGHTING_COLUMNS_1},
  folded INTEGER NOT NULL DEFAULT 0,
  city TEXT NOT NULL DEFAULT '',
  lat REAL,
  lon REAL,
  PRIMARY KEY (source, hour)
) WITHOUT ROWID;
INSERT INTO sightings_by_source SELECT * FROM sightings WHERE true
  ON CONFLICT (source, hour) DO UPDATE SET
    first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
    allowed = allowed + excluded.allowed, blocked = blocked + excluded.blocked, unknown = unknown + excluded.unknown,
    syns = syns + excluded.syns, folded = folded + excluded.folded;
DROP TABLE sightings;
ALTER TABLE sightings_by_source RENAME TO sightings;
CREATE INDEX sightings_hour ON sightings (hour);
CREATE INDEX sightings_addr ON sightings (addr) WHERE addr IS NOT NULL;
`;

// A new file is made as schema 1 and taken through every upgrade: one way to each layout.
const TABLES = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;

-- One source (address, or IPv6 network) in one hour (epoch ms of its start).
-- addr: the source as a number for CIDR ranges: IPv4 an integer, an IPv6 network a 16-byte
-- blob (big-endian); NULL when the source is neither. Integers sort before blobs, so a range of
-- one family never meets the other.
-- Sets are delimited text (see sets.ts): ",22,80," and "\\x1fa\\x1fb\\x1f".
CREATE TABLE sightings (
${SIGHTING_COLUMNS_1}
);
CREATE INDEX sightings_source ON sightings (source, hour, allowed, blocked, unknown, first_seen, last_seen, country);
CREATE INDEX sightings_hour ON sightings (hour);
CREATE INDEX sightings_addr ON sightings (addr) WHERE addr IS NOT NULL;

CREATE TABLE incidents (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  severity INTEGER NOT NULL,
  text TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX incidents_time ON incidents (time);
CREATE INDEX incidents_subject ON incidents (subject, time);
${SCHEMA_2}${SCHEMA_3}${SCHEMA_4}`;

/** What open() reports about the file, for the log. */
export interface OpenedFile {
  created: boolean;
  /** The file's schema now: SCHEMA_VERSION. */
  schema: number;
  /** The schema the file was upgraded from by this open (null: none), and how long that took. */
  upgradedFrom: number | null;
  upgradeMs: number;
}

function refuse(path: string, why: string): Error {
  return new Error(`history store ${path}: ${why}`);
}

/**
 * Opens (or creates) the history file at `path`: WAL, synchronous=NORMAL, incremental
 * auto-vacuum (so retention can give space back). Throws a one-line Error when it is not ours.
 */
export function openHistoryFile(path: string): { db: Database.Database; opened: OpenedFile } {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw refuse(path, `cannot create its directory: ${errorText(e)}`);
  }
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (e) {
    throw refuse(path, `cannot open: ${errorText(e)}`);
  }
  try {
    return { db, opened: prepare(db, path) };
  } catch (e) {
    db.close();
    throw e;
  }
}

function prepare(db: Database.Database, path: string): OpenedFile {
  let applicationId: number;
  let tables: number;
  try {
    // The first read of the header: a file that is not SQLite fails here.
    applicationId = db.pragma('application_id', { simple: true }) as number;
    tables = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n;
  } catch (e) {
    throw refuse(path, `not an SQLite database (${errorText(e)}); move it away or choose another path`);
  }
  if (applicationId === 0 && tables === 0) {
    create(db);
    return { created: true, schema: SCHEMA_VERSION, upgradedFrom: null, upgradeMs: 0 };
  }
  if (applicationId !== APPLICATION_ID) {
    throw refuse(path, `an SQLite database of something else (application_id ${applicationId}, ${tables} tables), not nfwatch's history; move it away or choose another path`);
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw refuse(path, `written by a newer nfwatch (schema ${version}; this one knows up to ${SCHEMA_VERSION})`);
  }
  let check: string;
  try {
    check = String(db.pragma('quick_check(1)', { simple: true }));
  } catch (e) {
    throw refuse(path, `corrupt: ${errorText(e)}; move it away (nfwatch starts a new one)`);
  }
  if (check !== 'ok') throw refuse(path, `corrupt: ${check}; move it away (nfwatch starts a new one)`);
  settings(db);
  if (version === SCHEMA_VERSION) return { created: false, schema: SCHEMA_VERSION, upgradedFrom: null, upgradeMs: 0 };
  const started = performance.now();
  migrate(db, path, version);
  return { created: false, schema: SCHEMA_VERSION, upgradedFrom: version, upgradeMs: performance.now() - started };
}

/** Upgrades of the schema, by the version they start from: each takes it one version up. */
const MIGRATIONS: Record<number, (db: Database.Database) => void> = {
  // 1 → 2: the first of equal incidents stays (the one with the lowest id), then the unique index.
  1: (db) => {
    db.exec(`DELETE FROM incidents WHERE id NOT IN (SELECT min(id) FROM incidents GROUP BY time, kind, subject, severity, text);${SCHEMA_2}`);
  },
  // 2 → 3: every stored row is one source's, placed by no City database.
  2: (db) => {
    db.exec(SCHEMA_3);
  },
  // 3 → 4: the rows copied into a table in (source, hour) order.
  3: (db) => {
    db.exec(SCHEMA_4);
  },
};

/** Takes a file of schema `from` to SCHEMA_VERSION in one transaction: all of it or none. */
function migrate(db: Database.Database, path: string, from: number): void {
  try {
    db.transaction(() => {
      for (let v = from; v < SCHEMA_VERSION; v++) {
        const step = MIGRATIONS[v];
        if (step === undefined) throw new Error(`no upgrade from schema ${v}`);
        step(db);
      }
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
    })();
  } catch (e) {
    throw refuse(path, `cannot upgrade from schema ${from} to ${SCHEMA_VERSION}: ${errorText(e)}`);
  }
}

function create(db: Database.Database): void {
  // auto_vacuum takes effect only before the first table is made.
  db.pragma('auto_vacuum = INCREMENTAL');
  settings(db);
  db.transaction(() => {
    db.exec(TABLES);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    meta.run('schema', SCHEMA_VERSION);
    meta.run('created', Date.now());
  })();
}

function settings(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // The WAL file is cut back to this after checkpoints: it does not keep a flood's size.
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  db.pragma('temp_store = MEMORY');
  // SQLite's own default page cache (better-sqlite3 raises it to 16 MiB): the writes and the
  // searches read the file through the OS's cache anyway; measured on the flood bench, 14-22 MiB
  // less peak RSS.
  db.pragma('cache_size = -2000');
}
