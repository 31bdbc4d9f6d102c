/**
 * Re-captures test/fixtures/ulogd/*.jsonl from real ulogd2 in the e2e lab.
 * See test/fixtures/ulogd/README.md. Needs root. Not a test (no *.test.ts):
 * run it through the compile-and-run recipe in that README.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as L from './lab.js';

type Obj = Record<string, unknown>;

/** Group NFACCT lines into polls (all counters of one poll share their timestamp). */
function polls(lines: string[]): string[][] {
  const out: string[][] = [];
  let key = '';
  for (const l of lines.filter(L.isNfacctLine)) {
    const o = JSON.parse(l) as Obj;
    const k = String(o['oob.time.sec'] ?? '') + String(o['oob.time.usec'] ?? '') + String(o['timestamp'] ?? o['@timestamp']);
    if (k !== key || out.length === 0) out.push([]);
    key = k;
    out[out.length - 1]?.push(l);
  }
  return out;
}
const nonZero = (poll: string[]): boolean => poll.some((l) => ((JSON.parse(l) as Obj)['sum.pkts'] as number) > 0);

export async function captureFixtures(outDir = join(L.REPO_ROOT, 'test', 'fixtures', 'ulogd')): Promise<Record<string, number>> {
  L.requireRoot();
  L.requireTools(['ulogd', 'hping3', 'nmap', 'curl', 'nft', 'nfacct']);
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'nfw-fixtures-'));
  const written: Record<string, number> = {};
  const write = (name: string, lines: string[]): void => {
    if (lines.length === 0) throw new Error(`no lines captured for ${name}`);
    writeFileSync(join(outDir, name), lines.map((l) => `${l}\n`).join(''));
    written[name] = lines.length;
  };
  const lab = await L.createLab();
  try {
    // ---- packet lines: default conf/ulogd.conf, file mode ----------------------------------
    const u = await L.startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'packets') });
    const packetCase = async (name: string, expected: number, send: () => Promise<unknown>): Promise<void> => {
      const before = L.readLines(u.outputPath).filter(L.isPacketLine).length;
      await send();
      await L.waitForLines(u.outputPath, before + expected, 10_000, L.isPacketLine);
      await L.sleep(1_500); // NFLOG batches up to 1 s in the kernel: catch any extra line
      const lines = L.readLines(u.outputPath).filter(L.isPacketLine).slice(before);
      if (lines.length !== expected) throw new Error(`${name}: expected ${expected} lines, got ${lines.length}`);
      write(name, lines);
    };
    await packetCase('ipv4-tcp-syn-port6000.jsonl', 3, () =>
      L.sendTraffic(lab, { kind: 'tcp', count: 3, dport: 22, sport: 6000, window: 16384, ttl: 103 }),
    );
    await packetCase('ipv4-tcp-dropped.jsonl', 3, () => L.sendTraffic(lab, { kind: 'tcp', count: 3, dport: 8080 }));
    await packetCase('ipv4-udp.jsonl', 4, async () => {
      await L.sendTraffic(lab, { kind: 'udp', count: 2, dport: 53 });
      await L.sendTraffic(lab, { kind: 'udp', count: 2, dport: 5000 });
    });
    await packetCase('ipv4-icmp.jsonl', 3, () => L.sendTraffic(lab, { kind: 'icmp', count: 3 }));
    await packetCase('ipv6-tcp.jsonl', 2, async () => {
      await L.sendTraffic(lab, { kind: 'curl', port: 22, ipv6: true });
      await L.sendTraffic(lab, { kind: 'nmap', ports: '23', ipv6: true });
    });
    await packetCase('ipv6-icmp.jsonl', 3, () => L.sendTraffic(lab, { kind: 'icmp6', count: 3 }));
    await packetCase('ipv4-curl-linux.jsonl', 2, async () => {
      await L.sendTraffic(lab, { kind: 'curl', port: 22 });
      await L.sendTraffic(lab, { kind: 'curl', port: 22 });
    });
    await packetCase('nmap-syn.jsonl', 11, () => L.sendTraffic(lab, { kind: 'nmap', ports: '20-30' }));
    // A log rule without a prefix (nft `log group 2`): what does ulogd write for oob.prefix?
    await lab.execOk(lab.fwNs, 'nft', ['insert', 'rule', 'inet', 'nfwatch_filter', 'input', 'tcp', 'dport', '9999', 'log', 'group', '2', 'drop']);
    await packetCase('ipv4-tcp-no-prefix.jsonl', 2, () => L.sendTraffic(lab, { kind: 'tcp', count: 2, dport: 9999 }));
    await u.stop();

    // Traffic that the nfacct rules count (TCP 22 and 80, IPv4 and IPv6).
    const countedTraffic = async (): Promise<void> => {
      await L.sendTraffic(lab, { kind: 'tcp', count: 5, dport: 22, sport: 6000, window: 16384, ttl: 103 });
      await L.sendTraffic(lab, { kind: 'curl', port: 80 });
      await L.sendTraffic(lab, { kind: 'curl', port: 80, ipv6: true });
      await L.sendTraffic(lab, { kind: 'curl', port: 22, ipv6: true });
    };
    const acctRun = async (dir: string, edit: (c: string) => string, waitPolls: number, env?: NodeJS.ProcessEnv): Promise<{ u: L.Ulogd; lines: () => string[] }> => {
      const x = await L.startUlogd(lab, { mode: 'file', tmpDir: join(tmp, dir), editConf: edit, ...(env ? { env } : {}) });
      await L.sleep(500);
      await countedTraffic();
      await L.sleep(waitPolls * 2_000 + 1_500);
      return { u: x, lines: () => L.readLines(x.outputPath) };
    };

    // ---- NFACCT, zerocounter=1 (deltas), timestamp=1 ---------------------------------------
    {
      const r = await acctRun('deltas', (c) => c, 2);
      await r.u.stop();
      const p = polls(r.lines());
      const i = p.findIndex(nonZero);
      if (i < 0) throw new Error('nfacct deltas: no non-zero poll');
      write('nfacct-deltas.jsonl', [...(p[i] ?? []), ...(p[i + 1] ?? [])]);
    }
    // ---- NFACCT, zerocounter=0 (running totals) -------------------------------------------
    {
      const r = await acctRun('totals', (c) => L.setUlogdOption(c, 'acct1', 'zerocounter', '0'), 1);
      await countedTraffic();
      await L.sleep(3_500);
      await r.u.stop();
      const p = polls(r.lines()).filter(nonZero);
      write('nfacct-totals.jsonl', [...(p[0] ?? []), ...(p[p.length - 1] ?? [])]);
    }
    // ---- NFACCT without timestamp=1 --------------------------------------------------------
    {
      const r = await acctRun('nots', (c) => L.setUlogdOption(c, 'acct1', 'timestamp', '0'), 1);
      await r.u.stop();
      const p = polls(r.lines());
      const i = p.findIndex(nonZero);
      if (i < 0) throw new Error('nfacct no-timestamp: no non-zero poll');
      write('nfacct-no-timestamp.jsonl', p[i] ?? []);
    }
    // ---- JSON eventv1=1: packet lines and one NFACCT poll -----------------------------------
    {
      const r = await acctRun('eventv1', (c) => L.setUlogdOption(c, 'json1', 'eventv1', '1'), 1);
      await L.sendTraffic(lab, { kind: 'tcp', count: 1, dport: 8080 });
      await L.sleep(2_500);
      await r.u.stop();
      const all = r.lines();
      const pk = all.filter(L.isPacketLine);
      const p = polls(all).filter(nonZero);
      write('eventv1.jsonl', [pk[0] ?? '', pk[pk.length - 1] ?? '', ...(p[0] ?? [])].filter(Boolean));
    }
    // ---- timestamp with +HHMM: ulogd 2.0.8 appends the UTC offset when TZ is not UTC --------
    {
      const env = { ...process.env, TZ: 'Europe/Berlin' };
      const r = await acctRun('offset', (c) => c, 1, env);
      await r.u.stop();
      const all = r.lines();
      const pk = all.filter(L.isPacketLine);
      const p = polls(all).filter(nonZero);
      write('json-with-offset.jsonl', [pk[0] ?? '', pk[pk.length - 1] ?? '', ...(p[0] ?? []).slice(0, 2)].filter(Boolean));
    }
  } finally {
    await lab.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
  return written;
}

// Run directly (compiled): node .state/labjs/capture-fixtures.js
L.runCaptureScript('capture-fixtures', () => captureFixtures());
