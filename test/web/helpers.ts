// Shared pieces of the web specs: a [web] config, WebDeps with a real tracker and history, a
// server on 127.0.0.1 port 0, and a WebSocket client that records the frames it gets.
import WebSocket from 'ws';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import type { Config } from '../../src/config/schema.js';
import { DECODE_ERROR_REASONS, type DecodeErrorReason, type HealthSnapshot } from '../../src/pipeline/types.js';
import { memoryLogger } from '../../src/util/log.js';
import type { WebDeps } from '../../src/web/deps.js';
import { IntervalHistory } from '../../src/web/history.js';
import { startWeb, type WebServer } from '../../src/web/server.js';
import { LiveHub } from '../../src/web/stream.js';
import { tracker as makeTracker } from '../track/helpers.js';

export { packet, T0 } from '../track/helpers.js';

export function webConfig(overrides: Partial<Config['web']> = {}): Config['web'] {
  return {
    enabled: true,
    host: '127.0.0.1',
    port: 0,
    token: '',
    token_file: '',
    tls_cert: '',
    tls_key: '',
    allowed_origins: [],
    max_clients: 32,
    max_message_bytes: 4096,
    client_events_per_second: 200,
    slow_client_bytes: 4_194_304,
    heartbeat_seconds: 15,
    ...overrides,
  };
}

export function health(overrides: Partial<HealthSnapshot> = {}): HealthSnapshot {
  const decodeErrors = Object.fromEntries(DECODE_ERROR_REASONS.map((r) => [r, 0])) as Record<DecodeErrorReason, number>;
  return {
    time: Date.now(),
    elapsed: 10,
    lines: 1234,
    events: 1200,
    eventsPerSecond: 120,
    oversizedLines: 1,
    decodeErrors: { ...decodeErrors, not_json: 3 },
    lateEvents: 2,
    counterResets: 0,
    openIntervals: 1,
    sinks: { graphite: { backlog: 17, dropped: 4, sent: 9000, connected: true } },
    tracker: null,
    ...overrides,
  };
}

export function deps(config: Config['web'] = webConfig(), options: { tracking?: boolean } = {}): WebDeps {
  const tracker = options.tracking === false ? null : makeTracker();
  const history = new IntervalHistory();
  const a = emptyAggregate(Date.UTC(2026, 10, 24, 6, 0, 0), 10_000);
  a.verdicts.allowed.count = 100;
  a.verdicts.blocked.count = 400;
  a.syns = 50;
  a.counters.set('ipv4.http', { pkts: 120, bytes: 90_000 });
  history.add(a);
  return {
    config,
    tracker,
    history,
    health: () => health({ tracker: tracker?.stats() ?? null }),
    geoCredits: () => [{ text: 'IP Geolocation by DB-IP (CC BY 4.0)', url: 'https://db-ip.com' }],
    startedAt: Date.now() - 60_000,
    logger: memoryLogger('error'),
  };
}

export function hub(config: Config['web']): LiveHub {
  return new LiveHub(config, { sourceNames: ['ulogd'], version: '0.1.0' });
}

export interface Running {
  server: WebServer;
  hub: LiveHub;
  deps: WebDeps;
  /** ws:// URL of the stream. */
  stream: string;
  close(): Promise<void>;
}

export async function serve(overrides: Partial<Config['web']> = {}): Promise<Running> {
  const config = webConfig(overrides);
  const d = deps(config);
  const h = hub(config);
  const server = await startWeb(config, d, h);
  return { server, hub: h, deps: d, stream: `${server.url.replace(/^http/, 'ws')}/stream`, close: () => server.close() };
}

export type Frame = { type: string } & Record<string, unknown>;

/** A real ws client that keeps every frame and can wait for one. */
export class Client {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve({ code, reason: this.closeReason });
      });
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
    const ws = new WebSocket(url, options);
    const c = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await c.until(() => c.of('hello').length > 0, 5000, 'hello');
    return c;
  }

  /** The response status of a refused upgrade. */
  static refusal(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => reject(new Error('the upgrade was accepted')));
      ws.on('error', () => {});
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** All events received so far, flattened from the `events` frames. */
  events(): Array<Record<string, unknown>> {
    return this.of('events').flatMap((f) => f.events as Array<Record<string, unknown>>);
  }

  /** Waits until `test` holds over the frames (rechecked on every frame and on close). */
  async until(test: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${this.frames.map((f) => f.type).join(',')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next frame of `type` after the ones already seen of that type. */
  async next(type: string, timeoutMs = 5000): Promise<Frame> {
    const seen = this.of(type).length;
    await this.until(() => this.of(type).length > seen, timeoutMs, `a ${type} frame`);
    return this.of(type).at(-1)!;
  }

  /** Subscribes and waits for the server's answer (hello or error). */
  async subscribe(filter: unknown): Promise<Frame> {
    const before = this.frames.length;
    this.send({ type: 'subscribe', filter });
    await this.until(() => this.frames.slice(before).some((f) => f.type === 'hello' || f.type === 'error'), 5000, 'hello/error');
    return this.frames.slice(before).find((f) => f.type === 'hello' || f.type === 'error')!;
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
