// The shipped systemd files, checked by systemd itself: `systemd-analyze verify` on
// conf/systemd/nfwatch.service and on Debian's ulogd2.service with conf/ulogd/ulogd2-nfacct.conf as
// its drop-in. verify needs the commands to exist, so nfwatch's path is replaced by an executable
// that does. It exits 0 on unknown keys and only warns, so any line naming our files fails too.
// (systemd is not PID 1 in the test machines: verify works, starting units does not.)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const UNIT = new URL('../../conf/systemd/nfwatch.service', import.meta.url);
const DROPIN = new URL('../../conf/ulogd/ulogd2-nfacct.conf', import.meta.url);
const BLOCKING = new URL('../../conf/systemd/nfwatch-blocking.conf', import.meta.url);
const DEBIAN_ULOGD2 = '/lib/systemd/system/ulogd2.service';
const tmp = mkdtempSync(join(tmpdir(), 'nfw-systemd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function verify(unitFile: string, unitDir: string): { status: number | null; output: string } {
  const found = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (found.error) throw new Error('systemd-analyze is missing: apt-get install systemd (scripts/install-test-deps.sh installs it)');
  // SYSTEMD_UNIT_PATH with a trailing ':' = this directory, then the default paths (drop-ins included).
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitFile], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir}:`, SYSTEMD_LOG_COLOR: '0' },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Lines of verify's output about the files under `dir` (other units on the machine may warn). */
function about(output: string, dir: string): string[] {
  return output.split('\n').filter((l) => l.includes(dir));
}

function nfwatchUnit(dir: string, text = readFileSync(UNIT, 'utf8')): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'nfwatch.service');
  writeFileSync(file, text.replaceAll('/usr/local/bin/nfwatch', process.execPath));
  return file;
}

function ulogdWithDropin(dir: string, dropin = readFileSync(DROPIN, 'utf8')): string {
  if (!existsSync(DEBIAN_ULOGD2)) throw new Error(`${DEBIAN_ULOGD2} is missing: apt-get install ulogd2 (scripts/install-test-deps.sh installs it)`);
  mkdirSync(join(dir, 'ulogd2.service.d'), { recursive: true });
  cpSync(DEBIAN_ULOGD2, join(dir, 'ulogd2.service'));
  writeFileSync(join(dir, 'ulogd2.service.d', 'nfacct.conf'), dropin);
  return join(dir, 'ulogd2.service');
}

describe('systemd units', () => {
  it('conf/systemd/nfwatch.service passes systemd-analyze verify', () => {
    const dir = join(tmp, 'unit');
    const r = verify(nfwatchUnit(dir), dir);
    expect(about(r.output, dir), r.output).toEqual([]);
    expect(r.status, r.output).toBe(0);
  });

  it('nfwatch.service: unprivileged, sandboxed, checked before start, ordered before ulogd2', () => {
    const unit = readFileSync(UNIT, 'utf8');
    const set = (key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
    expect(set('User')).toEqual(['nfwatch']);
    expect(set('SupplementaryGroups')).toEqual(['adm']);
    expect(set('ExecStartPre')).toEqual(['/usr/local/bin/nfwatch --check-config /etc/nfwatch/nfwatch.toml']);
    expect(set('ExecStart')).toEqual(['/usr/local/bin/nfwatch --config /etc/nfwatch/nfwatch.toml']);
    expect(set('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(set('Before')).toEqual(['ulogd2.service']);
    expect(set('Type')).toEqual(['exec']);
    expect(set('StateDirectory')).toEqual(['nfwatch']);
    expect(set('RuntimeDirectory')).toEqual(['nfwatch']);
    expect(set('ConfigurationDirectory')).toEqual(['nfwatch']);
    expect(set('ProtectSystem')).toEqual(['strict']);
    expect(set('CapabilityBoundingSet')).toEqual(['']);
    expect(set('NoNewPrivileges')).toEqual(['yes']);
    expect(set('RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6']);
    expect(set('SystemCallFilter')).toEqual(['@system-service']);
    // V8's JIT needs writable+executable memory.
    expect(set('MemoryDenyWriteExecute')).toEqual([]);
  });

  it('the check itself catches a broken unit (a misspelt key, a missing command)', () => {
    const dir = join(tmp, 'broken');
    const text = readFileSync(UNIT, 'utf8').replace('ProtectHome=yes', 'ProtectHomeDir=yes').replace('ExecReload=/bin/kill', 'ExecReload=/nonexistent/kill');
    const r = verify(nfwatchUnit(dir, text), dir);
    const lines = about(r.output, dir).join('\n');
    expect(lines).toMatch(/Unknown key 'ProtectHomeDir'/);
    expect(r.output).toMatch(/\/nonexistent\/kill/);
  });

  it("conf/ulogd/ulogd2-nfacct.conf on Debian's ulogd2.service passes systemd-analyze verify", () => {
    const dir = join(tmp, 'ulogd2');
    const r = verify(ulogdWithDropin(dir), dir);
    expect(about(r.output, dir), r.output).toEqual([]);
    expect(r.status, r.output).toBe(0);
    // The same check sees the drop-in: a misspelt key in it is reported.
    const bad = join(tmp, 'ulogd2-bad');
    const rb = verify(ulogdWithDropin(bad, readFileSync(DROPIN, 'utf8').replace('AmbientCapabilities=', 'AmbientCapability=')), bad);
    expect(about(rb.output, bad).join('\n')).toMatch(/Unknown key 'AmbientCapability'/);
  });

  it('the ulogd2 drop-in runs ulogd as ulog with CAP_NET_ADMIN and without --uid (setuid would clear it)', () => {
    const dropin = readFileSync(DROPIN, 'utf8');
    const set = (key: string) => dropin.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
    expect(set('User')).toEqual(['ulog']);
    expect(set('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN CAP_SYS_NICE']);
    expect(set('ExecStart')).toEqual(['', '/usr/sbin/ulogd --daemon --pidfile /run/ulog/ulogd.pid']);
    expect(set('ExecStart').join(' ')).not.toMatch(/--uid/);
  });

  it('nfwatch.service with the blocking drop-in passes verify and gains CAP_NET_ADMIN and netlink, nothing else', () => {
    const dir = join(tmp, 'nfwatch-blocking');
    const unit = nfwatchUnit(dir);
    mkdirSync(join(dir, 'nfwatch.service.d'), { recursive: true });
    writeFileSync(join(dir, 'nfwatch.service.d', 'blocking.conf'), readFileSync(BLOCKING, 'utf8'));
    const r = verify(unit, dir);
    expect(about(r.output, dir), r.output).toEqual([]);
    expect(r.status, r.output).toBe(0);
    const dropin = readFileSync(BLOCKING, 'utf8');
    const set = (key: string) => dropin.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
    expect(set('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN']);
    expect(set('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN']);
    expect(set('RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6 AF_NETLINK']);
    expect(dropin).not.toMatch(/^(User|NoNewPrivileges|ProtectSystem)=/m);
  });

  it('nfwatch-lists.service and its daily timer pass verify; every list is downloaded aside and renamed over the old one', () => {
    const dir = join(tmp, 'lists');
    mkdirSync(dir, { recursive: true });
    for (const name of ['nfwatch-lists.service', 'nfwatch-lists.timer']) cpSync(new URL(`../../conf/systemd/${name}`, import.meta.url), join(dir, name));
    const r = verify(join(dir, 'nfwatch-lists.timer'), dir);
    expect(about(r.output, dir), r.output).toEqual([]);
    expect(r.status, r.output).toBe(0);
    const unit = readFileSync(join(dir, 'nfwatch-lists.service'), 'utf8');
    const steps = unit.split('\n').filter((l) => l.startsWith('ExecStart=')).map((l) => l.slice('ExecStart='.length).split(' '));
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < steps.length; i += 2) {
      const download = steps[i]!;
      const rename = steps[i + 1]!;
      const part = download[download.indexOf('--output') + 1]!;
      expect(download[0]).toBe('/usr/bin/curl');
      expect(download).toContain('--fail');
      expect(part).toMatch(/^\/var\/lib\/nfwatch\/lists\/.+\.part$/);
      expect(rename).toEqual(['/bin/mv', '-f', part, part.replace(/\.part$/, '')]);
    }
    expect(unit).toMatch(/^User=nfwatch$/m);
  });
});
