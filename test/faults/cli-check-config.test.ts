// `nfwatch --check-config FILE` is the promise that `nfwatch --config FILE` will start: every [web]
// setting the daemon refuses at start (an open listener without a token, token and token_file,
// half a TLS pair, TLS or token files it cannot read or use) must fail the check too, with the same
// words. Both run as the real process (dist/cli.js) on files in a temp dir.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureStopped, requireBuild } from '../e2e/nfwatch.js';
import { freePort, startNfwatch, tempDir, type Nfwatch } from './harness.js';

const tmp = tempDir('nfw-check-config-');
afterAll(() => tmp.remove());

let n = 0;
/** A config in its own dir: a file source, no Graphite, and the given [web] lines. */
function configWith(web: string[]): { dir: string; path: string } {
  const dir = join(tmp.dir, `case-${++n}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'ulogd.json'), '');
  const path = join(dir, 'nfwatch.toml');
  writeFileSync(
    path,
    ['[general]', `state_dir = "${join(dir, 'state')}"`, '[[sources.file]]', `path = "${join(dir, 'ulogd.json')}"`, '[outputs.graphite]', 'enabled = false', '[web]', ...(web.some((l) => l.startsWith('port')) ? [] : ['port = 0']), ...web, ''].join('\n'),
  );
  return { dir, path };
}

function run(...args: string[]) {
  requireBuild();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The line of `text` that reports `setting` (e.g. "web.tls_key: ..."), trimmed. */
function problemLine(text: string, setting: string): string | undefined {
  const at = text.indexOf(`${setting}: `);
  if (at < 0) return undefined;
  const end = text.indexOf('\n', at);
  return text.slice(at, end < 0 ? undefined : end).trim();
}

describe('--check-config refuses what the daemon refuses, in the same words', () => {
  const pem = { cert: '', key: '', otherKey: '' };

  beforeAll(() => {
    const dir = join(tmp.dir, 'tls');
    mkdirSync(dir);
    pem.cert = join(dir, 'cert.pem');
    pem.key = join(dir, 'key.pem');
    pem.otherKey = join(dir, 'other-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', pem.key, '-out', pem.cert], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', pem.otherKey], { stdio: 'ignore' });
  });

  const cases: Array<{ name: string; setting: string; web: () => string[]; mentions?: () => string }> = [
    { name: 'a listener beyond loopback without a token', setting: 'web.host', web: () => ['host = "0.0.0.0"'] },
    { name: 'both token and token_file', setting: 'web.token_file', web: () => ['token = "abc"', `token_file = "${join(tmp.dir, 'token')}"`] },
    { name: 'tls_cert without tls_key', setting: 'web.tls_key', web: () => [`tls_cert = "${pem.cert}"`] },
    { name: 'tls_key without tls_cert', setting: 'web.tls_cert', web: () => [`tls_key = "${pem.key}"`] },
    { name: 'a TLS key file that does not exist', setting: 'web.tls_key', web: () => [`tls_cert = "${pem.cert}"`, `tls_key = "${join(tmp.dir, 'missing-key.pem')}"`], mentions: () => join(tmp.dir, 'missing-key.pem') },
    { name: 'a TLS certificate path that is a directory', setting: 'web.tls_cert', web: () => [`tls_cert = "${tmp.dir}"`, `tls_key = "${pem.key}"`], mentions: () => tmp.dir },
    { name: 'a TLS key file that holds no key', setting: 'web.tls_key', web: () => [`tls_cert = "${pem.cert}"`, `tls_key = "${join(tmp.dir, 'garbage.pem')}"`], mentions: () => join(tmp.dir, 'garbage.pem') },
    { name: 'a TLS key that does not belong to the certificate', setting: 'web.tls_key', web: () => [`tls_cert = "${pem.cert}"`, `tls_key = "${pem.otherKey}"`], mentions: () => pem.otherKey },
    { name: 'a token_file that does not exist', setting: 'web.token_file', web: () => [`token_file = "${join(tmp.dir, 'no-token')}"`], mentions: () => join(tmp.dir, 'no-token') },
    { name: 'an empty token_file', setting: 'web.token_file', web: () => [`token_file = "${join(tmp.dir, 'empty-token')}"`], mentions: () => join(tmp.dir, 'empty-token') },
  ];

  beforeAll(() => {
    writeFileSync(join(tmp.dir, 'token'), 'from-file\n');
    writeFileSync(join(tmp.dir, 'empty-token'), '\n');
    writeFileSync(join(tmp.dir, 'garbage.pem'), 'this is not a key\n');
  });

  for (const c of cases) {
    it(`refuses ${c.name}: exit 1 from both, naming ${c.setting}${c.mentions ? ' and the file' : ''}`, () => {
      const { path, dir } = configWith(c.web());
      const check = run('--check-config', path);
      expect(check.status, check.stdout + check.stderr).toBe(1);
      const checkLine = problemLine(check.stderr, c.setting);
      expect(checkLine, check.stderr).toBeDefined();
      expect(check.stderr).toContain(path);
      if (c.mentions) expect(checkLine).toContain(c.mentions());

      const daemon = run('--config', path);
      expect(daemon.status, daemon.stderr).toBe(1);
      expect(problemLine(daemon.stderr, c.setting), daemon.stderr).toBe(checkLine);
      // It was refused before anything started: no read position was saved, no web view listened.
      expect(daemon.stderr).not.toMatch(/nfwatch started|listening on/);
      expect(existsSync(join(dir, 'state'))).toBe(false);
    });
  }

  describe('and passes what the daemon runs', () => {
    let nfwatch: Nfwatch | undefined;
    afterAll(() => ensureStopped(nfwatch));

    it('accepts token_file with a matching TLS pair: the check exits 0, the daemon serves HTTPS with the token', async () => {
      const port = await freePort();
      const { dir, path } = configWith([`port = ${port}`, `token_file = "${join(tmp.dir, 'token')}"`, `tls_cert = "${pem.cert}"`, `tls_key = "${pem.key}"`]);
      const check = run('--check-config', path);
      expect(check.status, check.stderr).toBe(0);
      nfwatch = await startNfwatch(dir, readFileSync(path, 'utf8'));
      expect(nfwatch.log()).toContain(`https://127.0.0.1:${port} (token required)`);
    });
  });
});
