// A HistorySearch as SQL conditions on the sightings table. Pure: text and parameters, no
// database. Three kinds of condition: the address holds for every row of a source, so it
// narrows the rows summed directly; the verdict is of the source's sums (packets of that verdict
// in the range: HAVING); the rest (window, port, list, ...) hold for some hours of a source and
// not others, so a source matches when one of its hours in the range meets them all, and its row
// then sums all its hours in the range.
import type { HistorySearch } from './types.js';
import { addressRange, networkStart, type AddressValue } from './address.js';
import { setNeedle } from './sets.js';
import { FOLD_IPV4_BITS, FOLD_IPV6_BITS, FOLD_IPV6_WIDE_BITS, hourOf } from './sightings.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

export type SearchSort = NonNullable<HistorySearch['sort']>;
export const SEARCH_SORTS: readonly SearchSort[] = ['packets', 'last_seen', 'first_seen', 'severity'];

export type SqlValue = number | string | AddressValue;

export interface SearchSql {
  /** Rows of hours in [fromHour, to): every hour overlapping [from, to). */
  fromHour: number;
  from: number;
  to: number;
  /** Conditions true of every row of a source (its address), joined with AND; '' for none. */
  sourceWhere: string;
  sourceParams: SqlValue[];
  /** Conditions on single hours; '' for none. */
  rowWhere: string;
  rowParams: SqlValue[];
  /** A condition on a source's sums (no parameters); '' for none. */
  having: string;
  sort: SearchSort;
  limit: number;
}

/** The search as SQL pieces; throws a RangeError naming the field that is not valid. */
export function searchSql(q: HistorySearch, ipv6PrefixLength: number): SearchSql {
  if (!Number.isFinite(q.from) || !Number.isFinite(q.to)) throw new RangeError('from and to must be epoch milliseconds');
  const source: string[] = [];
  const sourceParams: SqlValue[] = [];
  const row: string[] = [];
  const rowParams: SqlValue[] = [];
  let having = '';
  if (q.address !== undefined && q.address !== '') {
    const range = addressRange(q.address, ipv6PrefixLength);
    if (range === null) throw new RangeError(`address: not an address or CIDR network: ${q.address}`);
    // Also the rows of the networks that sources seen once in a flood were folded into, where the
    // range starts inside them (past their start, which the BETWEEN finds): an IPv4 /8's; an IPv6
    // /32's, or its /12's once a batch had too many /32s. A /32 and a /12 may start at the same
    // address: their keys' lengths tell them apart.
    if (typeof range.low === 'number') {
      source.push('(addr BETWEEN ? AND ? OR (addr = ? AND folded > 0))');
      sourceParams.push(range.low, range.high, networkStart(range.low, FOLD_IPV4_BITS, FOLD_IPV6_BITS));
    } else {
      source.push(`(addr BETWEEN ? AND ? OR (folded > 0 AND (addr = ? AND source LIKE '%/${FOLD_IPV6_BITS}' OR addr = ? AND source LIKE '%/${FOLD_IPV6_WIDE_BITS}')))`);
      sourceParams.push(range.low, range.high, networkStart(range.low, FOLD_IPV4_BITS, FOLD_IPV6_BITS), networkStart(range.low, FOLD_IPV4_BITS, FOLD_IPV6_WIDE_BITS));
    }
  }
  const member = (column: string, value: string | number): void => {
    row.push(`instr(${column}, ?) > 0`);
    rowParams.push(setNeedle(value));
  };
  if (q.window !== undefined) member('windows', whole('window', q.window, 0, 0xffff));
  if (q.port !== undefined) member('ports', whole('port', q.port, 0, 0xffff));
  if (q.fingerprint !== undefined && q.fingerprint !== '') member('fingerprints', q.fingerprint);
  if (q.tool !== undefined && q.tool !== '') member('tools', q.tool);
  if (q.os !== undefined && q.os !== '') member('os', q.os);
  if (q.list !== undefined && q.list !== '') member('lists', q.list);
  if (q.country !== undefined && q.country !== '') {
    row.push('country = ?');
    rowParams.push(q.country);
  }
  if (q.city !== undefined && q.city !== '') {
    row.push('city = ?');
    rowParams.push(q.city);
  }
  if (q.asn !== undefined) {
    row.push('asn = ?');
    rowParams.push(whole('asn', q.asn, 0, 2 ** 32 - 1));
  }
  if (q.verdict !== undefined) {
    if (q.verdict !== 'allowed' && q.verdict !== 'blocked') throw new RangeError(`verdict: allowed or blocked, not ${String(q.verdict)}`);
    having = `sum(${q.verdict}) > 0`;
  }
  const sort = q.sort ?? 'packets';
  if (!SEARCH_SORTS.includes(sort)) throw new RangeError(`sort: one of ${SEARCH_SORTS.join(', ')}, not ${String(sort)}`);
  const limit = q.limit === undefined ? DEFAULT_LIMIT : Math.min(MAX_LIMIT, whole('limit', q.limit, 1, Number.MAX_SAFE_INTEGER));
  return {
    fromHour: hourOf(q.from),
    from: q.from,
    to: q.to,
    sourceWhere: source.join(' AND '),
    sourceParams,
    rowWhere: row.join(' AND '),
    rowParams,
    having,
    sort,
    limit,
  };
}

function whole(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name}: an integer from ${min} to ${max}, not ${String(value)}`);
  return value;
}

/** ORDER BY of the per-source rows (columns of the search query); ties by source, for a stable order. */
export function orderBy(sort: SearchSort): string {
  switch (sort) {
    case 'packets':
      return 'packets DESC, source';
    case 'last_seen':
      return 'last_seen DESC, source';
    // Newest arrivals first: what appeared lately is the usual question.
    case 'first_seen':
      return 'first_seen DESC, source';
    case 'severity':
      return 'max_severity DESC, packets DESC, source';
  }
}

/**
 * How the matching rows are read. `address`: by the address index (a CIDR is narrow). `all`:
 * the range holds most of the table, so every row, in the table's own (source, hour) order,
 * summed without a sort. `hours`: a narrow range, by the hour index.
 */
export type Access = 'address' | 'all' | 'hours';

/** Above this share of the stored hours a range is read whole (measured: the sort of 'hours' costs ~3x a row). */
const ALL_ROWS_SHARE = 0.3;

/** The access for a search whose range covers `share` (0..1) of the stored hours. */
export function accessFor(s: SearchSql, share: number): Access {
  if (s.sourceWhere !== '') return 'address';
  return share >= ALL_ROWS_SHARE ? 'all' : 'hours';
}

const INDEX: Record<Access, string> = { address: 'INDEXED BY sightings_addr', all: '', hours: 'INDEXED BY sightings_hour' };
/**
 * The hour's column as the range condition names it: `+hour` is no indexed column, so a read of
 * `all` is a pass over the table in key order (with the hour index usable, SQLite reads the whole
 * range by it and sorts for the GROUP BY: measured 2.2 s instead of 0.6 for a million rows).
 */
const HOUR: Record<Access, string> = { address: 'hour', all: '+hour', hours: 'hour' };

/**
 * The matching sources, each summed over its hours in the range: the SELECT the search and the
 * country and city maps share (placeholders: fromHour, to, sourceParams, then again fromHour, to,
 * sourceParams, rowParams when there are row conditions).
 */
export function matchedSources(s: SearchSql, columns: string, access: Access): { sql: string; params: SqlValue[] } {
  const hour = HOUR[access];
  const inRange = `${hour} >= ? AND ${hour} < ?${s.sourceWhere === '' ? '' : ` AND ${s.sourceWhere}`}`;
  const params: SqlValue[] = [s.fromHour, s.to, ...s.sourceParams];
  let where = inRange;
  if (s.rowWhere !== '') {
    where += ` AND source IN (SELECT source FROM sightings ${INDEX[access]} WHERE ${inRange} AND ${s.rowWhere})`;
    params.push(s.fromHour, s.to, ...s.sourceParams, ...s.rowParams);
  }
  const having = s.having === '' ? '' : ` HAVING ${s.having}`;
  return { sql: `SELECT ${columns} FROM sightings ${INDEX[access]} WHERE ${where} GROUP BY source${having}`, params };
}
