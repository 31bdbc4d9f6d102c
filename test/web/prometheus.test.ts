import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/web/app.js';
import { escapeLabelValue, renderMetrics } from '../../src/web/prometheus.js';
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
  });
});
