import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.js';
import { SettingError } from '../../src/util/errors.js';
import { isLoopback, startWeb, webAccess } from '../../src/web/server.js';
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
    await expect(startWeb(missing, deps(missing), hub(missing))).rejects.toThrow(/web\.token_file: cannot read .*nope/);
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

describe('startWeb when listen() fails', () => {
  it('names web.port and the address when the port is in use', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const config = webConfig({ port });
      const err = await startWeb(config, deps(config), hub(config)).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(SettingError);
      expect((err as SettingError).setting).toBe('web.port');
      expect((err as Error).message).toMatch(new RegExp(`^web\\.port: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
      expect((err as SettingError).in('/etc/nfwatch/nfwatch.toml').message).toMatch(/^\/etc\/nfwatch\/nfwatch\.toml: web\.port: /);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});

describe('webAccess: the start-up checks of [web] (shared with --check-config)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfwatch-access-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const otherKey = join(dir, 'other-key.pem');
  beforeAll(() => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', otherKey], { stdio: 'ignore' });
    writeFileSync(join(dir, 'garbage.pem'), 'not pem\n');
    writeFileSync(join(dir, 'token'), '  from-file \n');
    writeFileSync(join(dir, 'empty'), '\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function problems(overrides: Parameters<typeof webConfig>[0]): Promise<string[]> {
    const err = await webAccess(webConfig(overrides)).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }

  it('gives the token in force (token_file trimmed) and the TLS pair', async () => {
    expect(await webAccess(webConfig())).toEqual({ token: '' });
    expect(await webAccess(webConfig({ token: 't' }))).toEqual({ token: 't' });
    const access = await webAccess(webConfig({ host: '0.0.0.0', token_file: join(dir, 'token'), tls_cert: cert, tls_key: key }));
    expect(access.token).toBe('from-file');
    expect(access.https?.cert.equals(readFileSync(cert))).toBe(true);
    expect(access.https?.key.equals(readFileSync(key))).toBe(true);
  });

  it('refuses each start-up problem naming its key, and lists them all at once', async () => {
    expect(await problems({ host: '0.0.0.0' })).toEqual([expect.stringMatching(/^web\.host: refusing to listen on 0\.0\.0\.0 without a token/)]);
    expect(await problems({ token: 'a', token_file: join(dir, 'token') })).toEqual(['web.token_file: set token or token_file, not both']);
    expect(await problems({ token_file: join(dir, 'empty') })).toEqual([`web.token_file: ${join(dir, 'empty')} is empty`]);
    expect(await problems({ token_file: join(dir, 'nope') })).toEqual([expect.stringMatching(/^web\.token_file: cannot read .*nope: ENOENT/)]);
    expect(await problems({ tls_cert: cert })).toEqual(['web.tls_key: tls_cert and tls_key go together: set both or neither']);
    expect(await problems({ tls_key: key })).toEqual(['web.tls_cert: tls_cert and tls_key go together: set both or neither']);
    expect(await problems({ tls_cert: cert, tls_key: join(dir, 'garbage.pem') })).toEqual([expect.stringMatching(/^web\.tls_key: .*garbage\.pem holds no usable PEM private key \((?!error:)/)]);
    expect(await problems({ tls_cert: join(dir, 'garbage.pem'), tls_key: key })).toEqual([expect.stringMatching(/^web\.tls_cert: .*garbage\.pem holds no usable PEM certificate/)]);
    expect(await problems({ tls_cert: cert, tls_key: otherKey })).toEqual([expect.stringMatching(/^web\.tls_key: the key in .*other-key\.pem does not belong to the certificate in .*cert\.pem/)]);
    expect(await problems({ tls_cert: dir, tls_key: join(dir, 'nope.pem') })).toEqual([
      expect.stringMatching(/^web\.tls_cert: cannot read .*EISDIR/),
      expect.stringMatching(/^web\.tls_key: cannot read .*nope\.pem: ENOENT/),
    ]);
    expect(await problems({ host: '192.0.2.1', tls_cert: cert })).toHaveLength(2);
  });
});
