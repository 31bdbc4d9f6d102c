// Writes a batch's rows into the sightings table: each row merges into the stored row of its
// source-hour (counts add up, sets merge by set_merge, the latest non-empty facts win), or is
// inserted when there is none, in one upsert on the table's key (source, hour). Two flushes of a
// source-hour so leave the row one flush would. Parameters are positional, in COLUMNS' order, read
// straight from the batch's columns: named ones and an object per row cost ~2 µs a row.
import type Database from 'better-sqlite3';
import { NONE } from '../pipeline/types.js';
import { keyOfShape } from '../enrich/fingerprint.js';
import { sourceAddr } from './address.js';
import { F_HOSTS_CAPPED, F_PORTS_CAPPED, asnOf, geoOf, keyOf, listsOf, membersOf, orgOf, ownerOf, type SightingBatch } from './batch.js';
import type { HistoryOptions } from './options.js';
import { NUMBER_DELIMITER, STRING_DELIMITER, inlineNumberSetText, inlineStringSetText, mergeSetText, setOverflows, stringSetText } from './sets.js';

/** The columns a row is written with, in the INSERT's order. */
const COLUMNS = [
  'source', 'hour', 'addr', 'first_seen', 'last_seen', 'allowed', 'blocked', 'unknown', 'syns', 'folded', 'ports', 'ports_capped',
  'hosts', 'hosts_capped', 'windows', 'fingerprints', 'tools', 'os', 'lists', 'country', 'city', 'lat', 'lon', 'asn', 'org', 'cloud',
] as const;
type Column = (typeof COLUMNS)[number];
const AT = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as Record<Column, number>;

export class SightingWriter {
  private readonly upsert: Database.Statement;
  /** A row's values in COLUMNS' order: the upsert's parameters. */
  private readonly values: unknown[] = new Array(COLUMNS.length);
  private readonly scratch = new Uint16Array(8);
  private readonly maxValues: number;

  constructor(db: Database.Database, options: HistoryOptions) {
    this.maxValues = options.maxValuesPerRow;
    db.function('set_merge', { deterministic: true }, (a: unknown, b: unknown, cap: unknown) => mergeSetText(String(a), String(b), Number(cap)));
    db.function('set_overflows', { deterministic: true }, (a: unknown, b: unknown, cap: unknown) => (setOverflows(String(a), String(b), Number(cap)) ? 1 : 0));
    const p = options.maxPortsPerRow;
    const h = options.maxHostsPerRow;
    const v = options.maxValuesPerRow;
    // In the upsert's DO UPDATE a bare column is the stored row's, excluded.column the new one's;
    // every expression reads the stored row as it was before the update.
    const latest = (c: string): string => `${c} = CASE WHEN excluded.${c} <> '' THEN excluded.${c} ELSE ${c} END`;
    // A set that adds nothing to the stored one (none, or its text found whole in it: every member
    // between delimiters) leaves it as it is without calling into JavaScript, which costs more than
    // the rest of the row: a source's tool, OS, windows and fingerprints rarely change in an hour.
    const adds = (c: string): string => `excluded.${c} <> '' AND instr(${c}, excluded.${c}) = 0`;
    // A new set of one member (a source seen once in the batch: most rows when sources come back
    // only after many others) that adds to a stored one is appended in SQL, as set_merge would:
    // a JavaScript call per set and row was a fifth of such a write. Its delimiters are counted.
    const delimiter = (c: string): string => (c === 'ports' || c === 'windows' ? `'${NUMBER_DELIMITER}'` : `char(${STRING_DELIMITER.charCodeAt(0)})`);
    const delimiters = (text: string, c: string): string => `(length(${text}) - length(replace(${text}, ${delimiter(c)}, '')))`;
    const oneNew = (c: string): string => `${delimiters(`excluded.${c}`, c)} = 2`;
    const stored = (c: string): string => `(${delimiters(c, c)} - 1)`;
    const merged = (c: string, cap: number): string =>
      `${c} = CASE WHEN NOT (${adds(c)}) THEN ${c} WHEN ${c} = '' THEN excluded.${c} ` +
      `WHEN ${oneNew(c)} THEN CASE WHEN ${stored(c)} < ${cap} THEN ${c} || substr(excluded.${c}, 2) ELSE ${c} END ` +
      `ELSE set_merge(${c}, excluded.${c}, ${cap}) END`;
    const capped = (c: string, cap: number): string =>
      `${c}_capped = ${c}_capped | excluded.${c}_capped | CASE WHEN NOT (${adds(c)}) OR ${c} = '' THEN 0 ` +
      `WHEN ${oneNew(c)} THEN ${stored(c)} >= ${cap} ELSE set_overflows(${c}, excluded.${c}, ${cap}) END`;
    // The place (city and coordinates) moves as a whole, so a name never meets another place's coordinates.
    const place = (c: string): string => `${c} = CASE WHEN excluded.lat IS NOT NULL OR excluded.city <> '' THEN excluded.${c} ELSE ${c} END`;
    this.upsert = db.prepare(
      `INSERT INTO sightings (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})
      ON CONFLICT (source, hour) DO UPDATE SET
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        allowed = allowed + excluded.allowed,
        blocked = blocked + excluded.blocked,
        unknown = unknown + excluded.unknown,
        syns = syns + excluded.syns,
        folded = folded + excluded.folded,
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
        asn = coalesce(excluded.asn, asn),
        ${latest('org')},
        ${latest('cloud')}`,
    );
  }

  /** Every row of the batch (inside the caller's transaction). */
  write(b: SightingBatch): void {
    const upsert = this.upsert;
    const values = this.values;
    for (const i of keyOrder(b)) {
      this.read(b, i);
      upsert.run(...values);
    }
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

/**
 * The batch's rows in the table's order, (source, hour): each page of the table is then read and
 * changed once a batch, in order, rather than once for every row on it in arrival order. When
 * most rows merge into stored ones spread over the table (a botnet's sources taking turns),
 * arrival order read most pages several times a batch from outside SQLite's small page cache.
 */
export function keyOrder(b: SightingBatch): Int32Array {
  const order = new Int32Array(b.rows);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const keys = new Array<string>(b.rows);
  for (let i = 0; i < keys.length; i++) keys[i] = keyOf(b, i);
  const hour = b.hour;
  // Code-unit order is SQLite's BINARY order for these keys (ASCII addresses and networks).
  return order.sort((x, y) => {
    const kx = keys[x]!;
    const ky = keys[y]!;
    return kx < ky ? -1 : kx > ky ? 1 : hour[x]! - hour[y]!;
  });
}

/** A row's fingerprints (shape codes) as stored: their keys' set text. */
function fingerprintSetText(more: readonly number[] | null | undefined, one: number): string {
  const keys = membersOf(more, one).map(keyOfShape);
  return stringSetText(keys, 0, keys.length);
}
