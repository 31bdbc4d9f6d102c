// Writes a batch's rows into the sightings table: each row merges into the stored row of its
// source-hour (counts add up, sets merge by set_merge, the latest non-empty facts win), or is
// inserted when there is none. Two flushes of a source-hour so leave the row one flush would.
// Merge-else-insert rather than ON CONFLICT: the one index on (source, hour) also carries the
// search's sums (schema.ts), so it cannot be the UNIQUE one; the writer thread is the only
// writer. Parameters are positional and read straight from the batch's columns: named ones and
// an object per row cost ~2 µs a row, a third of the write.
import type Database from 'better-sqlite3';
import { NONE } from '../pipeline/types.js';
import { keyOfShape } from '../enrich/fingerprint.js';
import { sourceAddr } from './address.js';
import { F_HOSTS_CAPPED, F_PORTS_CAPPED, asnOf, geoOf, keyOf, listsOf, membersOf, orgOf, ownerOf, type SightingBatch } from './batch.js';
import type { HistoryOptions } from './options.js';
import { inlineNumberSetText, inlineStringSetText, mergeSetText, setOverflows, stringSetText } from './sets.js';

/** The columns a row is written with, in the INSERT's order. */
const COLUMNS = [
  'source', 'hour', 'addr', 'first_seen', 'last_seen', 'allowed', 'blocked', 'unknown', 'syns', 'folded', 'ports', 'ports_capped',
  'hosts', 'hosts_capped', 'windows', 'fingerprints', 'tools', 'os', 'lists', 'country', 'city', 'lat', 'lon', 'asn', 'org', 'cloud',
] as const;
type Column = (typeof COLUMNS)[number];
const AT = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as Record<Column, number>;

/** A statement written with @column names, made positional: its text and which value goes to each `?`. */
function positional(db: Database.Database, sql: string): { statement: Database.Statement; order: number[] } {
  const order: number[] = [];
  const text = sql.replace(/@([a-z_]+)/g, (_, name: string) => {
    const at = AT[name as Column];
    if (at === undefined) throw new Error(`sighting writer: no column ${name}`);
    order.push(at);
    return '?';
  });
  return { statement: db.prepare(text), order };
}

export class SightingWriter {
  private readonly merge: { statement: Database.Statement; order: number[] };
  private readonly insert: { statement: Database.Statement; order: number[] };
  private readonly values: unknown[] = new Array(COLUMNS.length);
  private readonly mergeArgs: unknown[];
  private readonly insertArgs: unknown[];
  private readonly scratch = new Uint16Array(8);
  private readonly maxValues: number;

  constructor(db: Database.Database, options: HistoryOptions) {
    this.maxValues = options.maxValuesPerRow;
    db.function('set_merge', { deterministic: true }, (a: unknown, b: unknown, cap: unknown) => mergeSetText(String(a), String(b), Number(cap)));
    db.function('set_overflows', { deterministic: true }, (a: unknown, b: unknown, cap: unknown) => (setOverflows(String(a), String(b), Number(cap)) ? 1 : 0));
    const p = options.maxPortsPerRow;
    const h = options.maxHostsPerRow;
    const v = options.maxValuesPerRow;
    const latest = (c: string): string => `${c} = CASE WHEN @${c} <> '' THEN @${c} ELSE ${c} END`;
    // A set that adds nothing to the stored one (none, or its text found whole in it: every member
    // between delimiters) leaves it as it is without calling into JavaScript, which costs more than
    // the rest of the row: a source's tool, OS, windows and fingerprints rarely change in an hour.
    const adds = (c: string): string => `@${c} <> '' AND instr(${c}, @${c}) = 0`;
    const merged = (c: string, cap: number): string => `${c} = CASE WHEN ${adds(c)} THEN set_merge(${c}, @${c}, ${cap}) ELSE ${c} END`;
    const capped = (c: string, cap: number): string => `${c}_capped = ${c}_capped | @${c}_capped | CASE WHEN ${adds(c)} THEN set_overflows(${c}, @${c}, ${cap}) ELSE 0 END`;
    // The place (city and coordinates) moves as a whole, so a name never meets another place's coordinates.
    const place = (c: string): string => `${c} = CASE WHEN @lat IS NOT NULL OR @city <> '' THEN @${c} ELSE ${c} END`;
    this.merge = positional(
      db,
      `UPDATE sightings SET
        first_seen = min(first_seen, @first_seen),
        last_seen = max(last_seen, @last_seen),
        allowed = allowed + @allowed,
        blocked = blocked + @blocked,
        unknown = unknown + @unknown,
        syns = syns + @syns,
        folded = folded + @folded,
        ${capped('ports', p)},
        ${merged('ports', p)},
        ${capped('hosts', h)},
        ${merged('hosts', h)},
        ${merged('windows', v)},
        ${merged('fingerprints', v)},
        ${merged('tools', v)},
        ${merged('os', v)},
        ${merged('lists', v)},
        ${latest('country')},
        ${place('city')},
        ${place('lat')},
        ${place('lon')},
        asn = coalesce(@asn, asn),
        ${latest('org')},
        ${latest('cloud')}
      WHERE source = @source AND hour = @hour`,
    );
    this.insert = positional(db, `INSERT INTO sightings (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`);
    this.mergeArgs = new Array(this.merge.order.length);
    this.insertArgs = new Array(this.insert.order.length);
  }

  /** Every row of the batch (inside the caller's transaction). */
  write(b: SightingBatch): void {
    for (let i = 0; i < b.rows; i++) {
      this.read(b, i);
      if (this.run(this.merge, this.mergeArgs) === 0) this.run(this.insert, this.insertArgs);
    }
  }

  private run(s: { statement: Database.Statement; order: number[] }, args: unknown[]): number {
    const values = this.values;
    for (let k = 0; k < args.length; k++) args[k] = values[s.order[k]!];
    return s.statement.run(...args).changes;
  }

  /** Row `i`'s column values into `values`. */
  private read(b: SightingBatch, i: number): void {
    const v = this.values;
    const key = keyOf(b, i);
    const m = b.more.get(i);
    const flags = b.flags[i]!;
    const geo = geoOf(b, i);
    const owner = ownerOf(b, i);
    const asn = asnOf(geo, owner);
    v[AT.source] = key;
    v[AT.hour] = b.hour[i];
    v[AT.addr] = sourceAddr(key, this.scratch);
    v[AT.first_seen] = b.first[i];
    v[AT.last_seen] = b.last[i];
    v[AT.allowed] = b.allowed[i];
    v[AT.blocked] = b.blocked[i];
    v[AT.unknown] = b.unknown[i];
    v[AT.syns] = b.syns[i];
    v[AT.folded] = b.folded[i];
    v[AT.ports] = inlineNumberSetText(m?.ports, b.port[i]!);
    v[AT.ports_capped] = flags & F_PORTS_CAPPED ? 1 : 0;
    v[AT.hosts] = inlineStringSetText(m?.hosts, b.host[i]!, b.strings);
    v[AT.hosts_capped] = flags & F_HOSTS_CAPPED ? 1 : 0;
    v[AT.windows] = inlineNumberSetText(m?.windows, b.window[i]!);
    v[AT.fingerprints] = fingerprintSetText(m?.fingerprints, b.fingerprint[i]!);
    v[AT.tools] = inlineStringSetText(m?.tools, b.tool[i]!, b.strings);
    v[AT.os] = inlineStringSetText(m?.os, b.os[i]!, b.strings);
    const names = listsOf(b, i, m);
    v[AT.lists] = stringSetText(names, 0, Math.min(names.length, this.maxValues));
    v[AT.country] = geo?.country ?? '';
    v[AT.city] = geo?.city ?? '';
    // No city and NULL coordinates (no City database placed it) leave a merged row's stored place as it was.
    v[AT.lat] = geo?.location?.lat ?? null;
    v[AT.lon] = geo?.location?.lon ?? null;
    v[AT.asn] = asn === NONE ? null : asn;
    v[AT.org] = orgOf(geo, owner);
    v[AT.cloud] = owner?.cloud ?? '';
  }
}

/** A row's fingerprints (shape codes) as stored: their keys' set text. */
function fingerprintSetText(more: readonly number[] | null | undefined, one: number): string {
  const keys = membersOf(more, one).map(keyOfShape);
  return stringSetText(keys, 0, keys.length);
}
