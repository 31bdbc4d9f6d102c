/**
 * Captures the scan-type fixtures test/fixtures/ulogd/scan-*.jsonl from real tools through
 * nftables → NFLOG → real ulogd2 → JSON in the e2e lab: nmap's OS detection and flag scans, a UDP
 * scan, an ICMP sweep, and one-SYN-per-host sweeps of port 22. Each tool sends from its own client
 * address (SCAN_TOOL_ADDR); sweeps go to the 32 addresses of SWEEP_HOSTS, which the firewall
 * namespace holds, so the firewall's input chain logs every probe. Needs root and nmap, hping3,
 * zmap (scripts/install-test-deps.sh). Not a test: compile and run it like capture-fixtures.ts
 * (see the fixtures README), with `capture-scan-fixtures.js` as the script. Only the tool's own
 * lines are kept (source address = the tool's).
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as L from './lab.js';

/** Client addresses of the scan-type tools, beside LAB_TOOL_ADDR's. */
export const SCAN_TOOL_ADDR = {
  'nmap-os': '198.18.0.21',
  'nmap-xmas': '198.18.0.22',
  'nmap-null': '198.18.0.23',
  'nmap-fin': '198.18.0.24',
  'nmap-ack': '198.18.0.25',
  'nmap-maimon': '198.18.0.26',
  'nmap-udp': '198.18.0.27',
  'nmap-ping-sweep': '198.18.0.28',
  'port6000-sweep': '198.18.0.15',
  'port6000-then-bruteforce': '198.18.0.16',
  'zmap-sweep': '198.18.0.41',
  'ipv6-rotation': 'fd00:6e66::a1',
} as const;
export type ScanTool = keyof typeof SCAN_TOOL_ADDR;

/** One host rotating through its /64: five addresses, each scanning ten other ports (1-50 in all). */
export const ROTATING_ADDRS: readonly string[] = ['fd00:6e66::a1', 'fd00:6e66::b7:2', 'fd00:6e66::1:c3', 'fd00:6e66::dd:0:0:4', 'fd00:6e66::e5'];

/** The addresses a tool sends from. */
function sourcesOf(tool: ScanTool): readonly string[] {
  return tool === 'ipv6-rotation' ? ROTATING_ADDRS : [SCAN_TOOL_ADDR[tool]];
}

/** 32 firewall addresses (198.18.0.96/27) for sweeps: each is a host the input chain guards. */
export const SWEEP_CIDR = '198.18.0.96/27';
export const SWEEP_HOSTS: readonly string[] = Array.from({ length: 32 }, (_, i) => `198.18.0.${96 + i}`);

/** The fixture file per tool, and the command line it was captured with (for the README). */
export const SCAN_FIXTURES: ReadonlyArray<readonly [ScanTool, string]> = [
  ['nmap-os', 'scan-nmap-os.jsonl'],
  ['nmap-xmas', 'scan-nmap-xmas.jsonl'],
  ['nmap-null', 'scan-nmap-null.jsonl'],
  ['nmap-fin', 'scan-nmap-fin.jsonl'],
  ['nmap-ack', 'scan-nmap-ack.jsonl'],
  ['nmap-maimon', 'scan-nmap-maimon.jsonl'],
  ['nmap-udp', 'scan-nmap-udp.jsonl'],
  ['nmap-ping-sweep', 'scan-icmp-sweep.jsonl'],
  ['port6000-sweep', 'scan-port6000-sweep.jsonl'],
  ['port6000-then-bruteforce', 'scan-port6000-then-bruteforce.jsonl'],
  ['zmap-sweep', 'scan-zmap-sweep.jsonl'],
  ['ipv6-rotation', 'scan-ipv6-rotation.jsonl'],
];

/** Adds the sweep targets to the firewall's veth. Idempotent. */
export async function addSweepHosts(lab: L.Lab): Promise<void> {
  for (const a of SWEEP_HOSTS) {
    const r = await L.run('ip', ['-n', lab.fwNs, 'addr', 'add', `${a}/24`, 'dev', L.LAB_ADDR.fwIf]);
    if (r.code !== 0 && !/File exists|already assigned/.test(r.stderr)) throw new Error(`ip addr add ${a} failed: ${r.stderr}`);
  }
}

/** Runs one tool from its own address; every run is bounded in packets and time (≤ 120 s). */
export async function sendScan(lab: L.Lab, tool: ScanTool, tmpDir: string): Promise<void> {
  const src = SCAN_TOOL_ADDR[tool];
  const fw = L.LAB_ADDR.fw4;
  const ifc = L.LAB_ADDR.clientIf;
  const x = async (cmd: string, args: string[], ok: (r: L.ExecResult) => boolean = (r) => r.code === 0): Promise<void> => {
    const r = await lab.exec(lab.clientNs, cmd, args, { timeoutMs: 120_000 });
    if (!ok(r)) throw new Error(`${cmd} ${args.join(' ')} failed (code ${r.code}):\n${r.stderr}${r.stdout}`);
  };
  const nmap = (args: string[]): Promise<void> => x('nmap', [...args, '-n', '-Pn', '--max-retries', '0', '-S', src, '-e', ifc]);
  switch (tool) {
    case 'nmap-os':
      // A SYN scan of ports 1-100 (22 open: SSH Attempt, accepted, the lab listens; the rest filtered), then the OS probes.
      return nmap(['-O', '-p', '1-100', fw]);
    case 'nmap-xmas':
      return nmap(['-sX', '-p', '20-30', fw]);
    case 'nmap-null':
      return nmap(['-sN', '-p', '20-30', fw]);
    case 'nmap-fin':
      return nmap(['-sF', '-p', '20-30', fw]);
    case 'nmap-ack':
      return nmap(['-sA', '-p', '20-30', fw]);
    case 'nmap-maimon':
      return nmap(['-sM', '-p', '20-30', fw]);
    case 'nmap-udp':
      return nmap(['-sU', '-p', '50-60', fw]);
    case 'nmap-ping-sweep':
      // -Pn is not wanted here: -sn -PE sends one ICMP echo request per host (--send-ip: not ARP).
      return x('nmap', ['-sn', '-PE', '--send-ip', '-n', '--max-retries', '0', '-S', src, '-e', ifc, SWEEP_CIDR]);
    case 'port6000-sweep':
      for (const host of SWEEP_HOSTS) {
        await x('hping3', ['-a', src, '-S', '-s', '6000', '-k', '-w', '16384', '-t', '103', '-p', '22', '-c', '1', host], (r) => /\d+ packets transmitted/.test(r.stdout + r.stderr));
      }
      return;
    case 'port6000-then-bruteforce':
      // The article's story: the raw-socket scanner's SYN sweep of port 22, then, a little later, the
      // brute-force tool from the same host with its own stack's shape (window 65535, TTL from 128,
      // a new source port per connection). hping3 stands in for both; the gap is 5 s, not minutes.
      for (const host of SWEEP_HOSTS.slice(0, 24)) {
        await x('hping3', ['-a', src, '-S', '-s', '6000', '-k', '-w', '16384', '-t', '103', '-p', '22', '-c', '1', host], (r) => /\d+ packets transmitted/.test(r.stdout + r.stderr));
      }
      await L.sleep(5_000);
      return x('hping3', ['-a', src, '-S', '-w', '65535', '-t', '115', '-p', '22', '-i', 'u100000', '-c', '30', fw], (r) => /\d+ packets transmitted/.test(r.stdout + r.stderr));
    case 'ipv6-rotation':
      for (let i = 0; i < ROTATING_ADDRS.length; i++) {
        await x('nmap', ['-6', '-sS', '-n', '-Pn', '--max-retries', '0', '-S', ROTATING_ADDRS[i]!, '-e', ifc, '-p', `${i * 10 + 1}-${i * 10 + 10}`, L.LAB_ADDR.fw6]);
      }
      return;
    case 'zmap-sweep': {
      mkdirSync(tmpDir, { recursive: true });
      const empty = join(tmpDir, 'zmap-blacklist-empty.conf');
      writeFileSync(empty, '');
      const r = await L.execZmap(lab, ['-p', '22', '-i', ifc, '-S', src, '-G', L.LAB_ADDR.fwMac, '-r', '200', '-c', '2', '-b', empty, '-q', SWEEP_CIDR], 120_000);
      if (r.code !== 0) throw new Error(`zmap failed (code ${r.code}):\n${r.stderr}${r.stdout}`);
      return;
    }
  }
}

export async function captureScanFixtures(outDir = join(L.REPO_ROOT, 'test', 'fixtures', 'ulogd'), only?: readonly string[]): Promise<Record<string, number>> {
  L.requireRoot();
  L.requireTools(['ulogd', 'hping3', 'nmap', 'zmap', 'nft']);
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'nfw-scanfix-'));
  const written: Record<string, number> = {};
  const lab = await L.createLab();
  try {
    await L.addClientAddresses(lab, Object.values(SCAN_TOOL_ADDR).filter((a) => !a.includes(':')));
    for (const a of ROTATING_ADDRS) await lab.execOk(lab.clientNs, 'ip', ['addr', 'add', `${a}/64`, 'dev', L.LAB_ADDR.clientIf, 'nodad']);
    await addSweepHosts(lab);
    const u = await L.startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'ulogd') });
    const from = (sources: readonly string[]) => (l: string): boolean => L.isPacketLine(l) && sources.includes(String((JSON.parse(l) as Record<string, unknown>)['src_ip']));
    for (const [tool, file] of SCAN_FIXTURES) {
      if (only && !only.includes(tool)) continue;
      const source = sourcesOf(tool);
      const before = L.readLines(u.outputPath).filter(from(source)).length;
      await sendScan(lab, tool, tmp);
      // NFLOG batches up to 1 s in the kernel: wait until the count holds still for 2 s.
      let count = -1;
      for (;;) {
        await L.sleep(2_000);
        const now = L.readLines(u.outputPath).filter(from(source)).length;
        if (now === count) break;
        count = now;
      }
      const lines = L.readLines(u.outputPath).filter(from(source)).slice(before);
      if (lines.length === 0) throw new Error(`${file}: no line from ${source.join(', ')}`);
      writeFileSync(join(outDir, file), lines.map((l) => `${l}\n`).join(''));
      written[file] = lines.length;
    }
    await u.stop();
  } finally {
    await lab.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
  return written;
}

// Run directly (compiled): node .state/labjs/capture-scan-fixtures.js [tool ...]
L.runCaptureScript('capture-scan-fixtures', (only) => captureScanFixtures(undefined, only));
