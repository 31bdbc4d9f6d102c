// The history file's reads and writes, synchronous, on one better-sqlite3 connection: the writer
// thread (worker.ts) owns one of these, so none of it runs on the packet path. A write is one
// transaction: a batch of source-hours merged into the stored rows (sighting-writer.ts), the
// batch's highest position per source name, and the incidents (each stored once however often
// it comes). Retention deletes by age and, oldest hours first, by size, then gives the space
// back (incremental vacuum). Searches sum each matching source's hours (search.ts).
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { NONE } from '../pipeline/types.js';
import { ipv6Network } from '../util/ip.js';
import type { SightingBatch } from './batch.js';
import { SightingWriter } from './sighting-writer.js';
import type { HistoryOptions } from './options.js';
import { openHistoryFile, type OpenedFile } from './schema.js';
import { MAX_LIMIT, accessFor, matchedSources, orderBy, searchSql, type Access, type SearchSql } from './search.js';
import { SetUnion, numberMembers, setMembers } from './sets.js';
import { HOUR_MS, hourOf } from './sightings.js';
import type { HistoryCity, HistoryCountry, HistoryHour, HistoryIncident, HistorySearch, HistorySearchResult, HistorySource, HistoryTimeline } from './types.js';

const DAY_MS = 86_400_000;
/** Size retention deletes down to this share of maxBytes, so it does not run again at the next write. */
const SIZE_TARGET = 0.9;
/** Incidents a timeline shows at most. */
const MAX_TIMELINE_INCIDENTS = 10_000;
/** Places the map by city shows at most (the busiest), as the live one (track/query.ts MAX_CITIES). */
export const MAX_HISTORY_CITIES = 1000;

export interface WriteResult {
  rows: number;
  incidents: number;
  ms: number;
}

export interface RetentionResult {
  /** Source-hours and incidents deleted. */
  rows: number;
  incidents: number;
  ms: number;
}

/** One stored source-hour, as read. */
interface StoredRow {
  source: string;
  hour: number;
  first_seen: number;
  last_seen: number;
  allowed: number;
  blocked: number;
  unknown: number;
  syns: number;
  folded: number;
  ports: string;
  ports_capped: number;
  hosts: string;
  hosts_capped: number;
  windows: string;
  fingerprints: string;
  tools: string;
  os: string;
  lists: string;
  country: string;
  city: string;
  asn: number | null;
  org: string;
  cloud: string;
}

/** One matching source, summed (the search's first query). */
interface MatchedRow {
  source: string;
  hours: number;
  allowed: number;
  blocked: number;
  unknown: number;
  packets: number;
  first_seen: number;
  last_seen: number;
  detections: number;
  max_severity: number;
  total_sources: number;
  total_packets: number;
  total_blocked: number;
}

interface IncidentRow {
  time: number;
  kind: HistoryIncident['kind'];
  subject: string;
  severity: number;
  text: string;
  detail: string;
}

const ROW_COLUMNS =
  'source, hour, first_seen, last_seen, allowed, blocked, unknown, syns, folded, ports, ports_capped, hosts, hosts_capped, windows, fingerprints, tools, os, lists, country, city, asn, org, cloud';

export class HistoryDatabase {
  private readonly sightings: SightingWriter;
  private readonly addIncident: Database.Statement;
  private readonly savePosition: Database.Statement;
  private readonly hoursOf: Database.Statement;
  private readonly detectionsOf: Database.Statement;
  private readonly writeAll: (batch: SightingBatch | null, incidents: readonly HistoryIncident[]) => void;
  private readonly scratch = new Uint16Array(8);
  /** What this open did to the file: made it, upgraded it from an older schema, or neither. */
  readonly opened: OpenedFile;

  constructor(
    private readonly db: Database.Database,
    private readonly options: HistoryOptions,
    opened: OpenedFile,
  ) {
    this.opened = opened;
    this.sightings = new SightingWriter(db, options);
    // The same incident again (a replayed line detected again after a restart) is ignored: schema.ts incidents_once.
    this.addIncident = db.prepare('INSERT OR IGNORE INTO incidents (time, kind, subject, severity, text, detail) VALUES (?, ?, ?, ?, ?, ?)');
    this.savePosition = db.prepare('INSERT INTO positions (source, position) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET position = max(position, excluded.position)');
    this.detectionsOf = db.prepare(
      "SELECT count(*) AS detections, max(severity) AS max_severity FROM incidents WHERE subject = ? AND time >= ? AND time < ? AND kind = 'detection'",
    );
    this.hoursOf = db.prepare(`SELECT ${ROW_COLUMNS} FROM sightings WHERE source = ? AND hour >= ? AND hour < ? ORDER BY hour`);
    this.writeAll = db.transaction((batch: SightingBatch | null, incidents: readonly HistoryIncident[]) => {
      if (batch !== null) {
        this.sightings.write(batch);
        this.savePositions(batch);
      }
      for (const i of incidents) this.addIncident.run(i.time, i.kind, i.subject, i.severity, i.text, JSON.stringify(i.detail));
    });
  }

  /** Opens the file (see schema.ts for what is refused). */
  static open(options: HistoryOptions): HistoryDatabase {
    const { db, opened } = openHistoryFile(options.path);
    const store = new HistoryDatabase(db, options, opened);
    store.tune();
    return store;
  }

  /**
   * Refreshes the query planner's statistics where the tables changed much (PRAGMA optimize,
   * sampling at most 1000 rows an index: ~0.2 s for a million rows). The search names its own
   * index for the big read (search.ts accessFor); the rest of each plan follows these.
   */
  tune(): void {
    this.db.pragma('analysis_limit = 1000');
    this.db.pragma('optimize');
  }

  /** One transaction: the batch's source-hours and the incidents. Throws when it failed (nothing written). */
  write(batch: SightingBatch | null, incidents: readonly HistoryIncident[]): WriteResult {
    const started = performance.now();
    this.writeAll(batch, incidents);
    return { rows: batch === null ? 0 : batch.rows, incidents: incidents.length, ms: performance.now() - started };
  }

  /** The highest position whose sightings were written, by source name. */
  positions(): Record<string, number> {
    const rows = this.db.prepare('SELECT source, position FROM positions').all() as Array<{ source: string; position: number }>;
    const out: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const r of rows) out[r.source] = r.position;
    return out;
  }

  /** The batch's positions by source name (inside the write's transaction: with its rows or not at all). */
  private savePositions(batch: SightingBatch): void {
    const names = this.options.sourceNames;
    const positions = batch.positions;
    const n = Math.min(names.length, positions.length);
    for (let i = 0; i < n; i++) {
      const p = positions[i]!;
      if (p >= 0) this.savePosition.run(names[i]!, p);
    }
  }

  /** Whether the file has grown past maxBytes (a size retention pass is due). */
  overSize(): boolean {
    return this.usedBytes() > this.options.maxBytes;
  }

  /** Bytes on disk: the database file and its write-ahead log. */
  bytes(): number {
    return this.fileBytes() + walBytes(this.options.path);
  }

  /** Deletes what is older than retentionDays, then the oldest hours while over maxBytes; gives the space back. */
  retain(now: number): RetentionResult {
    const started = performance.now();
    const cutoff = now - this.options.retentionDays * DAY_MS;
    let rows = 0;
    let incidents = 0;
    this.db.transaction(() => {
      // Whole hours only: an hour partly inside the retention time stays.
      rows += this.db.prepare('DELETE FROM sightings WHERE hour <= ?').run(cutoff - HOUR_MS).changes;
      incidents += this.db.prepare('DELETE FROM incidents WHERE time < ?').run(cutoff).changes;
    })();
    for (let pass = 0; pass < 8 && this.usedBytes() > this.options.maxBytes; pass++) {
      const cut = this.shrink();
      rows += cut.rows;
      incidents += cut.incidents;
      if (cut.rows + cut.incidents === 0) break;
    }
    if (rows + incidents > 0) {
      this.db.pragma('incremental_vacuum');
      // In WAL mode the file is cut only when the log is copied back: do it now.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    this.tune();
    return { rows, incidents, ms: performance.now() - started };
  }

  /** One pass of size retention: the oldest hours holding about the excess, or, left with one hour, its smallest sources. */
  private shrink(): { rows: number; incidents: number } {
    const used = this.usedBytes();
    const target = this.options.maxBytes * SIZE_TARGET;
    const count = (sql: string): number => (this.db.prepare(sql).get() as { n: number }).n;
    const sightings = count('SELECT count(*) AS n FROM sightings');
    const incidentCount = count('SELECT count(*) AS n FROM incidents');
    if (sightings + incidentCount === 0) return { rows: 0, incidents: 0 };
    const perRow = used / (sightings + incidentCount);
    const excess = Math.max(1, Math.ceil((used - target) / perRow));
    return this.db.transaction(() => {
      if (sightings === 0) {
        const gone = this.db.prepare('DELETE FROM incidents WHERE id IN (SELECT id FROM incidents ORDER BY time LIMIT ?)').run(excess).changes;
        return { rows: 0, incidents: gone };
      }
      const hours = this.db.prepare('SELECT hour, count(*) AS n FROM sightings GROUP BY hour ORDER BY hour').all() as Array<{ hour: number; n: number }>;
      let cutHour = NONE;
      let cutRows = 0;
      for (let i = 0; i < hours.length - 1 && cutRows < excess; i++) {
        cutRows += hours[i]!.n;
        cutHour = hours[i + 1]!.hour;
      }
      if (cutHour !== NONE) {
        const rows = this.db.prepare('DELETE FROM sightings WHERE hour < ?').run(cutHour).changes;
        const incidents = this.db.prepare('DELETE FROM incidents WHERE time < ?').run(cutHour).changes;
        return { rows, incidents };
      }
      // Only the newest hour is left and it alone is too big (a flood of spoofed sources): its
      // sources with the fewest packets go first, the scanners worth keeping stay.
      const rows = this.db
        .prepare('DELETE FROM sightings WHERE (source, hour) IN (SELECT source, hour FROM sightings ORDER BY allowed + blocked + unknown, last_seen LIMIT ?)')
        .run(Math.min(excess, sightings))
        .changes;
      return { rows, incidents: 0 };
    })();
  }

  search(q: HistorySearch): HistorySearchResult {
    const s = searchSql(q, this.options.ipv6PrefixLength);
    const matched = matchedSources(
      s,
      'source, count(*) AS hours, sum(allowed) AS allowed, sum(blocked) AS blocked, sum(unknown) AS unknown, ' +
        'sum(allowed + blocked + unknown) AS packets, min(first_seen) AS first_seen, max(last_seen) AS last_seen',
      this.access(s),
    );
    // Detections per source: for every match when they decide the order, else only for the rows returned.
    const bySeverity = s.sort === 'severity';
    const rows = this.db
      .prepare(
        bySeverity
          ? `WITH m AS (${matched.sql}),
              d AS (SELECT subject, count(*) AS detections, max(severity) AS max_severity FROM incidents
                    WHERE kind = 'detection' AND time >= ? AND time < ? GROUP BY subject)
            SELECT m.*, coalesce(d.detections, 0) AS detections, coalesce(d.max_severity, 0) AS max_severity,
              count(*) OVER () AS total_sources, sum(m.packets) OVER () AS total_packets, sum(m.blocked) OVER () AS total_blocked
            FROM m LEFT JOIN d ON d.subject = m.source
            ORDER BY ${orderBy(s.sort)} LIMIT ?`
          : `WITH m AS (${matched.sql})
            SELECT m.*, count(*) OVER () AS total_sources, sum(m.packets) OVER () AS total_packets, sum(m.blocked) OVER () AS total_blocked
            FROM m ORDER BY ${orderBy(s.sort)} LIMIT ?`,
      )
      .all(...matched.params, ...(bySeverity ? [s.from, s.to] : []), s.limit) as MatchedRow[];
    if (!bySeverity) {
      for (const m of rows) {
        const d = this.detectionsOf.get(m.source, s.from, s.to) as { detections: number; max_severity: number | null };
        m.detections = d.detections;
        m.max_severity = d.max_severity ?? 0;
      }
    }
    const first = rows[0];
    const totals = first === undefined ? { sources: 0, packets: 0, blocked: 0 } : { sources: first.total_sources, packets: first.total_packets, blocked: first.total_blocked };
    return {
      totals,
      sources: rows.map((m) => this.sourceOf(m, s.fromHour, s.to)),
      truncated: totals.sources > rows.length,
    };
  }

  countries(q: HistorySearch): HistoryCountry[] {
    const s = searchSql(q, this.options.ipv6PrefixLength);
    // The bare `country` takes the value of the row with max(hour): a source counts where its newest hour says.
    const matched = matchedSources(s, 'source, country, max(hour) AS newest, sum(allowed + blocked + unknown) AS packets, sum(blocked) AS blocked', this.access(s));
    return this.db
      .prepare(
        `SELECT country, count(*) AS sources, sum(packets) AS packets, sum(blocked) AS blocked FROM (${matched.sql})
         GROUP BY country ORDER BY sources DESC, packets DESC, country`,
      )
      .all(...matched.params) as HistoryCountry[];
  }

  cities(q: HistorySearch): HistoryCity[] {
    const s = searchSql(q, this.options.ipv6PrefixLength);
    // max() skips NULLs, so `located` is the newest hour with a location, and the bare place
    // columns take that row's values: a source counts at its newest place in the range, with all
    // its packets there (as the live map does); a source never located has no place (NULL).
    const matched = matchedSources(
      s,
      'source, country, city, lat, lon, max(CASE WHEN lat IS NOT NULL AND lon IS NOT NULL THEN hour END) AS located, ' +
        'sum(allowed + blocked + unknown) AS packets, sum(blocked) AS blocked',
      this.access(s),
    );
    return this.db
      .prepare(
        `SELECT country, city, lat, lon, count(*) AS sources, sum(packets) AS packets, sum(blocked) AS blocked FROM (${matched.sql})
         WHERE located IS NOT NULL
         GROUP BY country, city, lat, lon ORDER BY sources DESC, packets DESC, country, city, lat, lon LIMIT ?`,
      )
      .all(...matched.params, MAX_HISTORY_CITIES) as HistoryCity[];
  }

  timeline(source: string, from: number, to: number): HistoryTimeline {
    const key = this.sourceKey(source);
    const rows = this.hoursOf.all(key, hourOf(from), to) as StoredRow[];
    const hours = rows.map((r) => this.hourOf(r));
    const newest = rows.at(-1);
    const incidents = (
      this.db
        .prepare('SELECT time, kind, subject, severity, text, detail FROM incidents WHERE subject = ? AND time >= ? AND time < ? ORDER BY time, id LIMIT ?')
        .all(key, from, to, MAX_TIMELINE_INCIDENTS) as IncidentRow[]
    ).map(incidentOf);
    const fingerprintChanges: HistoryTimeline['fingerprintChanges'] = [];
    let before: HistoryHour | null = null;
    for (const h of hours) {
      if (h.fingerprints.length === 0) continue;
      if (before !== null && !sameMembers(before.fingerprints, h.fingerprints)) fingerprintChanges.push({ time: h.firstSeen, from: before.fingerprints, to: h.fingerprints });
      before = h;
    }
    return {
      source: key,
      country: newest?.country ?? '',
      city: newest?.city ?? '',
      asn: newest?.asn ?? null,
      org: newest?.org ?? '',
      cloud: newest?.cloud ?? '',
      hours,
      incidents,
      fingerprintChanges,
    };
  }

  incidents(from: number, to: number, subject?: string, limit = 100): HistoryIncident[] {
    const n = Number.isFinite(limit) ? Math.max(1, Math.min(MAX_LIMIT, Math.floor(limit))) : 100;
    const rows =
      subject === undefined
        ? this.db.prepare('SELECT time, kind, subject, severity, text, detail FROM incidents WHERE time >= ? AND time < ? ORDER BY time DESC, id DESC LIMIT ?').all(from, to, n)
        : this.db
            .prepare('SELECT time, kind, subject, severity, text, detail FROM incidents WHERE subject = ? AND time >= ? AND time < ? ORDER BY time DESC, id DESC LIMIT ?')
            .all(this.sourceKey(subject), from, to, n);
    return (rows as IncidentRow[]).map(incidentOf);
  }

  close(): void {
    this.db.close();
  }

  /** How to read a search's rows, from the share of the stored hours its range covers. */
  private access(s: SearchSql): Access {
    const span = this.db.prepare('SELECT min(hour) AS low, max(hour) AS high FROM sightings').get() as { low: number | null; high: number | null };
    if (span.low === null || span.high === null) return accessFor(s, 0);
    const end = span.high + HOUR_MS;
    const overlap = Math.max(0, Math.min(s.to, end) - Math.max(s.fromHour, span.low));
    return accessFor(s, overlap / (end - span.low));
  }

  /** A source as stored: an IPv6 address becomes its network; an IPv4-mapped one its IPv4 address. */
  private sourceKey(source: string): string {
    if (source.startsWith('::ffff:') && source.includes('.')) return source.slice(7);
    if (source.includes('/') || !source.includes(':') || this.options.ipv6PrefixLength === 128) return source;
    return ipv6Network(source, this.options.ipv6PrefixLength, this.scratch) ?? source;
  }

  /** A matching source with its hours' sets merged. */
  private sourceOf(m: MatchedRow, fromHour: number, to: number): HistorySource {
    const rows = this.hoursOf.all(m.source, fromHour, to) as StoredRow[];
    const o = this.options;
    const ports = new SetUnion(o.maxPortsPerRow);
    const hosts = new SetUnion(o.maxHostsPerRow);
    const windows = new SetUnion(o.maxValuesPerRow);
    const fingerprints = new SetUnion(o.maxValuesPerRow);
    const tools = new SetUnion(o.maxValuesPerRow);
    const os = new SetUnion(o.maxValuesPerRow);
    const lists = new SetUnion(o.maxValuesPerRow);
    let syns = 0;
    let folded = 0;
    let portsCapped = false;
    let hostsCapped = false;
    for (const r of rows) {
      syns += r.syns;
      folded += r.folded;
      ports.add(r.ports);
      hosts.add(r.hosts);
      windows.add(r.windows);
      fingerprints.add(r.fingerprints);
      tools.add(r.tools);
      os.add(r.os);
      lists.add(r.lists);
      if (r.ports_capped !== 0) portsCapped = true;
      if (r.hosts_capped !== 0) hostsCapped = true;
    }
    const newest = rows.at(-1);
    return {
      source: m.source,
      firstSeen: m.first_seen,
      lastSeen: m.last_seen,
      packets: { allowed: m.allowed, blocked: m.blocked, unknown: m.unknown, total: m.packets },
      syns,
      folded,
      ports: ports.members.map(Number).sort(ascending),
      portsCapped: portsCapped || ports.over,
      hosts: hosts.members.length,
      hostsCapped: hostsCapped || hosts.over,
      windows: windows.members.map(Number).sort(ascending),
      fingerprints: fingerprints.members,
      tools: tools.members,
      os: os.members,
      country: newest?.country ?? '',
      city: newest?.city ?? '',
      asn: newest?.asn ?? null,
      org: newest?.org ?? '',
      cloud: newest?.cloud ?? '',
      lists: lists.members,
      detections: m.detections,
      maxSeverity: m.max_severity,
      hours: m.hours,
    };
  }

  private hourOf(r: StoredRow): HistoryHour {
    return {
      hour: r.hour,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      packets: { allowed: r.allowed, blocked: r.blocked, unknown: r.unknown, total: r.allowed + r.blocked + r.unknown },
      syns: r.syns,
      folded: r.folded,
      ports: numberMembers(r.ports).sort(ascending),
      portsCapped: r.ports_capped !== 0,
      hosts: setMembers(r.hosts).length,
      hostsCapped: r.hosts_capped !== 0,
      windows: numberMembers(r.windows).sort(ascending),
      fingerprints: setMembers(r.fingerprints),
      tools: setMembers(r.tools),
      os: setMembers(r.os),
      lists: setMembers(r.lists),
    };
  }

  private fileBytes(): number {
    return (this.db.pragma('page_count', { simple: true }) as number) * (this.db.pragma('page_size', { simple: true }) as number);
  }

  /** The file without its free pages: what the data takes. */
  private usedBytes(): number {
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return this.fileBytes() - free * (this.db.pragma('page_size', { simple: true }) as number);
  }
}

function ascending(a: number, b: number): number {
  return a - b;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function incidentOf(r: IncidentRow): HistoryIncident {
  let detail: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(r.detail);
    detail = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
  } catch {
    detail = {};
  }
  return { time: r.time, kind: r.kind, subject: r.subject, severity: r.severity, text: r.text, detail };
}

function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}
