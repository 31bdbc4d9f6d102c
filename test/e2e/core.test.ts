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
  whisperSum,
  type Carbon,
  type Lab,
  type Ulogd,
} from './lab.js';
import { ensureStopped, requireBuild, startNfwatch, type Nfwatch } from './nfwatch.js';

/** nfwatch's interval and carbon's finest retention must match (carbon keeps one value per slot). */
const INTERVAL_S = 2;
/** NFLOG batches packets for up to 1 s; NFACCT is polled every 2 s: wait this long after traffic. */
const SETTLE_MS = 3_000;

type Counts = Map<string, number>;

function add(into: Counts, path: string, n: number): void {
  into.set(path, (into.get(path) ?? 0) + n);
}

/** hping3/python send exactly the count asked for (the lab smoke test checks it against ulogd). */
async function send(lab: Lab, expected: Counts, what: 'ssh6000' | 'drop23' | 'dns' | 'udpDrop' | 'icmp' | 'icmp6', count: number, intervalUs = 20_000): Promise<void> {
  switch (what) {
    case 'ssh6000': {
      // The classic raw-socket scanner shape: source port 6000, window 16384, TTL 103.
      const r = await sendTraffic(lab, { kind: 'tcp', count, dport: 22, sport: 6000, window: 16384, ttl: 103, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.tcp', count);
      add(expected, 'events.allowed.dport.22', count);
      add(expected, 'events.prefix.SSH_Attempt', count);
      return;
    }
    case 'drop23': {
      const r = await sendTraffic(lab, { kind: 'tcp', count, dport: 23, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.blocked.count', count);
      add(expected, 'events.blocked.proto.tcp', count);
      add(expected, 'events.blocked.dport.23', count);
      add(expected, 'events.prefix.Input_Default_DROP', count);
      return;
    }
    case 'dns': {
      const r = await sendTraffic(lab, { kind: 'udp', count, dport: 53, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.udp', count);
      add(expected, 'events.allowed.dport.53', count);
      add(expected, 'events.prefix.DNS', count);
      return;
    }
    case 'udpDrop': {
      const r = await sendTraffic(lab, { kind: 'udp', count, dport: 5353, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.blocked.count', count);
      add(expected, 'events.blocked.proto.udp', count);
      add(expected, 'events.blocked.dport.5353', count);
      add(expected, 'events.prefix.Input_Default_DROP', count);
      return;
    }
    case 'icmp': {
      const r = await sendTraffic(lab, { kind: 'icmp', count, intervalUs });
      expect(r.sent).toBe(count);
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.icmp', count);
      add(expected, 'events.prefix.ICMP_Echo', count);
      return;
    }
    case 'icmp6': {
      await sendTraffic(lab, { kind: 'icmp6', count, intervalMs: Math.max(1, intervalUs / 1000) });
      add(expected, 'events.allowed.count', count);
      add(expected, 'events.allowed.proto.icmpv6', count);
      add(expected, 'events.prefix.ICMP_Echo', count);
      return;
    }
  }
}

/** Everything a packet adds is also counted by source name. */
function withInput(expected: Counts, source: string): Counts {
  const out = new Map(expected);
  out.set(`events.input.${source}`, (expected.get('events.allowed.count') ?? 0) + (expected.get('events.blocked.count') ?? 0));
  return out;
}

async function readSums(carbon: Carbon, prefix: string, paths: Iterable<string>, from: number): Promise<Record<string, number | null>> {
  const until = Math.ceil(Date.now() / 1000) + 60;
  const out: Record<string, number | null> = {};
  for (const path of paths) out[path] = await whisperSum(carbon.storageDir, `${prefix}.${path}`, from, until);
  return out;
}

/**
 * Waits until carbon holds exactly the expected sums, then waits one more interval plus carbon's
 * write delay and checks they stay exact (nothing counted twice by a late write).
 */
async function expectExactInGraphite(carbon: Carbon, prefix: string, expected: Counts, from: number, timeoutMs = 45_000): Promise<void> {
  const want = Object.fromEntries(expected);
  const deadline = Date.now() + timeoutMs;
  let got = await readSums(carbon, prefix, expected.keys(), from);
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
    await sleep(500);
    got = await readSums(carbon, prefix, expected.keys(), from);
  }
  expect(got).toEqual(want);
  await sleep(INTERVAL_S * 1000 + 2_500);
  expect(await readSums(carbon, prefix, expected.keys(), from)).toEqual(want);
}

function nfwatchToml(opts: { stateDir: string; carbonPort: number; prefix: string; source: string }): string {
  return `
[general]
state_dir = "${opts.stateDir}"
log_level = "debug"

[aggregate]
interval_seconds = ${INTERVAL_S}
grace_seconds = 1.5

${opts.source}

[outputs.graphite]
port = ${opts.carbonPort}
prefix = "${opts.prefix}"
reconnect_min_ms = 100
reconnect_max_ms = 1000
`;
}

function nfacctExpected(before: Map<string, { pkts: number; bytes: number }>, after: Map<string, { pkts: number; bytes: number }>): Counts {
  const out: Counts = new Map();
  for (const [name, end] of after) {
    const start = before.get(name) ?? { pkts: 0, bytes: 0 };
    out.set(`nfacct.${name}.pkts`, end.pkts - start.pkts);
    out.set(`nfacct.${name}.bytes`, end.bytes - start.bytes);
  }
  return out;
}

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
    nfwatch = await startNfwatch(
      dir,
      nfwatchToml({
        stateDir: join(dir, 'state'),
        carbonPort: carbon.port,
        prefix: 'e2e.file',
        source: `[[sources.file]]\nname = "ulogd"\npath = "${ulogd.outputPath}"\nfrom = "beginning"`,
      }),
    );

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

    const nfacct = nfacctExpected(nfacctBefore, await nfacctReported(lab));
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
    const nfw = await startNfwatch(
      dir,
      nfwatchToml({
        stateDir: join(dir, 'state'),
        carbonPort: carbon.port,
        prefix: 'e2e.chaos',
        source: `[[sources.file]]\nname = "ulogd"\npath = "${ulogd.outputPath}"\nfrom = "beginning"`,
      }),
    );
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

    const nfacct = nfacctExpected(nfacctBefore, await nfacctReported(lab));
    await expectExactInGraphite(carbon, 'e2e.chaos', new Map([...withInput(expected, 'ulogd'), ...nfacct]), from, 60_000);
    expect(nfw.log()).toMatch(/resuming from its saved position/);
    await cleanUp();
  });

  it('socket source: ulogd in mode="unix" streams to nfwatch; exact across a carbon-cache restart', { timeout: 240_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'socket-'));
    const from = Math.floor(Date.now() / 1000) - 5;
    const socketPath = join(dir, 'run', 'ulogd.sock');
    // ulogd 2.0.8 refuses to start when nothing listens on the socket: nfwatch goes first.
    const nfw = await startNfwatch(
      dir,
      nfwatchToml({
        stateDir: join(dir, 'state'),
        carbonPort: carbon.port,
        prefix: 'e2e.socket',
        source: `[[sources.socket]]\nname = "ulogd-socket"\nunix_path = "${socketPath}"`,
      }),
    );
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

    const nfacct = nfacctExpected(nfacctBefore, await nfacctReported(lab));
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
    const nfw = await startNfwatch(
      dir,
      nfwatchToml({
        stateDir: join(dir, 'state'),
        carbonPort: carbon.port,
        prefix: 'e2e.sockrestart',
        source: `[[sources.socket]]\nname = "s"\nunix_path = "${socketPath}"`,
      }),
    );
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

