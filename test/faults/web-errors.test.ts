// Hostile requests against the real daemon's web view (dist/cli.js on 127.0.0.1): a query value
// too large for any number, a URL that is not valid percent-encoding, headers beyond Node's limit,
// a request line that is not HTTP. Each gets a clear 4xx that carries the same security headers as
// a normal answer and never echoes the request path unescaped; none is logged as an error, and the
// daemon keeps answering.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStopped } from '../e2e/nfwatch.js';
import { freePort, startNfwatch, tempDir, webOnlyConfig, type Nfwatch } from './harness.js';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `request` as is on a fresh connection and reads the answer until the server closes it. */
function raw(port: number, request: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    socket.on('close', () => {
      const data = Buffer.concat(chunks).toString('latin1');
      const split = data.indexOf('\r\n\r\n');
      const head = split < 0 ? data : data.slice(0, split);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const colon = l.indexOf(':');
        if (colon > 0) headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: split < 0 ? '' : data.slice(split + 4) });
    });
    socket.write(request);
  });
}

const get = (port: number, path: string, extraHeaders = ''): Promise<Answer> =>
  raw(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extraHeaders}Connection: close\r\n\r\n`);

const SECURITY = ['content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options'] as const;

describe('the web view under hostile requests', () => {
  const tmp = tempDir('nfw-web-errors-');
  let nfwatch: Nfwatch | undefined;
  let port = 0;
  /** The security headers of a normal answer, as the daemon sends them. */
  let normal: Record<string, string> = {};

  beforeAll(async () => {
    port = await freePort();
    nfwatch = await startNfwatch(tmp.dir, webOnlyConfig(tmp.dir, port));
    const ok = await get(port, '/api/summary');
    expect(ok.status).toBe(200);
    normal = Object.fromEntries(SECURITY.map((h) => [h, ok.headers[h] ?? '']));
    for (const h of SECURITY) expect(normal[h], h).not.toBe('');
  });

  afterAll(async () => {
    await ensureStopped(nfwatch);
    tmp.remove();
  });

  const expectSecurityHeaders = (answer: Answer, what: string) => {
    for (const h of SECURITY) expect(answer.headers[h], `${h} on ${what}`).toBe(normal[h]);
  };
  const errorLines = () => nfwatch!.log().split('\n').filter((l) => / error /.test(l));

  it('answers a limit of 5,000 nines (and 1e400) with 400 bad_request naming the parameter, logs no error, and keeps answering', async () => {
    const before = errorLines().length;
    for (const path of [`/api/sources?limit=${'9'.repeat(5000)}`, '/api/sources?limit=1e400', `/api/campaigns?limit=${'9'.repeat(400)}`, '/api/fingerprints?limit=-1e999']) {
      const answer = await get(port, path);
      expect(answer.status, path.slice(0, 40)).toBe(400);
      const body = JSON.parse(answer.body) as { statusCode: number; code: string; message: string };
      expect(body, path.slice(0, 40)).toMatchObject({ statusCode: 400, code: 'bad_request' });
      expect(body.message, path.slice(0, 40)).toMatch(/limit/);
      expectSecurityHeaders(answer, path.slice(0, 40));
    }
    expect(errorLines().slice(before)).toEqual([]);
    expect((await get(port, '/api/sources?limit=5')).status).toBe(200);
  });

  it('answers a URL that is not valid percent-encoding with 400, the security headers and no echo of the path', async () => {
    for (const path of ['/%zz', '/%zz<script>alert(1)</script>', '/api/%E0%A4%A']) {
      const answer = await get(port, path);
      expect(answer.status, path).toBe(400);
      expectSecurityHeaders(answer, path);
      expect(answer.body, path).not.toContain('<script>');
      expect(answer.body, path).not.toContain('%zz');
      expect(JSON.parse(answer.body), path).toMatchObject({ statusCode: 400, code: 'bad_request' });
    }
  });

  it('answers an unknown route with 404 and the security headers, the path only in escaped form', async () => {
    const answer = await get(port, '/nope/<img%20src=x%20onerror=alert(1)>');
    expect(answer.status).toBe(404);
    expectSecurityHeaders(answer, '404');
    expect(answer.body).not.toMatch(/[<>]/);
    expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 404, code: 'not_found' });
  });

  it('answers headers beyond the size limit with 431 and the security headers', async () => {
    const answer = await get(port, '/api/summary', `X-Padding: ${'a'.repeat(64 * 1024)}\r\n`);
    expect(answer.status).toBe(431);
    expectSecurityHeaders(answer, '431');
  });

  it("answers a request Node's HTTP parser refuses with 400 and the security headers", async () => {
    for (const request of ['GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n']) {
      const answer = await raw(port, request);
      expect(answer.status, JSON.stringify(request)).toBe(400);
      expectSecurityHeaders(answer, JSON.stringify(request));
    }
  });

  it('is still alive and well after all of it, with no error in its log', async () => {
    expect((await get(port, '/healthz')).status).toBe(200);
    expect(nfwatch!.process.exitCode).toBeNull();
    expect(errorLines()).toEqual([]);
  });
});
