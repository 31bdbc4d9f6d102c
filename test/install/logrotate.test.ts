// conf/logrotate/nfwatch-ulogd-json, checked by logrotate itself in debug mode (-d: nothing is
// rotated, renamed or signalled) on a copy whose path points into a temp dir, with a temp state file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SNIPPET = new URL('../../conf/logrotate/nfwatch-ulogd-json', import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), 'nfw-logrotate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function logrotateDebug(config: string, state: string): { status: number | null; output: string } {
  const r = spawnSync('logrotate', ['-d', '-f', '-s', state, config], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`logrotate could not run (${r.error.message}): apt-get install logrotate (scripts/install-test-deps.sh installs it)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function idOf(args: string[]): number {
  return Number(spawnSync('id', args, { encoding: 'utf8' }).stdout.trim());
}

function gidOf(group: string): number {
  return Number(spawnSync('getent', ['group', group], { encoding: 'utf8' }).stdout.split(':')[2]);
}

describe('logrotate snippet for ulogd.json', () => {
  it('rotates /var/log/ulog/ulogd.json daily, keeps 7, compresses one late, recreates it ulog:adm 0640 and signals ulogd as Debian does', () => {
    const text = readFileSync(SNIPPET, 'utf8');
    expect(text).toMatch(/^\/var\/log\/ulog\/ulogd\.json \{$/m);
    const log = join(tmp, 'ulogd.json');
    writeFileSync(log, '{"timestamp": "2026-11-29T10:00:00"}\n');
    const config = join(tmp, 'nfwatch-ulogd-json');
    writeFileSync(config, text.replaceAll('/var/log/ulog/ulogd.json', log));
    const state = join(tmp, 'logrotate.status');

    const r = logrotateDebug(config, state);
    expect(r.status, r.output).toBe(0);
    expect(r.output).not.toMatch(/^error:/m);
    expect(r.output).toContain(`rotating pattern: ${log}`);
    expect(r.output).toContain('log->rotateCount is 7');
    expect(r.output).toContain(`renaming ${log} to ${log}.1`);
    // delaycompress: the newest rotated file stays plain, so nfwatch can finish reading it.
    expect(r.output).toContain(`renaming ${log}.1.gz to ${log}.2.gz`);
    expect(r.output).toContain(`creating new ${log} mode = 0640 uid = ${idOf(['-u', 'ulog'])} gid = ${gidOf('adm')}`);
    expect(r.output).toContain('systemctl kill --kill-who main --signal=SIGHUP ulogd2.service');
    expect(r.output).toContain('empty log files are not rotated'); // notifempty
    // Debug mode changes nothing.
    expect(readFileSync(log, 'utf8')).toMatch(/2026-11-29T10/);
    expect(existsSync(`${log}.1`)).toBe(false);
  });

  it('the check itself catches a broken snippet', () => {
    const config = join(tmp, 'broken');
    writeFileSync(config, readFileSync(SNIPPET, 'utf8').replace(/^(\s+)delaycompress$/m, '$1delaycompres').replaceAll('/var/log/ulog/ulogd.json', join(tmp, 'x.json')));
    const r = logrotateDebug(config, join(tmp, 'broken.status'));
    // logrotate only warns and goes on (exit 0): hence the first test's check for any `error:` line.
    expect(r.output).toMatch(/^error: .*unknown option 'delaycompres'/m);
  });
});
