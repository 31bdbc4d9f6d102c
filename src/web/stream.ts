// The live event stream behind WebSocket `/stream` (docs/stream-protocol.md is the contract).
//
// Hot path: Pipeline calls publish() for every enriched packet (up to ~80 000/s). With no client it
// counts the event's verdict and returns. Otherwise the work is per *subscription group*, not per
// client: clients with the same filter share one group, so one filter check, one rate-limit and
// sampling decision, and one serialised copy of the event serve all of them. An event is turned
// into JSON only when some group is going to send it, once, and the text is shared.
//
// Memory stays bounded whatever clients do:
// - a group's pending batch is capped (BATCH_CAP bytes) and flushed every 100 ms;
// - a client whose unsent data (ws.bufferedAmount) passed web.slow_client_bytes gets summaries
//   only (no more events frames); past twice the limit it is closed with 4008, and a slow client
//   still over the limit at a heartbeat (it is not reading: its pong cannot even get through) is
//   closed with 4008 too; so per client at most ~2 × slow_client_bytes + one batch is ever held;
// - per-second aggregates (top ports/sources/fingerprints) keep at most MAX_KEYS keys each.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData } from 'ws';
import { WebSocketServer, WebSocket } from '../deps.js';
import type { Config } from '../config/schema.js';
import type { LiveEvents } from '../pipeline/pipeline.js';
import type { PacketEvent } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { eventText } from './event-json.js';
import { MATCH_EVERYTHING, parseFilter, type CompiledFilter, type Matcher } from './filter.js';

export interface LiveHubOptions {
  /** Configured source names, by source index (PacketEvent.source). */
  sourceNames: readonly string[];
  /** nfwatch's version, sent in `hello`. */
  version: string;
  logger?: Logger;
}

/** Close codes (RFC 6455 §7.4; 4000–4999 are ours). */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_SLOW_CLIENT = 4008;

/** How often pending events are sent (the contract: at most every 100 ms). */
export const FLUSH_MS = 100;
/** Keys kept per per-second aggregate map; further new keys are not tracked for that second. */
const MAX_KEYS = 10_000;
/** Matched events of a second whose keys are kept before the aggregate maps are built. */
const EARLY_KEYS = 1024;
/**
 * Past this many matched events in a second, sources and fingerprints (string keys: hashing them
 * is most of the aggregation's cost) are counted for every 2nd, then every 4th ... event (doubling
 * each time the count doubles) with that weight: their top lists become estimates, while matched,
 * byVerdict and topPorts stay exact.
 */
const EXACT_STRING_KEYS = 4096;
/** Most event text one group queues between flushes (UTF-16 units ≈ bytes). */
export const BATCH_CAP = 1 << 20;
/** Entries in each top list of a `rate` frame. */
const TOP_N = 10;

const V_ALLOWED = 0;
const V_BLOCKED = 1;
const V_UNKNOWN = 2;
function verdictIndex(e: PacketEvent): number {
  const v = e.verdict;
  return v === 'blocked' ? V_BLOCKED : v === 'allowed' ? V_ALLOWED : V_UNKNOWN;
}

interface Client {
  readonly ws: WebSocket;
  group: Group;
  /** Past slow_client_bytes: summaries only from now on. */
  slow: boolean;
  /** A pong (or any message) arrived since the last heartbeat ping. */
  alive: boolean;
  closed: boolean;
}

/** Top-N counting for one second, bounded. */
class TopCounts<K> {
  readonly counts = new Map<K, number>();
  add(key: K, weight = 1): void {
    const c = this.counts.get(key);
    if (c !== undefined) this.counts.set(key, c + weight);
    else if (this.counts.size < MAX_KEYS) this.counts.set(key, weight);
  }
  top(): Array<[K, number]> {
    const best: Array<[K, number]> = [];
    for (const entry of this.counts) {
      if (best.length === TOP_N && entry[1] <= best[TOP_N - 1]![1]) continue;
      let i = best.length;
      if (i === TOP_N) i--;
      while (i > 0 && best[i - 1]![1] < entry[1]) {
        if (i < TOP_N) best[i] = best[i - 1]!;
        i--;
      }
      best[i] = entry;
    }
    return best;
  }
}

/** Clients sharing one filter, and everything counted and queued for them. */
class Group {
  readonly clients: Client[] = [];
  /** Clients in the group that are not slow (they get events frames). */
  readers = 0;

  // This second.
  matched = 0;
  sent = 0;
  readonly byVerdict = [0, 0, 0];
  /** Fraction of matched events to send this second, from the previous second's count. */
  ratio = 1;
  private credit = 1;
  /**
   * The first matched events' keys of this second (up to min(limit, EARLY_KEYS)), so the aggregate
   * maps are only built when needed: more matched than that, or a slow client wants summaries.
   */
  private readonly earlyPorts: Int32Array;
  private readonly earlyCap: number;
  private readonly earlySources: string[] = [];
  private readonly earlyFingerprints: Array<string | null> = [];
  private ports: TopCounts<number> | null = null;
  private sources: TopCounts<string> | null = null;
  private fingerprints: TopCounts<string> | null = null;
  /** Weighted sampling of the string keys past EXACT_STRING_KEYS (see there). */
  private step = 1;
  private skip = 0;
  private nextStepAt = EXACT_STRING_KEYS;

  // The batch being built.
  pending: string[] = [];
  pendingBytes = 0;

  constructor(
    readonly filter: CompiledFilter,
    private readonly limit: number,
    private readonly batchCap: number,
  ) {
    this.earlyCap = Math.min(limit, EARLY_KEYS);
    this.earlyPorts = new Int32Array(this.earlyCap);
  }

  get match(): Matcher | null {
    return this.filter.match;
  }

  /** Counts a matched event; true when it should be sent (then the caller pushes its text). */
  offer(e: PacketEvent): boolean {
    const n = this.matched++;
    this.byVerdict[verdictIndex(e)]!++;
    if (n < this.earlyCap) {
      this.earlyPorts[n] = e.dstPort;
      this.earlySources[n] = e.srcIp;
      this.earlyFingerprints[n] = e.fingerprint === null ? null : e.fingerprint.key;
    } else {
      if (this.ports === null) this.aggregateEarly();
      if (e.dstPort >= 0) this.ports!.add(e.dstPort);
      if (n === this.nextStepAt) {
        this.step *= 2;
        this.nextStepAt *= 2;
      }
      if (++this.skip >= this.step) {
        this.skip = 0;
        this.sources!.add(e.srcIp, this.step);
        if (e.fingerprint !== null) this.fingerprints!.add(e.fingerprint.key, this.step);
      }
    }
    if (this.readers === 0 || this.sent >= this.limit || this.pendingBytes >= this.batchCap) return false;
    this.credit += this.ratio;
    if (this.credit < 1) return false;
    this.credit -= 1;
    return true;
  }

  /** Queues an offered event's text unless that would pass the batch cap (then it is not sent). */
  push(text: string): void {
    if (this.pendingBytes + text.length > this.batchCap) return;
    this.pending.push(text);
    this.pendingBytes += text.length;
    this.sent++;
  }

  private count(port: number, src: string, fp: string | null): void {
    if (port >= 0) this.ports!.add(port);
    this.sources!.add(src);
    if (fp !== null) this.fingerprints!.add(fp);
  }

  private aggregateEarly(): void {
    this.ports = new TopCounts();
    this.sources = new TopCounts();
    this.fingerprints = new TopCounts();
    const n = Math.min(this.matched, this.earlyCap);
    for (let i = 0; i < n; i++) this.count(this.earlyPorts[i]!, this.earlySources[i]!, this.earlyFingerprints[i] ?? null);
  }

  /** Takes the batch (the `events` frame text), or null when empty. */
  takeBatch(): string | null {
    if (this.pending.length === 0) return null;
    const text = `{"type":"events","events":[${this.pending.join(',')}]}`;
    this.pending = [];
    this.pendingBytes = 0;
    return text;
  }

  /**
   * Ends the second: the `rate` frame for clients that read (when they were sent a sample) and for
   * slow clients (whenever anything matched), then resets the counts and sets the next sampling ratio.
   */
  endSecond(second: number, wantSlow: boolean): { reader: string | null; slow: string | null } {
    const matched = this.matched;
    const sampledForReaders = matched > this.sent;
    let reader: string | null = null;
    let slow: string | null = null;
    if (matched > 0 && ((sampledForReaders && this.readers > 0) || wantSlow)) {
      if (this.ports === null) this.aggregateEarly();
      const common = {
        byVerdict: { allowed: this.byVerdict[V_ALLOWED]!, blocked: this.byVerdict[V_BLOCKED]!, unknown: this.byVerdict[V_UNKNOWN]! },
        topPorts: this.ports!.top(),
        topSources: this.sources!.top(),
        topFingerprints: this.fingerprints!.top(),
      };
      if (sampledForReaders && this.readers > 0) reader = JSON.stringify({ type: 'rate', second, matched, sent: this.sent, sampled: true, ...common });
      if (wantSlow) slow = JSON.stringify({ type: 'rate', second, matched, sent: 0, sampled: true, ...common });
    }
    this.ratio = matched > this.limit ? this.limit / matched : 1;
    this.credit = 1;
    this.matched = 0;
    this.sent = 0;
    this.byVerdict.fill(0);
    this.earlySources.length = 0;
    this.earlyFingerprints.length = 0;
    this.ports = this.sources = this.fingerprints = null;
    this.step = 1;
    this.skip = 0;
    this.nextStepAt = EXACT_STRING_KEYS;
    return { reader, slow };
  }
}

export interface HubStats {
  clients: number;
  groups: number;
  /** Event text queued in batches over all groups, in UTF-16 units (≈ bytes; a shared text counted per group). */
  pendingBytes: number;
  /** The most pendingBytes can reach: the batch cap times the number of groups. */
  pendingLimit: number;
  /** Clients closed for being slow, since start. */
  slowClosed: number;
}

export class LiveHub implements LiveEvents {
  /** Groups with at least one client; publish() walks this array. */
  private groups: Group[] = [];
  private readonly byKey = new Map<string, Group>();
  private readonly clients = new Set<Client>();
  private readonly wss: WebSocketServer;
  private readonly limit: number;
  private readonly slowBytes: number;
  readonly batchCap: number;
  /** Events by verdict since the hub (the daemon) started. */
  private readonly totals = [0, 0, 0];
  private totalAtTick = 0;
  private tickAt = Date.now();
  private flushTimer: NodeJS.Timeout | undefined;
  private secondTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private slowClosed = 0;
  private closing = false;

  constructor(
    private readonly config: Config['web'],
    private readonly options: LiveHubOptions,
  ) {
    this.limit = config.client_events_per_second;
    this.slowBytes = config.slow_client_bytes;
    this.batchCap = BATCH_CAP;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: config.max_message_bytes,
    });
  }

  // --- hot path ------------------------------------------------------------------------------

  publish(event: PacketEvent): void {
    this.totals[verdictIndex(event)]!++;
    const groups = this.groups;
    const n = groups.length;
    if (n === 0) return;
    let text: string | null = null;
    for (let i = 0; i < n; i++) {
      const g = groups[i]!;
      const match = g.match;
      if (match !== null && !match(event)) continue;
      if (!g.offer(event)) continue;
      if (text === null) text = eventText(event, this.options.sourceNames);
      g.push(text);
    }
  }

  // --- connections -------------------------------------------------------------------------

  get clientCount(): number {
    return this.clients.size;
  }

  /** Whether another client would exceed web.max_clients (checked before the upgrade). */
  full(): boolean {
    return this.clients.size >= this.config.max_clients;
  }

  stats(): HubStats {
    let pendingBytes = 0;
    for (const g of this.groups) pendingBytes += g.pendingBytes;
    return { clients: this.clients.size, groups: this.groups.length, pendingBytes, pendingLimit: this.batchCap * this.groups.length, slowClosed: this.slowClosed };
  }

  /** Completes a WebSocket upgrade the caller has authorised (token, origin, capacity). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws));
  }

  private attach(ws: WebSocket): void {
    if (this.closing) {
      ws.close(CLOSE_GOING_AWAY, 'server shutting down');
      return;
    }
    const client: Client = { ws, group: this.join(MATCH_EVERYTHING), slow: false, alive: true, closed: false };
    client.group.clients.push(client);
    client.group.readers++;
    this.clients.add(client);
    if (this.clients.size === 1) this.startTimers();
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', (err) => {
      // ws closes the connection itself (1009 for messages over maxPayload, 1002 for bad frames).
      this.options.logger?.debug(`stream client error: ${err.message}`);
    });
    ws.on('close', () => this.detach(client));
    this.sendHello(client);
  }

  private detach(client: Client): void {
    if (client.closed) return;
    client.closed = true;
    this.clients.delete(client);
    this.leave(client);
    if (this.clients.size === 0) this.stopTimers();
  }

  private join(filter: CompiledFilter): Group {
    let g = this.byKey.get(filter.key);
    if (g === undefined) {
      g = new Group(filter, this.limit, this.batchCap);
      this.byKey.set(filter.key, g);
      this.groups = [...this.groups, g];
    }
    return g;
  }

  private leave(client: Client): void {
    const g = client.group;
    const i = g.clients.indexOf(client);
    if (i >= 0) g.clients.splice(i, 1);
    if (!client.slow) g.readers--;
    if (g.clients.length === 0) {
      g.takeBatch(); // nobody left to send it to
      this.byKey.delete(g.filter.key);
      this.groups = this.groups.filter((x) => x !== g);
    }
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    client.alive = true;
    if (isBinary) return this.sendError(client, 'bad message: send JSON text');
    let msg: unknown;
    try {
      msg = JSON.parse(rawText(data));
    } catch {
      return this.sendError(client, 'bad message: not JSON');
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return this.sendError(client, 'bad message: not a JSON object');
    const type = (msg as { type?: unknown }).type;
    if (type === 'ping') {
      this.send(client, '{"type":"pong"}');
      return;
    }
    if (type !== 'subscribe') return this.sendError(client, 'bad message: type must be subscribe or ping');
    const parsed = parseFilter((msg as { filter?: unknown }).filter);
    if (!parsed.ok) return this.sendError(client, `bad filter: ${parsed.error}`);
    if (parsed.value.key !== client.group.filter.key) {
      this.leave(client);
      client.group = this.join(parsed.value);
      client.group.clients.push(client);
      if (!client.slow) client.group.readers++;
    }
    this.sendHello(client, parsed.value);
  }

  private sendHello(client: Client, filter: CompiledFilter = client.group.filter): void {
    this.send(client, JSON.stringify({ type: 'hello', version: this.options.version, eventsPerSecond: this.limit, filter: filter.filter }));
  }

  private sendError(client: Client, message: string): void {
    this.send(client, JSON.stringify({ type: 'error', message }));
  }

  /**
   * Sends one frame unless the client is closed or too far behind: over slow_client_bytes unsent
   * it becomes slow (notice; summaries only), over twice that it is closed with 4008.
   * Returns whether the client can still be written to.
   */
  private send(client: Client, data: string | Buffer): boolean {
    if (!this.check(client)) return false;
    client.ws.send(data);
    return true;
  }

  private check(client: Client): boolean {
    const ws = client.ws;
    if (client.closed || ws.readyState !== WebSocket.OPEN) return false;
    const unsent = ws.bufferedAmount;
    if (unsent > 2 * this.slowBytes) {
      this.closeSlow(client, unsent);
      return false;
    }
    if (unsent > this.slowBytes && !client.slow) {
      client.slow = true;
      client.group.readers--;
      ws.send(JSON.stringify({
        type: 'notice',
        level: 'warn',
        code: 'slow_client',
        message: `${unsent} bytes unsent (limit ${this.slowBytes}): events are no longer sent, only rate and stats summaries`,
      }));
    }
    return true;
  }

  private closeSlow(client: Client, unsent: number): void {
    this.slowClosed++;
    this.options.logger?.warn(`stream client closed: slow client, ${unsent} bytes unsent`);
    client.ws.close(CLOSE_SLOW_CLIENT, `slow client: ${unsent} bytes unsent`);
    // Nothing more is written to it; its buffer is freed when the socket goes (ws destroys it if
    // the peer does not complete the closing handshake within its close timeout).
    this.detach(client);
  }

  // --- timers ------------------------------------------------------------------------------

  private startTimers(): void {
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
    this.flushTimer.unref();
    this.scheduleSecond();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.config.heartbeat_seconds * 1000);
    this.heartbeatTimer.unref();
  }

  private stopTimers(): void {
    clearInterval(this.flushTimer);
    clearTimeout(this.secondTimer);
    clearInterval(this.heartbeatTimer);
    this.flushTimer = this.secondTimer = this.heartbeatTimer = undefined;
    // Drop what was queued for nobody.
    for (const g of this.groups) g.takeBatch();
  }

  /** Ticks on wall-clock second boundaries so `rate.second` names a whole second. */
  private scheduleSecond(): void {
    this.secondTimer = setTimeout(() => {
      this.second();
      if (this.clients.size > 0) this.scheduleSecond();
    }, 1000 - (Date.now() % 1000) + 1);
    this.secondTimer.unref();
  }

  /** Sends each group's batch to its reading clients. */
  flush(): void {
    for (const g of this.groups) {
      const text = g.takeBatch();
      if (text === null) continue;
      let frame: Buffer | null = null;
      for (const c of g.clients.slice()) {
        if (c.slow || !this.check(c) || c.slow) continue;
        frame ??= Buffer.from(text); // encode once for every client of the group
        c.ws.send(frame, { binary: false });
      }
    }
  }

  /** The end of a second: outstanding batches, `rate` frames, `stats` frames. */
  private second(): void {
    this.flush();
    const now = Date.now();
    const second = Math.floor(now / 1000) - 1;
    for (const g of this.groups) {
      const wantSlow = g.clients.length > g.readers;
      const { reader, slow } = g.endSecond(second, wantSlow);
      if (reader === null && slow === null) continue;
      for (const c of g.clients.slice()) {
        const frame = c.slow ? slow : reader;
        if (frame !== null) this.send(c, frame);
      }
    }
    const total = this.totals[0]! + this.totals[1]! + this.totals[2]!;
    const elapsed = Math.max(0.001, (now - this.tickAt) / 1000);
    const stats = JSON.stringify({
      type: 'stats',
      time: new Date(now).toISOString(),
      events: { allowed: this.totals[V_ALLOWED]!, blocked: this.totals[V_BLOCKED]!, unknown: this.totals[V_UNKNOWN]! },
      eventsPerSecond: Math.round(((total - this.totalAtTick) / elapsed) * 10) / 10,
    });
    this.totalAtTick = total;
    this.tickAt = now;
    for (const c of [...this.clients]) this.send(c, stats);
  }

  /** Protocol pings; a client that did not answer the previous one is dropped. */
  private heartbeat(): void {
    for (const c of [...this.clients]) {
      if (c.closed) continue;
      const unsent = c.ws.bufferedAmount;
      if (c.slow && unsent > this.slowBytes) {
        // Still behind a whole heartbeat later: not reading. Say why, if it ever reads again.
        this.closeSlow(c, unsent);
      } else if (!c.alive) {
        c.ws.terminate();
        this.detach(c);
      } else {
        c.alive = false;
        c.ws.ping();
      }
    }
  }

  /** Closes every client (1001) and stops; resolves when they are gone (terminated after `graceMs`). */
  async close(graceMs = 1000): Promise<void> {
    this.closing = true;
    const sockets = [...this.clients].map((c) => c.ws);
    for (const c of [...this.clients]) {
      c.ws.close(CLOSE_GOING_AWAY, 'server shutting down');
      this.detach(c);
    }
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            const timer = setTimeout(() => {
              ws.terminate();
              resolve();
            }, graceMs);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    this.stopTimers();
    this.wss.close();
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
