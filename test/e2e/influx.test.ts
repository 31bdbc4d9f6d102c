/**
 * The InfluxDB output end to end: the namespace lab with real ulogd2 and hping3 traffic of known
 * counts, nfwatch (the built daemon) writing line protocol to a real VictoriaMetrics on loopback
 * via /api/v2/write, and the raw samples read back with /api/v1/export and summed. The sums must
 * equal the packets sent EXACTLY — also when VictoriaMetrics is stopped during traffic (more
 * traffic while it is down) and started again on the same port and data directory, and when
 * nfwatch is killed with SIGKILL while the server is away (the replay rewrites the same
 * timestamps). Needs root and network namespaces: fails loudly without them, never skips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sanitizeComponent } from '../../src/metrics/names.js';
import { fileSource, INTERVAL_S, nfacctSince, send, SETTLE_MS, withInput, type Counts } from './expect.js';
import { createLab, nfacctReported, requireRoot, requireTools, sleep, startUlogd, startVictoriaMetrics, type Lab, type Ulogd, type VictoriaMetrics } from './lab.js';
import { ensureStopped, requireBuild, startNfwatch, type Nfwatch } from './nfwatch.js';

const VM_BIN = '/usr/bin/victoria-metrics';

function nfwatchToml(stateDir: string, vm: VictoriaMetrics, prefix: string, source: string): string {
  return `
[general]
state_dir = "${stateDir}"
log_level = "debug"
hostname = "e2e"

[aggregate]
interval_seconds = ${INTERVAL_S}
grace_seconds = 1.5

${source}

[web]
port = 0

[outputs.graphite]
enabled = false

[outputs.influx]
enabled = true
url = "${vm.url}"
org = "ignored"
bucket = "ignored"
token_env = "NFW_E2E_INFLUX_TOKEN"
measurement_prefix = "${prefix}"
retry_min_ms = 100
retry_max_ms = 1000
`;
}

interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** Raw samples of every series whose name starts with `prefix`_, since `fromMs`. */
async function exportSeries(vm: VictoriaMetrics, prefix: string, fromMs: number): Promise<ExportedSeries[]> {
  await fetch(`${vm.url}/internal/force_flush`).catch(() => undefined);
  const body = new URLSearchParams({ 'match[]': `{__name__=~"${prefix}_.*"}`, start: String(Math.floor(fromMs / 1000)) });
  const r = await fetch(`${vm.url}/api/v1/export`, { method: 'POST', body });
  if (!r.ok) throw new Error(`export: HTTP ${r.status} ${await r.text()}`);
  return (await r.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ExportedSeries);
}

/**
 * VictoriaMetrics' series (<measurement>_<field>{tags}) summed, under the Graphite-style keys of
 * expect.ts (whose prefix keys are Graphite-sanitised: the raw tag value "SSH Attempt: " → SSH_Attempt).
 */
function sumsByKey(series: ExportedSeries[], prefix: string): { sums: Counts; duplicates: number } {
  const sums: Counts = new Map();
  let duplicates = 0;
  const add = (key: string, s: ExportedSeries): void => {
    duplicates += s.timestamps.length - new Set(s.timestamps).size;
    sums.set(key, (sums.get(key) ?? 0) + s.values.reduce((a, v) => a + v, 0));
  };
  for (const s of series) {
    const m = s.metric;
    switch (m.__name__) {
      case `${prefix}_events_count`: add(`events.${m.verdict}.count`, s); break;
      case `${prefix}_events_by_proto_count`: add(`events.${m.verdict}.proto.${m.proto}`, s); break;
      case `${prefix}_events_by_port_count`: add(`events.${m.verdict}.dport.${m.port}`, s); break;
      case `${prefix}_events_by_prefix_count`: add(`events.prefix.${sanitizeComponent(m.prefix ?? '')}`, s); break;
      case `${prefix}_events_by_input_count`: add(`events.input.${m.source}`, s); break;
      case `${prefix}_nfacct_pkts`: add(`nfacct.${m.counter}.pkts`, s); break;
      case `${prefix}_nfacct_bytes`: add(`nfacct.${m.counter}.bytes`, s); break;
      default: break;
    }
  }
  return { sums, duplicates };
}

/** Waits until VictoriaMetrics holds exactly the expected sums, then checks they stay exact. */
async function expectExactInVictoria(vm: VictoriaMetrics, prefix: string, expected: Counts, fromMs: number, timeoutMs = 45_000): Promise<void> {
  const want = Object.fromEntries([...expected].sort());
  const read = async (): Promise<{ got: Record<string, number | null>; duplicates: number }> => {
    const { sums, duplicates } = sumsByKey(await exportSeries(vm, prefix, fromMs), prefix);
    return { got: Object.fromEntries([...expected.keys()].sort().map((k) => [k, sums.get(k) ?? null])), duplicates };
  };
  const deadline = Date.now() + timeoutMs;
  let r = await read();
  while (JSON.stringify(r.got) !== JSON.stringify(want) && Date.now() < deadline) {
    await sleep(500);
    r = await read();
  }
  expect(r.got).toEqual(want);
  await sleep(INTERVAL_S * 1000 + 2_500);
  r = await read();
  expect(r.got).toEqual(want);
  expect(r.duplicates).toBe(0);
}

describe('nfwatch end to end: InfluxDB line protocol into VictoriaMetrics, exact sums out', () => {
  let lab: Lab | undefined;
  let vm: VictoriaMetrics | undefined;
  let tmp = '';
  let ulogd: Ulogd | undefined;
  let nfwatch: Nfwatch | undefined;

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'nft', 'nfacct', 'iptables-nft', 'ip6tables-nft', 'ulogd', 'hping3', VM_BIN]);
    requireBuild();
    process.env.NFW_E2E_INFLUX_TOKEN = 'not-checked-by-victoria-metrics';
    tmp = mkdtempSync(join(tmpdir(), 'nfw-influx-'));
    lab = await createLab();
    vm = await startVictoriaMetrics(join(tmp, 'vm'), VM_BIN);
  }, 120_000);

  afterAll(async () => {
    await ensureStopped(nfwatch);
    await ulogd?.stop();
    await vm?.stop();
    await lab?.destroy();
    if (tmp && !process.env.NFW_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('counts by verdict, prefix, protocol, port and NFACCT counter equal what was sent', { timeout: 180_000 }, async () => {
    if (!lab || !vm) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'plain-'));
    const from = Date.now() - 5_000;
    const nfacctBefore = await nfacctReported(lab);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(dir, 'ulogd') });
    nfwatch = await startNfwatch(dir, nfwatchToml(join(dir, 'state'), vm, 'e2eplain', fileSource(ulogd.outputPath)));

    const expected: Counts = new Map();
    await send(lab, expected, 'ssh6000', 40);
    await send(lab, expected, 'drop23', 25);
    await send(lab, expected, 'dns', 10);
    await send(lab, expected, 'udpDrop', 7);
    await send(lab, expected, 'icmp', 5);
    await send(lab, expected, 'icmp6', 4);
    await sleep(SETTLE_MS);
    await ulogd.stop();
    ulogd = undefined;
    const nfacct = await nfacctSince(lab, nfacctBefore);
    expect(nfacct.get('nfacct.ipv4.ssh.pkts')).toBeGreaterThanOrEqual(40);
    await expectExactInVictoria(vm, 'e2eplain', new Map([...withInput(expected, 'ulogd'), ...nfacct]), from);

    expect(await nfwatch.stop()).toBe(0);
    expect(nfwatch.log()).not.toMatch(/ error /);
    nfwatch = undefined;
  });

  it('stays exact across a VictoriaMetrics outage with traffic while it is down, and a kill -9 of nfwatch meanwhile', { timeout: 300_000 }, async () => {
    if (!lab || !vm) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'outage-'));
    const from = Date.now() - 5_000;
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(dir, 'ulogd') });
    const nfw = await startNfwatch(dir, nfwatchToml(join(dir, 'state'), vm, 'e2eoutage', fileSource(ulogd.outputPath)));
    nfwatch = nfw;
    const expected: Counts = new Map();

    await send(lab, expected, 'ssh6000', 30);
    // 1. VictoriaMetrics goes away in mid-stream; traffic goes on; intervals queue up.
    const during = send(lab, expected, 'drop23', 40, 50_000);
    await sleep(700);
    await vm.stop();
    await during;
    await send(lab, expected, 'dns', 15);
    await sleep(2 * INTERVAL_S * 1000 + 1_000);
    expect(nfw.log()).toMatch(/write of \d+ points to .* failed/);
    await vm.start();
    await send(lab, expected, 'icmp', 6);

    // 2. Down again, and nfwatch is killed (nothing flushed, nothing committed) while it is down.
    await vm.stop();
    await send(lab, expected, 'udpDrop', 12);
    await sleep(2 * INTERVAL_S * 1000 + 500);
    await nfw.kill9();
    await send(lab, expected, 'icmp6', 4);
    await vm.start();
    await nfw.restart();
    await send(lab, expected, 'ssh6000', 9);
    await sleep(SETTLE_MS);

    await expectExactInVictoria(vm, 'e2eoutage', withInput(expected, 'ulogd'), from, 60_000);
    expect(nfw.log()).toMatch(/resuming from its saved position/);
    expect(await nfw.stop()).toBe(0);
    nfwatch = undefined;
    await ulogd.stop();
    ulogd = undefined;
  });
});
