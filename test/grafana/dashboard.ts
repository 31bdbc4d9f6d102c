// The Grafana dashboards in conf/grafana, read as queries: which Graphite paths and Prometheus
// metric names they use, and which of those nfwatch did not write. Shared by the spec that feeds
// the daemon the lab capture (test/grafana/dashboards.test.ts) and the installed daemon's run
// against the lab's real ulogd and carbon (test/install/pack.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GRAPHITE_DASHBOARD = join(ROOT, 'conf/grafana/nfwatch-graphite.json');
export const PROMETHEUS_DASHBOARD = join(ROOT, 'conf/grafana/nfwatch-prometheus.json');

/**
 * Graphite series the capture cannot produce, each with why. A target is accepted when it matches
 * a written path OR one of these patterns (same syntax as the dashboard, `$host` included).
 */
export const GRAPHITE_ALLOWED_MISSING: ReadonlyArray<[pattern: string, why: string]> = [
  // NFACCT counters whose name has no dot ("http" → nfacct.http.pkts). The NFACCT panels read one-
  // and two-level names; the lab's counters are all two-level (ipv4.http, ipv6.ssh, ...).
  ['netfilter.$host.nfacct.*.pkts', 'nfacct counter names without a dot; the capture has only ipv4.x / ipv6.x'],
  ['netfilter.$host.nfacct.*.bytes', 'nfacct counter names without a dot; the capture has only ipv4.x / ipv6.x'],
];

/** Prometheus families that appear only with traffic or setups the test lacks, each with why. */
export const PROMETHEUS_ALLOWED_MISSING: ReadonlyArray<[name: string, why: string]> = [
  // none: every family is written at every scrape (zeros included), except the process_* fd and
  // virtual memory families off Linux.
];

/** Graphite paths that are running totals since start: the only ones a derivative may be applied to. */
export const CUMULATIVE = /\.nfwatch\.(lines|events|decode_errors\.[^.]+|oversized_lines|late_events|counter_resets|sinks\.[^.]+\.(dropped|sent)|sources\.[^.]+\.(?!connections$)[a-z_]+)$/;

// ------------------------------------------------------------------------------------------------
// Dashboards: panels, targets, and turning a Graphite target into path patterns
// ------------------------------------------------------------------------------------------------

export interface Target {
  refId?: string;
  target?: string;
  expr?: string;
  hide?: boolean;
}
export interface Panel {
  title?: string;
  type?: string;
  targets?: Target[];
  panels?: Panel[];
}
export interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; datasource?: unknown }> };
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
}

export function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

export function panels(d: { panels?: Panel[] }): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...panels(p)]);
}

/** Every query of a dashboard with the title of its panel. */
export function targets(d: Dashboard): Array<{ panel: string; target: Target }> {
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
export function graphitePaths(target: string, host: string): string[] {
  const t = target.trim();
  const call = /^([A-Za-z][A-Za-z0-9_]*)\((.*)\)$/s.exec(t);
  if (call) return splitArgs(call[2]!).flatMap((arg) => graphitePaths(arg, host));
  if (/^(['"]).*\1$/s.test(t) || /^-?[0-9.]+(e-?\d+)?$/.test(t) || /^(true|false)$/i.test(t) || /^#[A-Z]+$/.test(t) || t === '') return [];
  return [t.replace(/\$\{host\}|\$host\b/g, host)];
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

/** Each Graphite target's path patterns that match none of `paths` nor the allow-list. */
export function unmatchedGraphiteTargets(d: Dashboard, paths: readonly string[], host: string): { count: number; missing: string[]; allowedUsed: string[]; allowed: string[] } {
  const allowed = GRAPHITE_ALLOWED_MISSING.map(([pattern]) => graphitePaths(pattern, host)[0]!);
  const used = new Set<string>();
  const missing: string[] = [];
  let count = 0;
  for (const { panel, target } of targets(d)) {
    if (typeof target.target !== 'string') {
      missing.push(`${panel}: not a Graphite target`);
      continue;
    }
    for (const pattern of graphitePaths(target.target, host)) {
      count++;
      if (pattern.includes('$')) missing.push(`${panel}: ${pattern} uses a variable other than $host`);
      const re = graphiteRegExp(pattern);
      if (paths.some((p) => re.test(p))) continue;
      if (allowed.includes(pattern)) used.add(pattern);
      else missing.push(`${panel}: ${pattern}`);
    }
  }
  return { count, missing, allowedUsed: [...used].sort(), allowed: [...allowed].sort() };
}

/** Each PromQL expression's (and label_values variable's) metric names that `exposed` lacks. */
export function unexposedPrometheusNames(d: Dashboard, exposed: ReadonlySet<string>): { count: number; missing: string[] } {
  const allowed = new Set(PROMETHEUS_ALLOWED_MISSING.map(([name]) => name));
  const queries = targets(d).map(({ panel, target }) => ({ panel, expr: target.expr }));
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    const lv = q === undefined ? null : /^label_values\(\s*([^,]+),/.exec(q);
    if (lv) queries.push({ panel: `variable ${v.name}`, expr: lv[1]! });
  }
  const missing: string[] = [];
  let count = 0;
  for (const { panel, expr } of queries) {
    if (typeof expr !== 'string') {
      missing.push(`${panel}: not a PromQL expression`);
      continue;
    }
    const names = promqlMetricNames(expr);
    if (names.length === 0) missing.push(`${panel}: ${expr} names no metric`);
    for (const name of names) {
      count++;
      if (!exposed.has(name) && !allowed.has(name)) missing.push(`${panel}: ${name}`);
    }
  }
  return { count, missing };
}

/** Metric family names in a Prometheus text exposition. */
export function exposedNames(metricsText: string): Set<string> {
  return new Set([...metricsText.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )/gm)].map((m) => m[1]!));
}
