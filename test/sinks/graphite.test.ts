import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import type { GraphiteConfig } from '../../src/config/schema.js';
import { MetricNamer, renderInterval } from '../../src/metrics/names.js';
import { DECODE_ERROR_REASONS, noDecodeErrors, type HealthSnapshot, type IntervalAggregate } from '../../src/pipeline/types.js';
import { GraphiteSink } from '../../src/sinks/graphite.js';
import { memoryLogger } from '../../src/util/log.js';

/** A fake carbon plaintext receiver: records complete lines, can die and come back on its port. */
class FakeCarbon {
  readonly lines: string[] = [];
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async listen(port = this.port): Promise<void> {
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      let buffered = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop()!; // like carbon, an incomplete last line is dropped with the connection
        this.lines.push(...parts);
      });
      socket.on('end', () => socket.end());
      socket.on('error', () => {});
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** carbon dies: connections reset, port closed. */
  async kill(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Received lines as "path timestamp" → value; a resent line must carry the same value. */
  received(): Map<string, number> {
    const out = new Map<string, number>();
    for (const line of this.lines) {
      const [path, value, ts] = line.split(' ');
      const key = `${path} ${ts}`;
      const v = Number(value);
      if (out.has(key) && out.get(key) !== v) throw new Error(`conflicting values for ${key}`);
      out.set(key, v);
    }
    return out;
  }
}

/** A port nothing listens on (for now). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const cfg = (port: number, over: Partial<GraphiteConfig> = {}): GraphiteConfig => ({
  enabled: true,
  host: '127.0.0.1',
  port,
  prefix: 'netfilter.{hostname}',
  tagged: false,
  nfacct_layout: 'nfwatch',
  backlog_max_lines: 1_000_000,
  resend_intervals: 12,
  reconnect_min_ms: 20,
  reconnect_max_ms: 100,
  // Unlimited here; the creation budget has its own tests below.
  max_creates_per_minute: 0,
  ...over,
});

const namer = new MetricNamer({ prefix: 'netfilter.{hostname}', tagged: false, nfacct_layout: 'nfwatch' }, 'fw1');
const T0 = 1_700_000_000_000;
const LEN = 10_000;

/** Interval i: 3 verdict counts + `prefixes` prefix series = 3 + prefixes lines. */
function interval(i: number, prefixes = 2): IntervalAggregate {
  const agg = emptyAggregate(T0 + i * LEN, LEN);
  agg.verdicts.blocked.count = i + 1;
  for (let p = 0; p < prefixes; p++) agg.prefixes.set(`P${p}`, i + p + 1);
  return agg;
}

/** What carbon must end up with for these intervals: "path timestamp" → value. */
function expected(aggs: IntervalAggregate[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const agg of aggs) {
    for (const [path, v] of Object.entries(renderInterval(agg, namer, { ports: 20, values: 20 }))) out.set(`${path} ${agg.start / 1000}`, v);
  }
  return out;
}

const open: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function sink(config: GraphiteConfig, now?: () => number) {
  const logger = memoryLogger('debug');
  const s = new GraphiteSink(config, { namer, top: { ports: 20, values: 20 }, logger, ...(now ? { now } : {}) });
  open.push(s);
  return { s, logger };
}

function carbon(): FakeCarbon {
  const c = new FakeCarbon();
  open.push({ close: () => c.kill() });
  return c;
}

describe('GraphiteSink', () => {
  it('writes an interval as plaintext lines stamped with the interval start', async () => {
    const c = carbon();
    await c.listen(0);
    const { s } = sink(cfg(c.port));
    const agg = interval(0, 1);
    agg.counters.set('ipv4.http', { pkts: 3, bytes: 180 });
    s.writeInterval(agg);
    await s.flush(5000);
    await until('lines', () => c.lines.length === 6);
    expect(c.lines.sort()).toEqual(
      [
        'netfilter.fw1.events.allowed.count 0 1700000000',
        'netfilter.fw1.events.blocked.count 1 1700000000',
        'netfilter.fw1.events.unknown.count 0 1700000000',
        'netfilter.fw1.events.prefix.P0 1 1700000000',
        'netfilter.fw1.nfacct.ipv4.http.pkts 3 1700000000',
        'netfilter.fw1.nfacct.ipv4.http.bytes 180 1700000000',
      ].sort(),
    );
    expect(s.deliveredUntil()).toBe(Infinity);
    expect(s.health()).toEqual({ backlog: 0, dropped: 0, sent: 6, connected: true });
  });

  it('writes health snapshots stamped with their wall-clock time, outside deliveredUntil', async () => {
    const port = await freePort();
    const { s } = sink(cfg(port));
    const h: HealthSnapshot = {
      time: T0 + 5_000,
      elapsed: 10,
      lines: 7,
      events: 7,
      eventsPerSecond: 0.7,
      oversizedLines: 0,
      decodeErrors: { ...noDecodeErrors(), not_json: 0 },
      lateEvents: 0,
      counterResets: 0,
      openIntervals: 1,
      tracker: null,
      sinks: {},
    };
    s.writeHealth(h);
    // Seven figures, series.admitted and series.folded, and one line per decode error reason.
    const lines = 9 + DECODE_ERROR_REASONS.length;
    expect(s.health().backlog).toBe(lines);
    expect(s.deliveredUntil()).toBe(Infinity);
    const c = carbon();
    await c.listen(port);
    await s.flush(5000);
    await until('lines', () => c.lines.length === lines);
    expect(c.lines).toContain('netfilter.fw1.nfwatch.events_per_second 0.7 1700000005');
  });

  it('queues while carbon is down and delivers everything once it is up; deliveredUntil follows', async () => {
    const port = await freePort();
    const { s, logger } = sink(cfg(port));
    const aggs = [0, 1, 2, 3, 4].map((i) => interval(i));
    for (const a of aggs) s.writeInterval(a);
    await new Promise((r) => setTimeout(r, 150)); // several refused connects (and their errors) pass
    expect(s.health()).toEqual({ backlog: 25, dropped: 0, sent: 0, connected: false });
    expect(s.deliveredUntil()).toBe(T0);

    const c = carbon();
    await c.listen(port);
    await s.flush(5000);
    expect(s.deliveredUntil()).toBe(Infinity);
    expect(s.health()).toMatchObject({ backlog: 0, sent: 25, connected: true });
    await until('all lines', () => c.lines.length === 25);
    expect(c.received()).toEqual(expected(aggs));
    expect(logger.lines.filter((l) => l.includes('cannot connect')).some((l) => l.includes(' warn '))).toBe(true);
  });

  it('after a reconnect, first resends the last resend_intervals delivered intervals', async () => {
    const c = carbon();
    await c.listen(0);
    const { s, logger } = sink(cfg(c.port, { resend_intervals: 2 }));
    for (const i of [0, 1, 2]) s.writeInterval(interval(i, 0));
    await s.flush(5000);
    await until('first delivery', () => c.lines.length === 9);

    await c.kill();
    await until('disconnect noticed', () => !s.health().connected);
    await c.listen(c.port);
    await until('resend', () => c.lines.length === 15);
    // Interval 0 once; intervals 1 and 2 twice (carbon keeps the last write: harmless).
    const stamps = c.lines.map((l) => l.split(' ')[2]);
    expect(stamps.filter((t) => t === '1700000000')).toHaveLength(3);
    expect(stamps.filter((t) => t === '1700000010')).toHaveLength(6);
    expect(stamps.filter((t) => t === '1700000020')).toHaveLength(6);
    expect(s.health().sent).toBe(9); // resends are not counted twice
    expect(logger.lines.some((l) => l.includes('resending the last 2 intervals'))).toBe(true);
  });

  it('loses nothing when carbon dies and comes back mid-stream', async () => {
    const c = carbon();
    await c.listen(0);
    const { s } = sink(cfg(c.port, { resend_intervals: 100 }));
    const aggs: IntervalAggregate[] = [];
    for (let i = 0; i < 120; i++) {
      const agg = interval(i, 20);
      aggs.push(agg);
      s.writeInterval(agg);
      if (i === 40) await c.kill();
      if (i === 80) {
        expect(s.deliveredUntil()).toBeLessThanOrEqual(T0 + 41 * LEN);
        await c.listen(c.port);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await s.flush(10_000);
    expect(s.deliveredUntil()).toBe(Infinity);
    const want = expected(aggs);
    await until('every line', () => c.received().size === want.size);
    expect(c.received()).toEqual(want);
    expect(s.health()).toMatchObject({ backlog: 0, dropped: 0, sent: 120 * 23 });
  });

  it('drops the oldest batches beyond backlog_max_lines, counts them and warns at most every 10 s', async () => {
    const port = await freePort();
    let now = 0;
    const { s, logger } = sink(cfg(port, { backlog_max_lines: 1000 }), () => now);
    const aggs = Array.from({ length: 16 }, (_, i) => interval(i, 97)); // 100 lines each
    for (const a of aggs.slice(0, 15)) s.writeInterval(a);
    expect(s.health()).toMatchObject({ backlog: 1000, dropped: 500, sent: 0 });
    expect(s.deliveredUntil()).toBe(T0 + 5 * LEN); // intervals 0-4 are gone
    const warnings = () => logger.lines.filter((l) => l.includes('backlog full'));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toContain('dropped 100 oldest');

    now = 10_000;
    s.writeInterval(aggs[15]!);
    expect(s.health()).toMatchObject({ backlog: 1000, dropped: 600 });
    expect(warnings()).toHaveLength(2);
    expect(warnings()[1]).toContain('dropped 500 oldest');

    const c = carbon();
    await c.listen(port);
    await s.flush(5000);
    await until('lines', () => c.lines.length === 1000);
    expect(c.received()).toEqual(expected(aggs.slice(6)));
    expect(s.health()).toMatchObject({ backlog: 0, dropped: 600, sent: 1000 });
  });

  it('flush resolves at its timeout while carbon is down', async () => {
    const { s } = sink(cfg(await freePort()));
    s.writeInterval(interval(0));
    const t = Date.now();
    await s.flush(100);
    expect(Date.now() - t).toBeGreaterThanOrEqual(90);
    expect(s.health().backlog).toBe(5);
  });

  it('close() leaves no sockets or timers behind, connected or not', async () => {
    // Counts of our kinds of handles; vitest's own timers come and go, so "no more than before".
    const handles = () => {
      const n = { sockets: 0, timers: 0 };
      for (const r of process.getActiveResourcesInfo()) {
        if (r === 'TCPSocketWrap' || r === 'TCPWRAP') n.sockets++;
        if (r === 'Timeout') n.timers++;
      }
      return n;
    };
    const c = new FakeCarbon();
    await c.listen(0);
    const before = handles();
    const released = () => handles().sockets <= before.sockets && handles().timers <= before.timers;

    const up = new GraphiteSink(cfg(c.port), { namer, top: { ports: 20, values: 20 }, logger: memoryLogger() });
    up.writeInterval(interval(0));
    await up.flush(5000);
    const down = new GraphiteSink(cfg(await freePort()), { namer, top: { ports: 20, values: 20 }, logger: memoryLogger() });
    down.writeInterval(interval(0));
    await new Promise((r) => setTimeout(r, 50)); // a reconnect timer is pending
    expect(released()).toBe(false);
    await Promise.all([up.close(), down.close()]);
    await until('handles released', released, 3000);

    // Undelivered at close: still backlog (deliveredUntil keeps it uncommitted); written after
    // close: dropped, and no new connection.
    expect(down.deliveredUntil()).toBe(T0);
    down.writeInterval(interval(1));
    expect(down.health()).toMatchObject({ backlog: 5, dropped: 5, connected: false });
    expect(released()).toBe(true);
    await c.kill();
  });
});

describe('GraphiteSink under a creation budget (max_creates_per_minute, like stock carbon)', () => {
  /** A port scan interval: `ports` blocked ports with one packet each, plus port 22 with `busy`. */
  function scan(i: number, ports: number, busy = 50): IntervalAggregate {
    const agg = emptyAggregate(T0 + i * 60_000, 60_000);
    const v = agg.verdicts.blocked;
    v.ports.set(22, busy);
    for (let p = 0; p < ports; p++) v.ports.set(1000 + i * ports + p, 1);
    v.count = busy + ports;
    v.protocols.set(6, v.count);
    return agg;
  }
  const sumOf = (rx: Map<string, number>, re: RegExp) => [...rx].filter(([k]) => re.test(k.split(' ')[0]!)).reduce((a, [, v]) => a + v, 0);
  const pathsOf = (rx: Map<string, number>) => new Set([...rx.keys()].map((k) => k.split(' ')[0]!));

  it('never asks for more new series per minute than allowed, creates the verdict counts first, and holds what it cannot create yet until the bucket refills, totals exact', async () => {
    const c = carbon();
    await c.listen(0);
    let now = T0;
    const { s } = sink(cfg(c.port, { max_creates_per_minute: 13 }), () => now); // bursts of 10
    const first = scan(0, 15);
    s.writeInterval(first);
    await until('the first burst', () => c.lines.some((l) => l.includes('.dport.22 ')));
    await new Promise((r) => setTimeout(r, 100));
    const rx = c.received();
    const paths = pathsOf(rx);
    // A burst of 10, never more: carbon would drop the points of an 11th new series this minute.
    expect(paths.size).toBeLessThanOrEqual(10);
    for (const v of ['allowed', 'blocked', 'unknown']) expect(paths.has(`netfilter.fw1.events.${v}.count`)).toBe(true);
    expect(sumOf(rx, /\.blocked\.count$/)).toBe(65);
    // The busiest port got its own series first; the folded rest (dport.other, a new series) waits.
    expect(paths.has('netfilter.fw1.events.blocked.dport.22')).toBe(true);
    expect(paths.has('netfilter.fw1.events.blocked.dport.other')).toBe(false);
    expect(s.seriesHealth().admitted).toBe(paths.size);
    expect(s.seriesHealth().folded).toBeGreaterThan(0);
    // Held values keep the interval unconfirmed: read positions are not committed past it.
    expect(s.deliveredUntil()).toBe(first.start);

    // One minute later the bucket is full again: the held sum is written at its own timestamp,
    // then the next interval; up to 10 more new series, exact.
    now += 60_000;
    s.writeInterval(scan(1, 15));
    await until('both intervals', () => sumOf(c.received(), /\.blocked\.dport\./) === 130);
    const all = c.received();
    expect([...all.keys()].some((k) => k.startsWith('netfilter.fw1.events.blocked.dport.other ') && k.endsWith(` ${first.start / 1000}`))).toBe(true);
    expect(pathsOf(all).size - paths.size).toBeLessThanOrEqual(10);
    expect(sumOf(all, /\.blocked\.dport\./)).toBe(130);
    await s.flush(5000);
    expect(s.deliveredUntil()).toBe(Infinity);
  });

  it('writes health figures it cannot create yet in a later snapshot instead; secondary gauges only from the top of the bucket', async () => {
    const c = carbon();
    await c.listen(0);
    let now = T0;
    const { s } = sink(cfg(c.port, { max_creates_per_minute: 8 }), () => now); // bursts of 6
    // Every figure non-zero (a zero one waits for the top of the bucket like the sink figures).
    const h: HealthSnapshot = {
      time: T0, elapsed: 10, lines: 1, events: 1, eventsPerSecond: 1, oversizedLines: 1,
      decodeErrors: Object.fromEntries(DECODE_ERROR_REASONS.map((r) => [r, 1])) as HealthSnapshot['decodeErrors'],
      lateEvents: 1, counterResets: 1, openIntervals: 1, tracker: null,
      sinks: { influx: { backlog: 0, dropped: 0, sent: 0, connected: true } },
    };
    // nfwatch.* figures and decode errors first (9 + 8 reasons), then the 4 sink figures.
    const main = 9 + DECODE_ERROR_REASONS.length;
    const snapshot = async (minute: number, expectLines: number) => {
      now = T0 + minute * 60_000;
      s.writeHealth({ ...h, time: now });
      await s.flush(5000);
      const ts = String(now / 1000);
      await until(`snapshot ${minute}`, () => c.lines.filter((l) => l.endsWith(ts)).length >= expectLines);
      await new Promise((r) => setTimeout(r, 50));
      expect(c.lines.filter((l) => l.endsWith(ts)).length).toBe(expectLines);
    };
    await snapshot(0, 6); // the burst
    await snapshot(1, 12); // refilled to 6: six more
    await snapshot(2, main); // the last five; one token left: no sink figure (they need 5)
    await snapshot(3, main + 2); // 6 tokens: sink figures while 5 or more are left
    expect(s.seriesHealth()).toMatchObject({ admitted: main + 2 });
  });
});
