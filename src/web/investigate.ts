// The investigation API: questions to the on-disk history store (store/types.ts HistoryReader) —
// a search over sources, the same search per country and per city, one source's timeline,
// incidents — and /api/countries and /api/cities, the live tracker's figures per country and per
// located place for the scan-watch page's map.
//
// Access is the app's (app.ts hooks: token by header or cookie, never `?token=` here). Query
// strings are validated by their schemas before a handler runs; an empty parameter (an empty form
// field) counts as absent. Times are epoch ms or ISO 8601; a range defaults to the 24 h before
// now. Without a history store the history routes answer 404 history_off; a store that fails
// answers 503 history_unavailable, and the daemon goes on.
import type { Static, TSchema } from '@sinclair/typebox';
import { Type } from '../deps.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OS_FAMILIES } from '../enrich/signatures.js';
import type { HistoryCity, HistoryCountry, HistoryHour, HistoryIncident, HistorySearch, HistorySearchResult, HistorySource, HistoryTimeline } from '../store/types.js';
import type { CityFigures, CountryFigures, Tracker } from '../track/query.js';
import { errorText } from '../util/errors.js';
import { parseCidr } from '../util/ip.js';
import { HttpError, shownPath } from './http-error.js';
import type { WebDeps } from './deps.js';
import { ErrorReply } from './schemas.js';

const HOUR_MS = 3_600_000;
/** The range searched when the query gives no `from`. */
export const DEFAULT_RANGE_MS = 24 * HOUR_MS;
export const MAX_LIMIT = 10_000;
/** /api/countries (and /api/cities) sum every tracked source (tens of ms at 100 000): one sum serves every page this long. */
const LIVE_COUNTRIES_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Query strings

const StringEnum = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: [...values] });

const Time = Type.String({ maxLength: 40, description: 'epoch ms, or ISO 8601 (UTC unless it names a zone)' });
const Address = Type.String({ maxLength: 64, pattern: '^[0-9A-Fa-f.:/]+$', description: 'an IPv4 or IPv6 address, or a CIDR network' });
const SORTS = ['packets', 'last_seen', 'first_seen', 'severity'] as const;
const VERDICTS = ['allowed', 'blocked'] as const;
const FORMATS = ['json', 'csv'] as const;

/** HistorySearch's filters, each optional. */
const Filters = {
  from: Type.Optional(Time),
  to: Type.Optional(Time),
  address: Type.Optional(Address),
  window: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  fingerprint: Type.Optional(Type.String({ maxLength: 128, pattern: '^[\\x21-\\x7e]+$' })),
  tool: Type.Optional(Type.String({ maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]*$' })),
  os: Type.Optional(StringEnum(OS_FAMILIES)),
  country: Type.Optional(Type.String({ pattern: '^([A-Za-z]{2}|private|reserved)$' })),
  // Any script a City database names places in ("São Paulo", "Москва"); control characters are no name.
  city: Type.Optional(Type.String({ maxLength: 100, pattern: '^[^\\x00-\\x1f\\x7f-\\x9f]+$' })),
  asn: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_295 })),
  list: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' })),
  port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  verdict: Type.Optional(StringEnum(VERDICTS)),
};

export const SearchQuery = Type.Object(
  {
    ...Filters,
    sort: Type.Optional(StringEnum(SORTS)),
    limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 100 }),
    format: Type.Optional(StringEnum(FORMATS)),
  },
  { additionalProperties: false },
);
export type SearchQuery = Static<typeof SearchQuery>;

/** The search's filters (sort and limit mean nothing per country or city and are dropped); /api/history/cities takes the same. */
export const CountriesQuery = Type.Object(Filters, { additionalProperties: false });
export type CountriesQuery = Static<typeof CountriesQuery>;

export const TimelineQuery = Type.Object(
  { source: Address, from: Filters.from, to: Filters.to },
  { additionalProperties: false },
);
export type TimelineQuery = Static<typeof TimelineQuery>;

export const IncidentsQuery = Type.Object(
  {
    from: Filters.from,
    to: Filters.to,
    subject: Type.Optional(Type.String({ maxLength: 300, pattern: '^[\\x21-\\x7e]+$', description: 'an address, network or campaign key' })),
    limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 100 }),
  },
  { additionalProperties: false },
);
export type IncidentsQuery = Static<typeof IncidentsQuery>;

/** What each parameter must be, as a 400 says it (Ajv's own words name no range or form). */
const EXPECTED: Readonly<Record<string, string>> = {
  from: 'epoch milliseconds or an ISO 8601 time',
  to: 'epoch milliseconds or an ISO 8601 time',
  address: 'an IPv4 or IPv6 address or CIDR network (e.g. 203.0.113.0/24, 2001:db8::/32)',
  source: 'an IPv4 or IPv6 address or IPv6 network as tracked (e.g. 2001:db8:1:2::/64)',
  window: 'an integer from 0 to 65535',
  port: 'an integer from 0 to 65535',
  asn: 'an integer from 0 to 4294967295',
  limit: `an integer from 1 to ${MAX_LIMIT}`,
  fingerprint: 'a fingerprint key such as ittl=128,win=16384,olen=0,df=0',
  tool: 'a tool signature id such as port6000-scanner (a-z, 0-9, _ and -)',
  os: `one of ${OS_FAMILIES.join(', ')}`,
  country: 'an ISO 3166 alpha-2 code (e.g. US), private or reserved',
  city: 'a city name as the City database gives it (at most 100 characters, no control characters)',
  list: 'a threat list name (a-z, 0-9, _ and -, at most 32)',
  verdict: 'allowed or blocked',
  sort: SORTS.join(', ').replace(/, (?=[^,]*$)/, ' or '),
  format: 'json or csv',
  subject: 'an address, network or campaign key (printable, no spaces)',
};

/** A 400 naming the parameter and what it must be. */
function queryError(errors: ReadonlyArray<{ instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }>): Error {
  const e = errors[0];
  if (e === undefined) return new Error('the query is not valid');
  const name = e.keyword === 'required' ? String(e.params.missingProperty) : e.instancePath.replace(/^\//, '');
  const expected = EXPECTED[name];
  if (e.keyword === 'required') return new Error(`${name} is required: ${expected ?? 'see the API documentation'}`);
  return new Error(expected === undefined ? `${name} ${e.message ?? 'is not valid'}` : `${name} must be ${expected}`);
}

/** Empty parameters (empty form fields) are absent: `window=` must not be coerced to window 0. */
async function dropEmpty(req: FastifyRequest): Promise<void> {
  const q = req.query as Record<string, unknown> | undefined;
  if (q === undefined || q === null) return;
  for (const [k, v] of Object.entries(q)) if (v === '') delete q[k];
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Epoch ms of `text` (epoch ms or ISO 8601; a time without a zone is UTC); null when it is neither. */
export function parseTime(text: string): number | null {
  let t: number;
  if (/^\d{1,15}$/.test(text)) t = Number(text);
  else {
    const m = ISO.exec(text);
    if (m === null) return null;
    // Date.parse rolls 30 February over into March and 24:00 into the next day: refuse them.
    const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return null;
    // Date.parse reads a date-time without a zone as the server's local time: say UTC instead.
    const iso = text.replace(' ', 'T');
    t = Date.parse(m[7] === undefined && iso.includes('T') ? `${iso}Z` : iso);
  }
  return Number.isFinite(t) && t >= 0 && t <= 253_402_300_799_999 ? t : null;
}

/** [from, to) from the query: to defaults to now, from to 24 h before to; 400 when either is wrong. */
export function rangeOf(q: { from?: string; to?: string }, now: number): { from: number; to: number } {
  const time = (name: 'from' | 'to'): number | undefined => {
    const text = q[name];
    if (text === undefined) return undefined;
    const t = parseTime(text);
    if (t === null) throw new HttpError(400, 'bad_request', `${name} must be ${EXPECTED[name]}, not "${shownPath(text)}"`);
    return t;
  };
  const to = time('to') ?? now;
  const from = time('from') ?? to - DEFAULT_RANGE_MS;
  if (from >= to) throw new HttpError(400, 'bad_request', `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
  return { from, to };
}

function validAddress(name: 'address' | 'source', text: string): string {
  if (parseCidr(text) === null) throw new HttpError(400, 'bad_request', `${name} must be ${EXPECTED[name]}, not "${shownPath(text)}"`);
  return text.toLowerCase();
}

/** The store's question for a search or countries query. */
export function searchOf(q: CountriesQuery & { sort?: SearchQuery['sort']; limit?: number }, now: number): HistorySearch {
  const search: HistorySearch = rangeOf(q, now);
  if (q.address !== undefined) search.address = validAddress('address', q.address);
  if (q.window !== undefined) search.window = q.window;
  if (q.fingerprint !== undefined) search.fingerprint = q.fingerprint;
  if (q.tool !== undefined) search.tool = q.tool;
  if (q.os !== undefined) search.os = q.os;
  if (q.country !== undefined) search.country = q.country.length === 2 ? q.country.toUpperCase() : q.country;
  if (q.city !== undefined) search.city = q.city;
  if (q.asn !== undefined) search.asn = q.asn;
  if (q.list !== undefined) search.list = q.list;
  if (q.port !== undefined) search.port = q.port;
  if (q.verdict !== undefined) search.verdict = q.verdict;
  if (q.sort !== undefined) search.sort = q.sort;
  if (q.limit !== undefined) search.limit = q.limit;
  return search;
}

// ---------------------------------------------------------------------------------------------
// Answers (allow-lists, as in schemas.ts; they describe store/types.ts exactly, checked below)

const Packets = Type.Object({ allowed: Type.Number(), blocked: Type.Number(), unknown: Type.Number(), total: Type.Number() });
const Strings = Type.Array(Type.String());
const Ints = Type.Array(Type.Integer());

/** store/types.ts HistorySightings: what both a search row and a timeline hour carry. */
const Sightings = {
  firstSeen: Type.Number(),
  lastSeen: Type.Number(),
  packets: Packets,
  syns: Type.Number(),
  folded: Type.Number(),
  ports: Ints,
  portsCapped: Type.Boolean(),
  hosts: Type.Number(),
  hostsCapped: Type.Optional(Type.Boolean()),
  windows: Ints,
  fingerprints: Strings,
  tools: Strings,
  os: Strings,
};

/** store/types.ts HistorySourceFacts: what a search row and a timeline say of where the source is and who holds it. */
const SourceFacts = {
  country: Type.String(),
  city: Type.String(),
  asn: Type.Union([Type.Integer(), Type.Null()]),
  org: Type.String(),
  cloud: Type.String(),
};

const SourceRow = Type.Object({
  source: Type.String(),
  ...Sightings,
  ...SourceFacts,
  lists: Strings,
  detections: Type.Number(),
  maxSeverity: Type.Integer(),
  hours: Type.Number(),
});

export const SearchReply = Type.Object({
  totals: Type.Object({ sources: Type.Number(), packets: Type.Number(), blocked: Type.Number() }),
  sources: Type.Array(SourceRow),
  truncated: Type.Boolean(),
});

const CountryRow = Type.Object({ country: Type.String(), sources: Type.Number(), packets: Type.Number(), blocked: Type.Number() });
export const CountriesReply = Type.Array(CountryRow);

/** A located place's figures (store/types.ts HistoryCity; the live ones add `scanning`). */
const CityFields = {
  country: Type.String(),
  city: Type.String(),
  lat: Type.Number(),
  lon: Type.Number(),
  sources: Type.Number(),
  packets: Type.Number(),
  blocked: Type.Number(),
};
const CityRow = Type.Object(CityFields);
export const CitiesReply = Type.Array(CityRow);

const Incident = Type.Object({
  time: Type.Number(),
  kind: StringEnum(['detection', 'alert', 'block', 'unblock'] as const),
  subject: Type.String(),
  severity: Type.Integer(),
  text: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
});
export const IncidentsReply = Type.Array(Incident);

const Hour = Type.Object({
  hour: Type.Number(),
  ...Sightings,
  lists: Strings,
});

export const TimelineReply = Type.Object({
  source: Type.String(),
  ...SourceFacts,
  hours: Type.Array(Hour),
  incidents: Type.Array(Incident),
  fingerprintChanges: Type.Array(Type.Object({ time: Type.Number(), from: Strings, to: Strings })),
});

/** What the live maps say of the tracker beside their figures. */
const LiveWindow = {
  tracking: Type.Boolean(),
  windowSeconds: Type.Number(),
  /** Event time the tracker has reached (ISO), null before the first event. */
  time: Type.Union([Type.String(), Type.Null()]),
};

export const LiveCountriesReply = Type.Object({
  ...LiveWindow,
  countries: Type.Array(
    Type.Object({ country: Type.String(), sources: Type.Number(), packets: Type.Number(), blocked: Type.Number(), scanning: Type.Number() }),
  ),
});

export const LiveCitiesReply = Type.Object({
  ...LiveWindow,
  cities: Type.Array(Type.Object({ ...CityFields, scanning: Type.Number() })),
});

/** A compile error when a schema and the store's type part ways (src/store/types.ts changed). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type SchemasMatchStore = [
  Assert<Same<Static<typeof SourceRow>, HistorySource>>,
  Assert<Same<Static<typeof SearchReply>, HistorySearchResult>>,
  Assert<Same<Static<typeof CountryRow>, HistoryCountry>>,
  Assert<Same<Static<typeof CityRow>, HistoryCity>>,
  Assert<Same<Static<typeof Hour>, HistoryHour>>,
  Assert<Same<Static<typeof Incident>, HistoryIncident>>,
  Assert<Same<Static<typeof TimelineReply>, HistoryTimeline>>,
  Assert<Same<Static<typeof LiveCountriesReply>['countries'][number], CountryFigures>>,
  Assert<Same<Static<typeof LiveCitiesReply>['cities'][number], CityFigures>>,
];

// ---------------------------------------------------------------------------------------------
// CSV

/** Ports as ranges: [20, 21, 22, 53] → "20-22,53". */
export function portRangesText(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text starting with
 * = + - @ (or a tab or CR) is what spreadsheets run as a formula: it gets a leading ' so it is
 * shown as text — a log or a threat list may carry anything.
 */
export function csvField(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const iso = (t: number): string => new Date(t).toISOString();

/** The export's columns: one row per source; lists of values space-separated. */
const CSV_COLUMNS: ReadonlyArray<[string, (s: HistorySource) => string | number | boolean]> = [
  ['source', (s) => s.source],
  ['country', (s) => s.country],
  ['city', (s) => s.city],
  ['asn', (s) => s.asn ?? ''],
  ['org', (s) => s.org],
  ['cloud', (s) => s.cloud],
  ['lists', (s) => s.lists.join(' ')],
  ['packets', (s) => s.packets.total],
  ['allowed', (s) => s.packets.allowed],
  ['blocked', (s) => s.packets.blocked],
  ['unknown', (s) => s.packets.unknown],
  ['syns', (s) => s.syns],
  ['folded_sources', (s) => s.folded],
  ['ports', (s) => portRangesText(s.ports)],
  ['ports_capped', (s) => s.portsCapped],
  ['hosts', (s) => s.hosts],
  ['hosts_capped', (s) => s.hostsCapped === true],
  ['windows', (s) => s.windows.join(' ')],
  ['fingerprints', (s) => s.fingerprints.join(' ')],
  ['tools', (s) => s.tools.join(' ')],
  ['os', (s) => s.os.join(' ')],
  ['detections', (s) => s.detections],
  ['max_severity', (s) => s.maxSeverity],
  ['hours', (s) => s.hours],
  ['first_seen', (s) => iso(s.firstSeen)],
  ['last_seen', (s) => iso(s.lastSeen)],
];

/** The search's rows as CSV: a header row, then one row per source, CRLF line ends. */
export function searchCsv(result: HistorySearchResult): string {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const s of result.sources) lines.push(CSV_COLUMNS.map(([, get]) => csvField(get(s))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** "20261124T0600Z": a time as it goes into a file name. */
const stamp = (t: number): string => iso(t).replace(/[-:]/g, '').replace(/\d\d\.\d{3}Z$/, 'Z');

// ---------------------------------------------------------------------------------------------
// Routes

/** Registers the history routes, /api/countries and /api/cities (from app.ts, after its hooks). */
export function registerInvestigate(app: FastifyInstance, deps: WebDeps): void {
  const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 503: ErrorReply };
  const route = <Q extends TSchema, R extends TSchema>(querystring: Q, reply: R) => ({
    schema: { querystring, response: { 200: reply, ...errors } },
    preValidation: dropEmpty,
    schemaErrorFormatter: queryError,
  });

  /** The store, or the 404 that says it is off. */
  const reader = () => {
    const r = deps.historyReader ?? null;
    if (r === null) throw new HttpError(404, 'history_off', 'the history is off: [history] is disabled in the configuration, so nothing is stored to search');
    return r;
  };
  /** The store's answer, or a 503 that says why there is none. */
  const ask = async <T>(what: string, question: () => Promise<T>): Promise<T> => {
    try {
      return await question();
    } catch (err) {
      deps.logger.error(`web: the history store failed on ${what}: ${errorText(err)}`);
      throw new HttpError(503, 'history_unavailable', `the history store could not answer (${what}): ${errorText(err)}`);
    }
  };

  app.get<{ Querystring: SearchQuery }>('/api/history/search', route(SearchQuery, SearchReply), async (req, reply) => {
    const r = reader();
    const query = searchOf(req.query, Date.now());
    const result = await ask('search', () => r.search(query));
    const format = req.query.format;
    if (format === undefined) return result;
    const name = `nfwatch-history-${stamp(query.from)}-${stamp(query.to)}.${format}`;
    void reply.header('content-disposition', `attachment; filename="${name}"`);
    if (format === 'json') return result;
    return sendCsv(reply, searchCsv(result));
  });

  app.get<{ Querystring: CountriesQuery }>('/api/history/countries', route(CountriesQuery, CountriesReply), async (req) => {
    const r = reader();
    const query = searchOf(req.query, Date.now());
    return ask('countries', () => r.countries(query));
  });

  app.get<{ Querystring: CountriesQuery }>('/api/history/cities', route(CountriesQuery, CitiesReply), async (req) => {
    const r = reader();
    const query = searchOf(req.query, Date.now());
    return ask('cities', () => r.cities(query));
  });

  app.get<{ Querystring: TimelineQuery }>('/api/history/timeline', route(TimelineQuery, TimelineReply), async (req) => {
    const r = reader();
    const source = validAddress('source', req.query.source);
    const { from, to } = rangeOf(req.query, Date.now());
    return ask('timeline', () => r.timeline(source, from, to));
  });

  app.get<{ Querystring: IncidentsQuery }>('/api/history/incidents', route(IncidentsQuery, IncidentsReply), async (req) => {
    const r = reader();
    const { from, to } = rangeOf(req.query, Date.now());
    const { subject, limit } = req.query;
    return ask('incidents', () => r.incidents(from, to, subject, limit));
  });

  /** The tracker, or the 404 that says tracking is off. */
  const tracking = (per: string): Tracker => {
    const tracker = deps.tracker;
    if (tracker === null) throw new HttpError(404, 'tracking_off', `tracking is off ([track] enabled = false): there are no live sources to count per ${per}`);
    return tracker;
  };
  const liveWindow = (tracker: Tracker): Omit<Static<typeof LiveCountriesReply>, 'countries'> => ({
    tracking: true,
    windowSeconds: tracker.options.windowMs / 1000,
    time: tracker.now > 0 ? iso(tracker.now) : null,
  });

  // Live: the page's maps poll these.
  const liveCountries = cachedSum((tracker) => tracker.countries());
  app.get('/api/countries', route(Type.Object({}, { additionalProperties: false }), LiveCountriesReply), async (): Promise<Static<typeof LiveCountriesReply>> => {
    const tracker = tracking('country');
    return { ...liveWindow(tracker), countries: liveCountries(tracker) };
  });

  const liveCities = cachedSum((tracker) => tracker.cities());
  app.get('/api/cities', route(Type.Object({}, { additionalProperties: false }), LiveCitiesReply), async (): Promise<Static<typeof LiveCitiesReply>> => {
    const tracker = tracking('city');
    return { ...liveWindow(tracker), cities: liveCities(tracker) };
  });
}

/** The tracker's `sum`, taken again only after LIVE_COUNTRIES_MS (or when the clock went back): one sum serves every page polling. */
function cachedSum<T>(sum: (tracker: Tracker) => T): (tracker: Tracker) => T {
  let last: { at: number; value: T } | null = null;
  return (tracker) => {
    const now = Date.now();
    if (last === null || now - last.at >= LIVE_COUNTRIES_MS || now < last.at) last = { at: now, value: sum(tracker) };
    return last.value;
  };
}

function sendCsv(reply: FastifyReply, body: string): FastifyReply {
  return reply.type('text/csv; charset=utf-8; header=present').send(body);
}
