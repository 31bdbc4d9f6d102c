// Metric naming: turns interval aggregates and health snapshots into Graphite paths and values.
// Pure functions plus a small cache; no I/O. Every piece of text that comes from the outside (log
// prefixes, nfacct names, source names, host names) goes through a sanitiser, because a '\n', ' ',
// ';' or '=' in a carbon plaintext line would inject lines, values or tags.
//
// Dotted tree (outputs.graphite.tagged = false), <p> = prefix with {hostname} resolved:
//   <p>.events.<allowed|blocked|unknown>.count
//   <p>.events.<verdict>.proto.<tcp|udp|icmp|...|p<n>|unknown>
//   <p>.events.<verdict>.dport.<port>            top N ports by count
//   <p>.events.<verdict>.dport.other             the rest (+ ports the aggregator folded)
//   <p>.events.prefix.<log prefix|none>          none: events without a log prefix
//   <p>.events.prefix.other                      prefixes beyond aggregate.max_prefixes
//   <p>.events.input.<source name>
//   <p>.events.listed.<list>                     packets from sources on a threat list ([[lists]])
//   <p>.nfacct.<counter name>.pkts|bytes         nfacct_layout = "nfwatch"
//   <p>.<counter name>.pkts|bytes                nfacct_layout = "ulogd" (ulogd's GRAPHITE plugin)
//   <p>.syn.count                                TCP SYNs without ACK
//   <p>.syn.window.<window>|other                top N windows (aggregate.top_values)
//   <p>.syn.ittl.<32|64|128|255>                 by inferred initial TTL
//   <p>.syn.fingerprint.<key>|other              top N fingerprint keys, e.g. ittl_128_win_16384_olen_0_df_0
//   <p>.syn.os.<linux|windows|bsd|network-device|crafted|unknown>
//   <p>.tools.<signature id>                     packets from a recognised tool
//   <p>.geo.<country code|private|reserved|unknown>|other   top N source countries
//   <p>.scans.<vertical|horizontal|ssh_bruteforce>.active|new   sources in a detected scan / new ones
//   <p>.scans.suspected                          sources with a suspected scan
//   <p>.campaigns.active
//   <p>.track.sources|evicted|expired            tracked sources; LRU evictions; window expiries
//   <p>.nfwatch.lines|events|events_per_second|oversized_lines|late_events|counter_resets|open_intervals
//   <p>.nfwatch.series.admitted|folded          series created in carbon; creations held back by
//                                                outputs.graphite.max_creates_per_minute
//   <p>.nfwatch.decode_errors.<reason>
//   <p>.nfwatch.sinks.<sink>.backlog|dropped|sent|connected
//   <p>.nfwatch.sources.<source>.<figure>        lines_read, bytes_read, connections, connections_refused,
//                                                connections_evicted, partial_lines_dropped, rotations,
//                                                truncations, symlinks_refused
//
// Tagged series (tagged = true, Graphite >= 1.1). <n> = prefix with its {hostname} removed (and
// empty components dropped); when the prefix contained {hostname}, every series carries
// host=<hostname>. Tags are sorted by name, as carbon normalises them:
//   <n>.events.count;host=h;verdict=blocked
//   <n>.events.proto;host=h;proto=tcp;verdict=blocked
//   <n>.events.dport;host=h;port=22;verdict=blocked          port=other for the folded rest
//   <n>.events.prefix;host=h;prefix=DROP_IN                  prefix=none / prefix=other
//   <n>.events.input;host=h;source=ulogd
//   <n>.events.listed;host=h;list=firehol_level1
//   <n>.nfacct.pkts;counter=ipv4.http;host=h                 (and .bytes; nfacct_layout is ignored)
//   <n>.syn.count;host=h
//   <n>.syn.window;host=h;window=16384                       window=other for the folded rest
//   <n>.syn.ittl;host=h;ittl=128
//   <n>.syn.fingerprint;fingerprint=ittl_128_win_16384_olen_0_df_0;host=h
//   <n>.syn.os;host=h;os=linux
//   <n>.tools;host=h;tool=nmap
//   <n>.geo;country=CN;host=h
//   <n>.scans.active;host=h;type=vertical                    (and scans.new, scans.suspected)
//   <n>.campaigns.active;host=h
//   <n>.track.sources;host=h                                 (and track.evicted, track.expired)
//   <n>.nfwatch.lines;host=h                                 (and the other health figures)
//   <n>.nfwatch.decode_errors;host=h;reason=not_json
//   <n>.nfwatch.sinks.backlog;host=h;sink=graphite           (and dropped, sent, connected)
//   <n>.nfwatch.sources.rotations;host=h;source=ulogd        (and the other source figures)
//
// Which names get their own series: aggregate.max_series (lifetime, per family; applied by the
// aggregator, see aggregate/budget.ts), then aggregate.top_ports / top_values (per interval, here),
// then, for carbon only, the creation budget (plan* mark what may be folded or deferred; the
// Graphite sink applies it when it writes). Folded values always go to the family's `other`.
//
// Distinct raw names can sanitise to the same path ("a b" and "a_b"); render* then add their
// values instead of letting one overwrite the other, so totals stay exact.
import type { GraphiteConfig } from '../config/schema.js';
import { PROTOCOL_NAMES } from '../decode/protocols.js';
import { OTHER_WINDOW, type CreateKind, type PlannedMetric } from '../aggregate/budget.js';
import {
  DECODE_ERROR_REASONS,
  SOURCE_HEALTH_FIELDS,
  VERDICTS,
  type DecodeErrorReason,
  type HealthSnapshot,
  type IntervalAggregate,
  type SinkHealth,
  type SourceHealthField,
  type Verdict,
} from '../pipeline/types.js';

const MAX_COMPONENT = 128;
/** The component cache is cleared beyond this many entries (a flood of distinct prefixes must not grow it). */
const CACHE_LIMIT = 10_000;

/** One Graphite path component: only [A-Za-z0-9_-], runs of '_' collapsed, at most 128 chars. */
export function sanitizeComponent(s: string): string {
  return clean(s) || '_';
}

/** sanitizeComponent, but "" when nothing of the name is left. */
function clean(s: string): string {
  let out = trimUnderscores(s.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/_{2,}/g, '_'));
  if (out.length > MAX_COMPONENT) out = trimUnderscores(out.slice(0, MAX_COMPONENT));
  return out;
}

function trimUnderscores(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 0x5f) a++;
  while (b > a && s.charCodeAt(b - 1) === 0x5f) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** A name whose dots are hierarchy (nfacct "ipv4.http"): each component sanitised, empty ones dropped. */
export function sanitizeDotted(s: string): string {
  const parts: string[] = [];
  for (const raw of s.split('.')) {
    const part = clean(raw);
    if (part !== '') parts.push(part);
  }
  return parts.length ? parts.join('.') : '_';
}

/**
 * A Graphite tag value. Graphite forbids ';' and a leading '~'; the plaintext protocol forbids
 * whitespace; we also keep '=' out and stay ASCII. Dots are kept ("counter=ipv4.http").
 */
export function sanitizeTagValue(s: string): string {
  let out = s.replace(/[^A-Za-z0-9_.:-]+/g, '_').replace(/_{2,}/g, '_');
  out = out.replace(/^[_.]+|[_.]+$/g, '');
  if (out.length > MAX_COMPONENT) out = out.slice(0, MAX_COMPONENT).replace(/[_.]+$/, '');
  return out === '' ? '_' : out;
}


/** IP protocol number → path component; NONE (-1) → "unknown". */
export function protocolName(n: number): string {
  if (n < 0 || !Number.isInteger(n)) return 'unknown';
  return PROTOCOL_NAMES.get(n) ?? `p${n}`;
}

export type NfacctField = 'pkts' | 'bytes';
export type SinkField = keyof SinkHealth;

/** Source figures (SourceHealth) as metric name components. */
export const SOURCE_METRIC_NAMES: Record<SourceHealthField, string> = {
  linesRead: 'lines_read',
  bytesRead: 'bytes_read',
  connections: 'connections',
  connectionsRefused: 'connections_refused',
  connectionsEvicted: 'connections_evicted',
  partialLinesDropped: 'partial_lines_dropped',
  rotations: 'rotations',
  truncations: 'truncations',
  symlinksRefused: 'symlinks_refused',
};
/** Health figures written as <p>.nfwatch.<name>. */
export type HealthField =
  | 'lines'
  | 'events'
  | 'events_per_second'
  | 'oversized_lines'
  | 'late_events'
  | 'counter_resets'
  | 'open_intervals'
  | 'series.admitted'
  | 'series.folded';

/** Builds metric paths for one configuration and host; caches sanitised components. */
export class MetricNamer {
  readonly tagged: boolean;
  /** Dotted mode: "<prefix>." (or "" for an empty prefix). Tagged mode: "<name prefix>.". */
  private readonly base: string;
  /** Tagged mode: the host tag value, or null when the prefix had no {hostname}. */
  private readonly host: string | null;
  private readonly ulogdLayout: boolean;
  private readonly cache = new Map<string, string>();

  constructor(config: Pick<GraphiteConfig, 'prefix' | 'tagged' | 'nfacct_layout'>, hostname: string) {
    this.tagged = config.tagged;
    this.ulogdLayout = config.nfacct_layout === 'ulogd';
    const parts: string[] = [];
    let hadHost = false;
    for (const raw of config.prefix.split('.')) {
      let part = raw;
      if (part.includes('{hostname}')) {
        hadHost = true;
        // Dotted: the host name is ONE component ("web1.example.com" → "web1_example_com").
        part = part.split('{hostname}').join(this.tagged ? '' : sanitizeComponent(hostname));
      }
      if (part === '') continue;
      parts.push(sanitizeComponent(part));
    }
    this.base = parts.length ? parts.join('.') + '.' : '';
    this.host = this.tagged && hadHost ? sanitizeTagValue(hostname) : null;
  }

  // --- events

  verdictCount(verdict: Verdict): string {
    return this.tagged ? this.tag('events.count', 'verdict', verdict) : `${this.base}events.${verdict}.count`;
  }

  protocol(verdict: Verdict, protocol: number): string {
    const name = protocolName(protocol);
    return this.tagged
      ? this.tag('events.proto', 'proto', name, 'verdict', verdict)
      : `${this.base}events.${verdict}.proto.${name}`;
  }

  /** `port` is a port number or "other" (the folded rest). */
  dport(verdict: Verdict, port: number | 'other'): string {
    const p = typeof port === 'number' && Number.isInteger(port) && port >= 0 ? String(port) : this.component(String(port));
    return this.tagged ? this.tag('events.dport', 'port', p, 'verdict', verdict) : `${this.base}events.${verdict}.dport.${p}`;
  }

  /** `prefix` is a log prefix ('' → "none") or null for the folded rest ("other"). */
  logPrefix(prefix: string | null): string {
    if (this.tagged) {
      const v = prefix === null ? 'other' : prefix === '' ? 'none' : this.tagValue(prefix);
      return this.tag('events.prefix', 'prefix', v);
    }
    const c = prefix === null ? 'other' : prefix === '' ? 'none' : this.component(prefix);
    return `${this.base}events.prefix.${c}`;
  }

  input(source: string): string {
    return this.tagged
      ? this.tag('events.input', 'source', this.tagValue(source))
      : `${this.base}events.input.${this.component(source)}`;
  }

  nfacct(counter: string, field: NfacctField): string {
    if (this.tagged) return this.tag(`nfacct.${field}`, 'counter', this.tagValue(counter));
    const name = this.dotted(counter);
    return this.ulogdLayout ? `${this.base}${name}.${field}` : `${this.base}nfacct.${name}.${field}`;
  }

  // --- SYN fingerprints, tools, countries

  synCount(): string {
    return this.tagged ? this.tag('syn.count') : `${this.base}syn.count`;
  }

  synWindow(window: number | 'other'): string {
    const w = String(window);
    return this.tagged ? this.tag('syn.window', 'window', w) : `${this.base}syn.window.${w}`;
  }

  synInitialTtl(ttl: number): string {
    const t = String(ttl);
    return this.tagged ? this.tag('syn.ittl', 'ittl', t) : `${this.base}syn.ittl.${t}`;
  }

  /** `key` is a fingerprint key or null for the folded rest ("other"). */
  synFingerprint(key: string | null): string {
    if (this.tagged) return this.tag('syn.fingerprint', 'fingerprint', key === null ? 'other' : this.tagValue(key));
    return `${this.base}syn.fingerprint.${key === null ? 'other' : this.component(key)}`;
  }

  synOs(os: string): string {
    const o = os === '' ? 'unknown' : os;
    return this.tagged ? this.tag('syn.os', 'os', this.tagValue(o)) : `${this.base}syn.os.${this.component(o)}`;
  }

  tool(id: string): string {
    return this.tagged ? this.tag('tools', 'tool', this.tagValue(id)) : `${this.base}tools.${this.component(id)}`;
  }

  /** `country` is a country code ('' → "unknown") or null for the folded rest ("other"). */
  country(country: string | null): string {
    const c = country === null ? 'other' : country === '' ? 'unknown' : country;
    return this.tagged ? this.tag('geo', 'country', this.tagValue(c)) : `${this.base}geo.${this.component(c)}`;
  }

  /** Packets from sources on a threat list; list names are configured (threat-lists.ts checks them). */
  listed(list: string): string {
    return this.tagged ? this.tag('events.listed', 'list', this.tagValue(list)) : `${this.base}events.listed.${this.component(list)}`;
  }

  // --- scans, campaigns, tracking (wall-clock gauges, written with health)

  scans(type: string, field: 'active' | 'new'): string {
    return this.tagged ? this.tag(`scans.${field}`, 'type', type) : `${this.base}scans.${type}.${field}`;
  }

  /** scans.suspected, campaigns.active, track.sources|evicted|expired. */
  gauge(path: 'scans.suspected' | 'campaigns.active' | 'track.sources' | 'track.evicted' | 'track.expired'): string {
    return this.tagged ? this.tag(path) : `${this.base}${path}`;
  }

  // --- health

  health(field: HealthField): string {
    return this.tagged ? this.tag(`nfwatch.${field}`) : `${this.base}nfwatch.${field}`;
  }

  decodeErrors(reason: DecodeErrorReason): string {
    return this.tagged ? this.tag('nfwatch.decode_errors', 'reason', reason) : `${this.base}nfwatch.decode_errors.${reason}`;
  }

  sink(sink: string, field: SinkField): string {
    return this.tagged
      ? this.tag(`nfwatch.sinks.${field}`, 'sink', this.tagValue(sink))
      : `${this.base}nfwatch.sinks.${this.component(sink)}.${field}`;
  }

  /** <p>.nfwatch.sources.<source>.<figure> (tagged: nfwatch.sources.<figure>;source=<source>). */
  source(source: string, field: SourceHealthField): string {
    const name = SOURCE_METRIC_NAMES[field];
    return this.tagged
      ? this.tag(`nfwatch.sources.${name}`, 'source', this.tagValue(source))
      : `${this.base}nfwatch.sources.${this.component(source)}.${name}`;
  }

  // --- helpers

  /** name;k=v;... with the host tag added and tags sorted by name. Values must be sanitised. */
  private tag(name: string, ...kv: string[]): string {
    const tags: Array<[string, string]> = [];
    for (let i = 0; i + 1 < kv.length; i += 2) tags.push([kv[i]!, kv[i + 1]!]);
    if (this.host !== null) tags.push(['host', this.host]);
    tags.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let out = this.base + name;
    for (const [k, v] of tags) out += `;${k}=${v}`;
    return out;
  }

  private component(raw: string): string {
    return this.cached('c', raw, sanitizeComponent);
  }

  private dotted(raw: string): string {
    return this.cached('d', raw, sanitizeDotted);
  }

  private tagValue(raw: string): string {
    return this.cached('t', raw, sanitizeTagValue);
  }

  private cached(kind: string, raw: string, fn: (s: string) => string): string {
    const key = kind + raw;
    let v = this.cache.get(key);
    if (v === undefined) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      v = fn(raw);
      this.cache.set(key, v);
    }
    return v;
  }
}

function add(out: Record<string, number>, path: string, value: number): void {
  if (!Number.isFinite(value)) return;
  out[path] = (out[path] ?? 0) + value;
}

/**
 * Metrics of one batch with, per path, what the Graphite sink's creation budget may do with it
 * when the series is new (see aggregate/budget.ts). Same-path values are summed.
 */
class Plan {
  private readonly byPath = new Map<string, PlannedMetric>();

  add(path: string, value: number, kind: CreateKind, other?: string, first?: boolean): void {
    if (!Number.isFinite(value)) return;
    const m = this.byPath.get(path);
    if (m !== undefined) {
      m.value += value;
      // A path that is some family's `other` must never be folded itself.
      if (kind === 'core') {
        m.kind = 'core';
        delete m.other;
      }
      return;
    }
    const planned: PlannedMetric = { path, value, kind };
    if (other !== undefined) planned.other = other;
    if (first) planned.first = true;
    this.byPath.set(path, planned);
  }

  list(): PlannedMetric[] {
    return [...this.byPath.values()];
  }
}

function toRecord(metrics: readonly PlannedMetric[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) add(out, m.path, m.value);
  return out;
}

/** The `n` largest entries (ties: smaller key first) and the sum of the rest. */
export function splitTop<K extends number | string>(counts: Map<K, number>, n: number): { top: Array<[K, number]>; rest: number; folded: boolean } {
  const entries: Array<[K, number]> = [];
  // Negative keys would be events without the value (NONE): not part of the sum.
  for (const [k, v] of counts) if (v > 0 && (typeof k !== 'number' || k >= 0)) entries.push([k, v]);
  if (entries.length <= n) return { top: entries, rest: 0, folded: false };
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let rest = 0;
  for (let i = n; i < entries.length; i++) rest += entries[i]![1];
  entries.length = Math.max(0, n);
  return { top: entries, rest, folded: true };
}

export interface TopLimits {
  /** Destination ports per verdict (aggregate.top_ports). */
  ports: number;
  /** SYN windows, fingerprints and countries (aggregate.top_values). */
  values: number;
}

/**
 * Path → value for one interval. `top.ports` destination ports per verdict are written by name;
 * the rest, plus what the aggregator already folded (`otherPorts`), go to dport.other, so the
 * dport.* of a verdict always sum to its events that had a destination port.
 */
export function renderInterval(agg: IntervalAggregate, namer: MetricNamer, top: TopLimits): Record<string, number> {
  return toRecord(planInterval(agg, namer, top));
}

/**
 * renderInterval's metrics with their creation kinds: counts that must exist for totals to add
 * up (events.<verdict>.count, proto, input, syn.count, ittl, os, and every `other`) are 'core';
 * named ports, prefixes, windows, fingerprints, tools, countries and NFACCT counters are 'fold'
 * (into their family's `other`), counters offered first.
 */
export function planInterval(agg: IntervalAggregate, namer: MetricNamer, top: TopLimits): PlannedMetric[] {
  const plan = new Plan();
  for (const verdict of VERDICTS) {
    const v = agg.verdicts[verdict];
    // Always written, also as 0: a verdict's count series stays continuous while others are busy.
    plan.add(namer.verdictCount(verdict), v.count, 'core');
    for (const [proto, n] of v.protocols) if (n > 0) plan.add(namer.protocol(verdict, proto), n, 'core');

    const ports = splitTop(v.ports, top.ports);
    const other = ports.rest + v.otherPorts;
    const folded = ports.folded || v.otherPorts > 0;
    const otherPath = namer.dport(verdict, 'other');
    for (const [port, n] of ports.top) plan.add(namer.dport(verdict, port), n, 'fold', otherPath);
    if (folded || other > 0) plan.add(otherPath, other, 'core');
  }
  const otherPrefix = namer.logPrefix(null);
  for (const [prefix, n] of agg.prefixes) if (n > 0) plan.add(namer.logPrefix(prefix), n, 'fold', otherPrefix);
  if (agg.otherPrefixes > 0) plan.add(otherPrefix, agg.otherPrefixes, 'core');
  for (const [source, n] of agg.sources) if (n > 0) plan.add(namer.input(source), n, 'core');
  // A counter present in the aggregate was polled in this interval: written even when its delta
  // is 0, as ulogd's own GRAPHITE output does.
  for (const [name, t] of agg.counters) {
    plan.add(namer.nfacct(name, 'pkts'), t.pkts, 'fold', namer.nfacct(OTHER_COUNTER_NAME, 'pkts'), true);
    plan.add(namer.nfacct(name, 'bytes'), t.bytes, 'fold', namer.nfacct(OTHER_COUNTER_NAME, 'bytes'), true);
  }
  if (agg.syns > 0) {
    plan.add(namer.synCount(), agg.syns, 'core');
    const windowCounts = agg.synWindows.has(OTHER_WINDOW) ? new Map(agg.synWindows) : agg.synWindows;
    const foldedWindows = windowCounts.get(OTHER_WINDOW) ?? 0;
    windowCounts.delete(OTHER_WINDOW);
    const windows = splitTop(windowCounts, top.values);
    const otherWindow = namer.synWindow('other');
    for (const [w, n] of windows.top) plan.add(namer.synWindow(w), n, 'fold', otherWindow);
    if (windows.folded || foldedWindows > 0) plan.add(otherWindow, windows.rest + foldedWindows, 'core');
    for (const [ttl, n] of agg.synInitialTtls) if (n > 0) plan.add(namer.synInitialTtl(ttl), n, 'core');
    const fingerprints = splitTop(agg.fingerprints, top.values);
    const otherFp = namer.synFingerprint(null);
    for (const [key, n] of fingerprints.top) plan.add(namer.synFingerprint(key), n, 'fold', otherFp);
    if (fingerprints.folded || agg.otherFingerprints > 0) plan.add(otherFp, fingerprints.rest + agg.otherFingerprints, 'core');
    for (const [os, n] of agg.synOs) if (n > 0) plan.add(namer.synOs(os), n, 'core');
  }
  const otherTool = namer.tool('other');
  for (const [tool, n] of agg.tools) if (n > 0) plan.add(namer.tool(tool), n, tool === 'other' ? 'core' : 'fold', otherTool);
  const countries = splitTop(agg.countries, top.values);
  const otherCountry = namer.country(null);
  for (const [cc, n] of countries.top) plan.add(namer.country(cc), n, cc === 'other' ? 'core' : 'fold', otherCountry);
  if (countries.folded) plan.add(otherCountry, countries.rest, 'core');
  for (const [list, n] of agg.lists) if (n > 0) plan.add(namer.listed(list), n, 'core');
  return plan.list();
}

/** The NFACCT name folded counters are summed under (aggregate/intervals.ts OTHER_COUNTER). */
const OTHER_COUNTER_NAME = '_other';

/** What the Graphite sink reports about its series (nfwatch.series.*). */
export interface SeriesHealth {
  /** New series nfwatch has written (created in carbon). */
  admitted: number;
  /** New series held back by the creation budget: values folded into `other`, or gauges deferred. */
  folded: number;
}

/** Path → value for one health snapshot (a small fixed set: zeros are written too). */
export function renderHealth(h: HealthSnapshot, namer: MetricNamer, series?: SeriesHealth): Record<string, number> {
  return toRecord(planHealth(h, namer, series));
}

/**
 * renderHealth's metrics: gauges, written again by the next snapshot, so never created over the
 * creation budget: the tracker's first, then the nfwatch.* figures and decode errors 'defer' (while
 * 0: 'spare'); the per-sink and per-source figures 'spare' (only from the top of the budget).
 */
export function planHealth(h: HealthSnapshot, namer: MetricNamer, series?: SeriesHealth): PlannedMetric[] {
  const plan = new Plan();
  let kind: CreateKind = 'defer';
  const add = (path: string, value: number) => plan.add(path, value, kind);
  // Who is scanning now, first: a port scan that spends the budget on its ports must not keep
  // these out of carbon for minutes.
  const t = h.tracker;
  if (t !== null) {
    for (const [type, n] of Object.entries(t.scans)) add(namer.scans(type, 'active'), n);
    for (const [type, n] of Object.entries(t.newScans)) add(namer.scans(type, 'new'), n);
    add(namer.gauge('scans.suspected'), t.suspected);
    add(namer.gauge('campaigns.active'), t.campaigns);
    add(namer.gauge('track.sources'), t.tracked);
    add(namer.gauge('track.evicted'), t.evicted);
    add(namer.gauge('track.expired'), t.expired);
  }
  // A figure that is still 0 says little until it moves: created only from the top of the budget,
  // so a dozen zero error counters do not take the first minute's creations from the busiest ports.
  const addFigure = (path: string, value: number) => plan.add(path, value, value === 0 ? 'spare' : 'defer');
  addFigure(namer.health('lines'), h.lines);
  addFigure(namer.health('events'), h.events);
  addFigure(namer.health('events_per_second'), Math.round(h.eventsPerSecond * 1000) / 1000);
  addFigure(namer.health('oversized_lines'), h.oversizedLines);
  addFigure(namer.health('late_events'), h.lateEvents);
  addFigure(namer.health('counter_resets'), h.counterResets);
  addFigure(namer.health('open_intervals'), h.openIntervals);
  if (series !== undefined) {
    addFigure(namer.health('series.admitted'), series.admitted);
    addFigure(namer.health('series.folded'), series.folded);
  }
  for (const reason of DECODE_ERROR_REASONS) addFigure(namer.decodeErrors(reason), h.decodeErrors[reason] ?? 0);
  kind = 'spare';
  for (const [sink, s] of Object.entries(h.sinks)) {
    add(namer.sink(sink, 'backlog'), s.backlog);
    add(namer.sink(sink, 'dropped'), s.dropped);
    add(namer.sink(sink, 'sent'), s.sent);
    add(namer.sink(sink, 'connected'), s.connected ? 1 : 0);
  }
  for (const [source, figures] of Object.entries(h.sources ?? {})) {
    for (const field of SOURCE_HEALTH_FIELDS) add(namer.source(source, field), figures[field]);
  }
  return plan.list();
}
