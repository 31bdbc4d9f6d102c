// DNS rebinding against the real daemon (dist/cli.js) in its default set-up: web view on 127.0.0.1,
// no token. A page on evil.example whose name is rebound to 127.0.0.1 reaches the port, but every
// request it makes names its own host in `Host` (and its own origin in `Origin`): the daemon must
// answer only to names that are this machine's loopback literals, `localhost`, or configured.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ensureStopped } from '../e2e/nfwatch.js';
import { freePort, startNfwatch, tempDir, webOnlyConfig, type Nfwatch } from './harness.js';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 request written byte for byte (any Host), the answer read until the server closes. */
function rawGet(port: number, path: string, host: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to GET ${path} (Host: ${host})`)));
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const colon = l.indexOf(':');
        if (colon > 0) headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

/** Opens /stream with the given Host and Origin: 'open', or the refusal's status and body. */
function openStream(port: number, host: string, origin?: string): Promise<{ open: true } | { open: false; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/stream`, { headers: { host }, ...(origin === undefined ? {} : { origin }) });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade (Host: ${host})`));
    }, 5000);
    ws.on('open', () => {
      clearTimeout(timer);
      ws.terminate();
      resolve({ open: true });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ open: false, status: res.statusCode ?? 0, body });
      });
    });
    ws.on('error', () => undefined);
  });
}

describe('the web view without a token (the default) answers only to its own names', () => {
  const tmp = tempDir('nfw-web-host-');
  let nfwatch: Nfwatch | undefined;
  let port = 0;
  const EVIL = (p: number) => [`127.0.0.1.evil.example:${p}`, '127.0.0.1.evil.example', `127.evil.example:${p}`, `localhost.evil.example:${p}`, `127.0.0.1:${p}.evil.example`, `[::1].evil.example:${p}`, `127.0.0.01:${p}`, '0x7f.0.0.1', '127.0.0.1:99999', `127.0.0.1 :${p}`, '127.0.0.1:', `127.0.0.1.:${p}`];

  beforeAll(async () => {
    port = await freePort();
    nfwatch = await startNfwatch(
      tmp.dir,
      // A name configured for the page (e.g. an /etc/hosts alias used through an SSH tunnel).
      webOnlyConfig(tmp.dir, port, [`allowed_origins = ["http://nfwatch.test:${port}"]`]),
    );
  });

  afterAll(async () => {
    await ensureStopped(nfwatch);
    tmp.remove();
  });

  it('refuses a rebound name that merely starts with a loopback address (127.0.0.1.evil.example) on the API, /metrics and the page with 403 forbidden_host', async () => {
    for (const host of EVIL(port)) {
      for (const path of ['/api/summary', '/api/sources', '/metrics', '/']) {
        const answer = await rawGet(port, path, host);
        expect(answer.status, `${path} with Host: ${host}`).toBe(403);
        expect(JSON.parse(answer.body), `${path} with Host: ${host}`).toMatchObject({ code: 'forbidden_host' });
      }
    }
  });

  it('refuses to open the event stream for a rebound name, even when Origin names that same host', async () => {
    for (const host of EVIL(port)) {
      const result = await openStream(port, host, `http://${host}`);
      expect(result, `Host: ${host}`).toMatchObject({ open: false, status: 403 });
      if (!result.open) expect(JSON.parse(result.body).code, `Host: ${host}`).toMatch(/^forbidden_(host|origin)$/);
    }
  });

  it('answers loopback literals, localhost and configured names, with or without a port', async () => {
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', '127.9.8.7', `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '[::1]', `nfwatch.test:${port}`]) {
      const answer = await rawGet(port, '/api/summary', host);
      expect(answer.status, `Host: ${host}`).toBe(200);
    }
    expect(await openStream(port, `localhost:${port}`, `http://localhost:${port}`)).toEqual({ open: true });
    expect(await openStream(port, `127.0.0.1:${port}`)).toEqual({ open: true });
  });

  it('compares the Origin of a stream request with the accepted Host only', async () => {
    const foreign = await openStream(port, `localhost:${port}`, 'http://evil.example');
    expect(foreign).toMatchObject({ open: false, status: 403 });
    const otherPort = await openStream(port, `localhost:${port}`, `http://localhost:${port + 1}`);
    expect(otherPort).toMatchObject({ open: false, status: 403 });
    expect(await openStream(port, `nfwatch.test:${port}`, `http://nfwatch.test:${port}`)).toEqual({ open: true });
  });
});
