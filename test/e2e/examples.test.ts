/**
 * The iptables example rulesets (iptables-examples/rules.v4, rules.v6, with the nfacct objects)
 * give the same logging as the nftables example: loaded into a real namespace, fed to real ulogd
 * with conf/ulogd.conf, counted exactly by nfwatch in carbon. The nftables example is the one the
 * core end-to-end test runs. Needs root: fails loudly without it, never skips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExactInGraphite, fileSource, INTERVAL_S, nfacctSince, send, SETTLE_MS, startDaemon, withInput, type Counts } from './expect.js';
import { createLab, nfacctReported, requireRoot, requireTools, sleep, startCarbon, startUlogd, type Carbon, type Lab, type Ulogd } from './lab.js';
import { ensureStopped, requireBuild, type Nfwatch } from './nfwatch.js';

describe('iptables-examples with ulogd2 and nfwatch', () => {
  let lab: Lab | undefined;
  let carbon: Carbon | undefined;
  let ulogd: Ulogd | undefined;
  let nfwatch: Nfwatch | undefined;
  let tmp = '';

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'iptables-restore', 'ip6tables-restore', 'nfacct', 'ulogd', 'hping3', 'carbon-cache', 'whisper-fetch']);
    requireBuild();
    tmp = mkdtempSync(join(tmpdir(), 'nfw-iptables-'));
    lab = await createLab({ firewall: 'iptables' });
    carbon = await startCarbon(join(tmp, 'carbon'), `${INTERVAL_S}s:1d`);
  }, 120_000);

  afterAll(async () => {
    await ensureStopped(nfwatch);
    await ulogd?.stop();
    await carbon?.stop();
    await lab?.destroy();
    if (tmp && !process.env.NFW_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('logs accepted SSH, DNS and pings to group 1 and the default drop to group 2, with nfacct counters', { timeout: 180_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const from = Math.floor(Date.now() / 1000) - 5;
    const before = await nfacctReported(lab);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'ulogd') });
    nfwatch = await startDaemon(tmp, carbon, 'e2e.iptables', fileSource(ulogd.outputPath));
    const expected: Counts = new Map();
    await send(lab, expected, 'ssh6000', 20);
    await send(lab, expected, 'drop23', 10);
    await send(lab, expected, 'dns', 6);
    await send(lab, expected, 'udpDrop', 4);
    await send(lab, expected, 'icmp', 3);
    await send(lab, expected, 'icmp6', 3);
    await sleep(SETTLE_MS);
    await ulogd.stop();
    ulogd = undefined;
    const nfacct = await nfacctSince(lab, before);
    expect(nfacct.get('nfacct.ipv4.ssh.pkts')).toBeGreaterThanOrEqual(20);
    await expectExactInGraphite(carbon, 'e2e.iptables', new Map([...withInput(expected, 'ulogd'), ...nfacct]), from);
    expect(await nfwatch.stop()).toBe(0);
  });
});
