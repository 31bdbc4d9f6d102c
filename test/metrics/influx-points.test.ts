import { describe, expect, it } from 'vitest';
import { OTHER_WINDOW } from '../../src/aggregate/budget.js';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import { escapeMeasurement, escapeTag, eventPoint, healthPoints, intervalPoints, line, quoteString, timestamp } from '../../src/metrics/influx-points.js';
import { noDecodeErrors, type HealthSnapshot, type PacketEvent } from '../../src/pipeline/types.js';

const opts = { prefix: 'nfwatch', host: 'fw1', precision: 's' as const };
const top = { ports: 2, values: 2 };

describe('line protocol escaping', () => {
  it('escapes commas, spaces, equals and backslashes in tags; replaces newlines', () => {
    expect(escapeTag('a,b c=d')).toBe('a\\,b\\ c\\=d');
    expect(escapeTag('x\ny\rz\tw')).toBe('x_y_z_w');
    expect(escapeTag('end\\')).toBe('end\\\\');
    expect(escapeTag('')).toBe('_');
    expect(escapeTag('x'.repeat(300))).toHaveLength(256);
  });
  it('escapes measurement names (comma, space; equals allowed)', () => {
    expect(escapeMeasurement('my m,x=1\n')).toBe('my\\ m\\,x=1_');
  });
  it('quotes string fields', () => {
    expect(quoteString('a "b" \\ c\nd')).toBe('"a \\"b\\" \\\\ c d"');
  });
  it('renders integers with i, floats plain, sorted tags, and nothing for an empty field set', () => {
    expect(line('m', [['z', '1'], ['a', 'b c']], { count: 3.0, rate: 1.5 }, '10', new Set(['rate']))).toBe('m,a=b\\ c,z=1 count=3i,rate=1.5 10');
    expect(line('m', [], { n: Number.NaN }, '10')).toBeNull();
  });
  it('timestamps are exact in every precision', () => {
    const ms = 1_795_508_740_000;
    expect(timestamp(ms, 's')).toBe('1795508740');
    expect(timestamp(ms, 'ms')).toBe('1795508740000');
    expect(timestamp(ms, 'us')).toBe('1795508740000000');
    expect(timestamp(ms, 'ns')).toBe('1795508740000000000');
  });
});

describe('intervalPoints', () => {
  it('writes counts as integers at the interval start, ports top N + other, hostile prefixes escaped', () => {
    const agg = emptyAggregate(1_795_508_740_000, 10_000);
    const b = agg.verdicts.blocked;
    b.count = 10;
    b.protocols.set(6, 9).set(17, 1);
    b.ports.set(22, 5).set(23, 3).set(80, 1).set(443, 1);
    agg.prefixes.set('DROP, x=1\nnext', 10);
    agg.prefixes.set('', 2);
    agg.sources.set('ulogd', 12);
    agg.counters.set('ipv4.ssh', { pkts: 7, bytes: 420 });
    agg.syns = 4;
    agg.synWindows.set(16384, 4);
    agg.synInitialTtls.set(128, 4);
    agg.fingerprints.set('ittl=128,win=16384', 4);
    agg.countries.set('', 1);
    const lines = intervalPoints(agg, opts, top);
    expect(lines).toContain('nfwatch_events,host=fw1,verdict=blocked count=10i 1795508740');
    expect(lines).toContain('nfwatch_events,host=fw1,verdict=allowed count=0i 1795508740');
    expect(lines).toContain('nfwatch_events_by_proto,host=fw1,proto=tcp,verdict=blocked count=9i 1795508740');
    expect(lines).toContain('nfwatch_events_by_port,host=fw1,port=22,verdict=blocked count=5i 1795508740');
    expect(lines).toContain('nfwatch_events_by_port,host=fw1,port=other,verdict=blocked count=2i 1795508740');
    expect(lines).toContain('nfwatch_events_by_prefix,host=fw1,prefix=DROP\\,\\ x\\=1_next count=10i 1795508740');
    expect(lines).toContain('nfwatch_events_by_prefix,host=fw1,prefix=none count=2i 1795508740');
    expect(lines).toContain('nfwatch_events_by_input,host=fw1,source=ulogd count=12i 1795508740');
    expect(lines).toContain('nfwatch_nfacct,counter=ipv4.ssh,host=fw1 pkts=7i,bytes=420i 1795508740');
    expect(lines).toContain('nfwatch_syn,host=fw1 count=4i 1795508740');
    expect(lines).toContain('nfwatch_syn_by_fingerprint,fingerprint=ittl\\=128\\,win\\=16384,host=fw1 count=4i 1795508740');
    expect(lines).toContain('nfwatch_geo,country=unknown,host=fw1 count=1i 1795508740');
    // Every line is one line; the port breakdown sums to the verdict count.
    for (const l of lines) expect(l).not.toMatch(/[\n\r]/);
    const ports = lines.filter((l) => l.startsWith('nfwatch_events_by_port,') && l.includes('verdict=blocked')).map((l) => Number(/count=(\d+)i/.exec(l)![1]));
    expect(ports.reduce((a, c) => a + c, 0)).toBe(10);
  });
});

describe('healthPoints and eventPoint', () => {
  it('health: integer counters, float rate, sinks, sources', () => {
    const h: HealthSnapshot = {
      time: 1_795_508_741_234, elapsed: 10, lines: 5, events: 4, eventsPerSecond: 0.4, oversizedLines: 0,
      decodeErrors: { ...noDecodeErrors(), not_json: 1 },
      lateEvents: 0, counterResets: 0, openIntervals: 1, sinks: { influx: { backlog: 3, dropped: 2, sent: 1, connected: true } }, tracker: null,
      sources: {
        ulogd: { kind: 'file', linesRead: 5, bytesRead: 4500, connections: 0, connectionsRefused: 0, connectionsEvicted: 0, partialLinesDropped: 0, rotations: 1, truncations: 0, symlinksRefused: 0 },
      },
    };
    const lines = healthPoints(h, opts);
    expect(lines[0]).toBe('nfwatch_health,host=fw1 lines=5i,events=4i,events_per_second=0.4,oversized_lines=0i,late_events=0i,counter_resets=0i,open_intervals=1i 1795508741');
    expect(lines).toContain('nfwatch_health_decode_errors,host=fw1,reason=not_json count=1i 1795508741');
    expect(lines).toContain('nfwatch_health_sinks,host=fw1,sink=influx backlog=3i,dropped=2i,sent=1i,connected=1i 1795508741');
    expect(lines).toContain(
      'nfwatch_health_sources,host=fw1,kind=file,source=ulogd lines_read=5i,bytes_read=4500i,connections=0i,connections_refused=0i,connections_evicted=0i,partial_lines_dropped=0i,rotations=1i,truncations=0i,symlinks_refused=0i 1795508741',
    );
  });
  it('event: the source address is a field, never a tag; ns timestamp with a sequence', () => {
    const e = { kind: 'packet', time: 1_795_508_741_234, verdict: 'blocked', protocol: 6, srcIp: '203.0.113.9', dstIp: '10.0.0.1', srcPort: 6000, dstPort: 22, prefix: 'DROP x', tool: '', geo: null, fingerprint: null } as unknown as PacketEvent;
    const l = eventPoint(e, 'nfwatch', 'fw1', 7)!;
    expect(l).toBe('nfwatch_event,host=fw1,proto=tcp,verdict=blocked src="203.0.113.9",dst="10.0.0.1",sport=6000i,dport=22i,prefix="DROP x" 1795508741234000007');
    const tags = l.split(' ')[0]!;
    expect(tags).not.toContain('203.0.113.9');
  });
});

describe('intervalPoints and the aggregator\'s series budget', () => {
  it('writes folded SYN windows (OTHER_WINDOW) as window=other, added to the top-N rest', () => {
    const agg = emptyAggregate(0, 60_000);
    agg.syns = 10;
    agg.synWindows.set(1024, 4);
    agg.synWindows.set(2048, 3);
    agg.synWindows.set(4096, 1);
    agg.synWindows.set(OTHER_WINDOW, 2);
    const lines = intervalPoints(agg, opts, top).filter((l) => l.startsWith('nfwatch_syn_by_window'));
    expect(lines).toContain('nfwatch_syn_by_window,host=fw1,window=other count=3i 0');
    expect(lines.some((l) => l.includes('65536'))).toBe(false);
  });
});
