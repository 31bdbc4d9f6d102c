// The npm tarball as an admin installs it: `npm pack` of the repository's files (tracked and new,
// not ignored; built by prepack), `npm install -g --prefix <tmp>` of that tarball, then the
// installed bin run from another directory: --version, --check-config of the shipped example, and
// the daemon as an unprivileged user following a file into a Graphite listener, counts exact.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followConfig, graphiteListener, packetLineAt, waitFor, withWeb } from '../faults/harness.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const tmp = mkdtempSync(join(tmpdir(), 'nfw-pack-'));
// The unprivileged daemon must reach the installed files through this directory.
chmodSync(tmp, 0o755);
const prefix = join(tmp, 'prefix');
const bin = join(prefix, 'bin', 'nfwatch');
const installed = join(prefix, 'lib', 'node_modules', 'nfwatch');
let tarball = '';
let files: string[] = [];
let tarballBytes = 0;

function run(cmd: string, args: string[], cwd: string, timeout: number): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  // A copy of the checkout, so prepack's clean build never touches the repository's dist/.
  const copy = join(tmp, 'checkout');
  const listed = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], REPO, 10_000).stdout.split('\0').filter(Boolean);
  for (const rel of listed) {
    const from = join(REPO, rel);
    if (!statSync(from, { throwIfNoEntry: false })?.isFile()) continue; // deleted in the work tree
    mkdirSync(join(copy, rel, '..'), { recursive: true });
    cpSync(from, join(copy, rel));
  }
  symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
  const pack = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp], copy, 90_000).stdout.replace(/^[^[]*/, '')) as Array<{
    filename: string;
    size: number;
    files: Array<{ path: string }>;
  }>;
  const info = pack[0];
  if (!info) throw new Error('npm pack printed no tarball');
  tarball = join(tmp, info.filename);
  tarballBytes = info.size;
  files = info.files.map((f) => f.path);
  // The dependencies come from the npm cache where it has them (npm ci filled it), else the registry.
  run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], tmp, 90_000);
}, 200_000);

describe('npm pack and npm install -g of the tarball', () => {
  it('packs the built daemon, the page, the bundled configs, examples and licence, and no sources or tests', () => {
    for (const f of [
      'dist/cli.js',
      'dist/main.js',
      'conf/nfwatch.toml',
      'conf/signatures.toml',
      'conf/ulogd.conf',
      'conf/ulogd-socket.conf',
      'conf/systemd/nfwatch.service',
      'conf/logrotate/nfwatch-ulogd-json',
      'conf/ulogd/ulogd2-nfacct.conf',
      'src/web/public/index.html',
      'src/web/public/app.js',
      'README.md',
      'LICENSE',
      'package.json',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.startsWith('iptables-examples/'))).toBe(true);
    expect(files.some((f) => f.startsWith('nftables-examples/'))).toBe(true);
    expect(files.filter((f) => /^(test|scripts|demo)\/|^src\/.*\.ts$|^dist\/(bench|demo)\//.test(f))).toEqual([]);
    expect(tarballBytes).toBeLessThan(1024 * 1024);
    console.log(`npm pack: ${files.length} files, ${tarballBytes} bytes`);
  });

  it('installs a working nfwatch bin: --version from another directory', () => {
    const r = run(bin, ['--version'], '/', 10_000);
    expect(r.stdout).toBe(`nfwatch ${VERSION}\n`);
  });

  it('--check-config accepts the installed example (absolute paths: /var/lib/nfwatch, /var/log/ulog)', () => {
    const example = join(installed, 'conf', 'nfwatch.toml');
    const text = readFileSync(example, 'utf8');
    expect(text).toMatch(/^state_dir = "\/var\/lib\/nfwatch"$/m);
    expect(text).toMatch(/^port = 8733$/m);
    expect(run(bin, ['--check-config', example], '/', 10_000).stdout).toMatch(/configuration is valid/);
  });

  it('runs as an unprivileged user: follows a file into Graphite with exact counts, serves the page, exits 0 on SIGTERM', async () => {
    const g = await graphiteListener();
    const dir = join(tmp, 'run');
    mkdirSync(join(dir, 'state'), { recursive: true });
    chmodSync(dir, 0o755);
    chownSync(join(dir, 'state'), 65534, 65534);
    const file = join(dir, 'ulogd.json');
    const now = Date.now();
    writeFileSync(file, Array.from({ length: 40 }, (_, i) => packetLineAt(now - 3000 + i) + '\n').join(''));
    chmodSync(file, 0o644);
    const config = join(dir, 'nfwatch.toml');
    writeFileSync(config, withWeb(followConfig(dir, file, g.port)));
    // nobody:nogroup, no supplementary groups, no capabilities; the bin's own shebang finds node.
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', bin, '--config', config], {
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      const url = await waitFor('the web view to listen', () => /web: listening on (http:\/\/\S+)/.exec(log)?.[1], 20_000);
      appendFileSync(file, Array.from({ length: 17 }, (_, i) => packetLineAt(Date.now() + i) + '\n').join(''));
      await waitFor(`57 blocked events in Graphite (log:\n${log})`, () => (g.carbonSum('nfw.events.blocked.count') === 57 ? true : undefined), 20_000);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r)));
      expect(code, log).toBe(0);
      expect(g.carbonSum('nfw.events.blocked.count')).toBe(57);
      expect(statSync(join(dir, 'state', 'file-ulogd.json')).uid).toBe(65534);
    } finally {
      child.kill('SIGKILL');
      await g.close();
    }
  }, 60_000);
});
