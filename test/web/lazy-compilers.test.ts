// fastify's schema compilers made lazy (src/web/lazy-compilers.ts): nothing is compiled while the
// server starts, and every request and reply meets exactly what fastify's own compilers give.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { LAZY_COMPILERS } from '../../src/web/lazy-compilers.js';

const QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, ip: { type: 'string', maxLength: 45 } },
} as const;
const BODY = { type: 'object', required: ['address'], additionalProperties: false, properties: { address: { type: 'string' }, seconds: { type: 'number' } } } as const;
/** schemas.ts's NoQuery as TypeBox makes it. */
const NO_QUERY = { additionalProperties: false, type: 'object', properties: {} } as const;
const REPLY = { type: 'object', properties: { limit: { type: 'integer' }, ip: { type: 'string' }, sum: { type: 'number' } } } as const;

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function app(lazy: boolean): FastifyInstance {
  const a = lazy ? Fastify({ logger: false, schemaController: { compilersFactory: LAZY_COMPILERS } }) : Fastify({ logger: false });
  apps.push(a);
  // The reply carries a field its schema does not declare: the serializer leaves it out.
  a.get('/q', { schema: { querystring: QUERY, response: { 200: REPLY } } }, async (req) => ({ ...(req.query as object), secret: 'not declared' }));
  a.post('/b', { schema: { body: BODY, response: { 200: REPLY } } }, async (req) => ({ sum: (req.body as { seconds?: number }).seconds ?? 0, secret: 1 }));
  // What the handler is left of the query, as text.
  a.get('/none', { schema: { querystring: NO_QUERY } }, async (req) => JSON.stringify(req.query));
  return a;
}

describe('lazy schema compilers', () => {
  it('compile nothing while the server starts: a broken schema on a route never asked for does not stop it', async () => {
    const broken = (a: FastifyInstance) => a.get('/never', { schema: { querystring: { type: 'no such type' } } }, async () => 'x');
    const lazy = app(true);
    broken(lazy);
    await expect(lazy.ready()).resolves.toBeDefined();
    expect((await lazy.inject('/q?limit=5')).statusCode).toBe(200);
    const eager = app(false);
    broken(eager);
    await expect(eager.ready()).rejects.toThrow();
  });

  it('answer every request and reply as fastify’s own compilers do (coercion, defaults, limits, unknown keys, bodies, undeclared reply fields)', async () => {
    const requests: Array<{ method: 'GET' | 'POST'; url: string; payload?: Record<string, unknown> }> = [
      { method: 'GET', url: '/q' },
      { method: 'GET', url: '/q?limit=5' },
      { method: 'GET', url: '/q?limit=5&limit=6' },
      { method: 'GET', url: '/q?limit=0' },
      { method: 'GET', url: '/q?limit=x' },
      { method: 'GET', url: '/q?limit=1e2' },
      { method: 'GET', url: '/q?ip=1.2.3.4&other=1' },
      { method: 'GET', url: `/q?ip=${'a'.repeat(46)}` },
      { method: 'POST', url: '/b', payload: { address: '192.0.2.1', seconds: 60 } },
      { method: 'POST', url: '/b', payload: { seconds: 60 } },
      { method: 'POST', url: '/b', payload: { address: 1 } },
      { method: 'POST', url: '/b', payload: { address: 'x', extra: true } },
      { method: 'GET', url: '/none' },
      { method: 'GET', url: '/none?' },
      { method: 'GET', url: '/none?x=1' },
      { method: 'GET', url: '/none?x=1&x=2&y=&__proto__=1&constructor=z' },
    ];
    const [lazy, eager] = [app(true), app(false)];
    for (const r of requests) {
      const [got, want] = await Promise.all([lazy.inject(r), eager.inject(r)]);
      expect({ status: got.statusCode, body: got.body }, `${r.method} ${r.url} ${JSON.stringify(r.payload ?? '')}`).toEqual({ status: want.statusCode, body: want.body });
    }
    // Both kinds of answer were met: taken and refused.
    expect((await lazy.inject('/q?limit=5')).json()).toEqual({ limit: 5 });
    expect((await lazy.inject('/q?limit=x')).statusCode).toBe(400);
    expect((await lazy.inject('/none?x=1')).body).toBe('{}');
  });

  it('check a query that may have no keys without ajv (a route with only such a schema never compiles one)', async () => {
    // fastify's ajv compiler given an option it does not know fails when it first compiles: the
    // route answers all the same.
    const a = Fastify({ logger: false, schemaController: { compilersFactory: LAZY_COMPILERS }, ajv: { plugins: [() => { throw new Error('ajv was loaded'); }] } });
    apps.push(a);
    a.get('/none', { schema: { querystring: NO_QUERY } }, async (req) => JSON.stringify(req.query));
    a.get('/q', { schema: { querystring: QUERY } }, async () => 'x');
    expect((await a.inject('/none?x=1')).body).toBe('{}');
    expect((await a.inject('/q')).statusCode).toBe(500);
  });
});
