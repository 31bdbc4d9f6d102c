import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, type InfluxConfig } from '../../src/config/schema.js';
import type { IntervalAggregate } from '../../src/pipeline/types.js';
import { InfluxSink, resolveInfluxToken } from '../../src/sinks/influx.js';
import { memoryLogger } from '../../src/util/log.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fake v2 write endpoint: records accepted bodies; answers with what `respond` says. */
class FakeInflux {
  readonly accepted: string[] = [];
  readonly requests: Array<{ url: string; auth: string | undefined }> = [];
  respond: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 204 });
  private server: http.Server | null = null;
  port = 0;
  async listen(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        // The client gzips bodies above its gzipThreshold (1000 bytes).
        const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        this.requests.push({ url: req.url ?? '', auth: req.headers.authorization });
        const r = this.respond(this.requests.length);
        if (r.status === 204) this.accepted.push(body);
        res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
        res.end(r.status === 204 ? '' : JSON.stringify({ code: 'x', message: 'nope' }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  /** Line protocol lines accepted, in order. */
  lines(): string[] {
    return this.accepted.flatMap((b) => b.split('\n')).filter((l) => l !== '');
  }
}

function config(port: number, over: Partial<InfluxConfig> = {}): InfluxConfig {
  const base = Value.Default(ConfigSchema.properties.outputs.properties.influx, {}) as InfluxConfig;
  return { ...base, enabled: true, url: `http://127.0.0.1:${port}`, retry_min_ms: 20, retry_max_ms: 100, retry_jitter_ms: 0, timeout_ms: 1000, ...over };
}

function interval(i: number, blocked: number): IntervalAggregate {
  const agg = emptyAggregate(1_795_508_740_000 + i * 10_000, 10_000);
  agg.verdicts.blocked.count = blocked;
  return agg;
}

const top = { ports: 20, values: 20 };
let server: FakeInflux;
let sink: InfluxSink | undefined;

afterEach(async () => {
  await sink?.close();
  sink = undefined;
  await server?.stop();
});

function blockedCounts(lines: string[]): number[] {
  return lines.filter((l) => l.startsWith('nfwatch_events,') && l.includes('verdict=blocked')).map((l) => Number(/count=(\d+)i/.exec(l)![1]));
}

describe('InfluxSink', () => {
  it('writes intervals in order with the token, org, bucket and precision; deliveredUntil follows acks', async () => {
    server = new FakeInflux();
    await server.listen();
    sink = new InfluxSink(config(server.port, { token: 'sekrit', org: 'o', bucket: 'b' }), { hostname: 'fw1', top, logger: memoryLogger() });
    for (let i = 0; i < 5; i++) sink.writeInterval(interval(i, i + 1));
    expect(sink.deliveredUntil()).toBe(1_795_508_740_000);
    await sink.flush(2000);
    expect(blockedCounts(server.lines())).toEqual([1, 2, 3, 4, 5]);
    expect(server.requests[0]!.url).toBe('/api/v2/write?org=o&bucket=b&precision=s');
    expect(server.requests[0]!.auth).toBe('Token sekrit');
    expect(sink.deliveredUntil()).toBe(Infinity);
    expect(sink.health()).toMatchObject({ backlog: 0, dropped: 0, sent: 15, connected: true });
  });

  it('503/429 with Retry-After, then success: nothing lost, deliveredUntil moves only after the ack', async () => {
    server = new FakeInflux();
    server.respond = (n) => (n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : n === 2 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 204 });
    await server.listen();
    const logger = memoryLogger();
    sink = new InfluxSink(config(server.port, { retry_max_ms: 2000 }), { hostname: 'fw1', top, logger });
    sink.writeInterval(interval(0, 7));
    await sleep(300);
    expect(server.requests.length).toBe(1); // Retry-After: 1 s honoured
    expect(sink.deliveredUntil()).toBe(1_795_508_740_000);
    expect(sink.health().backlog).toBe(3);
    sink.writeInterval(interval(1, 8));
    await sink.flush(5000);
    expect(blockedCounts(server.lines())).toEqual([7, 8]);
    expect(sink.deliveredUntil()).toBe(Infinity);
    expect(sink.health()).toMatchObject({ dropped: 0, sent: 6 });
    expect(logger.lines.join('\n')).toMatch(/HTTP 503/);
  });

  it('server down at start: intervals wait, in order, and are delivered when it comes up', async () => {
    server = new FakeInflux();
    await server.listen();
    const port = server.port;
    await server.stop();
    sink = new InfluxSink(config(port), { hostname: 'fw1', top, logger: memoryLogger() });
    for (let i = 0; i < 3; i++) sink.writeInterval(interval(i, 10 + i));
    await sleep(250);
    expect(sink.health()).toMatchObject({ connected: false, backlog: 9, sent: 0 });
    expect(sink.deliveredUntil()).toBe(1_795_508_740_000);
    server = new FakeInflux();
    await server.listen(port);
    await sink.flush(3000);
    expect(blockedCounts(server.lines())).toEqual([10, 11, 12]);
    expect(sink.health()).toMatchObject({ connected: true, backlog: 0, dropped: 0 });
    expect(sink.deliveredUntil()).toBe(Infinity);
  });

  it('backlog bound: the oldest batches are dropped and counted, the newest kept', async () => {
    server = new FakeInflux();
    await server.listen();
    const port = server.port;
    await server.stop();
    sink = new InfluxSink(config(port, { backlog_max_points: 1000 }), { hostname: 'fw1', top, logger: memoryLogger() });
    for (let i = 0; i < 400; i++) sink.writeInterval(interval(i, i)); // 3 points each
    const h = sink.health();
    expect(h.backlog).toBeLessThanOrEqual(1000);
    expect(h.dropped + h.backlog).toBe(1200);
    server = new FakeInflux();
    await server.listen(port);
    await sink.flush(5000);
    const got = blockedCounts(server.lines());
    // What was delivered is the newest intervals, in order (at most one in flight was kept from the start).
    expect(got.at(-1)).toBe(399);
    expect(got.slice(-300)).toEqual(Array.from({ length: 300 }, (_, k) => 100 + k));
    expect(sink.health().dropped).toBe(1200 - got.length * 3);
  });

  it('400 (bad line protocol) drops the batch, counts it and goes on', async () => {
    server = new FakeInflux();
    server.respond = (n) => (n === 1 ? { status: 400 } : { status: 204 });
    await server.listen();
    sink = new InfluxSink(config(server.port, { max_batch_points: 100 }), { hostname: 'fw1', top, logger: memoryLogger() });
    sink.writeInterval(interval(0, 1));
    await sleep(200);
    sink.writeInterval(interval(1, 2));
    await sink.flush(2000);
    expect(blockedCounts(server.lines())).toEqual([2]);
    expect(sink.health().dropped).toBe(3);
  });

  it('close() flushes what is queued; flush cuts a long backoff short', async () => {
    server = new FakeInflux();
    server.respond = (n) => (n === 1 ? { status: 503 } : { status: 204 });
    await server.listen();
    sink = new InfluxSink(config(server.port, { retry_min_ms: 60_000, retry_max_ms: 60_000 }), { hostname: 'fw1', top, logger: memoryLogger() });
    sink.writeInterval(interval(0, 3));
    await sleep(150);
    expect(server.requests.length).toBe(1);
    sink.writeInterval(interval(1, 4));
    await sink.close();
    expect(blockedCounts(server.lines())).toEqual([3, 4]);
    expect(sink.deliveredUntil()).toBe(Infinity);
  });

  it('resend_intervals: after an outage the last acknowledged intervals are written again first', async () => {
    server = new FakeInflux();
    await server.listen();
    const port = server.port;
    sink = new InfluxSink(config(port, { resend_intervals: 2 }), { hostname: 'fw1', top, logger: memoryLogger() });
    sink.writeInterval(interval(0, 1));
    sink.writeInterval(interval(1, 2));
    await sink.flush(2000);
    const before = server.lines();
    await server.stop();
    sink.writeInterval(interval(2, 3));
    await sleep(150);
    server = new FakeInflux();
    await server.listen(port);
    await sink.flush(3000);
    await sleep(100);
    expect(blockedCounts(before)).toEqual([1, 2]);
    expect(blockedCounts(server.lines())).toEqual([3, 1, 2]);
    expect(sink.health().sent).toBe(9);
  });

  it('token from an environment variable or a file', () => {
    expect(resolveInfluxToken({ token: 'a', token_file: '', token_env: 'NFW_T' }, { NFW_T: 'from-env\n' })).toBe('from-env');
    expect(() => resolveInfluxToken({ token: 'a', token_file: '', token_env: 'NFW_T' }, {})).toThrow(/NFW_T/);
    expect(resolveInfluxToken({ token: 'a', token_file: '', token_env: '' }, {})).toBe('a');
  });
});
