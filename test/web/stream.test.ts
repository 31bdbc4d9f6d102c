// The live stream against a real server on 127.0.0.1 (port 0) with real `ws` clients.
import type { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_SYN } from '../../src/pipeline/types.js';
import { BATCH_CAP } from '../../src/web/stream.js';
import { Client, packet, serve, sleep, type Running } from './helpers.js';
import type { Config } from '../../src/config/schema.js';

let running: Running | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await running?.close();
  running = undefined;
});

async function start(overrides: Partial<Config['web']> = {}): Promise<Running> {
  running = await serve(overrides);
  return running;
}
async function connect(url: string, options = {}): Promise<Client> {
  const c = await Client.connect(url, options);
  clients.push(c);
  return c;
}

describe('connecting', () => {
  it('greets with hello: version, the per-client event rate, the filter in force', async () => {
    const r = await start({ client_events_per_second: 150 });
    const c = await connect(r.stream);
    expect(c.of('hello')[0]).toEqual({ type: 'hello', version: '0.1.0', eventsPerSecond: 150, filter: {} });
    expect(r.hub.clientCount).toBe(1);
  });

  it('answers a ping message with pong', async () => {
    const r = await start();
    const c = await connect(r.stream);
    c.send({ type: 'ping' });
    await c.next('pong');
  });

  it('refuses a foreign Origin with 403 before the upgrade; accepts its own and allowed_origins', async () => {
    const r = await start({ allowed_origins: ['https://dash.example:8443'] });
    const refused = await Client.refusal(r.stream, { origin: 'http://evil.example' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'forbidden_origin' });
    await connect(r.stream, { origin: r.server.url });
    await connect(r.stream, { origin: 'https://dash.example:8443' });
    await connect(r.stream); // no Origin: not a browser
  });

  it('refuses a missing or wrong token with 401; takes ?token=, Bearer and the page cookie', async () => {
    const r = await start({ token: 'tok en' });
    expect((await Client.refusal(r.stream)).status).toBe(401);
    expect((await Client.refusal(`${r.stream}?token=nope`)).status).toBe(401);
    expect((await Client.refusal(r.stream, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    await connect(`${r.stream}?token=tok%20en`);
    await connect(r.stream, { headers: { authorization: 'Bearer tok en' } });
    await connect(r.stream, { headers: { cookie: 'nfwatch_token=tok%20en' } });
  });

  it('refuses clients beyond max_clients with 503', async () => {
    const r = await start({ max_clients: 2 });
    await connect(r.stream);
    const second = await connect(r.stream);
    const refused = await Client.refusal(r.stream);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'too_many_clients' });
    second.close();
    await sleep(100);
    await connect(r.stream); // room again
  });

  it('refuses upgrades elsewhere than /stream with 404', async () => {
    const r = await start();
    expect((await Client.refusal(r.stream.replace('/stream', '/api/summary'))).status).toBe(404);
  });

  it('closes with 1009 a client whose message is over max_message_bytes', async () => {
    const r = await start({ max_message_bytes: 64 });
    const c = await connect(r.stream);
    c.send({ type: 'subscribe', filter: { tool: 'x'.repeat(100) } });
    expect((await c.closed).code).toBe(1009);
  });

  it('terminates a client that does not answer protocol pings; keeps one that does', async () => {
    const r = await start({ heartbeat_seconds: 1 });
    const deaf = await connect(r.stream, { autoPong: false });
    const fine = await connect(r.stream);
    const { code } = await deaf.closed;
    expect(code).toBe(1006); // terminated: no close frame
    expect(fine.closeCode).toBeUndefined();
    await sleep(1200);
    expect(fine.closeCode).toBeUndefined();
    expect(r.hub.clientCount).toBe(1);
  });

  it('says goodbye with 1001 when the server closes', async () => {
    const r = await start();
    const c = await connect(r.stream);
    await r.close();
    running = undefined;
    expect((await c.closed).code).toBe(1001);
  });
});

describe('subscriptions', () => {
  it('sends only matching events, batched, as documented Events', async () => {
    const r = await start();
    const c = await connect(r.stream);
    const hello = await c.subscribe({ verdict: 'blocked', port: 22 });
    expect(hello).toEqual({ type: 'hello', version: '0.1.0', eventsPerSecond: 200, filter: { verdict: 'blocked', port: 22 } });
    r.hub.publish(packet({ verdict: 'blocked', dport: 22, src: '192.0.2.1' }));
    r.hub.publish(packet({ verdict: 'allowed', dport: 22, src: '192.0.2.2' }));
    r.hub.publish(packet({ verdict: 'blocked', dport: 23, src: '192.0.2.3' }));
    r.hub.publish(packet({ verdict: 'blocked', dport: 22, src: '192.0.2.4' }));
    await c.until(() => c.events().length >= 2);
    await sleep(150);
    expect(c.events().map((e) => e.src)).toEqual(['192.0.2.1', '192.0.2.4']);
    expect(c.of('events')).toHaveLength(1); // one batch
    expect(c.events()[0]).toMatchObject({ source: 'ulogd', verdict: 'blocked', protocol: 'tcp', dport: 22, flags: 'S', fingerprint: 'ittl=64,win=64240,olen=20,df=1' });
  });

  it('filters by each field, by IPv4 and IPv6 CIDR, and synOnly', async () => {
    const r = await start();
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ protocol: 'udp' }, ['udp']],
      [{ protocol: 1 }, ['icmp']],
      [{ src: '203.0.113.0/24' }, ['v4-in']],
      [{ src: '2001:db8::/32' }, ['v6-in']],
      [{ synOnly: true }, ['v4-in', 'v4-out', 'v6-in', 'v6-out', 'cn-nmap']],
      [{ country: 'CN', tool: 'nmap-syn' }, ['cn-nmap']],
      [{ fingerprint: 'ittl=64,win=1024,olen=4,df=0' }, ['cn-nmap']],
      [{ verdict: 'allowed', synOnly: true }, ['v4-out']],
    ];
    const subs = await Promise.all(cases.map(() => connect(r.stream)));
    await Promise.all(cases.map(([f], i) => subs[i]!.subscribe(f)));
    const tagged = (tag: string, spec: Parameters<typeof packet>[0]) => {
      const e = packet(spec);
      e.prefix = tag;
      return e;
    };
    const events = [
      tagged('udp', { protocol: 17, src: '198.51.100.1' }),
      tagged('icmp', { protocol: 1, src: '198.51.100.2' }),
      tagged('v4-in', { src: '203.0.113.9' }),
      tagged('v4-out', { src: '203.0.114.9', verdict: 'allowed' }),
      tagged('v6-in', { src: '2001:db8:1::9' }),
      tagged('v6-out', { src: '2001:db9::9' }),
      tagged('synack', { src: '198.51.100.3', flags: TCP_SYN | TCP_ACK }),
      tagged('cn-nmap', { src: '198.51.100.4', country: 'CN', tool: 'nmap-syn', ttl: 40, window: 1024, olen: 4, df: 0 }),
    ];
    for (const e of events) r.hub.publish(e);
    await sleep(300);
    cases.forEach(([filter, want], i) => expect(subs[i]!.events().map((e) => e.prefix), JSON.stringify(filter)).toEqual(want));
  });

  it('answers a bad filter with an error frame and keeps the previous filter', async () => {
    const r = await start();
    const c = await connect(r.stream);
    await c.subscribe({ port: 22 });
    expect(await c.subscribe({ port: 70000 })).toEqual({ type: 'error', message: 'bad filter: port must be an integer from 0 to 65535' });
    expect((await c.subscribe({ port: 22, evil: '1' })).message).toBe('bad filter: unknown filter field "evil"');
    c.send('not json');
    await c.next('error');
    r.hub.publish(packet({ dport: 23 }));
    r.hub.publish(packet({ dport: 22 }));
    await c.until(() => c.events().length === 1);
    expect(c.events()[0]!.dport).toBe(22);
  });

  it('serves clients with the same filter from one shared group', async () => {
    const r = await start();
    const a = await connect(r.stream);
    const b = await connect(r.stream);
    await a.subscribe({ protocol: 'tcp' });
    await b.subscribe({ protocol: 6 });
    expect(r.hub.stats().groups).toBe(1);
    r.hub.publish(packet());
    await a.until(() => a.events().length === 1);
    await b.until(() => b.events().length === 1);
  });
});

describe('rate limiting', () => {
  it('sends at most client_events_per_second and a rate frame that aggregates everything that matched', async () => {
    const r = await start({ client_events_per_second: 200 });
    const c = await connect(r.stream);
    for (let i = 0; i < 2000; i++) r.hub.publish(packet({ src: i < 1500 ? '203.0.113.9' : `198.51.100.${i % 200}`, dport: i % 4 === 0 ? 23 : 22, verdict: i < 10 ? 'allowed' : 'blocked' }));
    const rate = await c.next('rate', 3000);
    expect(rate).toMatchObject({ matched: 2000, sent: 200, sampled: true, byVerdict: { allowed: 10, blocked: 1990, unknown: 0 } });
    expect(rate.second).toBeTypeOf('number');
    expect(rate.topPorts).toEqual([[22, 1500], [23, 500]]);
    expect((rate.topSources as Array<[string, number]>)[0]).toEqual(['203.0.113.9', 1500]);
    expect((rate.topSources as unknown[]).length).toBeLessThanOrEqual(10);
    expect(rate.topFingerprints).toEqual([['ittl=64,win=64240,olen=20,df=1', 2000]]);
    expect(c.events().length).toBe(200);
  });

  it('samples evenly across a second that follows a busy one', async () => {
    const r = await start({ client_events_per_second: 100 });
    const c = await connect(r.stream);
    for (let i = 0; i < 1000; i++) r.hub.publish(packet({ dport: 1 }));
    await c.next('rate', 3000);
    const before = c.events().length;
    // The next second: the sampler now sends about every 10th event instead of the first 100.
    for (let i = 0; i < 1000; i++) r.hub.publish(packet({ dport: 1, sport: i }));
    const rate = await c.next('rate', 3000);
    await sleep(150);
    const ports = c.events().slice(before).map((e) => e.sport as number);
    expect(rate).toMatchObject({ matched: 1000, sampled: true });
    expect(ports.length).toBeLessThanOrEqual(100);
    expect(ports.length).toBeGreaterThan(90);
    expect(Math.max(...ports)).toBeGreaterThan(900);
  });

  it('sends no rate frame for a second under the limit', async () => {
    const r = await start({ client_events_per_second: 200 });
    const c = await connect(r.stream);
    for (let i = 0; i < 150; i++) r.hub.publish(packet());
    await c.next('stats', 3000);
    await c.next('stats', 3000);
    expect(c.of('rate')).toHaveLength(0);
    expect(c.events()).toHaveLength(150);
  });

  it('sends stats frames every second with live counters since start', async () => {
    const r = await start();
    r.hub.publish(packet({ verdict: 'allowed' })); // counted even with nobody listening
    const c = await connect(r.stream);
    r.hub.publish(packet({ verdict: 'blocked' }));
    r.hub.publish(packet({ verdict: 'blocked' }));
    const stats = await c.next('stats', 3000);
    expect(stats).toMatchObject({ type: 'stats', events: { allowed: 1, blocked: 2, unknown: 0 } });
    expect(Date.parse(stats.time as string)).toBeGreaterThan(Date.now() - 5000);
    expect(stats.eventsPerSecond).toBeTypeOf('number');
  });
});

describe('slow clients', () => {
  it('cuts a client that stops reading with 4008, and holds a bounded amount for it meanwhile', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const limit = 16_384; // one batch (up to BATCH_CAP) takes it from under the limit to past twice it
    const r = await start({ slow_client_bytes: limit, client_events_per_second: 100_000, heartbeat_seconds: 3600 });
    const c = await connect(r.stream);
    const socket = (c.ws as unknown as { _socket: Socket })._socket;
    socket.pause(); // stops reading: the kernel buffers fill, then the server's
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let maxPending = 0;
    let published = 0;
    const deadline = Date.now() + 20_000;
    while (r.hub.clientCount > 0 && Date.now() < deadline) {
      for (let i = 0; i < 2000; i++) r.hub.publish(packet({ src: `203.0.113.${i % 250}`, dport: i % 1024 }));
      published += 2000;
      const { pendingBytes, pendingLimit } = r.hub.stats();
      expect(pendingBytes).toBeLessThanOrEqual(pendingLimit);
      maxPending = Math.max(maxPending, pendingBytes);
      await sleep(5);
    }
    expect(r.hub.clientCount).toBe(0);
    expect(r.hub.stats().slowClosed).toBe(1);
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    expect(maxPending).toBeLessThanOrEqual(r.hub.batchCap);
    expect(growth).toBeLessThan(4 * 1024 * 1024);
    socket.resume(); // reads what was queued, then the close frame
    const { code, reason } = await c.closed;
    expect(code).toBe(4008);
    expect(reason).toMatch(/^slow client: \d+ bytes unsent$/);
    const unsent = Number(/\d+/.exec(reason)![0]);
    expect(unsent).toBeGreaterThan(2 * limit);
    expect(unsent).toBeLessThanOrEqual(2 * limit + BATCH_CAP + 4096); // all it was ever given
    console.log(`slow client: cut after ${published} events published; max pending ${maxPending} B; heap growth ${(growth / 1024).toFixed(0)} KiB`);
  });

  it('gives a client past slow_client_bytes a notice and summaries only; closes it with 4008 if still behind at the heartbeat', async () => {
    // Batches are capped at BATCH_CAP = half the limit here, so events alone take it past the
    // limit but not past twice it: it becomes slow, and the heartbeat finds it still behind.
    const limit = 2 * BATCH_CAP;
    const r = await start({ slow_client_bytes: limit, client_events_per_second: 100_000, heartbeat_seconds: 2 });
    const c = await connect(r.stream);
    const socket = (c.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const deadline = Date.now() + 25_000;
    while (r.hub.clientCount > 0 && Date.now() < deadline) {
      for (let i = 0; i < 2000; i++) r.hub.publish(packet({ dport: 22 }));
      await sleep(5);
    }
    expect(r.hub.clientCount).toBe(0);
    socket.resume();
    const { code, reason } = await c.closed;
    expect(code).toBe(4008);
    expect(reason).toMatch(/^slow client: \d+ bytes unsent$/);
    const notice = c.of('notice')[0];
    expect(notice).toMatchObject({ type: 'notice', level: 'warn', code: 'slow_client' });
    expect(notice!.message).toMatch(/bytes unsent/);
    // After the notice: summaries only.
    const after = c.frames.slice(c.frames.indexOf(notice!) + 1).map((f) => f.type);
    expect(after.filter((t) => t !== 'rate' && t !== 'stats')).toEqual([]);
  }, 40_000);
});
