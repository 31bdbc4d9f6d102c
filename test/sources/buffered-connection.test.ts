// An accepted connection is read into one buffer of its own: every read lands in the same memory,
// nothing is lost or reordered, and the server still sees the connection end.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readIntoBuffer } from '../../src/sources/buffered-connection.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function socketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nfwatch-buffered-'));
  dirs.push(dir);
  return join(dir, 's.sock');
}

function listening(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

function closed(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

describe('a connection read into a buffer of its own', () => {
  it('delivers every read as a view of that buffer, in order, and lets its server close once the client is gone', async () => {
    const path = socketPath();
    const buffer = Buffer.alloc(1024);
    const views: Buffer[] = [];
    const received: Buffer[] = [];
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    const server = createServer({ pauseOnConnect: true }, (accepted) => {
      const socket = readIntoBuffer(accepted, () => buffer, (bytes) => {
        views.push(bytes);
        // A copy: the view is valid only until the next read.
        received.push(Buffer.from(bytes));
      });
      socket.on('close', () => ended());
    });
    await listening(server, path);

    // Writes larger than the buffer and writes spaced in time: many reads.
    const written: Buffer[] = [];
    for (let i = 0; i < 40; i++) written.push(Buffer.alloc(100 + 97 * i, 0x41 + (i % 26)));
    const client = createConnection(path);
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    for (const chunk of written) {
      client.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    client.end();
    await end;

    expect(Buffer.concat(received).equals(Buffer.concat(written))).toBe(true);
    expect(views.length).toBeGreaterThan(5);
    for (const view of views) {
      expect(view.buffer).toBe(buffer.buffer);
      expect(view.byteOffset).toBe(buffer.byteOffset);
      expect(view.length).toBeLessThanOrEqual(buffer.length);
    }
    // The accepted socket gave its handle away but still counted among the server's connections:
    // close() waits for every connection, so it resolves only if that count went back to 0.
    await closed(server);
  });

  it('can be destroyed by its reader, which ends the connection for the client too', async () => {
    const path = socketPath();
    const server = createServer({ pauseOnConnect: true }, (accepted) => {
      const socket = readIntoBuffer(accepted, () => Buffer.alloc(64), () => socket.destroy());
    });
    await listening(server, path);
    const client = createConnection(path);
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => {});
    client.write('first bytes\n');
    await clientClosed;
    await closed(server);
  });

  it("reads through 'data' as before where the accepted socket has no stream handle of Node's", () => {
    const accepted = new Socket();
    const seen: string[] = [];
    let buffersMade = 0;
    const socket = readIntoBuffer(
      accepted,
      () => {
        buffersMade++;
        return Buffer.alloc(64);
      },
      (bytes) => seen.push(bytes.toString()),
    );
    expect(socket).toBe(accepted);
    // Read through 'data': no buffer of its own is made for it.
    expect(buffersMade).toBe(0);
    accepted.emit('data', Buffer.from('a line\n'));
    expect(seen).toEqual(['a line\n']);
    accepted.destroy();
  });
});
