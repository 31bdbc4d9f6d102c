// Hostile times and numbers against the real daemon (dist/cli.js): a line dated 2100 or 1e20 must
// be counted and refused, never hold, crash, over-count or block a restart; numbers outside what a
// packet header can hold never reach a metric path; garbage counter names cannot grow series
// without end. Files, unix sockets, the web API and the Graphite listener are all real.
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import {
  followConfig,
  packetLineAt,
  packetLineWith,
  Scope,
  sleep,
  waitFor,
  unixSocketConfig,
  withWeb,
} from './harness.js';

const BLOCKED = 'nfw.events.blocked.count';
const health = (figure: string) => `nfw.nfwatch.${figure}`;
/** 2100-01-01T00:00:00Z. */
const YEAR_2100 = 4_102_444_800;

/** Everything a spec started, stopped after it whatever happened. */
const scope = new Scope();
afterEach(() => scope.close());

/** A line with `oob.time.sec` written as the raw JSON number text `sec` (2^53+1 survives as text). */
function lineWithEpochText(sec: string): string {
  return packetLineAt(Date.now()).replace(/"oob\.time\.sec": ?\d+/, `"oob.time.sec": ${sec}`);
}

/** The saved read positions of the file sources (state_dir/*.json), as parsed JSON. */
function savedStates(dir: string): unknown[] {
  const stateDir = join(dir, 'state');
  return readdirSync(stateDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(stateDir, f), 'utf8')) as unknown);
}

describe('a line dated far in the future', () => {
  it('is counted as future_timestamp on the file source, and every later event still reaches Graphite on time', async () => {
    const g = await scope.listener();
    const dir = scope.temp();
    const file = join(dir, 'ulogd.json');
    writeFileSync(file, '');
    const nfw = await scope.daemon(dir, followConfig(dir, file, g.port));

    appendFileSync(file, `${packetLineAt(Date.now())}\n${packetLineAt(Date.now())}\n`);
    appendFileSync(file, `${packetLineAt(YEAR_2100 * 1000)}\n`);
    for (let k = 0; k < 3; k++) {
      await sleep(1000);
      appendFileSync(file, `${packetLineAt(Date.now())}\n`);
    }
    await waitFor('the 5 good events in Graphite', () => (g.carbonSum(BLOCKED) === 5 ? true : undefined), 10_000);
    await waitFor('future_timestamp counted', () => (g.max(health('decode_errors.future_timestamp')) === 1 ? true : undefined), 10_000);
    expect(g.max(health('late_events'))).toBeLessThanOrEqual(0);
    // Nothing was written with a time beyond the wall clock.
    expect(g.points().filter((p) => p.time > Date.now() / 1000 + 60)).toEqual([]);

    expect(await nfw.stop()).toBe(0);
    // The saved state does not carry 2100 into the next start.
    const states = JSON.stringify(savedStates(dir));
    const flushed = [...states.matchAll(/"flushedUntil":\s*([0-9.e+]+)/g)].map((m) => Number(m[1]));
    expect(flushed.length).toBeGreaterThan(0);
    for (const t of flushed) expect(t).toBeLessThan(Date.now() + 60_000);
  });

  it('is counted as future_timestamp on the unix socket source, and later events still reach Graphite', async () => {
    const g = await scope.listener();
    const dir = scope.temp();
    await scope.daemon(dir, unixSocketConfig(dir, g.port));
    const socket = await scope.connect(join(dir, 'ulogd.sock'));

    socket.write(`${packetLineAt(Date.now())}\n${packetLineAt(YEAR_2100 * 1000)}\n`);
    for (let k = 0; k < 3; k++) {
      await sleep(1000);
      socket.write(`${packetLineAt(Date.now())}\n`);
    }
    await waitFor('the 4 good events in Graphite', () => (g.carbonSum(BLOCKED) === 4 ? true : undefined), 10_000);
    await waitFor('future_timestamp counted', () => (g.max(health('decode_errors.future_timestamp')) === 1 ? true : undefined), 10_000);
  });
});

describe('an epoch out of any range (1e20, 1e308, 2^53+1)', () => {
  it('on the socket source with a stream client connected: refused and counted, the daemon stays up and its API answers', async () => {
    const g = await scope.listener();
    const dir = scope.temp();
    const nfw = await scope.daemon(dir, withWeb(unixSocketConfig(dir, g.port)));
    const url = await waitFor('the web address', () => /scan-watch page at (http:\/\/\S+?)\/?$/m.exec(nfw.log())?.[1]);

    const stream = new WebSocket(`${url.replace(/^http/, 'ws')}/stream`);
    const frames: string[] = [];
    stream.on('message', (data) => frames.push(String(data)));
    stream.on('error', () => undefined);
    scope.defer(() => void stream.terminate());
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });

    const socket = await scope.connect(join(dir, 'ulogd.sock'));
    const good = () => `${packetLineAt(Date.now())}\n`;
    socket.write(good() + good() + good());
    socket.write(['1e20', '1e308', '9007199254740993'].map((s) => `${lineWithEpochText(s)}\n`).join(''));
    socket.write(good() + good() + good());

    await waitFor('6 good events in Graphite', () => (g.carbonSum(BLOCKED) === 6 ? true : undefined), 10_000);
    expect(nfw.process.exitCode).toBeNull();
    const summary = await fetch(`${url}/api/summary`);
    expect(summary.status).toBe(200);
    const body = (await summary.json()) as { health: { decodeErrors: Record<string, number> } };
    expect(body.health.decodeErrors['out_of_range']).toBe(3);
    expect((await fetch(`${url}/api/sources`)).status).toBe(200);
    // The stream carried the good events and nothing else.
    await waitFor('events on the stream', () => (frames.some((f) => f.includes('"type":"events"')) ? true : undefined), 5_000);
    expect(frames.join('\n')).not.toMatch(/1e\+?2[0-9]|Invalid Date/);
  });

  it('on the file source: counted once (no re-read of the chunk), saved state stays sane, and every restart works', async () => {
    const g = await scope.listener();
    const dir = scope.temp();
    const file = join(dir, 'ulogd.json');
    writeFileSync(file, '');
    const nfw = await scope.daemon(dir, followConfig(dir, file, g.port));

    const good = () => `${packetLineAt(Date.now())}\n`;
    appendFileSync(file, good() + good() + good());
    appendFileSync(file, ['1e20', '1e308', '9007199254740993'].map((s) => `${lineWithEpochText(s)}\n`).join(''));
    await waitFor('3 good events in Graphite', () => (g.carbonSum(BLOCKED) === 3 ? true : undefined), 10_000);
    await waitFor('3 out_of_range counted', () => (g.max(health('decode_errors.out_of_range')) === 3 ? true : undefined), 10_000);
    await sleep(2000); // a dozen more polls: nothing is read twice
    expect(g.carbonSum(BLOCKED)).toBe(3);
    expect(g.max(health('lines'))).toBe(6);

    expect(await nfw.stop()).toBe(0);
    expect(JSON.stringify(savedStates(dir))).not.toMatch(/e\+|null/);
    for (let i = 0; i < 2; i++) {
      await nfw.restart();
      appendFileSync(file, good());
      await waitFor(`event ${4 + i} in Graphite`, () => (g.carbonSum(BLOCKED) === 4 + i ? true : undefined), 10_000);
      expect(await nfw.stop()).toBe(0);
    }
  });
});

describe('numbers and names that would explode the metric tree', () => {
  it('never writes a path from an out-of-range protocol or port, and folds new counter names into _other after the budget, over time', async () => {
    const g = await scope.listener();
    const dir = scope.temp();
    const file = join(dir, 'ulogd.json');
    writeFileSync(file, '');
    await scope.daemon(dir, followConfig(dir, file, g.port).replace('grace_seconds = 0.5', 'grace_seconds = 0.5\nmax_counter_names = 50'));

    const now = Date.now();
    const hostile = [
      packetLineWith(now, { 'ip.protocol': 5000 }),
      packetLineWith(now, { 'ip.protocol': 1e308 }),
      packetLineWith(now, { dest_port: 1e308 }),
      packetLineWith(now, { dest_port: -1 }),
      packetLineWith(now, { 'tcp.window': 1e20 }),
    ];
    appendFileSync(file, `${hostile.join('\n')}\n${packetLineAt(now)}\n`);
    // Two seconds of 200 new counter names each, plus one real counter every second.
    const nfacct = (name: string, t: number) =>
      JSON.stringify({ timestamp: new Date(t).toISOString().slice(0, 19), dvc: 'Netfilter', 'sum.name': name, 'sum.pkts': 1, 'sum.bytes': 60, 'oob.time.sec': Math.floor(t / 1000), 'oob.time.usec': 0 });
    for (let k = 0; k < 2; k++) {
      const t = Date.now();
      const names = ['ipv4.ssh', ...Array.from({ length: 200 }, (_, i) => `junk.${k}.${i}`)];
      appendFileSync(file, `${names.map((n) => nfacct(n, t)).join('\n')}\n`);
      await sleep(1100);
    }

    await waitFor('all counter packets in Graphite', () => (g.carbonSum(/^nfw\.nfacct\..*\.pkts$/) === 402 ? true : undefined), 10_000);
    await waitFor('the hostile lines counted', () => (g.max(health('decode_errors.out_of_range')) === 5 ? true : undefined), 10_000);
    const paths = new Set(g.points().map((p) => p.path));
    const counterPaths = [...paths].filter((p) => /^nfw\.nfacct\..*\.pkts$/.test(p));
    expect(counterPaths.length).toBe(50 + 1); // the budget, plus _other
    expect(paths.has('nfw.nfacct.ipv4.ssh.pkts')).toBe(true);
    // _other is written as 'other' (path components lose leading underscores).
    expect(g.carbonSum(/^nfw\.nfacct\.other\.pkts$/)).toBe(402 - 50 - 1);
    expect([...paths].filter((p) => /e\+|e-\d|NaN|Infinity|p5000|\.-1\b/.test(p))).toEqual([]);
    expect(g.carbonSum(BLOCKED)).toBe(1);
  });
});

describe('malformed values are reported as what they are', () => {
  it('says "JSON null" for null, and refuses 30 February and a +99:99 offset as bad timestamps', async () => {
    const g = await scope.listener();
    const dir = scope.temp();
    const file = join(dir, 'ulogd.json');
    writeFileSync(file, '');
    const nfw = await scope.daemon(dir, followConfig(dir, file, g.port));
    const base = JSON.parse(packetLineAt(Date.now())) as Record<string, unknown>;
    delete base['oob.time.sec'];
    delete base['oob.time.usec'];
    appendFileSync(
      file,
      ['null', JSON.stringify({ ...base, timestamp: '2026-02-30T10:00:00' }), JSON.stringify({ ...base, timestamp: '2026-11-24T10:00:00+99:99' }), packetLineAt(Date.now())].join('\n') + '\n',
    );
    await waitFor('the good event', () => (g.carbonSum(BLOCKED) === 1 ? true : undefined), 10_000);
    await waitFor('2 bad timestamps counted', () => (g.max(health('decode_errors.bad_timestamp')) === 2 ? true : undefined), 10_000);
    expect(nfw.log()).toContain('JSON null, not an object');
  });
});
