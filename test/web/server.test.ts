import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLoopback, startWeb } from '../../src/web/server.js';
import { deps, hub, webConfig } from './helpers.js';

describe('isLoopback', () => {
  it('knows 127.0.0.0/8, ::1 and localhost', () => {
    for (const h of ['127.0.0.1', '127.10.20.30', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '192.168.1.1', 'fw1.example', '2001:db8::1', '::2', 'localhost.example.com']) expect(isLoopback(h), h).toBe(false);
  });
});

describe('startWeb', () => {
  it('refuses to listen beyond loopback without a token', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const config = webConfig({ host });
      await expect(startWeb(config, deps(config), hub(config))).rejects.toThrow(/refusing to listen on .* without a token/);
    }
  });

  it('listens beyond loopback with a token', async () => {
    const config = webConfig({ host: '0.0.0.0', token: 'abc' });
    const server = await startWeb(config, deps(config), hub(config));
    try {
      expect(server.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      const port = new URL(server.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/api/summary`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/api/summary`, { headers: { authorization: 'Bearer abc' } })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('reads the token from token_file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfwatch-web-'));
    writeFileSync(join(dir, 'token'), 'from-file\n');
    const config = webConfig({ token_file: join(dir, 'token') });
    const server = await startWeb(config, deps(config), hub(config));
    try {
      expect((await fetch(`${server.url}/api/summary`)).status).toBe(401);
      expect((await fetch(`${server.url}/api/summary`, { headers: { authorization: 'Bearer from-file' } })).status).toBe(200);
    } finally {
      await server.close();
    }
    const missing = webConfig({ token_file: join(dir, 'nope') });
    await expect(startWeb(missing, deps(missing), hub(missing))).rejects.toThrow(/cannot read token_file/);
  });

  it('wants tls_cert and tls_key together', async () => {
    const config = webConfig({ tls_cert: '/etc/ssl/cert.pem' });
    await expect(startWeb(config, deps(config), hub(config))).rejects.toThrow(/tls_cert and tls_key go together/);
  });

  it('serves HTTPS with tls_cert and tls_key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfwatch-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const config = webConfig({ tls_cert: join(dir, 'cert.pem'), tls_key: join(dir, 'key.pem') });
    const server = await startWeb(config, deps(config), hub(config));
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const { request } = await import('node:https');
      const status = await new Promise<number>((resolve, reject) => {
        request(`${server.url}/healthz`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject).end();
      });
      expect(status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
