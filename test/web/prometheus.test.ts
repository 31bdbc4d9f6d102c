import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/web/app.js';
import { escapeLabelValue, readProcessFigures, renderMetrics, type ProcessFigures } from '../../src/web/prometheus.js';
import { deps, health, hub, webConfig } from './helpers.js';

/** The text format, line by line: comments, or `name{labels} value`. Returns samples by series. */
function parse(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  const helped = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      helped.add(help[1]!);
      continue;
    }
    if (type) {
      expect(typed.has(type[1]!), `one TYPE line for ${type[1]}`).toBe(false);
      typed.add(type[1]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    expect(m, `sample line: ${JSON.stringify(line)}`).not.toBeNull();
    const name = m![1]!;
    expect(typed.has(name), `TYPE before samples of ${name}`).toBe(true);
    expect(helped.has(name), `HELP for ${name}`).toBe(true);
    samples.set(`${name}${m![2] ?? ''}`, Number(m![3]));
  }
  return samples;
}

describe('Prometheus text exposition', () => {
  it('exports health, totals, tracker figures and NFACCT counters', () => {
    const text = renderMetrics({
      health: health(),
      totals: { allowed: 5, blocked: 7, unknown: 0, syns: 3 },
      counters: [{ name: 'ipv4.http', pkts: 10, bytes: 900, pktsPerSecond: 1, bytesPerSecond: 90, points: [] }],
      tracker: { tracked: 12, evicted: 1, expired: 2, scans: { vertical: 1, horizontal: 0, ssh_bruteforce: 2 }, newScans: { vertical: 0, horizontal: 0, ssh_bruteforce: 0 }, suspected: 4, campaigns: 3 },
      uptimeSeconds: 61.5,
      streamClients: 2,
    });
    const s = parse(text);
    expect(s.get('nfwatch_events_total{verdict="blocked"}')).toBe(7);
    expect(s.get('nfwatch_lines_total')).toBe(1234);
    expect(s.get('nfwatch_decode_errors_total{reason="not_json"}')).toBe(3);
    expect(s.get('nfwatch_sink_backlog{sink="graphite"}')).toBe(17);
    expect(s.get('nfwatch_sink_dropped_total{sink="graphite"}')).toBe(4);
    expect(s.get('nfwatch_tracked_sources')).toBe(12);
    expect(s.get('nfwatch_scans_active{type="ssh_bruteforce"}')).toBe(2);
    expect(s.get('nfwatch_campaigns_active')).toBe(3);
    expect(s.get('nfwatch_nfacct_packets_total{counter="ipv4.http"}')).toBe(10);
    expect(s.get('nfwatch_nfacct_bytes_total{counter="ipv4.http"}')).toBe(900);
    expect(s.get('nfwatch_uptime_seconds')).toBe(61.5);
    expect(s.get('nfwatch_stream_clients')).toBe(2);
  });

  it('exports each threat list: packets from its sources, its entries, bad lines, when it was read and whether it is current', () => {
    const list = (name: string, error = '') => ({ name, path: `/lists/${name}`, format: 'plain' as const, entries: 3, addresses: 300, loadedAt: 1_795_000_000_000, badLines: 1, error });
    const s = parse(renderMetrics({
      health: health(),
      totals: { allowed: 0, blocked: 0, unknown: 0, syns: 0 },
      counters: [],
      tracker: null,
      listed: new Map([['firehol_level1', 42]]),
      lists: [list('firehol_level1'), list('et_compromised', 'it does not exist')],
      uptimeSeconds: 1,
      streamClients: 0,
    }));
    expect(s.get('nfwatch_events_listed_total{list="firehol_level1"}')).toBe(42);
    expect(s.get('nfwatch_events_listed_total{list="et_compromised"}')).toBe(0);
    expect(s.get('nfwatch_list_entries{list="firehol_level1"}')).toBe(3);
    expect(s.get('nfwatch_list_bad_lines{list="firehol_level1"}')).toBe(1);
    expect(s.get('nfwatch_list_loaded_timestamp_seconds{list="firehol_level1"}')).toBe(1_795_000_000);
    expect(s.get('nfwatch_list_up_to_date{list="firehol_level1"}')).toBe(1);
    expect(s.get('nfwatch_list_up_to_date{list="et_compromised"}')).toBe(0);
  });

  it('escapes label values: backslash, double quote, line feed', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const text = renderMetrics({
      health: health({ sinks: {} }),
      totals: { allowed: 0, blocked: 0, unknown: 0, syns: 0 },
      counters: [{ name: 'evil"} 1\nnfwatch_fake 2', pkts: 1, bytes: 1, pktsPerSecond: 0, bytesPerSecond: 0, points: [] }],
      tracker: null,
      uptimeSeconds: 1,
      streamClients: 0,
    });
    const s = parse(text);
    expect(s.has('nfwatch_fake')).toBe(false);
    expect(s.get('nfwatch_nfacct_packets_total{counter="evil\\"} 1\\nnfwatch_fake 2"}')).toBe(1);
    expect(s.has('nfwatch_tracked_sources')).toBe(false); // tracking off
  });

  it('follows the naming conventions: counters end in _total, build info, process and Node.js families', () => {
    const proc: ProcessFigures = {
      cpuUserSeconds: 1.5, cpuSystemSeconds: 0.25, startTimeSeconds: 1764050400, residentMemoryBytes: 50_000_000,
      virtualMemoryBytes: 900_000_000, openFds: 21, maxFds: 1024, heapTotalBytes: 30_000_000, heapUsedBytes: 20_000_000,
      externalMemoryBytes: 2_000_000, nodeVersion: '20.19.1',
    };
    const text = renderMetrics({
      health: health(),
      totals: { allowed: 1, blocked: 2, unknown: 0, syns: 0 },
      counters: [],
      tracker: { tracked: 0, evicted: 0, expired: 0, scans: { vertical: 0, horizontal: 0, ssh_bruteforce: 0 }, newScans: { vertical: 0, horizontal: 0, ssh_bruteforce: 0 }, suspected: 0, campaigns: 0 },
      uptimeSeconds: 1,
      streamClients: 0,
      process: proc,
      version: '1.2.3',
    });
    const s = parse(text);
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      expect(name!.endsWith('_total'), `${name} is a ${type}`).toBe(type === 'counter');
    }
    expect(s.get('nfwatch_build_info{version="1.2.3",nodejs="20.19.1"}')).toBe(1);
    expect(s.get('process_cpu_seconds_total')).toBe(1.75);
    expect(s.get('process_cpu_user_seconds_total')).toBe(1.5);
    expect(s.get('process_start_time_seconds')).toBe(1764050400);
    expect(s.get('process_resident_memory_bytes')).toBe(50_000_000);
    expect(s.get('process_open_fds')).toBe(21);
    expect(s.get('process_max_fds')).toBe(1024);
    expect(s.get('nodejs_heap_size_used_bytes')).toBe(20_000_000);
    expect(s.get('nodejs_heap_size_total_bytes')).toBe(30_000_000);
    expect(s.get('nodejs_version_info{version="v20.19.1",major="20",minor="19",patch="1"}')).toBe(1);
    // Names kept from before (dashboards and alerts use them).
    for (const name of ['nfwatch_events_total{verdict="blocked"}', 'nfwatch_lines_total', 'nfwatch_late_events_total', 'nfwatch_sink_backlog{sink="graphite"}', 'nfwatch_uptime_seconds']) {
      expect(s.has(name), name).toBe(true);
    }
  });

  it('reads this process when a scrape passes no figures', () => {
    const p = readProcessFigures();
    expect(p.residentMemoryBytes).toBeGreaterThan(0);
    expect(p.heapUsedBytes).toBeGreaterThan(0);
    expect(p.cpuUserSeconds + p.cpuSystemSeconds).toBeGreaterThan(0);
    expect(Math.abs(p.startTimeSeconds - Date.now() / 1000)).toBeLessThan(24 * 3600);
    if (process.platform === 'linux') expect(p.openFds).toBeGreaterThan(2);
  });

  it('GET /metrics serves it as text/plain version 0.0.4', async () => {
    const config = webConfig();
    const app: FastifyInstance = await buildApp(deps(config), hub(config));
    const res = await app.inject('/metrics');
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const s = parse(res.body);
    expect(s.get('nfwatch_events_total{verdict="allowed"}')).toBe(100);
    expect(s.get('nfwatch_tracked_sources')).toBe(0);
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect([...s.keys()].some((k) => k.startsWith('nfwatch_build_info{version="'))).toBe(true);
  });
});
