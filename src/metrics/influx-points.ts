// InfluxDB line protocol for interval aggregates, health snapshots and (optional) sampled events.
// Pure functions, no I/O. The schema (<p> = outputs.influx.measurement_prefix, default "nfwatch";
// every point carries the tag host=<general.hostname>; counts are INTEGER fields):
//
//   <p>_events              verdict                 count         one point per verdict, also 0
//   <p>_events_by_proto     verdict, proto          count         tcp, udp, icmp, … p<n>, unknown
//   <p>_events_by_port      verdict, port           count         top N ports + port=other
//   <p>_events_by_prefix    prefix                  count         prefix=none / prefix=other
//   <p>_events_by_input     source                  count
//   <p>_syn                 –                       count         TCP SYNs without ACK
//   <p>_syn_by_window       window                  count         top N + other
//   <p>_syn_by_ittl         ittl                    count
//   <p>_syn_by_fingerprint  fingerprint             count         top N + other
//   <p>_syn_by_os           os                      count
//   <p>_tools               tool                    count
//   <p>_geo                 country                 count         top N + other
//   <p>_listed              list                    count         packets from sources on a threat list
//   <p>_nfacct              counter                 pkts, bytes
//   <p>_health              –                       lines, events, events_per_second (float), …
//   <p>_health_decode_errors reason                 count
//   <p>_health_sinks        sink                    backlog, dropped, sent, connected (0/1)
//   <p>_health_sources      source, kind            lines_read, bytes_read, connections, … (as Graphite's nfwatch.sources.*)
//   <p>_scans               type                    active, new
//   <p>_event               verdict, proto          src, dst, prefix, tool, country (strings),
//                                                   sport, dport (integers)   sampled, opt-in
//
// Interval points are stamped with the interval's start (event time): a replay writes the same
// series at the same timestamp again, which InfluxDB treats as an overwrite. Tag values are only
// ever low-cardinality values; a source or destination address is a string FIELD, never a tag.
import { DECODE_ERROR_REASONS, SOURCE_HEALTH_FIELDS, VERDICTS, type HealthSnapshot, type IntervalAggregate, type PacketEvent } from '../pipeline/types.js';
import { protocolName, SOURCE_METRIC_NAMES, splitTop, type TopLimits } from './names.js';
import { OTHER_WINDOW } from '../aggregate/budget.js';

export type Precision = 's' | 'ms' | 'us' | 'ns';

/** Longest tag value written; longer ones are cut (log prefixes are at most 64 bytes anyway). */
const MAX_TAG = 256;
/** Longest string field value written. */
const MAX_STRING_FIELD = 1024;

// Control characters cannot be escaped in line protocol (a raw newline ends the line): replaced.
const CONTROL = /[\u0000-\u001f\u007f]/g;
const NEEDS_TAG_ESCAPE = /[\\,= ]/;
const NEEDS_MEASUREMENT_ESCAPE = /[\\, ]/;

/** A measurement name: control characters → '_', then `\`, `,` and space escaped. */
export function escapeMeasurement(s: string): string {
  const v = s.replace(CONTROL, '_');
  return NEEDS_MEASUREMENT_ESCAPE.test(v) ? v.replace(/[\\, ]/g, (c) => '\\' + c) : v;
}

/**
 * A tag key, tag value or field key: control characters → '_', then `\`, `,`, `=` and space
 * escaped with a backslash. An empty value becomes "_" (line protocol has no empty tag values);
 * values are cut at 256 characters.
 */
export function escapeTag(s: string): string {
  let v = s.replace(CONTROL, '_');
  if (v.length > MAX_TAG) v = v.slice(0, MAX_TAG);
  if (v === '') return '_';
  return NEEDS_TAG_ESCAPE.test(v) ? v.replace(/[\\,= ]/g, (c) => '\\' + c) : v;
}

/** A string field value: quoted, `"` and `\` escaped, control characters → ' ', cut at 1024. */
export function quoteString(s: string): string {
  let v = s.replace(CONTROL, ' ');
  if (v.length > MAX_STRING_FIELD) v = v.slice(0, MAX_STRING_FIELD);
  return '"' + v.replace(/["\\]/g, (c) => '\\' + c) + '"';
}

/** An integer field value (`42i`); non-finite values yield null (the field is left out). */
export function intField(n: number): string | null {
  return Number.isFinite(n) ? `${Math.round(n)}i` : null;
}

/** An epoch-milliseconds time in the write precision, as an exact decimal string. */
export function timestamp(ms: number, precision: Precision): string {
  const t = Math.floor(ms);
  switch (precision) {
    case 's':
      return String(Math.floor(t / 1000));
    case 'ms':
      return String(t);
    case 'us':
      return `${t}000`;
    case 'ns':
      return `${t}000000`;
  }
}

export type FieldValue = number | string | boolean;
/** Field key → value: numbers are written as integers unless listed in `floats`. */
export type Fields = Record<string, FieldValue>;

export interface PointOptions {
  /** Measurement prefix, e.g. "nfwatch" (measurements are "<prefix>_<name>"). */
  prefix: string;
  /** Value of the `host` tag on every point. */
  host: string;
  precision: Precision;
}

/** One line. `tags` are sorted by key here (InfluxDB's preferred order); fields in given order. */
export function line(measurement: string, tags: Array<[string, string]>, fields: Fields, time: string, floats: ReadonlySet<string> = NO_FLOATS): string | null {
  let out = escapeMeasurement(measurement);
  const sorted = tags.length > 1 ? [...tags].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) : tags;
  for (const [k, v] of sorted) out += ',' + escapeTag(k) + '=' + escapeTag(v);
  let sep = ' ';
  let any = false;
  for (const key in fields) {
    const value = fields[key]!;
    let rendered: string | null;
    if (typeof value === 'number') rendered = floats.has(key) ? (Number.isFinite(value) ? String(value) : null) : intField(value);
    else if (typeof value === 'boolean') rendered = value ? 'true' : 'false';
    else rendered = quoteString(value);
    if (rendered === null) continue;
    out += sep + escapeTag(key) + '=' + rendered;
    sep = ',';
    any = true;
  }
  return any ? `${out} ${time}` : null;
}

const NO_FLOATS: ReadonlySet<string> = new Set();
const HEALTH_FLOATS: ReadonlySet<string> = new Set(['events_per_second']);

/** Adds values under the same tag set (two raw names may render alike) so totals stay exact. */
class PointSet {
  private readonly points = new Map<string, { measurement: string; tags: Array<[string, string]>; count: number }>();
  add(measurement: string, tags: Array<[string, string]>, n: number): void {
    if (!Number.isFinite(n)) return;
    const key = measurement + '\u0000' + tags.map(([k, v]) => `${k}=${v}`).join('\u0000');
    const p = this.points.get(key);
    if (p) p.count += n;
    else this.points.set(key, { measurement, tags, count: n });
  }
  render(out: string[], time: string): void {
    for (const p of this.points.values()) {
      const l = line(p.measurement, p.tags, { count: p.count }, time);
      if (l !== null) out.push(l);
    }
  }
}

/**
 * The points of one interval, stamped with its start. Ports, SYN windows, fingerprints and
 * countries beyond the top N are summed into `other`, exactly as for Graphite, so every
 * breakdown of a verdict sums to its count. The lifetime series budget (aggregate.max_series) is
 * applied by the aggregator, so both outputs name the same values; the per-minute creation budget
 * (outputs.graphite.max_creates_per_minute) is carbon's alone.
 */
export function intervalPoints(agg: IntervalAggregate, opts: PointOptions, top: TopLimits): string[] {
  const out: string[] = [];
  const time = timestamp(agg.start, opts.precision);
  const p = opts.prefix;
  const host: [string, string] = ['host', opts.host];
  const set = new PointSet();
  for (const verdict of VERDICTS) {
    const v = agg.verdicts[verdict];
    set.add(`${p}_events`, [host, ['verdict', verdict]], v.count);
    for (const [proto, n] of v.protocols) if (n > 0) set.add(`${p}_events_by_proto`, [host, ['proto', protocolName(proto)], ['verdict', verdict]], n);
    const ports = splitTop(v.ports, top.ports);
    for (const [port, n] of ports.top) set.add(`${p}_events_by_port`, [host, ['port', String(port)], ['verdict', verdict]], n);
    const other = ports.rest + v.otherPorts;
    if (ports.folded || v.otherPorts > 0 || other > 0) set.add(`${p}_events_by_port`, [host, ['port', 'other'], ['verdict', verdict]], other);
  }
  for (const [prefix, n] of agg.prefixes) if (n > 0) set.add(`${p}_events_by_prefix`, [host, ['prefix', prefix === '' ? 'none' : prefix]], n);
  if (agg.otherPrefixes > 0) set.add(`${p}_events_by_prefix`, [host, ['prefix', 'other']], agg.otherPrefixes);
  for (const [source, n] of agg.sources) if (n > 0) set.add(`${p}_events_by_input`, [host, ['source', source]], n);
  if (agg.syns > 0) {
    set.add(`${p}_syn`, [host], agg.syns);
    // Windows the aggregator's series budget folded are counted under OTHER_WINDOW (not a window).
    const windowCounts = agg.synWindows.has(OTHER_WINDOW) ? new Map(agg.synWindows) : agg.synWindows;
    const foldedWindows = windowCounts.get(OTHER_WINDOW) ?? 0;
    windowCounts.delete(OTHER_WINDOW);
    const windows = splitTop(windowCounts, top.values);
    for (const [w, n] of windows.top) set.add(`${p}_syn_by_window`, [host, ['window', String(w)]], n);
    if (windows.folded || foldedWindows > 0) set.add(`${p}_syn_by_window`, [host, ['window', 'other']], windows.rest + foldedWindows);
    for (const [ttl, n] of agg.synInitialTtls) if (n > 0) set.add(`${p}_syn_by_ittl`, [host, ['ittl', String(ttl)]], n);
    const fps = splitTop(agg.fingerprints, top.values);
    for (const [key, n] of fps.top) set.add(`${p}_syn_by_fingerprint`, [host, ['fingerprint', key]], n);
    if (fps.folded || agg.otherFingerprints > 0) set.add(`${p}_syn_by_fingerprint`, [host, ['fingerprint', 'other']], fps.rest + agg.otherFingerprints);
    for (const [os, n] of agg.synOs) if (n > 0) set.add(`${p}_syn_by_os`, [host, ['os', os === '' ? 'unknown' : os]], n);
  }
  for (const [tool, n] of agg.tools) if (n > 0) set.add(`${p}_tools`, [host, ['tool', tool]], n);
  const countries = splitTop(agg.countries, top.values);
  for (const [cc, n] of countries.top) set.add(`${p}_geo`, [host, ['country', cc === '' ? 'unknown' : cc]], n);
  if (countries.folded) set.add(`${p}_geo`, [host, ['country', 'other']], countries.rest);
  for (const [list, n] of agg.lists) if (n > 0) set.add(`${p}_listed`, [host, ['list', list]], n);
  set.render(out, time);
  // A counter present in the aggregate was polled in this interval: written even when its delta is 0.
  for (const [name, t] of agg.counters) {
    const l = line(`${p}_nfacct`, [host, ['counter', name]], { pkts: t.pkts, bytes: t.bytes }, time);
    if (l !== null) out.push(l);
  }
  return out;
}

/** The points of one health snapshot (wall-clock time). */
export function healthPoints(h: HealthSnapshot, opts: PointOptions): string[] {
  const out: string[] = [];
  const time = timestamp(h.time, opts.precision);
  const p = opts.prefix;
  const host: [string, string] = ['host', opts.host];
  const push = (l: string | null): void => {
    if (l !== null) out.push(l);
  };
  const fields: Fields = {
    lines: h.lines,
    events: h.events,
    events_per_second: Math.round(h.eventsPerSecond * 1000) / 1000,
    oversized_lines: h.oversizedLines,
    late_events: h.lateEvents,
    counter_resets: h.counterResets,
    open_intervals: h.openIntervals,
  };
  const t = h.tracker;
  if (t !== null) {
    fields.scans_suspected = t.suspected;
    fields.campaigns_active = t.campaigns;
    fields.track_sources = t.tracked;
    fields.track_evicted = t.evicted;
    fields.track_expired = t.expired;
  }
  push(line(`${p}_health`, [host], fields, time, HEALTH_FLOATS));
  for (const reason of DECODE_ERROR_REASONS) push(line(`${p}_health_decode_errors`, [host, ['reason', reason]], { count: h.decodeErrors[reason] ?? 0 }, time));
  for (const [sink, s] of Object.entries(h.sinks)) {
    push(line(`${p}_health_sinks`, [host, ['sink', sink]], { backlog: s.backlog, dropped: s.dropped, sent: s.sent, connected: s.connected ? 1 : 0 }, time));
  }
  for (const [source, figures] of Object.entries(h.sources ?? {})) {
    const sourceFields: Fields = {};
    for (const field of SOURCE_HEALTH_FIELDS) sourceFields[SOURCE_METRIC_NAMES[field]] = figures[field];
    push(line(`${p}_health_sources`, [host, ['source', source], ['kind', figures.kind]], sourceFields, time));
  }
  if (t !== null) {
    const scans = new Map<string, { active: number; new: number }>();
    for (const [type, n] of Object.entries(t.scans)) scans.set(type, { active: n, new: 0 });
    for (const [type, n] of Object.entries(t.newScans)) scans.set(type, { active: scans.get(type)?.active ?? 0, new: n });
    for (const [type, f] of scans) push(line(`${p}_scans`, [host, ['type', type]], f, time));
  }
  return out;
}

/**
 * One sampled packet. Only verdict and protocol are tags; addresses, ports, prefix, tool and
 * country are fields, so a scan from a /8 adds no series. `seq` (0..999 999) is added as
 * nanoseconds below the event's millisecond so that two sampled packets of the same millisecond
 * do not overwrite each other; the point is always written in nanoseconds.
 */
export function eventPoint(e: PacketEvent, prefix: string, host: string, seq: number): string | null {
  const fields: Fields = { src: e.srcIp, dst: e.dstIp };
  if (e.srcPort >= 0) fields.sport = e.srcPort;
  if (e.dstPort >= 0) fields.dport = e.dstPort;
  if (e.prefix !== '') fields.prefix = e.prefix;
  if (e.tool !== '') fields.tool = e.tool;
  if (e.geo !== null && e.geo.country !== '') fields.country = e.geo.country;
  if (e.fingerprint !== null) fields.fingerprint = e.fingerprint.key;
  const ns = String(Math.max(0, Math.min(999_999, Math.floor(seq)))).padStart(6, '0');
  const time = `${Math.floor(e.time)}${ns}`;
  return line(`${prefix}_event`, [['host', host], ['proto', protocolName(e.protocol)], ['verdict', e.verdict]], fields, time);
}
