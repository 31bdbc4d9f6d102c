/**
 * The core promise, end to end with the real parts: the project's nftables example in a network
 * namespace, real ulogd2 with the project's ulogd configs, real carbon-cache read back with
 * whisper-fetch, and nfwatch as a child process. The sums in Graphite must equal the packets the
 * firewall logged — also across kill -9 of nfwatch mid-stream, a carbon-cache restart and a ulogd
 * log rotation. Needs root and network namespaces: fails loudly without them, never skips.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExactInGraphite, fileSource, INTERVAL_S, nfacctSince, send, SETTLE_MS, socketSource, startDaemon, withInput, type Counts } from './expect.js';
import {
  createLab,
  isPacketLine,
  nfacctReported,
  requireRoot,
  requireTools,
  sendTraffic,
  sleep,
  startCarbon,
  startUlogd,
  type Carbon,
  type Lab,
  type Ulogd,
} from './lab.js';
import { ensureStopped, requireBuild, type Nfwatch } from './nfwatch.js';

describe('nfwatch end to end: ulogd2 JSON in, exact Graphite sums out', () => {
  let lab: Lab | undefined;
  let carbon: Carbon | undefined;
  let tmp = '';
  let ulogd: Ulogd | undefined;
  let nfwatch: Nfwatch | undefined;

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'nft', 'nfacct', 'iptables-nft', 'ip6tables-nft', 'ulogd', 'hping3', 'carbon-cache', 'whisper-fetch']);
    requireBuild();
    tmp = mkdtempSync(join(tmpdir(), 'nfw-core-'));
    lab = await createLab();
    carbon = await startCarbon(join(tmp, 'carbon'), `${INTERVAL_S}s:1d`);
  }, 120_000);

  afterAll(async () => {
    await ensureStopped(nfwatch);
    await ulogd?.stop();
    await carbon?.stop();
    await lab?.destroy();
    if (tmp && !process.env.NFW_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  /** Stops this test's ulogd and nfwatch so the next test starts clean (NFLOG groups are exclusive). */
  async function cleanUp(): Promise<void> {
    await ensureStopped(nfwatch);
    nfwatch = undefined;
    await ulogd?.stop();
    ulogd = undefined;
  }

  it('file source: counts by verdict, prefix, protocol, port and NFACCT counter equal what was sent', { timeout: 180_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'file-'));
    const from = Math.floor(Date.now() / 1000) - 5;
    const nfacctBefore = await nfacctReported(lab);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(dir, 'ulogd') });
    nfwatch = await startDaemon(dir, carbon, 'e2e.file', fileSource(ulogd.outputPath));

    const expected: Counts = new Map();
    await send(lab, expected, 'ssh6000', 40);
    await send(lab, expected, 'drop23', 25);
    await send(lab, expected, 'dns', 10);
    await send(lab, expected, 'udpDrop', 7);
    await send(lab, expected, 'icmp', 5);
    await send(lab, expected, 'icmp6', 4);
    await sleep(SETTLE_MS);
    // ulogd logged every packet (this is the firewall's own count, before nfwatch).
    const logged = readFileSync(ulogd.outputPath, 'utf8').split('\n').filter(isPacketLine).length;
    expect(logged).toBe(91);

    const nfacct = await nfacctSince(lab, nfacctBefore);
    expect(nfacct.get('nfacct.ipv4.ssh.pkts')).toBeGreaterThanOrEqual(40);
    await expectExactInGraphite(carbon, 'e2e.file', new Map([...withInput(expected, 'ulogd'), ...nfacct]), from);

    expect(await nfwatch.stop()).toBe(0);
    expect(nfwatch.log()).not.toMatch(/ error /);
    await cleanUp();
  });

  it('file source: stays exact across kill -9 mid-stream, a carbon-cache restart, a log rotation and a clean restart', { timeout: 300_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'chaos-'));
    const from = Math.floor(Date.now() / 1000) - 5;
    const nfacctBefore = await nfacctReported(lab);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(dir, 'ulogd') });
    const nfw = await startDaemon(dir, carbon, 'e2e.chaos', fileSource(ulogd.outputPath));
    nfwatch = nfw;
    const expected: Counts = new Map();

    // 1. kill -9 in mid-stream: 60 SYNs over 3 s, nfwatch killed after 1.2 s, restarted after.
    const first = send(lab, expected, 'ssh6000', 60, 50_000);
    await sleep(1_200);
    await nfw.kill9();
    await first;
    await nfw.restart();

    // 2. carbon-cache restart in mid-stream (carbon drops what it had not written to disk yet).
    const second = send(lab, expected, 'drop23', 40, 50_000);
    await sleep(700);
    await carbon.stop();
    await second;
    await send(lab, expected, 'dns', 15);
    await sleep(3_000); // intervals close and queue up while carbon is away
    await carbon.restart();

    // 3. logrotate-style rotation (rename + SIGHUP) in mid-stream.
    const third = send(lab, expected, 'udpDrop', 40, 50_000);
    await sleep(800);
    const rotated = await ulogd.rotate();
    await third;
    expect(existsSync(rotated)).toBe(true);

    // 4. kill -9 while traffic flows and nfwatch is down, then a restart that must catch up.
    await nfw.kill9();
    await send(lab, expected, 'icmp', 20);
    await send(lab, expected, 'icmp6', 6);
    await nfw.restart();

    // 5. a clean SIGTERM + restart with traffic on both sides of it.
    await send(lab, expected, 'ssh6000', 10);
    expect(await nfw.stop()).toBe(0);
    await send(lab, expected, 'drop23', 5);
    await nfw.restart();

    await sleep(SETTLE_MS);
    const logged = [rotated, ulogd.outputPath].map((p) => readFileSync(p, 'utf8').split('\n').filter(isPacketLine).length);
    expect(logged[0]! + logged[1]!).toBe(196);
    expect(logged[1]).toBeGreaterThan(0); // the rotation really split the stream

    const nfacct = await nfacctSince(lab, nfacctBefore);
    await expectExactInGraphite(carbon, 'e2e.chaos', new Map([...withInput(expected, 'ulogd'), ...nfacct]), from, 60_000);
    expect(nfw.log()).toMatch(/resuming from its saved position/);
    await cleanUp();
  });

  it('socket source: ulogd in mode="unix" streams to nfwatch; exact across a carbon-cache restart', { timeout: 240_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'socket-'));
    const from = Math.floor(Date.now() / 1000) - 5;
    const socketPath = join(dir, 'run', 'ulogd.sock');
    // ulogd 2.0.8 refuses to start when nothing listens on the socket (README): nfwatch goes first.
    await expect(startUlogd(lab, { mode: 'unix', tmpDir: join(dir, 'ulogd-early'), socketPath })).rejects.toThrow(/not even a single working plugin stack/);
    const nfw = await startDaemon(dir, carbon, 'e2e.socket', socketSource('ulogd-socket', socketPath));
    nfwatch = nfw;
    const nfacctBefore = await nfacctReported(lab);
    ulogd = await startUlogd(lab, { mode: 'unix', tmpDir: join(dir, 'ulogd'), socketPath });
    const expected: Counts = new Map();

    await send(lab, expected, 'ssh6000', 40);
    await send(lab, expected, 'drop23', 25);
    const during = send(lab, expected, 'dns', 40, 50_000);
    await sleep(700);
    await carbon.stop();
    await during;
    await send(lab, expected, 'icmp', 5);
    await sleep(2_000);
    await carbon.restart();
    await send(lab, expected, 'icmp6', 4);
    await send(lab, expected, 'udpDrop', 7);
    await sleep(SETTLE_MS);
    // Stop ulogd before reading the NFACCT truth, so no poll can happen in between.
    await ulogd.stop();
    ulogd = undefined;

    const nfacct = await nfacctSince(lab, nfacctBefore);
    expect(nfacct.get('nfacct.ipv4.ssh.pkts')).toBeGreaterThanOrEqual(40);
    await expectExactInGraphite(carbon, 'e2e.socket', new Map([...withInput(expected, 'ulogd-socket'), ...nfacct]), from);
    expect(await nfw.stop()).toBe(0);
    await cleanUp();
  });

  it('socket source: after nfwatch restarts, a SIGHUP makes ulogd reconnect without losing the next event', { timeout: 180_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'socket-restart-'));
    const from = Math.floor(Date.now() / 1000) - 5;
    const socketPath = join(dir, 'ulogd.sock');
    const nfw = await startDaemon(dir, carbon, 'e2e.sockrestart', socketSource('s', socketPath));
    nfwatch = nfw;
    ulogd = await startUlogd(lab, { mode: 'unix', tmpDir: join(dir, 'ulogd'), socketPath });
    const expected: Counts = new Map();
    await send(lab, expected, 'ssh6000', 12);
    await sleep(SETTLE_MS);
    expect(await nfw.stop()).toBe(0);

    // While nfwatch is away ulogd drops what it logs (it buffers nothing): not counted.
    await sendTraffic(lab, { kind: 'tcp', count: 5, dport: 23 });
    await sleep(1_500);
    await nfw.restart();
    ulogd.hup(); // what the README tells admins to do (or order the services)
    await sleep(500);
    await send(lab, expected, 'drop23', 9);
    await sleep(SETTLE_MS);
    expect(ulogd.log()).toMatch(/Failure sending message|Broken pipe|No such file/i);
    await expectExactInGraphite(carbon, 'e2e.sockrestart', new Map([...withInput(expected, 's')].filter(([k]) => k.startsWith('events.'))), from);
    await cleanUp();
  });
});

