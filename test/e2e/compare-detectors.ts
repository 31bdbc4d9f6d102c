/**
 * nfwatch, psad and p0f side by side on one lab capture: real tools through the project's nftables
 * example into one ulogd2 with a JSON stack (nfwatch's input) and a LOGEMU stack on the same NFLOG
 * groups (psad's input: the iptables kernel-log format), and a pcap of the same packets on the
 * firewall's veth (p0f's input). Not a test: it needs psad, p0f and tcpdump (Debian packages), and
 * prints what each says per source address. Compile and run it like the capture scripts:
 *
 *   node .state/labjs/compare-detectors.js [output dir]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as L from './lab.js';
import { SWEEP_HOSTS, addSweepHosts } from './capture-scan-fixtures.js';

/** Who sends what; the truth the three are judged by. */
export const ATTACKERS = [
  { source: '198.18.0.10', truth: 'curl (Linux client), 1 connection' },
  { source: '198.18.0.20', truth: 'nmap -sS, 200 ports' },
  { source: '198.18.0.21', truth: 'nmap -O (SYN scan of 100 ports, then OS detection)' },
  { source: '198.18.0.22', truth: 'nmap -sX (XMAS), 100 ports' },
  { source: '198.18.0.30', truth: 'masscan, 200 ports' },
  { source: '198.18.0.41', truth: 'zmap, port 22 on 32 hosts' },
  { source: '198.18.0.15', truth: 'port-6000 SSH scanner shape (hping3), port 22 on 32 hosts' },
  { source: '198.18.0.11', truth: 'hping3 defaults, 3 SYNs to port 22' },
  { source: '198.18.0.16', truth: '60 SSH connections (curl, Linux stack) in 30 s' },
] as const;

const LOGEMU_PLUGINS = ['ulogd_filter_PRINTPKT.so', 'ulogd_output_LOGEMU.so'];

async function send(lab: L.Lab, tmp: string): Promise<void> {
  const fw = L.LAB_ADDR.fw4;
  const ifc = L.LAB_ADDR.clientIf;
  const x = (cmd: string, args: string[]) => lab.exec(lab.clientNs, cmd, args, { timeoutMs: 180_000 });
  const nmap = (src: string, args: string[]) => x('nmap', [...args, '-n', '-Pn', '--max-retries', '0', '-S', src, '-e', ifc]);
  await x('curl', ['-sS', '--max-time', '3', '--interface', '198.18.0.10', '-o', '/dev/null', `http://${fw}:22/`]);
  await nmap('198.18.0.20', ['-sS', '-p', '1-200', fw]);
  await nmap('198.18.0.21', ['-O', '-p', '1-100', fw]);
  await nmap('198.18.0.22', ['-sX', '-p', '1-100', fw]);
  await x('masscan', [fw, '-p1-200', '--rate', '500', '--wait', '2', '--adapter', ifc, '--adapter-ip', '198.18.0.30', '--adapter-mac', L.LAB_ADDR.clientMac, '--router-mac', L.LAB_ADDR.fwMac]);
  const empty = join(tmp, 'zmap-blacklist-empty.conf');
  writeFileSync(empty, '');
  await L.execZmap(lab, ['-p', '22', '-i', ifc, '-S', '198.18.0.41', '-G', L.LAB_ADDR.fwMac, '-r', '200', '-c', '2', '-b', empty, '-q', '198.18.0.96/27'], 180_000);
  for (const host of SWEEP_HOSTS) await x('hping3', ['-a', '198.18.0.15', '-S', '-s', '6000', '-k', '-w', '16384', '-t', '103', '-p', '22', '-c', '1', host]);
  await x('hping3', ['-a', '198.18.0.11', '-i', 'u20000', '-S', '-p', '22', '-c', '3', fw]);
  for (let i = 0; i < 60; i++) {
    await x('curl', ['-sS', '--max-time', '1', '--interface', '198.18.0.16', '-o', '/dev/null', `http://${fw}:22/`]);
    await L.sleep(500);
  }
}

/** Runs a program to completion; its output. */
function output(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('close', () => resolve(text));
    child.on('error', (err) => resolve(`${cmd}: ${err.message}`));
  });
}

export async function capture(outDir: string): Promise<void> {
  L.requireRoot();
  L.requireTools(['ulogd', 'hping3', 'nmap', 'masscan', 'zmap', 'curl', 'nft', 'tcpdump', 'psad', 'p0f']);
  mkdirSync(outDir, { recursive: true });
  const lab = await L.createLab();
  try {
    await L.addClientAddresses(lab, ATTACKERS.map((a) => a.source));
    await addSweepHosts(lab);
    const logemu = join(outDir, 'ulogd.logemu');
    const u = await L.startUlogd(lab, {
      mode: 'file',
      tmpDir: join(outDir, 'ulogd'),
      jsonPath: join(outDir, 'ulogd.json'),
      // The same NFLOG instances feed a second stack each: LOGEMU writes what psad reads.
      editConf: (conf) =>
        conf
          .replace(/(plugin="[^"]*ulogd_output_JSON\.so")/, (m) => [m, ...LOGEMU_PLUGINS.map((p) => `plugin="/usr/lib/x86_64-linux-gnu/ulogd/${p}"`)].join('\n'))
          .replace(/^stack=acct1:NFACCT,json1:JSON$/m, (m) => `${m}\nstack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU\nstack=log2:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU`)
          .concat(`\n[emu1]\nfile="${logemu}"\nsync=1\n`),
    });
    const pcap = join(outDir, 'capture.pcap');
    const tcpdump = lab.spawn(lab.fwNs, 'tcpdump', ['-i', L.LAB_ADDR.fwIf, '-w', pcap, '-U', 'inbound and not arp']);
    await L.sleep(1_000);
    await send(lab, outDir);
    await L.sleep(2_000);
    tcpdump.kill('SIGINT');
    await L.sleep(500);
    await u.stop();
  } finally {
    await lab.destroy();
  }
}

/** What psad and p0f say about the capture in `dir`, as their own output. */
export async function thirdParty(dir: string): Promise<{ psad: string; p0f: string }> {
  const psad = await output('psad', ['--Analyze-msgs', '--messages-file', join(dir, 'ulogd.logemu')]);
  const p0f = await output('p0f', ['-r', join(dir, 'capture.pcap')]);
  writeFileSync(join(dir, 'psad.txt'), psad);
  writeFileSync(join(dir, 'p0f.txt'), p0f);
  return { psad, p0f };
}

L.runCaptureScript('compare-detectors', async () => {
  const dir = process.argv[2] ?? join(L.REPO_ROOT, '.state', 'compare');
  await capture(dir);
  const { psad, p0f } = await thirdParty(dir);
  return { 'ulogd.json': readFileSync(join(dir, 'ulogd.json'), 'utf8').split('\n').length - 1, 'psad.txt': psad.split('\n').length, 'p0f.txt': p0f.split('\n').length };
});
