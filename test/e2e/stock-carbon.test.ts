/**
 * Exact on STOCK carbon: Debian's unchanged /etc/carbon files (storage-schemas.conf 60s:1d,5m:30d,
 * 1h:3y, no storage-aggregation.conf = average with xFilesFactor 0.5, MAX_CREATES_PER_MINUTE = 50),
 * copied into a temp dir with only paths, ports, user and listen addresses changed, and nfwatch with
 * its shipped defaults (only state dir, source, carbon port and prefix set). A port scan runs in
 * the lab from the first minute on. Whisper totals (finest archive, whisper-fetch) must equal what
 * ulogd logged, events.blocked.count must hold the first minute's count, and carbon must not have
 * dropped a single create. Needs root and network namespaces: fails loudly without them.
 * Takes about three minutes (nfwatch's default interval is carbon's 60 s slot).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { decodeOptions } from '../../src/wire.js';
import { fileSource, nfacctSince, send, SETTLE_MS, type Counts } from './expect.js';
import {
  createLab,
  nfacctReported,
  requireRoot,
  requireTools,
  sendTraffic,
  sleep,
  startUlogd,
  waitFor,
  whisperFetch,
  whisperSum,
  type Lab,
  type Ulogd,
} from './lab.js';
import { ensureStopped, requireBuild, startNfwatch, type Nfwatch } from './nfwatch.js';
import { loggedTruth, requireStockCarbon, seriesUnder, startStockCarbon, whisperTotals, type StockCarbon } from './stock-carbon.js';

const PREFIX = 'e2e.stock';
describe('exact on stock Debian carbon with nfwatch\'s shipped defaults, during a port scan', () => {
  let lab: Lab | undefined;
  let carbon: StockCarbon | undefined;
  let ulogd: Ulogd | undefined;
  let nfwatch: Nfwatch | undefined;
  let tmp = '';

  beforeAll(async () => {
    requireRoot();
    requireTools(['ip', 'nft', 'nfacct', 'iptables-nft', 'ip6tables-nft', 'ulogd', 'hping3', 'nmap', 'carbon-cache', 'whisper-fetch']);
    requireBuild();
    requireStockCarbon();
    tmp = mkdtempSync(join(tmpdir(), 'nfw-stock-carbon-'));
    lab = await createLab();
    carbon = await startStockCarbon(join(tmp, 'carbon'));
  }, 120_000);

  afterAll(async () => {
    await ensureStopped(nfwatch);
    await ulogd?.stop();
    await carbon?.stop();
    await lab?.destroy();
    if (tmp && !process.env.NFW_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('whisper sums equal what ulogd logged, events.blocked.count exists from the first minute, carbon drops no create', { timeout: 240_000 }, async () => {
    if (!lab || !carbon) throw new Error('lab not created');
    const dir = mkdtempSync(join(tmp, 'run-'));
    const nfacctBefore = await nfacctReported(lab);
    ulogd = await startUlogd(lab, { mode: 'file', tmpDir: join(dir, 'ulogd') });
    // Shipped defaults: no [aggregate] and no creation settings; web off so nothing listens.
    const toml = `[general]\nstate_dir = "${join(dir, 'state')}"\n\n${fileSource(ulogd.outputPath)}\n\n[web]\nenabled = false\n\n[outputs.graphite]\nport = ${carbon.port}\nprefix = "${PREFIX}"\n`;
    const config = parseConfigText(toml);
    expect(config.aggregate.interval_seconds).toBe(60);
    expect(config.outputs.graphite.max_creates_per_minute).toBeLessThan(50);
    nfwatch = await startNfwatch(dir, toml);
    const startedAt = Date.now();
    const firstMinute = Math.floor(startedAt / 60_000) * 60;

    // Minute 1: a SYN scan of 600 ports (one new dport series per port if nothing bounded them),
    // plus traffic whose counts are known from the tool.
    const expected: Counts = new Map();
    const scanMinute = Math.floor(Date.now() / 60_000) * 60;
    const scan1 = await sendTraffic(lab, { kind: 'nmap', ports: '1-600' });
    await send(lab, expected, 'ssh6000', 30);
    await send(lab, expected, 'drop23', 20);
    await send(lab, expected, 'dns', 10);
    // Minute 2: the scan goes on over 600 more ports.
    await sleep(Math.max(0, startedAt + 62_000 - Date.now()));
    const scan2 = await sendTraffic(lab, { kind: 'nmap', ports: '601-1200' });
    await send(lab, expected, 'udpDrop', 15);
    const lastTraffic = Date.now();
    await sleep(SETTLE_MS);

    // The truth: every packet line ulogd logged, classified by nfwatch's own verdict rules.
    const truth = loggedTruth(ulogd.outputPath, decodeOptions(config));
    const logged = truth.logged;
    expect(logged).toBeGreaterThanOrEqual(1200); // the scans, plus the 75 known packets, give or take nmap's own
    // The known traffic is in there (the scan adds its own hits on 22, 23 and 53).
    for (const v of ['allowed', 'blocked'] as const) expect(truth.counts.get(`events.${v}.count`)).toBeGreaterThanOrEqual(expected.get(`events.${v}.count`) ?? 0);
    const nfacct = await nfacctSince(lab, nfacctBefore);

    // Wait until the interval with the last traffic is closed (60 s + 2 s grace) and written.
    const lastMinuteEnd = (Math.floor(lastTraffic / 60_000) + 1) * 60_000;
    await sleep(Math.max(0, lastMinuteEnd + 2_000 + 3_000 - Date.now()));
    const from = firstMinute - 60;
    const until = Math.ceil(Date.now() / 1000) + 60;
    const sum = (path: string) => whisperSum(carbon!.storageDir, `${PREFIX}.${path}`, from, until);

    let totals = await whisperTotals(carbon.storageDir, PREFIX, truth, nfacct, from, until);
    await waitFor('whisper sums to equal what ulogd logged', async () => {
      totals = await whisperTotals(carbon!.storageDir, PREFIX, truth, nfacct, from, until);
      return JSON.stringify(totals.got) === JSON.stringify(totals.want) ? true : undefined;
    }, 20_000, 1000).catch(() => undefined);
    const { want, got } = totals;
    console.log(`stock carbon: logged ${logged} packet lines (nmap sent ${scan1.sent} + ${scan2.sent}); whisper vs logged:`, JSON.stringify({ want, got }));
    expect(got).toEqual(want);

    // events.blocked.count has the first minute's count: created at once, not dropped by carbon.
    const blocked = await whisperFetch(carbon.storageDir, `${PREFIX}.events.blocked.count`, scanMinute, scanMinute + 59);
    expect(blocked).not.toBeNull();
    expect(blocked!.step).toBe(60);
    expect(blocked!.values[0]).toBeGreaterThan(0);

    // Bounded series: far fewer than the 1,200 ports scanned; and carbon dropped no create.
    const series = seriesUnder(carbon.storageDir, PREFIX);
    const dports = series.filter((p) => p.includes('.dport.'));
    const perName: Record<string, number | null> = {};
    for (const [path] of nfacct) perName[path] = await sum(path);
    console.log(`stock carbon: ${series.length} nfwatch series (${dports.length} dport) created; nfacct per name (whisper):`, JSON.stringify(perName), 'truth:', JSON.stringify(Object.fromEntries(nfacct)));
    // At most 30 (burst) + 40 a minute over the ~3 minutes, not one per scanned port.
    expect(series.length).toBeLessThanOrEqual(30 + 40 * Math.ceil((Date.now() - startedAt) / 60_000));
    expect(dports.length).toBeLessThan(1200 / 4);
    // carbon's own count of creates it refused (recorded every minute, also when 0).
    const dropped = seriesUnder(carbon.storageDir, 'carbon.agents').filter((p) => p.endsWith('.droppedCreates'));
    expect(dropped.length).toBe(1);
    const droppedCreates = await whisperSum(carbon.storageDir, dropped[0]!, from, until);
    console.log(`stock carbon: droppedCreates = ${droppedCreates}; dport series: ${dports.join(' ')}`);
    expect(droppedCreates).toBe(0);

    expect(await nfwatch.stop()).toBe(0);
    expect(nfwatch.log()).not.toMatch(/ error /);
  });
});
