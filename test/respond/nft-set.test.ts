// The block sets of nftables-examples/firewall.nft in a network namespace of the test's own,
// changed and read through the real nft. Needs root (fails, never skips, without it).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NftBlockSet } from '../../src/respond/nft-set.js';
import { FIREWALL_NFT, requireRoot, requireTools, run, runOk, sleep } from '../e2e/lab.js';
import { CLI, requireBuild } from '../e2e/nfwatch.js';

const ns = `nfw-set-${randomBytes(3).toString('hex')}`;
const nft = ['ip', 'netns', 'exec', ns, 'nft'];
const set = new NftBlockSet({ command: nft, family: 'inet', table: 'nfwatch_filter', setV4: 'nfwatch_block4', setV6: 'nfwatch_block6' });

beforeAll(async () => {
  requireRoot();
  requireTools(['ip', 'nft']);
  await runOk('ip', ['netns', 'add', ns]);
  await runOk('ip', ['netns', 'exec', ns, 'nft', '-f', FIREWALL_NFT]);
});
afterAll(async () => {
  await run('ip', ['netns', 'del', ns]);
});

describe('the nftables block sets', () => {
  it('adds IPv4 addresses and IPv6 /64 networks with their timeout and comment, lists and removes them', async () => {
    await set.add('80.82.77.33', 600, 'nfwatch severity 4: SYN port scan');
    await set.add('2001:db8:1:2::/64', 1200, 'nfwatch severity 5');
    const listed = await set.list();
    expect(listed.map((e) => e.target).sort()).toEqual(['2001:db8:1:2::/64', '80.82.77.33']);
    const v4 = listed.find((e) => e.target === '80.82.77.33')!;
    expect(v4.comment).toBe('nfwatch severity 4: SYN port scan');
    expect(v4.expiresSeconds).toBeGreaterThan(590);
    expect(v4.expiresSeconds).toBeLessThanOrEqual(600);
    // The kernel's own view agrees.
    const text = (await runOk('ip', ['netns', 'exec', ns, 'nft', 'list', 'set', 'inet', 'nfwatch_filter', 'nfwatch_block6'])).stdout;
    expect(text).toContain('2001:db8:1:2::/64 timeout 20m');
    expect(await set.remove('80.82.77.33')).toBe(true);
    expect(await set.remove('80.82.77.33')).toBe(false);
    expect((await set.list()).map((e) => e.target)).toEqual(['2001:db8:1:2::/64']);
    expect(await set.remove('2001:db8:1:2::/64')).toBe(true);
  });

  it('renews a block added again, and lets the kernel drop it when it runs out', async () => {
    await set.add('80.82.77.34', 30, 'first');
    await set.add('80.82.77.34', 900, 'again');
    expect((await set.list()).find((e) => e.target === '80.82.77.34')!.expiresSeconds).toBeGreaterThan(800);
    await set.add('80.82.77.35', 1, 'short');
    await sleep(2_500);
    expect((await set.list()).map((e) => e.target)).toEqual(['80.82.77.34']);
  });

  it('says which set is missing when the ruleset has none', async () => {
    const missing = new NftBlockSet({ command: nft, family: 'inet', table: 'nfwatch_filter', setV4: 'no_such_set', setV6: '' });
    await expect(missing.add('80.82.77.36', 60, 'x')).rejects.toThrow(/nft -j <batch> exited 1: .*No such file or directory/);
    await expect(missing.add('2001:db8::1', 60, 'x')).rejects.toThrow(/IPv6 sources are not blocked \(response.set_v6 is empty\)/);
  });
});

describe('nfwatch block / blocked / unblock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfw-block-cli-'));
  const config = join(dir, 'nfwatch.toml');
  writeFileSync(config, `[response]\nnft_command = ${JSON.stringify(nft)}\nallow = ["45.33.32.0/24"]\n`);
  const cli = async (...args: string[]): Promise<{ code: number; out: string }> => {
    requireBuild();
    try {
      const r = await promisify(execFile)(process.execPath, [CLI, ...args, '--config', config]);
      return { code: 0, out: r.stdout + r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  };

  it('blocks for a while, lists, refuses what the allowlist protects unless forced, and unblocks', async () => {
    try {
      expect(await cli('block', '80.82.77.40', '--for', '10m')).toEqual({ code: 0, out: 'blocked 80.82.77.40 for 600 s\n' });
      expect(await cli('block', '2a00:1450:4001:2::7/64')).toEqual({ code: 0, out: 'blocked 2a00:1450:4001:2::/64 for 3600 s\n' });
      const listed = await cli('blocked');
      expect(listed.code).toBe(0);
      expect(listed.out).toMatch(/^80\.82\.77\.40\t(59\d|600) s left\tnfwatch by hand$/m);
      expect(listed.out).toMatch(/^2a00:1450:4001:2::\/64\t\d+ s left\tnfwatch by hand$/m);
      expect(await cli('block', '45.33.32.156')).toEqual({ code: 1, out: 'nfwatch block: 45.33.32.156 is in response.allow; not blocked (--force to override)\n' });
      expect(await cli('block', '10.0.0.9')).toMatchObject({ code: 1 });
      expect((await cli('block', '45.33.32.156', '--force')).code).toBe(0);
      expect(await cli('block', '203.0.113.0/24')).toMatchObject({ code: 2, out: expect.stringMatching(/not an IPv4 address or an IPv6 address or network/) });
      expect(await cli('block', '80.82.77.41', '--for', '2w')).toMatchObject({ code: 2, out: expect.stringMatching(/--for "2w" is not a duration/) });
      expect(await cli('unblock', '80.82.77.40')).toEqual({ code: 0, out: 'unblocked 80.82.77.40\n' });
      expect(await cli('unblock', '80.82.77.40')).toEqual({ code: 0, out: '80.82.77.40 was not blocked\n' });
      const json = JSON.parse((await cli('blocked', '--json')).out) as Array<{ target: string }>;
      const targets = json.map((e) => e.target);
      expect(targets).toEqual(expect.arrayContaining(['2a00:1450:4001:2::/64', '45.33.32.156']));
      expect(targets).not.toContain('80.82.77.40');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
