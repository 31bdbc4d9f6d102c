// Source statistics as exported: Graphite health paths (dotted and tagged) and Prometheus families.
import { describe, expect, it } from 'vitest';
import { MetricNamer, renderHealth } from '../../src/metrics/names.js';
import { SOURCE_HEALTH_FIELDS, type HealthSnapshot, type SourceHealth } from '../../src/pipeline/types.js';
import { renderMetrics } from '../../src/web/prometheus.js';

function sourceHealth(kind: string, figures: Partial<SourceHealth> = {}): SourceHealth {
  const h = { kind } as SourceHealth;
  for (const field of SOURCE_HEALTH_FIELDS) h[field] = 0;
  return { ...h, ...figures };
}

function snapshot(sources: Record<string, SourceHealth> | undefined): HealthSnapshot {
  return {
    time: 0,
    elapsed: 1,
    lines: 0,
    events: 0,
    eventsPerSecond: 0,
    oversizedLines: 0,
    decodeErrors: {} as HealthSnapshot['decodeErrors'],
    lateEvents: 0,
    counterResets: 0,
    openIntervals: 0,
    sinks: {},
    ...(sources ? { sources } : {}),
    tracker: null,
  };
}

const sources = {
  ulogd: sourceHealth('file', { linesRead: 100, bytesRead: 90_000, rotations: 2, truncations: 1, symlinksRefused: 3 }),
  'ulogd socket': sourceHealth('socket', { linesRead: 7, connections: 1, connectionsRefused: 4, connectionsEvicted: 5, partialLinesDropped: 6 }),
};

describe('source statistics in Graphite health metrics', () => {
  it('writes <prefix>.nfwatch.sources.<source>.<figure> for every figure of every source, zeros too', () => {
    const out = renderHealth(snapshot(sources), new MetricNamer({ prefix: 'netfilter.{hostname}', tagged: false, nfacct_layout: 'nfwatch' }, 'fw1'));
    expect(out).toMatchObject({
      'netfilter.fw1.nfwatch.sources.ulogd.lines_read': 100,
      'netfilter.fw1.nfwatch.sources.ulogd.bytes_read': 90_000,
      'netfilter.fw1.nfwatch.sources.ulogd.rotations': 2,
      'netfilter.fw1.nfwatch.sources.ulogd.truncations': 1,
      'netfilter.fw1.nfwatch.sources.ulogd.symlinks_refused': 3,
      'netfilter.fw1.nfwatch.sources.ulogd.connections_refused': 0,
      'netfilter.fw1.nfwatch.sources.ulogd_socket.connections': 1,
      'netfilter.fw1.nfwatch.sources.ulogd_socket.connections_refused': 4,
      'netfilter.fw1.nfwatch.sources.ulogd_socket.connections_evicted': 5,
      'netfilter.fw1.nfwatch.sources.ulogd_socket.partial_lines_dropped': 6,
    });
    expect(Object.keys(out).filter((p) => p.includes('.sources.'))).toHaveLength(2 * SOURCE_HEALTH_FIELDS.length);
  });

  it('writes tagged series with the source as a tag', () => {
    const out = renderHealth(snapshot(sources), new MetricNamer({ prefix: 'nfwatch.{hostname}', tagged: true, nfacct_layout: 'nfwatch' }, 'fw1'));
    expect(out['nfwatch.nfwatch.sources.connections_evicted;host=fw1;source=ulogd_socket']).toBe(5);
    expect(out['nfwatch.nfwatch.sources.rotations;host=fw1;source=ulogd']).toBe(2);
  });

  it('writes nothing for sources when the snapshot has none', () => {
    const out = renderHealth(snapshot(undefined), new MetricNamer({ prefix: 'p', tagged: false, nfacct_layout: 'nfwatch' }, 'h'));
    expect(Object.keys(out).some((p) => p.includes('.sources.'))).toBe(false);
  });
});

describe('source statistics in Prometheus /metrics', () => {
  const render = (s: Record<string, SourceHealth> | undefined) =>
    renderMetrics({ health: snapshot(s), totals: { allowed: 0, blocked: 0, unknown: 0, syns: 0 }, counters: [], tracker: null, uptimeSeconds: 1, streamClients: 0 });

  it('exports one family per figure, labelled by source', () => {
    const lines = render(sources).split('\n');
    for (const sample of [
      'nfwatch_source_lines_total{source="ulogd"} 100',
      'nfwatch_source_bytes_total{source="ulogd"} 90000',
      'nfwatch_source_rotations_total{source="ulogd"} 2',
      'nfwatch_source_truncations_total{source="ulogd"} 1',
      'nfwatch_source_symlinks_refused_total{source="ulogd"} 3',
      'nfwatch_source_connections{source="ulogd socket"} 1',
      'nfwatch_source_connections_refused_total{source="ulogd socket"} 4',
      'nfwatch_source_connections_evicted_total{source="ulogd socket"} 5',
      'nfwatch_source_partial_lines_dropped_total{source="ulogd socket"} 6',
    ]) {
      expect(lines).toContain(sample);
    }
    expect(lines).toContain('# TYPE nfwatch_source_connections gauge');
    expect(lines).toContain('# TYPE nfwatch_source_connections_evicted_total counter');
  });

  it('escapes source names in labels and writes no source families without sources', () => {
    expect(render({ 'a"b': sourceHealth('file') })).toContain('nfwatch_source_lines_total{source="a\\"b"} 0');
    expect(render(undefined)).not.toContain('nfwatch_source_');
  });
});
