/**
 * Smoke test of the e2e lab itself: real ulogd2 in file mode counts exactly the
 * packets hping3 sends, and carbon-cache + whisper-fetch round-trip a datapoint.
 * Needs root (throws otherwise; never skips).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  requireRoot,
  requireTools,
  createLab,
  startUlogd,
  startCarbon,
  sendTraffic,
  sendGraphiteLines,
  whisperSum,
  waitForWhisperSum,
  waitForLines,
  waitFor,
  readJsonLines,
  readLines,
  isPacketLine,
  sleep,
  type Lab,
} from './lab.js';

describe('e2e lab smoke', () => {
  let lab: Lab | undefined;
  let tmp = '';

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'nft', 'nfacct', 'iptables-nft', 'ulogd', 'hping3', 'carbon-cache', 'whisper-fetch']);
    tmp = mkdtempSync(join(tmpdir(), 'nfw-smoke-'));
    lab = await createLab();
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('ulogd (file mode) writes one JSON line per logged packet', { timeout: 120_000 }, async () => {
    if (!lab) throw new Error('lab not created');
    const ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'ulogd') });
    try {
      const syn = await sendTraffic(lab, { kind: 'tcp', count: 40, dport: 22, sport: 6000, window: 16384, ttl: 103 });
      const dropped = await sendTraffic(lab, { kind: 'tcp', count: 25, dport: 8080 });
      const icmp = await sendTraffic(lab, { kind: 'icmp', count: 5 });
      expect([syn.sent, dropped.sent, icmp.sent]).toEqual([40, 25, 5]);

      await waitForLines(ulogd.outputPath, 70, 15_000, isPacketLine);
      await sleep(1_500); // the kernel batches NFLOG messages for up to 1 s: let stragglers arrive
      const all = readJsonLines(ulogd.outputPath);
      const packets = all.filter((o) => 'oob.prefix' in o);
      expect(packets).toHaveLength(70);

      const ssh = packets.filter((o) => o['oob.prefix'] === 'SSH Attempt');
      expect(ssh).toHaveLength(40);
      for (const o of ssh) {
        expect(o).toMatchObject({
          action: 'allowed',
          'oob.family': 2,
          'ip.protocol': 6,
          src_ip: lab.addr.client4,
          dest_ip: lab.addr.fw4,
          src_port: 6000,
          dest_port: 22,
          'tcp.syn': 1,
          'tcp.ack': 0,
          'tcp.window': 16384,
          'ip.ttl': 103,
          'oob.in': lab.addr.fwIf,
        });
        expect(typeof o['oob.time.sec']).toBe('number');
      }

      const drops = packets.filter((o) => o['oob.prefix'] === 'Input Default DROP');
      expect(drops).toHaveLength(25);
      for (const o of drops) expect(o).toMatchObject({ action: 'blocked', 'ip.protocol': 6, dest_port: 8080, 'tcp.syn': 1 });

      const pings = packets.filter((o) => o['oob.prefix'] === 'ICMP Echo');
      expect(pings).toHaveLength(5);
      for (const o of pings) expect(o).toMatchObject({ action: 'allowed', 'ip.protocol': 1, 'icmp.type': 8, 'icmp.code': 0 });

      // NFACCT (zerocounter=1): deltas of ipv4.ssh add up to at least the 40 SYNs.
      const sshCount = await waitFor(
        'NFACCT ipv4.ssh deltas >= 40',
        () => {
          const sum = readJsonLines(ulogd.outputPath)
            .filter((o) => o['sum.name'] === 'ipv4.ssh')
            .reduce((a, o) => a + Number(o['sum.pkts']), 0);
          return sum >= 40 ? sum : undefined;
        },
        10_000,
        200,
      );
      expect(sshCount).toBeGreaterThanOrEqual(40);
      expect(readLines(ulogd.outputPath).length).toBeGreaterThan(70);
    } finally {
      await ulogd.stop();
    }
  });

  it('carbon-cache stores a plaintext line that whisperSum reads back', { timeout: 120_000 }, async () => {
    const carbon = await startCarbon(join(tmp, 'carbon'));
    try {
      const now = Math.floor(Date.now() / 1000);
      await sendGraphiteLines(carbon.port, [`nfw.smoke.x 7 ${now}`]);
      // carbon writes its cache about once a second; it does NOT flush on SIGTERM, so wait here.
      const sum = await waitForWhisperSum(carbon.storageDir, 'nfw.smoke.x', now - 60, now + 60, 7, 30_000);
      expect(sum).toBe(7);
      expect(await whisperSum(carbon.storageDir, 'nfw.smoke.missing', now - 60, now + 60)).toBeNull();
    } finally {
      await carbon.stop();
    }
  });
});
