import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/util/log.js';
import { buildApp, parseHost } from '../../src/web/app.js';
import { shownPath } from '../../src/web/http-error.js';
import { isLoopbackName } from '../../src/util/ip.js';
import { deps, hub, packet, T0, webConfig } from './helpers.js';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function make(overrides: Partial<Config['web']> = {}, options: { tracking?: boolean } = {}) {
  const config = webConfig(overrides);
  const d = deps(config, options);
  for (let i = 0; i < 30; i++) d.tracker?.observe(packet({ src: '203.0.113.7', dport: 1000 + i, time: T0 + i * 100 }));
  d.tracker?.observe(packet({ src: '198.51.100.9', dport: 22, time: T0 + 5000, verdict: 'allowed' }));
  app = await buildApp(d, hub(config));
  return app;
}

describe('the JSON API', () => {
  it('GET /api/summary: rates now, totals, uptime, health with sinks and decode errors, the tracker summary', async () => {
    const a = await make();
    const res = await a.inject('/api/summary');
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s).toMatchObject({
      tracking: true,
      rates: { allowed: 10, blocked: 40, unknown: 0, syns: 5 },
      totals: { allowed: 100, blocked: 400, unknown: 0, syns: 50 },
      health: { lines: 1234, decodeErrors: { not_json: 3 }, sinks: { graphite: { backlog: 17, dropped: 4, sent: 9000, connected: true } } },
      sources: { tracked: 2 },
      stream: { clients: 0, eventsPerSecondPerClient: 200 },
      geoCredits: [{ text: 'IP Geolocation by DB-IP (CC BY 4.0)', url: 'https://db-ip.com' }],
    });
    expect(s.uptimeSeconds).toBeGreaterThanOrEqual(60);
    expect(s.time).toBe(new Date(T0 + 5000).toISOString()); // event time the tracker reached
  });

  it('sends only the declared fields (the response schema is an allow-list)', async () => {
    const config = webConfig();
    const d = deps(config);
    const leaky = { ...d, health: () => ({ ...d.health(), secret: 'x', sinks: { graphite: { backlog: 1, dropped: 0, sent: 0, connected: true, password: 'p' } } }) };
    app = await buildApp(leaky, hub(config));
    const body = (await app.inject('/api/summary')).body;
    expect(body).not.toContain('secret');
    expect(body).not.toContain('password');
  });

  it('GET /api/sources: limit 1–1000 (default 100), sort last_seen|packets|ports|severity, else 400 bad_request', async () => {
    const a = await make();
    const res = await a.inject('/api/sources?sort=ports&limit=1');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ tracking: true, sort: 'ports', limit: 1, sources: [{ address: '203.0.113.7', ports: { distinct: 30 } }] });
    expect((await a.inject('/api/sources')).json()).toMatchObject({ sort: 'last_seen', limit: 100 });
    expect((await a.inject('/api/sources')).json().sources).toHaveLength(2);
    for (const q of ['limit=0', 'limit=1001', 'limit=ten', 'sort=evil', 'sort=packets&limit=-1']) {
      const bad = await a.inject(`/api/sources?${q}`);
      expect(bad.statusCode, q).toBe(400);
      expect(bad.json(), q).toMatchObject({ statusCode: 400, code: 'bad_request' });
    }
  });

  it('GET /api/fingerprints, /api/campaigns, /api/counters, /api/rates', async () => {
    const a = await make();
    const fp = (await a.inject('/api/fingerprints')).json();
    expect(fp).toMatchObject({ tracking: true, total: 31 });
    expect(fp.byKey[0]).toMatchObject({ key: 'ittl=64,win=64240,olen=20,df=1', count: 31 });
    expect((await a.inject('/api/campaigns')).json()).toEqual({ tracking: true, campaigns: [] });
    expect((await a.inject('/api/counters')).json()).toEqual({
      counters: [{ name: 'ipv4.http', pkts: 120, bytes: 90_000, pktsPerSecond: 12, bytesPerSecond: 9000, points: [{ time: T0 / 1000, pkts: 12, bytes: 9000 }] }],
    });
    expect((await a.inject('/api/rates')).json()).toEqual({ points: [{ time: T0 / 1000, allowed: 10, blocked: 40, unknown: 0, syns: 5 }] });
  });

  it('answers with empty lists and tracking=false when tracking is off', async () => {
    const a = await make({}, { tracking: false });
    expect((await a.inject('/api/sources')).json()).toMatchObject({ tracking: false, sources: [] });
    expect((await a.inject('/api/campaigns')).json()).toEqual({ tracking: false, campaigns: [] });
    expect((await a.inject('/api/fingerprints')).json()).toMatchObject({ tracking: false, total: 0, byKey: [] });
    expect((await a.inject('/api/summary')).json()).toMatchObject({ tracking: false, time: null, sources: null, scans: null });
  });

  it('GET /healthz: 200 {status:"ok"} with each sink and source ok, no token needed, not cached', async () => {
    const a = await make({ token: 's3cret' });
    const res = await a.inject('/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({ status: 'ok', problems: [], sinks: { graphite: 'ok' }, sources: {} });
  });

  it('GET /healthz: 503 "degraded" with the problems when a sink cannot reach its server or a source is stuck; names only, no paths or hosts', async () => {
    const config = webConfig({ token: 's3cret' });
    const d = deps(config);
    const source = (kind: string, extra: Record<string, number> = {}) => ({
      kind, linesRead: 0, bytesRead: 0, connections: 0, connectionsRefused: 0, connectionsEvicted: 0, partialLinesDropped: 0, rotations: 0, truncations: 0, symlinksRefused: 0, ...extra,
    });
    let snapshot = () => d.health();
    app = await buildApp({ ...d, health: () => snapshot() }, hub(config), { token: 's3cret' });
    vi.useFakeTimers({ toFake: ['Date'] });
    // carbon away with something to send; the file source's file is there.
    snapshot = () => ({
      ...d.health(),
      sinks: { graphite: { backlog: 40, dropped: 0, sent: 100, connected: false }, influx: { backlog: 0, dropped: 0, sent: 5, connected: true } },
      sources: { ulogd: { ...source('file', { missingFile: 0 }), secretPath: 1 } as never },
    });
    expect((await app.inject('/healthz')).statusCode).toBe(200); // not for 2 s yet
    vi.setSystemTime(Date.now() + 2000);
    const res = await app.inject('/healthz');
    vi.useRealTimers();
    expect(res.statusCode).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({
      status: 'degraded',
      problems: [{ component: 'sink', name: 'graphite', reason: 'unreachable', message: 'output graphite cannot reach its server; 40 items waiting' }],
      sinks: { graphite: 'unreachable', influx: 'ok' },
      sources: { ulogd: 'ok' },
    });
    expect(res.body).not.toMatch(/secretPath|\/var\/|127\.0\.0\.1|2003/);
    // carbon back: ok again at once.
    snapshot = () => ({ ...d.health(), sinks: { graphite: { backlog: 0, dropped: 0, sent: 140, connected: true } } });
    expect((await app.inject('/healthz')).statusCode).toBe(200);
  });

  it('GET /healthz: a query changes nothing in the answer', async () => {
    const a = await make({ token: 's3cret' });
    const res = await a.inject('/healthz?verbose=1&token=x');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', problems: [], sinks: { graphite: 'ok' }, sources: {} });
  });

  it('names its errors: unknown routes 404 not_found, a plain GET of /stream 426 upgrade_required', async () => {
    const a = await make();
    expect((await a.inject('/api/nope')).json()).toMatchObject({ statusCode: 404, code: 'not_found' });
    const stream = await a.inject('/stream');
    expect(stream.statusCode).toBe(426);
    expect(stream.json()).toMatchObject({ code: 'upgrade_required' });
  });
});

describe('headers', () => {
  it('sends the strict CSP and friends on every response, also errors and the page', async () => {
    const a = await make({ token: 't' });
    for (const url of ['/api/summary', '/healthz', '/metrics', '/nope', '/', '/app.js']) {
      const res = await a.inject(url);
      expect(res.headers['content-security-policy'], url).toBe(CSP);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
    }
  });

  it('forbids caching of the API', async () => {
    const a = await make();
    expect((await a.inject('/api/sources')).headers['cache-control']).toBe('no-store');
    expect((await a.inject('/api/summary')).headers['cache-control']).toBe('no-store');
  });
});

describe('the token', () => {
  const TOKEN = 'correct horse battery staple';

  it('refuses every route but /healthz without it: 401 unauthorized', async () => {
    const a = await make({ token: TOKEN });
    for (const url of ['/api/summary', '/api/sources', '/api/fingerprints', '/api/campaigns', '/api/counters', '/api/rates', '/metrics', '/', '/app.js']) {
      const res = await a.inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.json(), url).toMatchObject({ code: 'unauthorized' });
    }
  });

  it('refuses a wrong token', async () => {
    const a = await make({ token: TOKEN });
    const res = await a.inject({ url: '/api/summary', headers: { authorization: 'Bearer nope' } });
    expect(res.statusCode).toBe(401);
  });

  it('accepts Authorization: Bearer', async () => {
    const a = await make({ token: TOKEN });
    expect((await a.inject({ url: '/api/summary', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    expect((await a.inject({ url: '/metrics', headers: { authorization: `bearer ${TOKEN}` } })).statusCode).toBe(200);
  });

  it('accepts ?token= on the page, which sets an HttpOnly SameSite=Strict cookie the page\'s own calls carry', async () => {
    const a = await make({ token: TOKEN });
    const page = await a.inject(`/?token=${encodeURIComponent(TOKEN)}`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toMatch(/^nfwatch_token=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const pair = cookie.split(';')[0]!;
    expect((await a.inject({ url: '/api/summary', headers: { cookie: `other=1; ${pair}` } })).statusCode).toBe(200);
    expect((await a.inject({ url: '/app.js', headers: { cookie: pair } })).statusCode).toBe(200);
    expect((await a.inject({ url: '/api/summary', headers: { cookie: 'nfwatch_token=wrong' } })).statusCode).toBe(401);
  });

  it('does not take ?token= on the API (it would end up in logs), nor set a cookie for a wrong one', async () => {
    const a = await make({ token: TOKEN });
    expect((await a.inject(`/api/summary?token=${encodeURIComponent(TOKEN)}`)).statusCode).toBe(401);
    const wrong = await a.inject('/?token=wrong');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });
});

describe('without a token (loopback only)', () => {
  it('refuses requests naming a foreign Host (DNS rebinding) with 403 forbidden_host', async () => {
    const a = await make();
    const res = await a.inject({ url: '/api/summary', headers: { host: 'evil.example:8080' } });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'forbidden_host' });
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', '127.1.2.3']) {
      expect((await a.inject({ url: '/api/summary', headers: { host } })).statusCode, host).toBe(200);
    }
  });

  it('refuses names that only start like a loopback address, and malformed Host values', async () => {
    const a = await make({ allowed_origins: ['https://dash.example:8443'] });
    for (const host of ['127.0.0.1.evil.example', '127.0.0.1.evil.example:8080', '127.evil.example', 'localhost.evil.example', '[::1].evil.example', '127.0.0.1:8080.evil.example', '127.0.0.01', '127.0.0.1:99999', '127.0.0.1:', '127.0.0.1.', 'dash.example.evil.example']) {
      const res = await a.inject({ url: '/metrics', headers: { host } });
      expect(res.statusCode, host).toBe(403);
      expect(res.json(), host).toMatchObject({ code: 'forbidden_host' });
    }
    // A configured name (here the host of an allowed origin) is ours, on any port.
    expect((await a.inject({ url: '/api/summary', headers: { host: 'DASH.example:8080' } })).statusCode).toBe(200);
  });

  it('accepts the configured web.host (an IPv6 one in brackets)', async () => {
    const a = await make({ host: '::1' });
    expect((await a.inject({ url: '/api/summary', headers: { host: '[::1]:9000' } })).statusCode).toBe(200);
  });
});

describe('Host parsing', () => {
  it('parseHost takes exactly name[:port] or [IPv6][:port]', () => {
    expect(parseHost('LocalHost:8080')).toEqual({ name: 'localhost', port: '8080' });
    expect(parseHost('[::1]')).toEqual({ name: '[::1]', port: '' });
    expect(parseHost('fw-1.example.org')).toEqual({ name: 'fw-1.example.org', port: '' });
    for (const bad of ['', ':80', 'a b', 'a:b', 'a:65536', 'a:123456', 'a.', '.a', 'a..b', '-a', '[::1', '::1', 'a/b', 'a@b', 'a:80:80']) expect(parseHost(bad), bad).toBeNull();
  });

  it('isLoopbackName knows 127.0.0.0/8 dotted quads, [::1] and localhost, nothing that merely starts like them', () => {
    for (const n of ['127.0.0.1', '127.255.255.254', '[::1]', 'localhost']) expect(isLoopbackName(n), n).toBe(true);
    for (const n of ['127.0.0.1.evil.example', '127.evil.example', '127.1', '127.0.0.01', '128.0.0.1', 'localhost.example', '[::2]', '0x7f.0.0.1']) expect(isLoopbackName(n), n).toBe(false);
  });

  it('shownPath percent-encodes markup and cuts long paths', () => {
    expect(shownPath('/a/<script>"&\'')).toBe('/a/%3Cscript%3E%22%26%27');
    expect(shownPath('/é')).toBe('/%C3%A9');
    expect(shownPath(`/${'x'.repeat(500)}`).length).toBeLessThanOrEqual(202);
  });
});

describe('hostile requests', () => {
  it('answers a query number too large for a double with 400 bad_request naming the parameter, and logs nothing', async () => {
    const config = webConfig();
    const d = { ...deps(config), logger: memoryLogger('debug') };
    app = await buildApp(d, hub(config));
    for (const url of [`/api/sources?limit=${'9'.repeat(5000)}`, '/api/sources?limit=1e400', '/api/campaigns?limit=-1e400', '/api/fingerprints?limit=1e309']) {
      const res = await app.inject(url);
      expect(res.statusCode, url.slice(0, 40)).toBe(400);
      expect(res.json(), url.slice(0, 40)).toMatchObject({ statusCode: 400, code: 'bad_request', message: 'querystring/limit must be a finite number from 1 to 1000' });
    }
    expect(d.logger.lines).toEqual([]);
  });

  it('answers a URL that is not valid percent-encoding with 400, the security headers, and no echo of it', async () => {
    const a = await make();
    const res = await a.inject('/%zz<b>');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-security-policy']).toBe(CSP);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'bad_request' });
    expect(res.body).not.toContain('%zz');
    expect(res.body).not.toContain('<b>');
  });

  it('shows the path of an unknown route percent-encoded', async () => {
    const a = await make();
    const res = await a.inject('/nope/<img>');
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toBe('no route GET /nope/%3Cimg%3E');
  });
});
