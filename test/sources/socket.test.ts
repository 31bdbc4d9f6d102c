import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { lstat, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SocketSource, type SocketSourceOptions } from '../../src/sources/socket.js';
import { NONE } from '../../src/pipeline/types.js';
import type { SocketSourceConfig } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/util/log.js';
import { RecordingReceiver, until } from '../support/recording-receiver.js';

/** A TCP port free right now (tcp_port 0 means "no listener", so the test needs a real one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

let dir: string;
let socketPath: string;
const running: SocketSource[] = [];
const clients: Socket[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nfwatch-socket-'));
  socketPath = join(dir, 'run', 'ulogd.sock');
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(running.splice(0).map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

function makeSource(overrides: Partial<SocketSourceConfig> = {}, options: Partial<SocketSourceOptions> = {}) {
  const logger = memoryLogger();
  const config: SocketSourceConfig = { name: 'ulogd-socket', unix_path: socketPath, tcp_host: '127.0.0.1', tcp_port: 0, max_connections: 16, nfacct: 'deltas', ...overrides };
  const source = new SocketSource(config, { maxLineBytes: 1024, logger, ...options });
  running.push(source);
  return { source, logger, receiver: new RecordingReceiver() };
}

/** Connects like ulogd does; resolves once connected. */
function connect(target: { path: string } | { host: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const client = createConnection(target);
    clients.push(client);
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

function closed(client: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (client.destroyed) resolve();
    else client.once('close', () => resolve());
  });
}

describe('socket source', () => {
  it('is live from the start and has nothing to restore', async () => {
    const { source, receiver } = makeSource();
    expect(source.replayable).toBe(false);
    expect(await source.start(receiver, 4)).toBeUndefined();
    expect(receiver.caughtUpCalls).toEqual([[4, true]]);
  });

  it('takes lines from two unix clients at once without mixing their partial lines', async () => {
    const { source, receiver } = makeSource();
    await source.start(receiver, 2);
    const a = await connect({ path: socketPath });
    const b = await connect({ path: socketPath });
    a.write('{"from":"a",');
    await until(() => source.stats().bytesRead === 12);
    b.write('{"from":"b"}\n');
    await until(() => receiver.lines.length === 1);
    a.write('"n":1}\n{"from":"a","n":2}\n');
    await until(() => receiver.lines.length === 3);
    expect(receiver.lines).toEqual([
      { source: 2, text: '{"from":"b"}', start: NONE, end: NONE },
      { source: 2, text: '{"from":"a","n":1}', start: NONE, end: NONE },
      { source: 2, text: '{"from":"a","n":2}', start: NONE, end: NONE },
    ]);
    expect(source.stats()).toMatchObject({ connections: 2, accepted: 2, linesRead: 3 });
  });

  it('creates the socket directory and makes the socket group-writable only', async () => {
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    const info = await stat(socketPath);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o660);
  });

  it('takes lines from a tcp client', async () => {
    const port = await freePort();
    const { source, receiver } = makeSource({ unix_path: '', tcp_port: port });
    await source.start(receiver, 0);
    const client = await connect({ host: '127.0.0.1', port });
    client.write('one\r\ntwo\n');
    await until(() => receiver.lines.length === 2);
    expect(receiver.texts).toEqual(['one', 'two']);
  });

  it('listens on a unix socket and tcp at the same time', async () => {
    const port = await freePort();
    const { source, receiver } = makeSource({ tcp_port: port });
    await source.start(receiver, 0);
    (await connect({ path: socketPath })).write('unix\n');
    (await connect({ host: '127.0.0.1', port })).write('tcp\n');
    await until(() => receiver.lines.length === 2);
    expect(receiver.texts.sort()).toEqual(['tcp', 'unix']);
  });

  it('closes connections beyond max_connections at once and counts them', async () => {
    const { source, receiver, logger } = makeSource({ max_connections: 1 });
    await source.start(receiver, 0);
    const first = await connect({ path: socketPath });
    await until(() => source.stats().connections === 1);
    const second = await connect({ path: socketPath });
    await closed(second);
    const third = await connect({ path: socketPath });
    await closed(third);
    expect(source.stats()).toMatchObject({ connections: 1, accepted: 1, refused: 2 });
    expect(logger.lines.filter((l) => l.includes('refusing'))).toHaveLength(1);
    first.write('still served\n');
    await until(() => receiver.lines.length === 1);

    // Once the first one goes, a new connection is accepted.
    first.destroy();
    await until(() => source.stats().connections === 0);
    (await connect({ path: socketPath })).write('next\n');
    await until(() => receiver.lines.length === 2);
    expect(source.stats()).toMatchObject({ accepted: 2, refused: 2 });
  });

  it('drops and counts a partial line left when a client disconnects', async () => {
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    const client = await connect({ path: socketPath });
    client.end('complete\n{"cut":');
    await until(() => source.stats().connections === 0);
    expect(receiver.texts).toEqual(['complete']);
    expect(source.stats()).toMatchObject({ partialLinesDropped: 1, linesRead: 1, bytesRead: 16 });
  });

  it('skips an oversize line and keeps the connection', async () => {
    const { source, receiver } = makeSource({}, { maxLineBytes: 256 });
    await source.start(receiver, 0);
    const client = await connect({ path: socketPath });
    client.write(`ok1\n${'x'.repeat(10_000)}\nok2\n`);
    await until(() => receiver.lines.length === 2);
    expect(receiver.texts).toEqual(['ok1', 'ok2']);
    expect(receiver.oversizedLines).toEqual([10_000]);
  });

  it('replaces a stale socket file left by a process that died', async () => {
    await mkdir(join(dir, 'run'));
    // A killed process leaves its socket file behind (a clean close would remove it).
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.stdout.write('up'))`]);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect((await lstat(socketPath)).isSocket()).toBe(true);

    const { source, receiver, logger } = makeSource();
    await source.start(receiver, 0);
    (await connect({ path: socketPath })).write('after\n');
    await until(() => receiver.lines.length === 1);
    expect(logger.lines.some((l) => l.includes('stale'))).toBe(true);
  });

  it('refuses to start when something is listening on the unix socket', async () => {
    const first = makeSource();
    await first.source.start(first.receiver, 0);
    const second = makeSource();
    await expect(second.source.start(second.receiver, 1)).rejects.toThrow(/already listening/);
    // The first listener is untouched.
    (await connect({ path: socketPath })).write('x\n');
    await until(() => first.receiver.lines.length === 1);
  });

  it('refuses to replace a file that is not a socket', async () => {
    await mkdir(join(dir, 'run'));
    await writeFile(socketPath, 'precious');
    const { source, receiver } = makeSource();
    await expect(source.start(receiver, 0)).rejects.toThrow(/not a socket/);
  });

  it('refuses a configuration without any listener', async () => {
    const { source, receiver } = makeSource({ unix_path: '', tcp_port: 0 });
    await expect(source.start(receiver, 0)).rejects.toThrow(/neither unix_path nor tcp_port/);
  });

  it('stop() closes clients, stops listening and removes the socket file', async () => {
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    const client = await connect({ path: socketPath });
    await until(() => source.stats().connections === 1);
    await source.stop();
    await closed(client);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(connect({ path: socketPath })).rejects.toBeDefined();
    expect(source.stats().connections).toBe(0);
  });
});
