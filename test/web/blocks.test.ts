// /api/blocks: reading the block set like the rest of the API, changing it only with the token in
// an Authorization header, never without a token configured.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Allowlist } from '../../src/respond/allowlist.js';
import type { BlockEntry, NftBlockSet } from '../../src/respond/nft-set.js';
import { Responder } from '../../src/respond/responder.js';
import { memoryLogger } from '../../src/util/log.js';
import { buildApp } from '../../src/web/app.js';
import { deps, hub, webConfig } from './helpers.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A stand-in for the kernel set (test/respond/nft-set.test.ts has the real one). */
class MemorySet {
  readonly entries = new Map<string, number>();
  setFor(target: string): string {
    return target.includes(':') ? 'b6' : 'b4';
  }
  async add(target: string, seconds: number): Promise<void> {
    this.entries.set(target, seconds);
  }
  async remove(target: string): Promise<boolean> {
    return this.entries.delete(target);
  }
  async list(): Promise<BlockEntry[]> {
    return [...this.entries].map(([target, seconds]) => ({ target, expiresSeconds: seconds, comment: 'nfwatch by the API' }));
  }
}

async function make(token: string, responder = true): Promise<{ app: FastifyInstance; set: MemorySet }> {
  const config = webConfig({ token, host: '127.0.0.1' });
  const set = new MemorySet();
  const r = responder
    ? new Responder({ dryRun: false, minSeverity: 4, blockMs: 3_600_000, maxEntries: 100 }, new Allowlist({ allow: ['45.33.32.0/24'], blockPrivate: false, ownAddresses: [] }), set as unknown as NftBlockSet, memoryLogger())
    : null;
  app = await buildApp({ ...deps(config), responder: r, blockSeconds: 900 }, hub(config), { token });
  return { app, set };
}

const json = { 'content-type': 'application/json' };

describe('/api/blocks', () => {
  it('blocks and unblocks with the token in an Authorization header, and lists the set', async () => {
    const { app: a, set } = await make('s3cret');
    const auth = { ...json, authorization: 'Bearer s3cret' };
    const added = await a.inject({ method: 'POST', url: '/api/blocks', headers: auth, payload: { address: '80.82.77.33' } });
    expect(added.statusCode).toBe(200);
    expect(added.json()).toEqual({ target: '80.82.77.33', done: true, message: 'blocked for 900 s' });
    expect((await a.inject({ method: 'POST', url: '/api/blocks', headers: auth, payload: { address: '2a00:1450:4001:2::9/64', seconds: 60 } })).json().target).toBe('2a00:1450:4001:2::/64');
    const listed = await a.inject({ url: '/api/blocks', headers: { authorization: 'Bearer s3cret' } });
    expect(listed.json()).toMatchObject({ enabled: true, dryRun: false, error: '', stats: { blocked: 2, active: 2 } });
    expect(listed.json().blocks.map((b: BlockEntry) => b.target)).toEqual(['80.82.77.33', '2a00:1450:4001:2::/64']);
    const removed = await a.inject({ method: 'DELETE', url: `/api/blocks?address=${encodeURIComponent('2a00:1450:4001:2::/64')}`, headers: { authorization: 'Bearer s3cret' } });
    expect(removed.json()).toEqual({ target: '2a00:1450:4001:2::/64', done: true, message: 'unblocked' });
    expect([...set.entries.keys()]).toEqual(['80.82.77.33']);
  });

  it('refuses a change without the header token (a cookie is not enough), an IPv4 network, an allowlisted address unless forced', async () => {
    const { app: a, set } = await make('s3cret');
    const noHeader = await a.inject({ method: 'POST', url: '/api/blocks', headers: { ...json, cookie: 'nfwatch_token=s3cret' }, payload: { address: '80.82.77.33' } });
    expect(noHeader.statusCode).toBe(401);
    expect(noHeader.json().message).toMatch(/Authorization: Bearer/);
    const auth = { ...json, authorization: 'Bearer s3cret' };
    const bad = await a.inject({ method: 'POST', url: '/api/blocks', headers: auth, payload: { address: '203.0.113.0/24' } });
    expect(bad.statusCode).toBe(400);
    const allowed = await a.inject({ method: 'POST', url: '/api/blocks', headers: auth, payload: { address: '45.33.32.156' } });
    expect(allowed.statusCode).toBe(409);
    expect(allowed.json().message).toMatch(/in response.allow/);
    expect(set.entries.size).toBe(0);
    expect((await a.inject({ method: 'POST', url: '/api/blocks', headers: auth, payload: { address: '45.33.32.156', force: true } })).statusCode).toBe(200);
  });

  it('never changes the set when no token is configured, and says blocking is off when it is', async () => {
    const { app: a } = await make('');
    const res = await a.inject({ method: 'POST', url: '/api/blocks', headers: json, payload: { address: '80.82.77.33' } });
    expect(res.statusCode).toBe(403);
    expect(res.json().message).toMatch(/needs web.token/);
    expect((await a.inject('/api/blocks')).json()).toMatchObject({ enabled: true, blocks: [] });
    await app!.close();
    const { app: off } = await make('t', false);
    expect((await off.inject({ url: '/api/blocks', headers: { authorization: 'Bearer t' } })).json()).toMatchObject({ enabled: false, blocks: [] });
    expect((await off.inject({ method: 'POST', url: '/api/blocks', headers: { ...json, authorization: 'Bearer t' }, payload: { address: '80.82.77.33' } })).statusCode).toBe(409);
  });
});
