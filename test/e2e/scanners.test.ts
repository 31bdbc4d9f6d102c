/**
 * Who is knocking, end to end: real tools (curl, hping3, nmap, masscan, zmap) from their own lab
 * addresses, through the project's nftables example and real ulogd2, into nfwatch's pipeline
 * (built from its configuration, in this process so the tracker can be queried). Asserts the
 * per-source table: the right tool and OS per source address, the scans detected, the campaign.
 * Needs root and network namespaces: fails loudly without them, never skips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { Pipeline } from '../../src/pipeline/pipeline.js';
import { buildPipeline } from '../../src/wire.js';
import type { SourceRow } from '../../src/track/query.js';
import { memoryLogger } from '../../src/util/log.js';
import {
  addClientAddresses,
  createLab,
  LAB_TOOL_ADDR,
  requireRoot,
  requireTools,
  sendScanner,
  sendTraffic,
  sleep,
  startUlogd,
  waitFor,
  type Lab,
  type Ulogd,
} from './lab.js';

/** Extra lab addresses: six more hosts of the port-6000 campaign, and the firewall's sweep targets. */
const CAMPAIGN_SOURCES = ['198.18.0.50', '198.18.0.51', '198.18.0.52', '198.18.0.53', '198.18.0.54', '198.18.0.55'];
const SWEEP_SOURCE = '198.18.0.21';
const SWEEP_TARGETS = Array.from({ length: 30 }, (_, i) => `198.18.0.${100 + i}`);

describe('who is knocking: tools live through nftables → ulogd2 → nfwatch', () => {
  let lab: Lab | undefined;
  let ulogd: Ulogd | undefined;
  let pipeline: Pipeline | undefined;
  let tmp = '';
  const logger = memoryLogger('info');

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'nft', 'ulogd', 'hping3', 'nmap', 'masscan', 'zmap', 'curl']);
    tmp = mkdtempSync(join(tmpdir(), 'nfw-scanners-'));
    lab = await createLab();
    await addClientAddresses(lab, [...Object.values(LAB_TOOL_ADDR), ...CAMPAIGN_SOURCES, SWEEP_SOURCE]);
    for (const target of SWEEP_TARGETS) await lab.execOk(lab.fwNs, 'ip', ['addr', 'add', `${target}/24`, 'dev', lab.addr.fwIf]);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'ulogd') });
    const config = parseConfigText(`
[general]
state_dir = "${join(tmp, 'state')}"
[[sources.file]]
path = "${ulogd.outputPath}"
from = "beginning"
poll_ms = 50
[outputs.graphite]
enabled = false
[track]
# The lab's scans are small (11 ports, 30 hosts): thresholds scaled to them.
vertical_suspect_ports = 4
vertical_ports = 8
horizontal_suspect_hosts = 10
horizontal_hosts = 20
campaign_min_sources = 5
`);
    pipeline = await buildPipeline(config, logger);
    await pipeline.start();
  }, 120_000);

  afterAll(async () => {
    await pipeline?.stop(100);
    await ulogd?.stop();
    await lab?.destroy();
    if (tmp && !process.env.NFW_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('names the tool and OS of each source, detects the scans and forms the port-6000 campaign', { timeout: 240_000 }, async () => {
    if (!lab || !pipeline) throw new Error('lab not created');
    const tracker = pipeline.stages.tracker;
    if (!tracker) throw new Error('the tracker is off');

    for (const tool of Object.keys(LAB_TOOL_ADDR) as Array<keyof typeof LAB_TOOL_ADDR>) await sendScanner(lab, tool, tmp);
    // As in the article: the port-6000 scanner's SYNs from the main client address (probes, no
    // brute force), then the SSH brute force from it, 40 accepted SYNs to 22 in a second in another
    // shape (window 65535, TTL 120: no tool's signature).
    await sendTraffic(lab, { kind: 'tcp', count: 40, dport: 22, sport: 6000, window: 16384, ttl: 103 });
    await sendTraffic(lab, { kind: 'tcp', count: 40, dport: 22, window: 65535, ttl: 120 });
    // More hosts of the port-6000 campaign, three SYNs each.
    for (const source of CAMPAIGN_SOURCES) {
      await lab.execOk(lab.clientNs, 'hping3', ['-a', source, '-i', 'u20000', '-S', '-s', '6000', '-k', '-w', '16384', '-t', '103', '-p', '22', '-c', '3', lab.addr.fw4], { timeoutMs: 30_000 }).catch(async () => {
        // hping3 exits 1 when the replies went elsewhere; what counts is that it sent.
      });
    }
    // A horizontal sweep of a dropped port over 30 firewall addresses.
    await lab.execOk(lab.clientNs, 'nmap', ['-sS', '-n', '-Pn', '--max-retries', '0', '-S', SWEEP_SOURCE, '-e', lab.addr.clientIf, '-p', '23', ...SWEEP_TARGETS], { timeoutMs: 120_000 });

    const rows = new Map<string, SourceRow>();
    await waitFor(
      'every tool source in the tracker',
      () => {
        rows.clear();
        for (const row of tracker.sources({ limit: 1000 })) rows.set(row.address, row);
        const wanted = [...Object.values(LAB_TOOL_ADDR), ...CAMPAIGN_SOURCES, SWEEP_SOURCE, lab!.addr.client4];
        return wanted.every((a) => rows.has(a)) && (rows.get(SWEEP_SOURCE)?.hosts.distinct ?? 0) >= 30 ? true : undefined;
      },
      30_000,
      200,
    );
    await sleep(1_500); // NFLOG stragglers

    const row = (address: string): SourceRow => {
      const r = tracker.sources({ limit: 1000 }).find((x) => x.address === address);
      if (!r) throw new Error(`${address} is not in the source table`);
      return r;
    };

    // The right tool and OS per source address.
    expect(row(LAB_TOOL_ADDR.curl)).toMatchObject({ tools: [], os: ['linux'] });
    expect(row(LAB_TOOL_ADDR.curl).scan.state).toBe('none');
    expect(row(LAB_TOOL_ADDR.hping3).tools).toEqual(['hping3-default']);
    expect(row(LAB_TOOL_ADDR.port6000)).toMatchObject({ tools: ['port6000-ssh-scanner'], os: ['windows'] });
    expect(row(LAB_TOOL_ADDR.port6000).fingerprints).toEqual(['ittl=128,win=16384,olen=0,df=0']);
    expect(row(LAB_TOOL_ADDR.mirai).tools).toEqual(['mirai']);
    expect(row(LAB_TOOL_ADDR.probe).tools).toEqual(['syn-probe']);
    expect(row(LAB_TOOL_ADDR.nmap).tools).toEqual(['nmap-syn']);
    expect(row(LAB_TOOL_ADDR.masscan)).toMatchObject({ tools: ['masscan'], os: ['crafted'] });
    expect(row(LAB_TOOL_ADDR.zmap)).toMatchObject({ tools: ['zmap'], os: ['crafted'] });
    // The lab's addresses are in the benchmarking range: labelled, not looked up.
    expect(row(LAB_TOOL_ADDR.nmap).country).toBe('reserved');

    // The scans detected.
    expect(row(LAB_TOOL_ADDR.nmap).scan).toMatchObject({ state: 'detected', types: ['vertical'] });
    expect(row(LAB_TOOL_ADDR.masscan).scan).toMatchObject({ state: 'detected', types: ['vertical'] });
    expect(row(SWEEP_SOURCE).scan).toMatchObject({ state: 'detected', types: ['horizontal'] });
    expect(row(lab.addr.client4).scan.types).toContain('ssh_bruteforce');
    expect(row(lab.addr.client4).scan.state).toBe('detected');
    expect(row(lab.addr.client4).sourcePortReuse).toBeNull(); // one target only: no reuse across targets

    // The campaign: the port-6000 shape, port 22, all its hosts.
    const campaign = tracker.campaigns().find((c) => c.fingerprint === 'ittl=128,win=16384,olen=0,df=0' && c.ports.join() === '22');
    expect(campaign).toBeDefined();
    expect(campaign!.addresses).toEqual(expect.arrayContaining([...CAMPAIGN_SOURCES, LAB_TOOL_ADDR.port6000, lab.addr.client4]));
    expect(campaign!.sources).toBe(CAMPAIGN_SOURCES.length + 2);
    expect(campaign!.sharedSourcePort).toBe(6000);
    expect(campaign!.tool).toBe('port6000-ssh-scanner');
    expect(campaign!.countries).toEqual([{ country: 'reserved', sources: CAMPAIGN_SOURCES.length + 2 }]);

    // The histogram the web view will graph, like tcp.window of SYNs.
    const histogram = tracker.fingerprints();
    expect(JSON.stringify(histogram)).toContain('16384');
    expect(logger.lines.filter((l) => l.includes(' error '))).toEqual([]);
  });
});
