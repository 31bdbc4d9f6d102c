// The Grafana dashboards in conf/grafana cannot drift from what nfwatch really writes: the real
// daemon (dist/cli.js) follows a file into which the bundled lab capture (real ulogd output, with
// scanners) is replayed fast with its times moved to "now"; Graphite goes to a local listener and
// the web view is on for /metrics. Then every Graphite target of nfwatch-graphite.json must match
// at least one path received, and every metric name in a PromQL expression of
// nfwatch-prometheus.json must be exposed by /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replay } from '../../src/demo/replay.js';
import { ensureStopped } from '../e2e/nfwatch.js';
import { followConfig, graphiteListener, sleep, startNfwatch, tempDir, waitFor, withWeb, type GraphiteListener, type Nfwatch } from '../faults/harness.js';
import {
  CUMULATIVE,
  exposedNames,
  GRAPHITE_DASHBOARD,
  graphitePaths,
  graphiteRegExp,
  loadDashboard,
  panels,
  PROMETHEUS_DASHBOARD,
  promqlMetricNames,
  targets,
  unexposedPrometheusNames,
  unmatchedGraphiteTargets,
} from './dashboard.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CAPTURE = join(ROOT, 'demo/ulogd-lab-capture.jsonl');
/** The daemon's general.hostname: `$host` in the Graphite queries stands for it. */
const HOST = 'fw';

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
  exposed = exposedNames(text);
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
    expect(graphitePaths("aliasByNode(highestAverage(scaleToSeconds(summarize(netfilter.$host.events.blocked.dport.*, '$__interval', 'sum', false), 1), 10), -1)", HOST))
      .toEqual([`netfilter.${HOST}.events.blocked.dport.*`]);
    expect(graphitePaths("group(netfilter.$host.nfacct.*.pkts, netfilter.${host}.nfacct.*.*.pkts)", HOST)).toEqual([`netfilter.${HOST}.nfacct.*.pkts`, `netfilter.${HOST}.nfacct.*.*.pkts`]);
    expect(graphitePaths("aliasSub(a.b.c, '^.*\\.x\\.([^,)]*)\\.pkts.*$', '\\1')", HOST)).toEqual(['a.b.c']);
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
  const graphite = loadDashboard(GRAPHITE_DASHBOARD);
  const prometheus = loadDashboard(PROMETHEUS_DASHBOARD);

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
    const r = unmatchedGraphiteTargets(graphite, paths, HOST);
    expect(r.count).toBeGreaterThan(30);
    expect(r.missing, 'targets that match no path nfwatch wrote').toEqual([]);
    // The allow-list holds only entries a dashboard uses and that still match nothing.
    expect(r.allowedUsed).toEqual(r.allowed);
  });

  it('per-interval counts are never differentiated; running totals are', () => {
    for (const { panel, target } of targets(graphite)) {
      for (const pattern of graphitePaths(target.target!, HOST)) {
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
    const r = unexposedPrometheusNames(prometheus, exposed);
    expect(r.count).toBeGreaterThan(30);
    expect(r.missing, 'metrics /metrics does not expose').toEqual([]);
  });
});
