// When the real daemon (dist/cli.js) cannot start, the operator gets one line on stderr that names
// the setting to change and the file it is in, and exit code 1: never a JavaScript stack trace,
// never an OpenSSL or libuv message on its own.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, requireBuild } from '../e2e/nfwatch.js';
import { tempDir } from './harness.js';

const tmp = tempDir('nfw-startup-');
afterAll(() => tmp.remove());

let n = 0;
function configWith(lines: string[]): string {
  const dir = join(tmp.dir, `case-${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'ulogd.json'), '');
  const path = join(dir, 'nfwatch.toml');
  writeFileSync(path, ['[general]', `state_dir = "${join(dir, 'state')}"`, '[[sources.file]]', `path = "${join(dir, 'ulogd.json')}"`, '[outputs.graphite]', 'enabled = false', ...lines, ''].join('\n'));
  return path;
}

/** Runs the daemon until it gives up; its stderr without the log lines it wrote before. */
function start(config: string): { status: number | null; complaint: string[] } {
  requireBuild();
  const r = spawnSync(process.execPath, [CLI, '--config', config], { encoding: 'utf8', timeout: 20_000 });
  const complaint = r.stderr.split('\n').filter((l) => l !== '' && !/^\d{4}-\d\d-\d\dT\S+ (debug|info|warn) /.test(l));
  return { status: r.status, complaint };
}

function expectOneLine(result: { status: number | null; complaint: string[] }, ...mentions: string[]): void {
  expect(result.status, result.complaint.join('\n')).toBe(1);
  expect(result.complaint, 'exactly one line').toHaveLength(1);
  const line = result.complaint[0]!;
  expect(line).toMatch(/^nfwatch: /);
  expect(line).not.toMatch(/\bat .*\(.*:\d+:\d+\)|node:internal|file:\/\//);
  for (const m of mentions) expect(line).toContain(m);
}

describe('start-up errors are one line naming the setting and the file, exit 1, no stack trace', () => {
  const pem = { cert: '', key: '' };
  beforeAll(() => {
    pem.cert = join(tmp.dir, 'cert.pem');
    pem.key = join(tmp.dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', pem.key, '-out', pem.cert], { stdio: 'ignore' });
    writeFileSync(join(tmp.dir, 'not-pem.txt'), 'hello\n');
  });

  it('a TLS key file that holds no key names web.tls_key, the key file and the config file', () => {
    const bad = join(tmp.dir, 'not-pem.txt');
    const config = configWith(['[web]', 'port = 0', `tls_cert = "${pem.cert}"`, `tls_key = "${bad}"`]);
    const r = start(config);
    expectOneLine(r, 'web.tls_key', bad, config);
    expect(r.complaint[0]).not.toMatch(/^nfwatch: (Error: )?error:[0-9A-F]+:DECODER/);
  });

  it('a TLS certificate file that holds no certificate names web.tls_cert and the file', () => {
    const bad = join(tmp.dir, 'not-pem.txt');
    const config = configWith(['[web]', 'port = 0', `tls_cert = "${bad}"`, `tls_key = "${pem.key}"`]);
    expectOneLine(start(config), 'web.tls_cert', bad, config);
  });

  it('a missing TLS file names the setting and the file', () => {
    const missing = join(tmp.dir, 'nope', 'key.pem');
    const config = configWith(['[web]', 'port = 0', `tls_cert = "${pem.cert}"`, `tls_key = "${missing}"`]);
    expectOneLine(start(config), 'web.tls_key', missing, config);
  });

  describe('a web port already taken', () => {
    let holder: Server | undefined;
    let port = 0;
    beforeAll(async () => {
      holder = createServer();
      await new Promise<void>((resolve) => holder!.listen(0, '127.0.0.1', resolve));
      port = (holder.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve())));

    it('names web.port, the address in use and the config file, with a hint to choose another port', () => {
      const config = configWith(['[web]', 'host = "127.0.0.1"', `port = ${port}`]);
      const r = start(config);
      expectOneLine(r, 'web.port', `127.0.0.1:${port}`, config);
      expect(r.complaint[0]).toMatch(/in use/);
    });
  });

  it('a web.host that is no address of this machine names web.host', () => {
    // 192.0.2.1 (TEST-NET-1) is never configured here; listening on it fails with EADDRNOTAVAIL.
    const config = configWith(['[web]', 'host = "192.0.2.1"', 'port = 0', 'token = "t"']);
    expectOneLine(start(config), 'web.host', '192.0.2.1', config);
  });

  it('an error outside the web view (a missing signature file) is one line without a stack trace too', () => {
    const missing = join(tmp.dir, 'signatures-missing.toml');
    const config = configWith(['[web]', 'enabled = false', '[fingerprint]', `signatures = "${missing}"`]);
    expectOneLine(start(config), missing);
  });
});
