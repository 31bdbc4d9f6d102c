// The web app: JSON API, /metrics, /healthz and the WebSocket /stream, built from WebDeps without
// listening (server.ts listens; tests use inject() or listen on port 0).
//
// Access: when a token is configured every route but /healthz needs it — `Authorization: Bearer`,
// or `?token=` on the pages (/, /investigate) and on /stream (browsers cannot set WebSocket
// headers), or the `nfwatch_token` cookie that a page request with `?token=` sets (HttpOnly,
// SameSite=Strict) so the page's own fetch and WebSocket calls carry it. Tokens are compared in constant time.
// Without a token (loopback only, server.ts enforces it) `Host` must be exactly a loopback literal
// (127.0.0.0/8 dotted quad, [::1]), `localhost`, the configured host or an allowed origin's host,
// each with an optional port, which defeats DNS rebinding ("127.0.0.1.evil.example" is a name like
// any other). A stream's Origin is compared with that accepted host only.
//
// Every response carries SECURITY_HEADERS, also fastify's own (a URL that is not valid
// percent-encoding) and Node's (headers too large, not HTTP at all), and no message repeats the
// request's path or Host unescaped.
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Fastify } from '../deps.js';
import { errorCode } from '../util/errors.js';
import type { WebDeps } from './deps.js';
import { isLoopbackName } from '../util/ip.js';
import { blockTarget } from '../respond/target.js';
import type { Responder } from '../respond/responder.js';
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from './prometheus.js';
import { HealthJudge } from './healthz.js';
import * as S from './schemas.js';
import { registerStatic } from './static.js';
import { registerInvestigate } from './investigate.js';
import type { LiveHub } from './stream.js';
import { HttpError, shownPath } from './http-error.js';
import { LAZY_COMPILERS } from './lazy-compilers.js';

export interface AppOptions {
  /** Serve HTTPS (PEM contents). */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** The token in force (server.ts reads token_file); defaults to deps.config.token. */
  token?: string;
}

export const TOKEN_COOKIE = 'nfwatch_token';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The pages: `?token=` is accepted there and sets the token cookie. */
const PAGE_PATHS = new Set(['/', '/index.html', '/investigate']);
/** Paths where `?token=` is accepted (the pages and the stream); elsewhere only header or cookie. */
const QUERY_TOKEN_PATHS = new Set([...PAGE_PATHS, '/stream']);
const PUBLIC_PATHS = new Set(['/healthz']);

export async function buildApp(deps: WebDeps, hub: LiveHub, options: AppOptions = {}): Promise<FastifyInstance> {
  const tls = options.https !== undefined;
  // fastify's answers to a bad URL and Node's to a request it cannot parse never reach the hooks:
  // both are answered here, with the same headers as everything else.
  const base = { logger: false, frameworkErrors, clientErrorHandler, schemaController: { compilersFactory: LAZY_COMPILERS } } as const;
  const app: FastifyInstance = (options.https
    ? Fastify({ ...base, https: { cert: options.https.cert, key: options.https.key } })
    : Fastify(base)) as unknown as FastifyInstance;
  const guard = new AccessGuard(options.token ?? deps.config.token, deps.config.host, deps.config.allowed_origins, tls);
  // Also on the raw response before fastify sees the request, so what fastify answers without
  // running hooks (503 while closing) carries them too; the onRequest hook sets them for inject().
  app.server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  });

  // --- every response: strict headers; access check; the page's token cookie -------------------
  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    const path = pathOf(req.url);
    if (path.startsWith('/api/') || path === '/metrics' || path === '/healthz') reply.header('cache-control', 'no-store');
    const refusal = guard.check(req.raw, path);
    if (refusal !== null) throw refusal;
    const cookie = guard.cookieFor(req.raw, path);
    if (cookie !== null) reply.header('set-cookie', cookie);
  });

  // Ajv coerces a query value too large for a double ("9" × 5000, "1e400") to Infinity and then
  // skips minimum/maximum, which only apply to finite numbers: refuse it here, after validation.
  app.addHook('preHandler', async (req) => {
    const refusal = nonFiniteQuery(req);
    if (refusal !== null) throw refusal;
  });

  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (err instanceof HttpError) return sendError(reply, err.statusCode, err.code, err.message);
    if (err.validation) return sendError(reply, 400, 'bad_request', err.message);
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      deps.logger.error(`web: ${req.method} ${pathOf(req.url)}: ${err.message}`);
      return sendError(reply, status, 'internal', 'internal error');
    }
    return sendError(reply, status, codeOf(status), err.message);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route ${req.method} ${shownPath(pathOf(req.url))}`));

  const errors = { 400: S.ErrorReply, 401: S.ErrorReply, 403: S.ErrorReply };

  // --- routes ---------------------------------------------------------------------------------
  // Judged every second (not only when a monitor asks), so "for 30 s" means what it says.
  const judge = new HealthJudge();
  const verdict = () => judge.observe(deps.health(), Date.now());
  const sampler = setInterval(verdict, 1000);
  sampler.unref();
  app.addHook('onClose', async () => clearInterval(sampler));
  app.get('/healthz', { schema: { querystring: S.NoQuery, response: { 200: S.HealthzReply, 503: S.HealthzReply } } }, async (_req, reply): Promise<S.HealthzReply> => {
    const v = verdict();
    if (v.status !== 'ok') reply.code(503);
    return v;
  });

  app.get('/api/summary', { schema: { querystring: S.NoQuery, response: { 200: S.SummaryReply, ...errors } } }, async (): Promise<S.SummaryReply> => {
    const h = deps.health();
    const now = Date.now();
    const t = deps.tracker?.summary() ?? null;
    return {
      tracking: t !== null,
      time: t?.time ?? null,
      windowSeconds: t?.windowSeconds ?? 0,
      packets: t?.packets ?? 0,
      sources: t?.sources ?? null,
      scans: t?.scans ?? null,
      campaigns: t?.campaigns ?? null,
      fingerprints: t?.fingerprints ?? null,
      serverTime: new Date(now).toISOString(),
      startedAt: new Date(deps.startedAt).toISOString(),
      uptimeSeconds: Math.max(0, (now - deps.startedAt) / 1000),
      rates: deps.history.latest(),
      totals: { ...deps.history.totals },
      health: {
        lines: h.lines,
        events: h.events,
        eventsPerSecond: h.eventsPerSecond,
        oversizedLines: h.oversizedLines,
        decodeErrors: h.decodeErrors,
        lateEvents: h.lateEvents,
        counterResets: h.counterResets,
        openIntervals: h.openIntervals,
        sinks: h.sinks,
        sources: h.sources ?? {},
      },
      stream: { clients: hub.clientCount, eventsPerSecondPerClient: deps.config.client_events_per_second },
      geoCredits: deps.geoCredits(),
      lists: (deps.lists?.() ?? []).map((l) => ({ name: l.name, entries: l.entries, addresses: l.addresses, loadedAt: l.loadedAt === 0 ? null : new Date(l.loadedAt).toISOString(), badLines: l.badLines, error: l.error, packets: deps.history.listed.get(l.name) ?? 0 })),
    };
  });

  app.get<{ Querystring: S.SourcesQuery }>(
    '/api/sources',
    { schema: { querystring: S.SourcesQuery, response: { 200: S.SourcesReply, ...errors } } },
    async (req) => {
      const { limit, sort, list } = req.query;
      return { tracking: deps.tracker !== null, sort, limit, sources: deps.tracker?.sources(list === undefined ? { limit, sort } : { limit, sort, list }) ?? [] };
    },
  );

  app.get<{ Querystring: S.LimitQuery }>(
    '/api/fingerprints',
    { schema: { querystring: S.LimitQuery, response: { 200: S.FingerprintsReply, ...errors } } },
    async (req) => {
      const t = deps.tracker;
      if (t === null) return { tracking: false, windowSeconds: 0, total: 0, byKey: [], otherKeys: 0, byWindow: [], byInitialTtl: [] };
      return { tracking: true, ...t.fingerprints(req.query.limit) };
    },
  );

  app.get<{ Querystring: S.LimitQuery }>(
    '/api/campaigns',
    { schema: { querystring: S.LimitQuery, response: { 200: S.CampaignsReply, ...errors } } },
    async (req) => ({ tracking: deps.tracker !== null, campaigns: deps.tracker?.campaigns(req.query.limit) ?? [] }),
  );

  // The block set: anyone who may read the API may list it; changing it needs the token in an
  // Authorization header (a cookie could be sent by another page), so never without a token.
  const changeAllowed = (req: FastifyRequest): void => {
    const token = options.token ?? deps.config.token;
    if (token === '') throw new HttpError(403, 'forbidden', 'changing the block set over the API needs web.token (or use nfwatch block/unblock on the host)');
    if (!tokenEquals(bearerToken(req.headers.authorization) ?? '', token)) throw new HttpError(401, 'unauthorized', 'changing the block set needs Authorization: Bearer <token>');
  };
  const responderOrRefuse = (): Responder => {
    const r = deps.responder ?? null;
    if (r === null) throw new HttpError(409, 'response_off', 'blocking is off ([response] enabled = false)');
    return r;
  };
  const blockErrors = { ...errors, 409: S.ErrorReply, 502: S.ErrorReply };
  app.get('/api/blocks', { schema: { querystring: S.NoQuery, response: { 200: S.BlocksReply, ...errors } } }, async (): Promise<S.BlocksReply> => {
    const r = deps.responder ?? null;
    const stats = r?.stats ?? { active: 0, blocked: 0, dryRun: 0, allowlisted: 0, full: 0, failed: 0, unblocked: 0 };
    if (r === null) return { enabled: false, dryRun: false, blocks: [], stats, error: '' };
    try {
      return { enabled: true, dryRun: r.dryRun, blocks: await r.list(), stats, error: '' };
    } catch (err) {
      return { enabled: true, dryRun: r.dryRun, blocks: [], stats, error: (err as Error).message };
    }
  });
  app.post<{ Body: S.BlockBody }>('/api/blocks', { schema: { body: S.BlockBody, response: { 200: S.BlockReply, ...blockErrors } } }, async (req): Promise<S.BlockReply> => {
    changeAllowed(req);
    const r = responderOrRefuse();
    const target = blockTarget(req.body.address);
    if (target === null) throw new HttpError(400, 'bad_request', `"${shownPath(req.body.address)}" is not an IPv4 address or an IPv6 address or network`);
    const seconds = req.body.seconds ?? deps.blockSeconds ?? 3600;
    try {
      await r.block(target, seconds, 'the API', req.body.force === true);
    } catch (err) {
      throw new HttpError(/\(force to override\)$/.test((err as Error).message) ? 409 : 502, 'not_blocked', (err as Error).message);
    }
    return { target, done: true, message: `blocked for ${seconds} s` };
  });
  app.delete<{ Querystring: S.UnblockQuery }>('/api/blocks', { schema: { querystring: S.UnblockQuery, response: { 200: S.BlockReply, ...blockErrors } } }, async (req): Promise<S.BlockReply> => {
    changeAllowed(req);
    const r = responderOrRefuse();
    const target = blockTarget(req.query.address);
    if (target === null) throw new HttpError(400, 'bad_request', `"${shownPath(req.query.address)}" is not an IPv4 address or an IPv6 address or network`);
    let removed: boolean;
    try {
      removed = await r.unblock(target, 'the API');
    } catch (err) {
      throw new HttpError(502, 'not_unblocked', (err as Error).message);
    }
    return { target, done: removed, message: removed ? 'unblocked' : 'was not blocked' };
  });

  app.get('/api/counters', { schema: { querystring: S.NoQuery, response: { 200: S.CountersReply, ...errors } } }, async () => ({
    counters: deps.history.counters(),
  }));

  app.get('/api/rates', { schema: { querystring: S.NoQuery, response: { 200: S.RatesReply, ...errors } } }, async () => ({
    points: deps.history.verdicts(),
  }));

  app.get('/metrics', { schema: { querystring: S.NoQuery, response: { 200: { type: 'string' }, ...errors } } }, async (_req, reply) => {
    const health = deps.health();
    reply.type(PROMETHEUS_CONTENT_TYPE);
    return renderMetrics({
      health,
      totals: deps.history.totals,
      counters: deps.history.counters(),
      tracker: health.tracker,
      alerts: deps.alerts?.() ?? null,
      response: deps.responder?.stats ?? null,
      listed: deps.history.listed,
      lists: deps.lists?.() ?? [],
      history: deps.historyStats?.() ?? null,
      uptimeSeconds: Math.max(0, (Date.now() - deps.startedAt) / 1000),
      streamClients: hub.clientCount,
    });
  });

  // The history store's questions (investigate page) and the live map's per-country figures.
  registerInvestigate(app, deps);

  // A plain GET of /stream (no Upgrade header) reaches the router: say what it is for.
  app.get('/stream', { schema: { response: { 426: S.ErrorReply, ...errors } } }, async (_req, reply) =>
    sendError(reply, 426, 'upgrade_required', 'this is the WebSocket event stream: connect with Upgrade: websocket'),
  );

  // --- the WebSocket upgrade: refused before it completes -------------------------------------
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = pathOf(req.url ?? '/');
    if (path !== '/stream') return refuseOnSocket(socket, 404, 'not_found', `no WebSocket endpoint at ${shownPath(path)}`);
    const refusal = guard.check(req, path) ?? guard.checkOrigin(req);
    if (refusal !== null) return refuseOnSocket(socket, refusal.statusCode, refusal.code, refusal.message);
    if (hub.full()) return refuseOnSocket(socket, 503, 'too_many_clients', `the stream serves at most ${deps.config.max_clients} clients`);
    hub.handleUpgrade(req, socket, head);
  });

  // --- the page ---------------------------------------------------------------------------------
  // The page's files (src/web/public, served by static.ts): the one call site.
  registerStatic(app);

  return app;
}

function sendError(reply: FastifyReply, statusCode: number, code: string, message: string): FastifyReply {
  return reply.code(statusCode).type('application/json; charset=utf-8').send({ statusCode, code, message } satisfies S.ErrorReply);
}

/** A query value Ajv coerced to ±Infinity or NaN, as the 400 it deserves; null when there is none. */
function nonFiniteQuery(req: FastifyRequest): HttpError | null {
  const query = req.query;
  if (typeof query !== 'object' || query === null) return null;
  for (const [key, value] of Object.entries(query)) {
    if (typeof value !== 'number' || Number.isFinite(value)) continue;
    const schema = (req.routeOptions.schema?.querystring as { properties?: Record<string, { minimum?: number; maximum?: number }> } | undefined)?.properties?.[key];
    const range = schema?.minimum !== undefined && schema.maximum !== undefined ? ` from ${schema.minimum} to ${schema.maximum}` : '';
    return new HttpError(400, 'bad_request', `querystring/${key} must be a finite number${range}`);
  }
  return null;
}

/** fastify's own refusals before routing (a URL that is not valid percent-encoding, …). */
function frameworkErrors(error: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  void reply.headers(SECURITY_HEADERS).header('cache-control', 'no-store');
  if (error.code === 'FST_ERR_BAD_URL') {
    void sendError(reply, 400, 'bad_request', 'the URL is not valid (malformed percent-encoding)');
    return;
  }
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 400;
  void sendError(reply, status, codeOf(status), status >= 500 ? 'internal error' : 'the request was refused before routing');
}

/** Node's refusals of what is not a request it can parse: the answer written on the socket. */
function clientErrorHandler(error: Error, socket: Duplex): void {
  const code = errorCode(error);
  if (code === 'ECONNRESET' || socket.destroyed) return;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return refuseOnSocket(socket, 408, 'request_timeout', 'the request was not received in time');
  if (code === 'HPE_HEADER_OVERFLOW') return refuseOnSocket(socket, 431, 'headers_too_large', 'the request headers are too large');
  return refuseOnSocket(socket, 400, 'bad_request', 'the request is not valid HTTP');
}

function codeOf(status: number): string {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 408:
      return 'request_timeout';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 431:
      return 'headers_too_large';
    default:
      return status >= 500 ? 'internal' : 'bad_request';
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Writes a plain HTTP refusal on a raw socket (an upgrade, a request Node could not parse), then closes it. */
function refuseOnSocket(socket: Duplex, statusCode: number, code: string, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ statusCode, code, message } satisfies S.ErrorReply);
  const headers: OutgoingHttpHeaders = {
    ...SECURITY_HEADERS,
    connection: 'close',
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${String(v)}\r\n`).join('');
  socket.end(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}\r\n${head}\r\n${body}`);
  socket.once('finish', () => socket.destroy());
}

// ---------------------------------------------------------------------------------------------
// Access

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time token comparison (hashes first, so lengths leak nothing either). */
export function tokenEquals(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/** `Host` (or an origin's host[:port]) split into its name and port; null unless it is exactly that. */
export function parseHost(value: string): { name: string; port: string } | null {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*)(?::(\d{1,5}))?$/.exec(value.toLowerCase());
  if (m === null) return null;
  const port = m[2] ?? '';
  if (port !== '' && Number(port) > 65535) return null;
  return { name: m[1]!, port };
}

class AccessGuard {
  private readonly allowedOrigins: Set<string>;
  /** Names besides the loopback literals a tokenless request may give in Host (any port). */
  private readonly configuredHosts = new Set<string>();

  constructor(
    private readonly token: string,
    host: string,
    allowedOrigins: readonly string[],
    private readonly tls: boolean,
  ) {
    this.allowedOrigins = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
    const h = host.toLowerCase();
    this.configuredHosts.add(h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
    for (const o of this.allowedOrigins) {
      try {
        this.configuredHosts.add(new URL(o).hostname.toLowerCase());
      } catch {
        // not a URL: can match no Host header
      }
    }
  }

  /** The Host a request may be served under: exactly host[:port], and without a token one of ours. */
  private acceptedHost(req: IncomingMessage): { name: string; port: string } | null {
    const header = req.headers.host;
    const host = header === undefined ? null : parseHost(header);
    if (host === null) return null;
    if (this.token === '' && !isLoopbackName(host.name) && !this.configuredHosts.has(host.name)) return null;
    return host;
  }

  /** null when the request may proceed, else the refusal. */
  check(req: IncomingMessage, path: string): HttpError | null {
    if (this.token === '') {
      // No token means loopback only: a Host that is not ours is a page on another site whose
      // name was rebound to 127.0.0.1. (No Host at all is HTTP/1.0, which no browser sends.)
      const header = req.headers.host;
      if (header !== undefined && this.acceptedHost(req) === null) {
        return new HttpError(403, 'forbidden_host', `Host "${shownPath(header)}" is not this server (configure web.allowed_origins or a token)`);
      }
      return null;
    }
    if (PUBLIC_PATHS.has(path)) return null;
    const given = this.tokenOf(req, path);
    if (given === null) return new HttpError(401, 'unauthorized', 'a token is required (Authorization: Bearer <token>)');
    if (!tokenEquals(given, this.token)) return new HttpError(401, 'unauthorized', 'wrong token');
    return null;
  }

  /** WebSocket Origin check: absent, the origin of the accepted Host, or one of web.allowed_origins. */
  checkOrigin(req: IncomingMessage): HttpError | null {
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    const o = origin.toLowerCase();
    const host = this.acceptedHost(req);
    const own = host === null ? null : `${this.tls ? 'https' : 'http'}://${host.name}${host.port === '' ? '' : `:${host.port}`}`;
    if (o === own || this.allowedOrigins.has(o)) return null;
    return new HttpError(403, 'forbidden_origin', `origin ${shownPath(origin)} may not open the stream`);
  }

  /** A Set-Cookie value when the page is requested with a valid `?token=`. */
  cookieFor(req: IncomingMessage, path: string): string | null {
    if (this.token === '' || !PAGE_PATHS.has(path) || (req.method !== 'GET' && req.method !== 'HEAD')) return null;
    const q = queryToken(req.url ?? '');
    if (q === null || !tokenEquals(q, this.token)) return null;
    return `${TOKEN_COOKIE}=${encodeURIComponent(this.token)}; Path=/; HttpOnly; SameSite=Strict${this.tls ? '; Secure' : ''}`;
  }

  private tokenOf(req: IncomingMessage, path: string): string | null {
    const bearer = bearerToken(req.headers.authorization);
    if (bearer !== null) return bearer;
    if (QUERY_TOKEN_PATHS.has(path)) {
      const q = queryToken(req.url ?? '');
      if (q !== null) return q;
    }
    return cookieToken(req.headers.cookie);
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
function bearerToken(header: string | undefined): string | null {
  return header !== undefined && header.length > 7 && header.slice(0, 7).toLowerCase() === 'bearer ' ? header.slice(7).trim() : null;
}

function queryToken(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  return new URLSearchParams(url.slice(q + 1)).get('token');
}

function cookieToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return null;
}
