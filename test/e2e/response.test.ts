/**
 * Acting on a detection, end to end: a real nmap scan through the project's nftables example and
 * real ulogd2 into the nfwatch daemon, which alerts a webhook receiver on loopback once and adds
 * the scanner to the example's block set in the firewall namespace; the firewall then drops its
 * next packets (the block rule's counter counts them), an allowlisted scanner is never blocked,
 * and the block runs out. Needs root and network namespaces: fails loudly without them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClientAddresses, createLab, readJsonLines, requireRoot, requireTools, sleep, startUlogd, waitFor, type Lab, type Ulogd } from './lab.js';
import { ensureStopped, startNfwatch, type Nfwatch } from './nfwatch.js';

const SCANNER = '198.18.0.60';
const TRUSTED_SCANNER = '198.18.0.61';
const BLOCK_SECONDS = 12;

describe('response: detected, alerted once, blocked in the nftables set, dropped, expired', () => {
  let lab: Lab | undefined;
  let ulogd: Ulogd | undefined;
  let nfwatch: Nfwatch | undefined;
  let receiver: Server | undefined;
  const alerts: Array<Record<string, unknown>> = [];
  let tmp = '';

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'nft', 'ulogd', 'hping3', 'nmap']);
    tmp = mkdtempSync(join(tmpdir(), 'nfw-response-'));
    lab = await createLab();
    await addClientAddresses(lab, [SCANNER, TRUSTED_SCANNER]);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'ulogd') });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alert`;
    nfwatch = await startNfwatch(
      tmp,
      `
[general]
state_dir = "${join(tmp, 'state')}"
[[sources.file]]
path = "${ulogd.outputPath}"
from = "beginning"
poll_ms = 50
[outputs.graphite]
enabled = false
[web]
enabled = false
[track]
# The lab's scan is small: thresholds scaled to it.
vertical_suspect_ports = 4
vertical_ports = 8
[alerts]
min_severity = 3
max_age_seconds = 0
[alerts.webhook]
url = "${hook}"
[response]
enabled = true
min_severity = 3
block_seconds = ${BLOCK_SECONDS}
# The lab's addresses are in the benchmarking range, a special range.
block_private = true
allow = ["${TRUSTED_SCANNER}"]
nft_command = ["ip", "netns", "exec", "${lab.fwNs}", "nft"]
`,
    );
  }, 120_000);

  afterAll(async () => {
    await ensureStopped(nfwatch);
    receiver?.close();
    await ulogd?.stop();
    await lab?.destroy();
    if (tmp && !process.env.NFW_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  /** The block rule's packet counter for IPv4 (nftables-examples/firewall.nft). */
  async function blockRuleDrops(): Promise<number> {
    const out = await lab!.execOk(lab!.fwNs, 'nft', ['list', 'chain', 'inet', 'nfwatch_filter', 'input']);
    const m = /ip saddr @nfwatch_block4 counter packets (\d+)/.exec(out.stdout);
    if (m === null) throw new Error(`no block rule counter in:\n${out.stdout}`);
    return Number(m[1]);
  }

  async function blockSet(): Promise<string> {
    return (await lab!.execOk(lab!.fwNs, 'nft', ['list', 'set', 'inet', 'nfwatch_filter', 'nfwatch_block4'])).stdout;
  }

  const sshAttemptsFrom = (source: string): number => readJsonLines(ulogd!.outputPath).filter((o) => o['src_ip'] === source && o['oob.prefix'] === 'SSH Attempt').length;

  it('blocks the scanner, alerts once, drops its next packets, spares the allowlisted one, and lets the block run out', { timeout: 180_000 }, async () => {
    const l = lab!;
    const nmap = (source: string) => l.execOk(l.clientNs, 'nmap', ['-sS', '-n', '-Pn', '--max-retries', '0', '-S', source, '-e', l.addr.clientIf, '-p', '1000-1030', l.addr.fw4], { timeoutMs: 120_000 });
    await nmap(SCANNER);
    await nmap(TRUSTED_SCANNER);

    await waitFor('the scanner in the block set', async () => ((await blockSet()).includes(SCANNER) ? true : undefined), 20_000, 200);
    const set = await blockSet();
    expect(set).toMatch(new RegExp(`${SCANNER.replace(/\./g, '\\.')} timeout ${BLOCK_SECONDS}s expires \\S+ comment "nfwatch severity \\d: SYN port scan of \\d+ ports`));
    expect(set).not.toContain(TRUSTED_SCANNER);

    // Its next packets, SSH SYNs the firewall otherwise accepts, are dropped by the block rule.
    const dropsBefore = await blockRuleDrops();
    const sshBefore = sshAttemptsFrom(SCANNER);
    await l.execOk(l.clientNs, 'hping3', ['-a', SCANNER, '-i', 'u20000', '-S', '-p', '22', '-c', '5', l.addr.fw4], { timeoutMs: 30_000 }).catch(() => undefined);
    await waitFor('5 drops by the block rule', async () => ((await blockRuleDrops()) >= dropsBefore + 5 ? true : undefined), 10_000, 200);
    expect(await blockRuleDrops()).toBe(dropsBefore + 5);
    expect(sshAttemptsFrom(SCANNER)).toBe(sshBefore);

    // The allowlisted scanner is alerted on but never blocked: its SSH SYNs are accepted.
    await l.execOk(l.clientNs, 'hping3', ['-a', TRUSTED_SCANNER, '-i', 'u20000', '-S', '-p', '22', '-c', '3', l.addr.fw4], { timeoutMs: 30_000 }).catch(() => undefined);
    await waitFor('the trusted scanner\'s SSH SYNs accepted', () => (sshAttemptsFrom(TRUSTED_SCANNER) >= 3 ? true : undefined), 10_000, 200);

    // One alert per scanner: not a storm, though the blocked one kept knocking.
    await sleep(1_500);
    const bySource = (source: string) => alerts.filter((a) => a['source'] === source);
    expect(bySource(SCANNER)).toHaveLength(1);
    expect(bySource(SCANNER)[0]).toMatchObject({ kind: 'scan', severity: 3, tools: ['nmap-syn'] });
    expect(bySource(TRUSTED_SCANNER)).toHaveLength(1);
    const log = nfwatch!.log();
    expect(log).toMatch(new RegExp(`response: block ${SCANNER.replace(/\./g, '\\.')} for ${BLOCK_SECONDS} s \\(severity 3`));
    expect(log).toMatch(new RegExp(`response: not blocked: ${TRUSTED_SCANNER.replace(/\./g, '\\.')} is in response.allow`));

    // The block runs out in the kernel; the scanner's next SSH SYN is accepted again.
    await waitFor('the block to expire', async () => (!(await blockSet()).includes(SCANNER) ? true : undefined), (BLOCK_SECONDS + 10) * 1000, 500);
    const sshAfter = sshAttemptsFrom(SCANNER);
    await l.execOk(l.clientNs, 'hping3', ['-a', SCANNER, '-i', 'u20000', '-S', '-p', '22', '-c', '2', l.addr.fw4], { timeoutMs: 30_000 }).catch(() => undefined);
    await waitFor('its SSH SYNs accepted again', () => (sshAttemptsFrom(SCANNER) >= sshAfter + 2 ? true : undefined), 10_000, 200);
    expect(nfwatch!.log()).not.toMatch(/ error /);
  });
});
