// Listens for ulogd's JSON plugin in mode="unix"/"tcp". ulogd is the client: it connects, streams
// lines, and after a disconnect reconnects on its next event without buffering anything, so
// nothing here is replayable and positions are NONE.
//
// Who else can connect must not be able to lock ulogd out: the unix socket is created with
// restrictive permissions and has a connection limit of its own, and at a limit a new connection
// takes the place of one that never delivered a complete line (a squatter) instead of being
// refused. A connection that delivered is never closed by nfwatch: ulogd's may be quiet for hours.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SocketSourceConfig } from '../config/schema.js';
import { NONE, type Checkpoint, type LineReceiver, type LineSource } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { readIntoBuffer } from './buffered-connection.js';
import { LineSplitter } from './lines.js';
import { errorCode, errorText } from '../util/errors.js';

export interface SocketSourceOptions {
  maxLineBytes: number;
  logger: Logger;
}

type Transport = 'unix' | 'tcp';

interface Connection {
  socket: Socket;
  splitter: LineSplitter;
  transport: Transport;
}

/**
 * Bytes each connection reads into at most at a time: its own buffer, reused read after read, made
 * when it is accepted (none where it is read through 'data'; see readIntoBuffer). Node's own reads
 * are of 64 KiB: no connection holds more than before, however many a client opens up to the limits.
 */
const READ_BYTES = 64 * 1024;

/** Refusals and evictions are logged at most this often (a hostile client may cause thousands). */
const WARN_EVERY_MS = 60_000;

/** The mode of a unix socket from its configured octal text ("0660", "660"). */
export function parseMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new Error(`"${text}" is not an octal file mode such as "0660"`);
  return parseInt(text, 8);
}

/** A group name or number as a gid, from /etc/group for names; undefined when there is no such group. */
export async function resolveGroup(group: string, groupFile = '/etc/group'): Promise<number | undefined> {
  if (/^\d+$/.test(group)) return Number(group);
  let text: string;
  try {
    text = await readFile(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/**
 * The connection to close so a new one can be accepted at a limit: the oldest of `open` that has
 * not delivered a complete line, or undefined (then the new one is refused).
 */
export function evictionCandidate<T>(open: Iterable<T>, delivered: (connection: T) => boolean): T | undefined {
  for (const connection of open) if (!delivered(connection)) return connection;
  return undefined;
}

/** Runs `bind` with the process umask set to `mask` (sockets are created through it), restoring it after. */
function withUmask<T>(mask: number, bind: () => T): T {
  let previous: number | undefined;
  try {
    previous = process.umask(mask);
  } catch {
    // Not allowed here (worker threads): the chmod right after listening still applies.
  }
  try {
    return bind();
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}

/** Whether something accepts connections on a unix socket path (false: stale file). */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error) => {
      probe.destroy();
      const code = errorCode(error);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else reject(error);
    });
  });
}

function listen(server: Server, target: { path: string } | { host: string; port: number }, umask?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    const start = () =>
      server.listen(target, () => {
        server.off('error', onError);
        resolve();
      });
    // The socket file is bound synchronously inside listen(): under the umask it never exists with
    // wider permissions than the owner's, not even for the moment before chmod.
    if (umask === undefined) start();
    else withUmask(umask, start);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export class SocketSource implements LineSource {
  readonly kind = 'socket';
  readonly replayable = false;
  readonly name: string;

  private readonly logger: Logger;
  private readonly servers: Server[] = [];
  /** Open connections, oldest first (a Set keeps insertion order). */
  private readonly connections = new Set<Connection>();
  private receiver: LineReceiver | undefined;
  private index = 0;
  private unixPathCreated = false;
  private stopping = false;
  private readonly warned = { refused: { at: 0, count: 0 }, evicted: { at: 0, count: 0 } };

  private counters = { accepted: 0, refused: 0, evicted: 0, bytesRead: 0, closedLines: 0, partialLinesDropped: 0 };

  constructor(
    private readonly config: SocketSourceConfig,
    private readonly options: SocketSourceOptions,
  ) {
    this.name = config.name;
    this.logger = options.logger;
  }

  async start(receiver: LineReceiver, index: number): Promise<Checkpoint | undefined> {
    this.receiver = receiver;
    this.index = index;
    const unixPath = this.config.unix_path;
    const tcpPort = this.config.tcp_port;
    if (!unixPath && tcpPort <= 0) {
      throw new Error(`socket source "${this.name}": neither unix_path nor tcp_port is set; it would never receive anything`);
    }
    try {
      if (unixPath) await this.listenUnix(unixPath);
      if (tcpPort > 0) await this.listenTcp(this.config.tcp_host || '127.0.0.1', tcpPort);
    } catch (error) {
      await this.stop();
      throw error;
    }
    // A socket is always live: event time may follow the wall clock from the start.
    receiver.caughtUp(index, true);
    return undefined;
  }

  async commit(): Promise<void> {
    // Nothing to persist: ulogd does not replay what it sent.
  }

  async reopen(): Promise<void> {
    // Listeners are not replaced by anyone; ulogd reconnects by itself.
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closing = this.servers.map(closeServer);
    this.servers.length = 0;
    for (const connection of [...this.connections]) this.closeConnection(connection);
    await Promise.all(closing);
    if (this.unixPathCreated) {
      this.unixPathCreated = false;
      await unlink(this.config.unix_path).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') this.logger.warn(`cannot remove ${this.config.unix_path}: ${errorText(error)}`);
      });
    }
  }

  stats(): Record<string, number> {
    let lines = this.counters.closedLines;
    for (const connection of this.connections) lines += connection.splitter.lines;
    let unix = 0;
    for (const connection of this.connections) if (connection.transport === 'unix') unix++;
    return {
      connections: this.connections.size,
      unixConnections: unix,
      tcpConnections: this.connections.size - unix,
      accepted: this.counters.accepted,
      connectionsRefused: this.counters.refused,
      connectionsEvicted: this.counters.evicted,
      bytesRead: this.counters.bytesRead,
      linesRead: lines,
      partialLinesDropped: this.counters.partialLinesDropped,
    };
  }

  private async listenUnix(path: string): Promise<void> {
    let existing = false;
    try {
      const found = await lstat(path);
      if (!found.isSocket()) throw new Error(`socket source "${this.name}": ${path} exists and is not a socket; refusing to replace it`);
      existing = true;
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    if (existing) {
      if (await socketIsLive(path)) {
        throw new Error(`socket source "${this.name}": something is already listening on ${path} (another nfwatch?)`);
      }
      // Left behind by a process that did not shut down cleanly.
      this.logger.info(`removing stale socket ${path}`);
      await unlink(path).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') throw error;
      });
    }
    let mode: number;
    try {
      mode = parseMode(this.config.unix_mode);
    } catch (error) {
      throw new Error(`socket source "${this.name}": unix_mode: ${errorText(error)}`);
    }
    if (mode & 0o002) this.logger.warn(`unix_mode ${this.config.unix_mode} lets any local user connect to ${path} and send lines`);
    let gid: number | undefined;
    if (this.config.unix_group !== '') {
      gid = await resolveGroup(this.config.unix_group);
      if (gid === undefined) throw new Error(`socket source "${this.name}": unix_group "${this.config.unix_group}" is not a group on this system`);
    }
    await mkdir(dirname(path), { recursive: true });
    const server = this.makeServer('unix');
    try {
      await listen(server, { path }, 0o177);
    } catch (error) {
      throw new Error(`socket source "${this.name}": cannot listen on ${path}: ${errorText(error)}`);
    }
    this.servers.push(server);
    this.unixPathCreated = true;
    // ulogd may run as another user in the socket's group; nobody else may inject lines (or hold
    // the slots). Group first, then the mode that lets the group in.
    try {
      if (gid !== undefined) await chown(path, -1, gid);
      await chmod(path, mode);
    } catch (error) {
      throw new Error(`socket source "${this.name}": cannot set the group or mode of ${path}: ${errorText(error)}`);
    }
    this.logger.info(`listening on unix socket ${path} (mode ${mode.toString(8).padStart(4, '0')}${gid !== undefined ? `, group ${this.config.unix_group}` : ''}, at most ${this.config.unix_max_connections} connections)`);
  }

  private async listenTcp(host: string, port: number): Promise<void> {
    const server = this.makeServer('tcp');
    try {
      await listen(server, { host, port });
    } catch (error) {
      throw new Error(`socket source "${this.name}": cannot listen on ${host}:${port}: ${errorText(error)}`);
    }
    this.servers.push(server);
    this.logger.info(`listening on tcp ${host}:${port} (at most ${this.config.max_connections} connections)`);
  }

  private makeServer(transport: Transport): Server {
    // Paused until accept() reads it into a buffer of its own (readIntoBuffer).
    const server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket, transport));
    server.on('error', (error) => this.logger.error(`listener error: ${errorText(error)}`));
    return server;
  }

  private accept(accepted: Socket, transport: Transport): void {
    const receiver = this.receiver;
    if (this.stopping || !receiver) {
      accepted.destroy();
      return;
    }
    const limit = transport === 'unix' ? this.config.unix_max_connections : this.config.max_connections;
    const limitName = transport === 'unix' ? 'unix_max_connections' : 'max_connections';
    const open = [...this.connections].filter((c) => c.transport === transport);
    if (open.length >= limit) {
      const victim = evictionCandidate(open, (c) => c.splitter.lines > 0);
      if (!victim) {
        this.counters.refused++;
        this.warnSometimes('refused', `refusing ${transport} connections: ${limitName} (${limit}) are open and every one has delivered lines`);
        accepted.destroy();
        return;
      }
      this.counters.evicted++;
      this.warnSometimes('evicted', `evicted a ${transport} connection that had not delivered a complete line, to make room at ${limitName} (${limit})`);
      this.closeConnection(victim);
    }
    this.counters.accepted++;
    const splitter = new LineSplitter(receiver, this.index, this.options.maxLineBytes);
    const socket = readIntoBuffer(accepted, () => Buffer.allocUnsafe(READ_BYTES), (chunk) => {
      if (this.stopping) return;
      this.counters.bytesRead += chunk.length;
      splitter.push(chunk, NONE);
    });
    const connection: Connection = { socket, splitter, transport };
    this.connections.add(connection);
    this.logger.debug(`${transport} connection accepted (${this.connections.size} open)`);
    socket.on('error', (error) => this.logger.debug(`connection error: ${errorText(error)}`));
    socket.on('close', () => this.closeConnection(connection));
  }

  /** A warning at most once per WARN_EVERY_MS per kind, saying how many happened since the last one. */
  private warnSometimes(kind: 'refused' | 'evicted', message: string): void {
    const state = this.warned[kind];
    state.count++;
    const now = Date.now();
    if (this.stopping || now - state.at < WARN_EVERY_MS) return;
    const more = state.count > 1 ? ` (${state.count} times since the last warning)` : '';
    this.logger.warn(`${message}${more}`);
    state.at = now;
    state.count = 0;
  }

  /** Forgets a connection; a line it left unfinished is dropped (ulogd will not resend it). */
  private closeConnection(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    if (connection.splitter.heldBytes > 0) {
      this.counters.partialLinesDropped++;
      connection.splitter.reset();
    }
    this.counters.closedLines += connection.splitter.lines;
    connection.socket.destroy();
    this.logger.debug(`connection closed (${this.connections.size} open)`);
  }
}
