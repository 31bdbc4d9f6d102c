// Packet events, temporary history files and a synchronous store (the writer's database on the
// test's own thread) for the history store specs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NONE, type PacketEvent } from '../../src/pipeline/types.js';
import type { SightingBatch } from '../../src/store/batch.js';
import { HistoryDatabase } from '../../src/store/database.js';
import { historyOptions, type HistoryOptions } from '../../src/store/options.js';
import { Sightings } from '../../src/store/sightings.js';
import { packet as trackPacket, type PacketSpec } from '../track/helpers.js';

export { T0 } from '../track/helpers.js';
export const HOUR = 3_600_000;

export interface EventSpec extends PacketSpec {
  asn?: number;
  org?: string;
  cloud?: string;
  listed?: readonly string[];
}

/** One packet event as the enrichers leave it (owner and lists included when given). */
export function packet(spec: EventSpec = {}): PacketEvent {
  const e = trackPacket(spec);
  if (spec.asn !== undefined || spec.org !== undefined || spec.cloud !== undefined) {
    e.owner = Object.freeze({ asn: spec.asn ?? NONE, org: spec.org ?? '', cloud: spec.cloud ?? '' });
  }
  e.listed = spec.listed === undefined ? [] : Object.freeze([...spec.listed]);
  return e;
}

/** A fresh directory under the system's temporary one; `cleanup` removes it. */
export function tempDir(): { dir: string; file: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nfwatch-history-'));
  return { dir, file: (name = 'history.db') => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The recorder and the writer's database on this thread: record, flush() writes. */
export class SyncStore {
  readonly db: HistoryDatabase;
  readonly sightings: Sightings;
  readonly options: HistoryOptions;
  batches = 0;

  constructor(path: string, overrides: Partial<HistoryOptions> = {}) {
    this.options = historyOptions({ ...overrides, path });
    this.db = HistoryDatabase.open(this.options);
    this.sightings = new Sightings(
      this.options,
      (batch: SightingBatch) => {
        this.batches++;
        this.db.write(batch, []);
      },
      this.db.positions(),
    );
  }

  /** The events, as from a source without positions (a socket: NONE). */
  record(...events: PacketEvent[]): this {
    for (const e of events) this.sightings.record(e, NONE);
    return this;
  }

  /** One event at a position of its source. */
  recordAt(position: number, e: PacketEvent): this {
    this.sightings.record(e, position);
    return this;
  }

  flush(): this {
    this.sightings.flush();
    return this;
  }

  close(): void {
    this.db.close();
  }
}

/** Takes the sightings table back to before schema 3 (its columns dropped), to make a file of an older schema. */
/** SQL that lays a file's sightings out as schema 3 had them: a rowid table, its (source, hour) index carrying the sums. */
export const SCHEMA_3_LAYOUT = `
CREATE TABLE sightings_rowid AS SELECT * FROM sightings;
DROP TABLE sightings;
ALTER TABLE sightings_rowid RENAME TO sightings;
CREATE INDEX sightings_source ON sightings (source, hour, allowed, blocked, unknown, first_seen, last_seen, country);
CREATE INDEX sightings_hour ON sightings (hour);
CREATE INDEX sightings_addr ON sightings (addr) WHERE addr IS NOT NULL;
UPDATE meta SET value = 3 WHERE key = 'schema';
PRAGMA user_version = 3;
`;

export const DROP_SCHEMA_3_COLUMNS = ['folded', 'city', 'lat', 'lon'].map((c) => `ALTER TABLE sightings DROP COLUMN ${c};`).join(' ');

/** Every sighting row of the file as stored (a second, read-only connection), in a stable order. */
export function storedRows(path: string): Array<Record<string, unknown>> {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT * FROM sightings ORDER BY source, hour').all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}
