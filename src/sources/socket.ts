// Listens for ulogd's JSON plugin in mode="unix"/"tcp". ulogd is the client: it connects, streams
// lines, and after a disconnect reconnects on its next event without buffering anything, so
// nothing here is replayable and positions are NONE.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SocketSourceConfig } from '../config/schema.js';
import { NONE, type Checkpoint, type LineReceiver, type LineSource } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { LineSplitter } from './lines.js';
import { errorCode, errorText } from '../util/errors.js';

export interface SocketSourceOptions {
  maxLineBytes: number;
  logger: Logger;
}

interface Connection {
  socket: Socket;
  splitter: LineSplitter;
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

function listen(server: Server, target: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(target, () => {
      server.off('error', onError);
      resolve();
    });
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
  private readonly connections = new Set<Connection>();
  private receiver: LineReceiver | undefined;
  private index = 0;
  private unixPathCreated = false;
  private stopping = false;
  private refusalLogged = false;

  private counters = { accepted: 0, refused: 0, bytesRead: 0, closedLines: 0, partialLinesDropped: 0 };

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
    return {
      connections: this.connections.size,
      accepted: this.counters.accepted,
      refused: this.counters.refused,
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
    await mkdir(dirname(path), { recursive: true });
    const server = this.makeServer();
    try {
      await listen(server, { path });
    } catch (error) {
      throw new Error(`socket source "${this.name}": cannot listen on ${path}: ${errorText(error)}`);
    }
    this.servers.push(server);
    this.unixPathCreated = true;
    // ulogd may run as another user in the same group; nobody else may inject lines.
    await chmod(path, 0o660);
    this.logger.info(`listening on unix socket ${path}`);
  }

  private async listenTcp(host: string, port: number): Promise<void> {
    const server = this.makeServer();
    try {
      await listen(server, { host, port });
    } catch (error) {
      throw new Error(`socket source "${this.name}": cannot listen on ${host}:${port}: ${errorText(error)}`);
    }
    this.servers.push(server);
    this.logger.info(`listening on tcp ${host}:${port}`);
  }

  private makeServer(): Server {
    const server = createServer((socket) => this.accept(socket));
    server.on('error', (error) => this.logger.error(`listener error: ${errorText(error)}`));
    return server;
  }

  private accept(socket: Socket): void {
    const receiver = this.receiver;
    if (this.stopping || !receiver || this.connections.size >= this.config.max_connections) {
      this.counters.refused++;
      // Once per episode: a refused ulogd retries on every event, which could flood the log.
      if (!this.refusalLogged && !this.stopping) {
        this.logger.warn(`refusing connections: max_connections (${this.config.max_connections}) are open`);
        this.refusalLogged = true;
      }
      socket.destroy();
      return;
    }
    this.counters.accepted++;
    const connection: Connection = { socket, splitter: new LineSplitter(receiver, this.index, this.options.maxLineBytes) };
    this.connections.add(connection);
    this.logger.debug(`connection accepted (${this.connections.size} open)`);
    socket.on('data', (chunk: Buffer) => {
      if (this.stopping) return;
      this.counters.bytesRead += chunk.length;
      connection.splitter.push(chunk, NONE);
    });
    socket.on('error', (error) => this.logger.debug(`connection error: ${errorText(error)}`));
    socket.on('close', () => this.closeConnection(connection));
  }

  /** Forgets a connection; a line it left unfinished is dropped (ulogd will not resend it). */
  private closeConnection(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    this.refusalLogged = false;
    if (connection.splitter.heldBytes > 0) {
      this.counters.partialLinesDropped++;
      connection.splitter.reset();
    }
    this.counters.closedLines += connection.splitter.lines;
    connection.socket.destroy();
    this.logger.debug(`connection closed (${this.connections.size} open)`);
  }
}
