// The Grafana dashboards in conf/grafana cannot drift from what nfwatch really writes: the real
// daemon (dist/cli.js) follows a file into which the bundled lab capture (real ulogd output, with
// scanners) is replayed fast with its times moved to "now"; Graphite goes to a local listener and
// the web view is on for /metrics. Then every Graphite target of nfwatch-graphite.json must match
// at least one path received, and every metric name in a PromQL expression of
// nfwatch-prometheus.json must be exposed by /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replay } from '../../src/demo/replay.js';
import { ensureStopped } from '../e2e/nfwatch.js';
import { followConfig, graphiteListener, sleep, startNfwatch, tempDir, waitFor, withWeb, type GraphiteListener, type Nfwatch } from '../faults/harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GRAPHITE_DASHBOARD = join(ROOT, 'conf/grafana/nfwatch-graphite.json');
const PROMETHEUS_DASHBOARD = join(ROOT, 'conf/grafana/nfwatch-prometheus.json');
const CAPTURE = join(ROOT, 'demo/ulogd-lab-capture.jsonl');
/** The daemon's general.hostname: `$host` in the Graphite queries stands for it. */
const HOST = 'fw';

/**
 * Graphite series the capture cannot produce, each with why. A target is accepted when it matches
 * a received path OR one of these patterns (same syntax as the dashboard, `$host` included).
 */
const GRAPHITE_ALLOWED_MISSING: ReadonlyArray<[pattern: string, why: string]> = [
  // NFACCT counters whose name has no dot ("http" → nfacct.http.pkts). The NFACCT panels read one-
  // and two-level names; the lab's counters are all two-level (ipv4.http, ipv6.ssh, ...).
  ['netfilter.$host.nfacct.*.pkts', 'nfacct counter names without a dot; the capture has only ipv4.x / ipv6.x'],
  ['netfilter.$host.nfacct.*.bytes', 'nfacct counter names without a dot; the capture has only ipv4.x / ipv6.x'],
];

/** Prometheus families that appear only with traffic or setups the test lacks, each with why. */
const PROMETHEUS_ALLOWED_MISSING: ReadonlyArray<[name: string, why: string]> = [
  // none: every family is written at every scrape (zeros included), except the process_* fd and
  // virtual memory families off Linux.
];

/** Graphite paths that are running totals since start: the only ones a derivative may be applied to. */
const CUMULATIVE = /\.nfwatch\.(lines|events|decode_errors\.[^.]+|oversized_lines|late_events|counter_resets|sinks\.[^.]+\.(dropped|sent)|sources\.[^.]+\.(?!connections$)[a-z_]+)$/;

// ------------------------------------------------------------------------------------------------
// Dashboards: panels, targets, and turning a Graphite target into path patterns
// ------------------------------------------------------------------------------------------------

interface Target {
  refId?: string;
  target?: string;
  expr?: string;
  hide?: boolean;
}
interface Panel {
  title?: string;
  type?: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; datasource?: unknown }> };
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
}

function load(file: string): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

function panels(d: { panels?: Panel[] }): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...panels(p)]);
}

/** Every query of a dashboard with the title of its panel. */
function targets(d: Dashboard): Array<{ panel: string; target: Target }> {
  return panels(d).flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p.title ?? '?', target })));
}

/** Graphite: split a function's arguments at top-level commas. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(' || ch === '{') depth++;
    else if (ch === ')' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/**
 * The series paths a Graphite target reads: function wrappers stripped, recursively; quoted
 * strings, numbers, booleans and `#A` references are arguments, not paths. Grafana variables:
 * `$host`/`${host}` become the configured hostname; `$__interval` and friends only appear in
 * quoted arguments.
 */
export function graphitePaths(target: string): string[] {
  const t = target.trim();
  const call = /^([A-Za-z][A-Za-z0-9_]*)\((.*)\)$/s.exec(t);
  if (call) return splitArgs(call[2]!).flatMap(graphitePaths);
  if (/^(['"]).*\1$/s.test(t) || /^-?[0-9.]+(e-?\d+)?$/.test(t) || /^(true|false)$/i.test(t) || /^#[A-Z]+$/.test(t) || t === '') return [];
  return [t.replace(/\$\{host\}|\$host\b/g, HOST)];
}

/** A Graphite path pattern (`*`, `?`, `[..]`, `{a,b}` within one component) as a RegExp. */
export function graphiteRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^.]*';
    else if (ch === '?') re += '[^.]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i);
      re += `[${pattern.slice(i + 1, end)}]`;
      i = end;
    } else if (ch === '{') {
      const end = pattern.indexOf('}', i);
      re += `(?:${pattern.slice(i + 1, end).split(',').map((a) => a.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\*/g, '[^.]*')).join('|')})`;
      i = end;
    } else re += ch.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The metric names a PromQL expression uses (identifiers that are not functions, keywords or labels). */
export function promqlMetricNames(expr: string): string[] {
  const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan']);
  // Drop strings, label matchers/groupings ({...}, by (...)), durations in [...].
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\(?))/g)) {
    const name = m[0];
    const start = m.index;
    if (m[1] === '(') continue; // a function
    if (KEYWORDS.has(name.toLowerCase())) continue;
    if (start > 0 && /[0-9.$]/.test(s[start - 1]!)) continue; // part of a number (1e3) or a variable
    names.add(name);
  }
  return [...names];
}

// ------------------------------------------------------------------------------------------------
// The real daemon on the lab capture
// ------------------------------------------------------------------------------------------------

let temp: ReturnType<typeof tempDir>;
let graphite: GraphiteListener;
let nfwatch: Nfwatch | undefined;
let paths: string[] = [];
let exposed = new Set<string>();

beforeAll(async () => {
  temp = tempDir('nfw-grafana-');
  graphite = await graphiteListener();
  const file = join(temp.dir, 'ulogd.json');
  writeFileSync(file, '');
  // The default prefix; series creations are not paced (the harness sets max_creates_per_minute =
  // 0), so a fresh daemon fed 270 s of capture in 6 s names every series rather than folding new
  // ones into `other` until carbon's creation budget refills.
  const toml = withWeb(followConfig(temp.dir, file, graphite.port)).replace('prefix = "nfw"', 'prefix = "netfilter.{hostname}"');
  nfwatch = await startNfwatch(temp.dir, toml);
  const url = await waitFor('the web address', () => /web: listening on (http:\/\/\S+)/.exec(nfwatch!.log())?.[1], 10_000);
  // 270 s of capture in about 6 s, every line's time moved to the moment it is written.
  await replay({ capture: CAPTURE, output: file, speed: 45, loops: 1 });
  const last = `netfilter.${HOST}.events.blocked.count`;
  await waitFor('the capture counted', () => (graphite.carbonSum(last) >= 319 ? true : undefined), 20_000);
  await sleep(2500); // one more health write with the trackers' final figures
  const text = await (await fetch(`${url}/metrics`)).text();
  exposed = new Set([...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )/gm)].map((m) => m[1]!));
  paths = [...new Set(graphite.points().map((p) => p.path))].sort();
  if (process.env.NFW_DUMP) writeFileSync(process.env.NFW_DUMP, `${paths.join('\n')}\n---\n${text}`);
}, 90_000);

afterAll(async () => {
  await ensureStopped(nfwatch);
  await graphite?.close();
  temp?.remove();
});

/** The Graphite functions in a target that wrap `path` (innermost last). */
function wrappers(target: string, path: string): string[] {
  const at = target.indexOf(path);
  return [...target.slice(0, at).matchAll(/([A-Za-z][A-Za-z0-9_]*)\(/g)].map((m) => m[1]!);
}

const RAW_TO_RATE = new Set(['perSecond', 'derivative', 'nonNegativeDerivative', 'hitcount', 'integral']);

describe('dashboard queries: parsing', () => {
  it('strips Graphite function wrappers and keeps the path patterns', () => {
    expect(graphitePaths("aliasByNode(highestAverage(scaleToSeconds(summarize(netfilter.$host.events.blocked.dport.*, '$__interval', 'sum', false), 1), 10), -1)"))
      .toEqual([`netfilter.${HOST}.events.blocked.dport.*`]);
    expect(graphitePaths("group(netfilter.$host.nfacct.*.pkts, netfilter.${host}.nfacct.*.*.pkts)")).toEqual([`netfilter.${HOST}.nfacct.*.pkts`, `netfilter.${HOST}.nfacct.*.*.pkts`]);
    expect(graphitePaths("aliasSub(a.b.c, '^.*\\.x\\.([^,)]*)\\.pkts.*$', '\\1')")).toEqual(['a.b.c']);
    const re = graphiteRegExp('n.fw.events.{allowed,blocked}.proto.*');
    expect(re.test('n.fw.events.blocked.proto.tcp')).toBe(true);
    expect(re.test('n.fw.events.unknown.proto.tcp')).toBe(false);
    expect(re.test('n.fw.events.blocked.proto.tcp.x')).toBe(false);
  });

  it('finds the metric names of a PromQL expression', () => {
    expect(promqlMetricNames('sum by (verdict) (rate(nfwatch_events_total{instance=~"$instance",verdict="blocked"}[$__rate_interval]))')).toEqual(['nfwatch_events_total']);
    expect(promqlMetricNames('time() - process_start_time_seconds{instance=~"$instance"}')).toEqual(['process_start_time_seconds']);
    expect(promqlMetricNames('a_total / ignoring (x) b_total * 1e3')).toEqual(['a_total', 'b_total']);
  });
});

describe('Grafana dashboards match the metrics nfwatch writes', () => {
  const graphite = load(GRAPHITE_DASHBOARD);
  const prometheus = load(PROMETHEUS_DASHBOARD);

  it('are importable dashboards with a templated datasource', () => {
    for (const [d, type] of [[graphite, 'graphite'], [prometheus, 'prometheus']] as const) {
      expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(d.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: type });
      const ids = panels(d).map((p) => (p as { id?: number }).id);
      expect(new Set(ids).size, 'unique panel ids').toBe(ids.length);
      for (const p of panels(d)) {
        if (p.type === 'row') continue;
        expect((p as { datasource?: unknown }).datasource, p.title).toEqual({ type, uid: '${datasource}' });
        expect(p.targets?.length ?? 0, `${p.title} has queries`).toBeGreaterThan(0);
      }
    }
    expect(graphite.templating.list.find((v) => v.name === 'host')).toMatchObject({ type: 'query', query: 'netfilter.*' });
  });

  it('the $host variable lists the configured hostname', () => {
    const query = graphite.templating.list.find((v) => v.name === 'host')!.query as string;
    const re = graphiteRegExp(query);
    const hosts = new Set(paths.map((p) => p.split('.').slice(0, query.split('.').length).join('.')).filter((p) => re.test(p)));
    expect([...hosts]).toEqual([`netfilter.${HOST}`]);
  });

  it('every Graphite target reads series nfwatch writes (fed the lab capture)', () => {
    expect(paths.length).toBeGreaterThan(50);
    const allowed = GRAPHITE_ALLOWED_MISSING.map(([pattern]) => graphitePaths(pattern)[0]!);
    const used = new Set<string>();
    const missing: string[] = [];
    let count = 0;
    for (const { panel, target } of targets(graphite)) {
      expect(target.target, `${panel}: a Graphite target`).toBeTypeOf('string');
      for (const pattern of graphitePaths(target.target!)) {
        count++;
        expect(pattern, `${panel}: ${pattern} uses only $host`).not.toMatch(/\$/);
        const re = graphiteRegExp(pattern);
        if (paths.some((p) => re.test(p))) continue;
        if (allowed.includes(pattern)) used.add(pattern);
        else missing.push(`${panel}: ${pattern}`);
      }
    }
    expect(count).toBeGreaterThan(30);
    expect(missing, 'targets that match no path nfwatch wrote').toEqual([]);
    // The allow-list holds only entries a dashboard uses and that still match nothing.
    expect([...used].sort()).toEqual([...allowed].sort());
  });

  it('per-interval counts are never differentiated; running totals are', () => {
    for (const { panel, target } of targets(graphite)) {
      for (const pattern of graphitePaths(target.target!)) {
        const re = graphiteRegExp(pattern);
        const matched = paths.filter((p) => re.test(p));
        const fns = wrappers(target.target!, pattern.replace(`netfilter.${HOST}`, 'netfilter.$host'));
        const differentiated = fns.some((f) => RAW_TO_RATE.has(f));
        if (matched.length === 0) continue;
        for (const p of matched) {
          if (CUMULATIVE.test(p)) continue;
          expect(differentiated, `${panel}: ${p} is a count per interval or a gauge, not a running total (${fns.join(' ∘ ')})`).toBe(false);
        }
      }
    }
  });

  it('every metric of a PromQL expression is exposed at /metrics', () => {
    expect(exposed.has('nfwatch_build_info')).toBe(true);
    const allowed = new Set(PROMETHEUS_ALLOWED_MISSING.map(([name]) => name));
    const missing: string[] = [];
    const queries = targets(prometheus).map(({ panel, target }) => ({ panel, expr: target.expr }));
    for (const v of prometheus.templating.list) {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
      const lv = q === undefined ? null : /^label_values\(\s*([^,]+),/.exec(q);
      if (lv) queries.push({ panel: `variable ${v.name}`, expr: lv[1]! });
    }
    let count = 0;
    for (const { panel, expr } of queries) {
      expect(expr, `${panel}: a PromQL expression`).toBeTypeOf('string');
      const names = promqlMetricNames(expr!);
      expect(names.length, `${panel}: ${expr} names a metric`).toBeGreaterThan(0);
      for (const name of names) {
        count++;
        if (!exposed.has(name) && !allowed.has(name)) missing.push(`${panel}: ${name}`);
      }
    }
    expect(count).toBeGreaterThan(30);
    expect(missing, 'metrics /metrics does not expose').toEqual([]);
  });
});
