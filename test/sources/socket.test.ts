import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { lstat, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evictionCandidate, parseMode, resolveGroup, SocketSource, type SocketSourceOptions } from '../../src/sources/socket.js';
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
  const config: SocketSourceConfig = {
    name: 'ulogd-socket',
    unix_path: socketPath,
    tcp_host: '127.0.0.1',
    tcp_port: 0,
    max_connections: 16,
    unix_max_connections: 8,
    unix_mode: '0660',
    unix_group: '',
    nfacct: 'deltas',
    ...overrides,
  };
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

describe('socket source helpers', () => {
  it('reads octal socket modes', () => {
    expect(parseMode('0660')).toBe(0o660);
    expect(parseMode('600')).toBe(0o600);
    expect(() => parseMode('0668')).toThrow(/octal/);
    expect(() => parseMode('rw-rw----')).toThrow(/octal/);
  });

  it('resolves a group by name from the group file, or takes a number as it is', async () => {
    const groups = join(dir, 'group');
    await writeFile(groups, 'root:x:0:\nulog:x:123:ulog\nadm:x:4:syslog\n');
    expect(await resolveGroup('ulog', groups)).toBe(123);
    expect(await resolveGroup('4242', groups)).toBe(4242);
    expect(await resolveGroup('nobody-here', groups)).toBeUndefined();
    expect(await resolveGroup('ulog', join(dir, 'missing'))).toBeUndefined();
  });

  it('evicts the oldest connection that has not delivered, never one that has', () => {
    const open = [{ id: 1, lines: 5 }, { id: 2, lines: 0 }, { id: 3, lines: 0 }];
    expect(evictionCandidate(open, (c) => c.lines > 0)?.id).toBe(2);
    expect(evictionCandidate([{ id: 1, lines: 1 }], (c) => c.lines > 0)).toBeUndefined();
  });
});

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

  it('refuses a connection at the limit when every open one has delivered, and logs that once', async () => {
    const { source, receiver, logger } = makeSource({ unix_max_connections: 1 });
    await source.start(receiver, 0);
    const first = await connect({ path: socketPath });
    first.write('delivered\n');
    await until(() => receiver.lines.length === 1);
    const second = await connect({ path: socketPath });
    await closed(second);
    const third = await connect({ path: socketPath });
    await closed(third);
    expect(source.stats()).toMatchObject({ connections: 1, accepted: 1, connectionsRefused: 2, connectionsEvicted: 0 });
    expect(logger.lines.filter((l) => l.includes('refusing unix connections'))).toHaveLength(1);
    first.write('still served\n');
    await until(() => receiver.lines.length === 2);

    // Once the first one goes, a new connection is accepted.
    first.destroy();
    await until(() => source.stats().connections === 0);
    (await connect({ path: socketPath })).write('next\n');
    await until(() => receiver.lines.length === 3);
    expect(source.stats()).toMatchObject({ accepted: 2, connectionsRefused: 2 });
  });

  it('at the limit, evicts the oldest connection that never delivered a complete line instead of refusing the new one', async () => {
    const port = await freePort();
    const { source, receiver, logger } = makeSource({ unix_path: '', tcp_port: port, max_connections: 3 });
    await source.start(receiver, 0);
    const ulogd = await connect({ host: '127.0.0.1', port });
    ulogd.write('from ulogd\n');
    await until(() => receiver.lines.length === 1);
    const idle = await connect({ host: '127.0.0.1', port });
    const half = await connect({ host: '127.0.0.1', port });
    half.write('{"half":');
    await until(() => source.stats().connections === 3 && source.stats().bytesRead === 19);

    const newcomer = await connect({ host: '127.0.0.1', port });
    await closed(idle);
    expect(half.destroyed).toBe(false);
    const another = await connect({ host: '127.0.0.1', port });
    await closed(half);
    expect(source.stats()).toMatchObject({ connections: 3, connectionsEvicted: 2, connectionsRefused: 0, partialLinesDropped: 1 });
    expect(logger.lines.filter((l) => l.includes('evicted a tcp connection'))).toHaveLength(1);

    newcomer.write('newcomer\n');
    another.write('another\n');
    ulogd.write('ulogd again\n');
    await until(() => receiver.lines.length === 4);
    expect(receiver.texts.sort()).toEqual(['another', 'from ulogd', 'newcomer', 'ulogd again']);
  });

  it('gives the unix socket a limit of its own: a full TCP side does not lock ulogd out', async () => {
    const port = await freePort();
    const { source, receiver } = makeSource({ tcp_port: port, max_connections: 2, unix_max_connections: 2 });
    await source.start(receiver, 0);
    const squatters = [];
    for (let i = 0; i < 2; i++) {
      const c = await connect({ host: '127.0.0.1', port });
      c.write('x\n');
      squatters.push(c);
    }
    await until(() => receiver.lines.length === 2);
    const refused = await connect({ host: '127.0.0.1', port });
    await closed(refused);

    const ulogd = await connect({ path: socketPath });
    ulogd.write('ulogd\n');
    await until(() => receiver.lines.length === 3);
    expect(source.stats()).toMatchObject({ unixConnections: 1, tcpConnections: 2, connectionsRefused: 1 });
  });

  it('creates the unix socket with mode 0660, or the configured mode and group', async () => {
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    expect((await stat(socketPath)).mode & 0o7777).toBe(0o660);
    await source.stop();

    const other = makeSource({ unix_mode: '600', unix_group: '65534' });
    await other.source.start(other.receiver, 0);
    const s = await stat(socketPath);
    expect(s.mode & 0o7777).toBe(0o600);
    expect(s.gid).toBe(65534);
  });

  it('refuses to start with a unix_group that does not exist', async () => {
    const { source, receiver } = makeSource({ unix_group: 'no-such-group-nfwatch' });
    await expect(source.start(receiver, 0)).rejects.toThrow(/unix_group "no-such-group-nfwatch" is not a group/);
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
