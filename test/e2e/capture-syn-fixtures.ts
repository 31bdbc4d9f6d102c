/**
 * Captures the SYN fingerprint fixtures test/fixtures/ulogd/syn-*.jsonl from real tools through
 * nftables → NFLOG → real ulogd2 → JSON in the e2e lab, one client source address per tool
 * (LAB_TOOL_ADDR). Needs root and hping3, nmap, masscan, zmap, curl (scripts/install-test-deps.sh).
 * Not a test (no *.test.ts): compile and run it like capture-fixtures.ts (see the fixtures README),
 * with `capture-syn-fixtures.js` as the script. Only the tool's own SYN lines are kept (source
 * address = the tool's, TCP SYN set): whatever else the run logged is left out.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as L from './lab.js';

type Obj = Record<string, unknown>;

/** Fixture file per tool. */
export const SYN_FIXTURES: ReadonlyArray<readonly [L.LabTool, string]> = [
  ['curl', 'syn-linux-curl.jsonl'],
  ['port6000', 'syn-port6000.jsonl'],
  ['nmap', 'syn-nmap.jsonl'],
  ['masscan', 'syn-masscan.jsonl'],
  ['zmap', 'syn-zmap.jsonl'],
  ['hping3', 'syn-hping3-default.jsonl'],
  ['mirai', 'syn-mirai-like.jsonl'],
  ['probe', 'syn-probe-flags.jsonl'],
];

export async function captureSynFixtures(outDir = join(L.REPO_ROOT, 'test', 'fixtures', 'ulogd'), only?: readonly string[]): Promise<Record<string, number>> {
  L.requireRoot();
  L.requireTools(['ulogd', 'hping3', 'nmap', 'masscan', 'zmap', 'curl', 'nft']);
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'nfw-synfix-'));
  const written: Record<string, number> = {};
  const lab = await L.createLab();
  try {
    await L.addClientAddresses(lab);
    const u = await L.startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'ulogd') });
    const synFrom = (source: string) => (l: string): boolean => {
      if (!L.isPacketLine(l)) return false;
      const o = JSON.parse(l) as Obj;
      return o['src_ip'] === source && o['tcp.syn'] === 1;
    };
    for (const [tool, file] of SYN_FIXTURES) {
      if (only && !only.includes(tool)) continue;
      const source = L.LAB_TOOL_ADDR[tool];
      const before = L.readLines(u.outputPath).filter(synFrom(source)).length;
      const run = await L.sendScanner(lab, tool, tmp);
      await L.waitForLines(u.outputPath, before + run.expectedSyns, 15_000, synFrom(source));
      await L.sleep(1_500); // NFLOG batches up to 1 s in the kernel: catch any extra line
      const lines = L.readLines(u.outputPath).filter(synFrom(source)).slice(before);
      if (lines.length !== run.expectedSyns) throw new Error(`${file}: expected ${run.expectedSyns} SYN lines from ${source}, got ${lines.length}`);
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

// Run directly (compiled): node .state/labjs/capture-syn-fixtures.js [tool ...]
L.runCaptureScript('capture-syn-fixtures', (only) => captureSynFixtures(undefined, only));
