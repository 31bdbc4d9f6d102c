/**
 * Micro-benchmark, run by hand (not a test): fingerprint + classify throughput on 1M SYN events,
 * with the bundled signatures. Three mixes: a SYN flood of one shape (hping3 --flood), a realistic
 * mix of the captured tools and Linux clients, and a Mirai-like flood with random windows (every
 * event a new shape until the caches are full: the worst case for the caches).
 *
 *   npx tsc --strict --target ES2022 --module NodeNext --moduleResolution NodeNext --types node \
 *       --skipLibCheck --outDir .state/benchjs test/enrich/fingerprint-bench.ts
 *   echo '{"type":"module"}' > .state/benchjs/package.json
 *   node .state/benchjs/test/enrich/fingerprint-bench.js
 */
import { performance } from 'node:perf_hooks';
import { existsSync, readFileSync } from 'node:fs';
import { decodeLine } from '../../src/decode/line.js';
import { synFingerprint } from '../../src/enrich/fingerprint.js';
import { FingerprintEnricher, parseSignatures } from '../../src/enrich/signatures.js';
import type { PacketEvent } from '../../src/pipeline/types.js';

const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
/** The repository root: the nearest ancestor holding conf/signatures.toml (works compiled too). */
const root = ((): URL => {
  let dir = new URL('./', import.meta.url);
  for (let i = 0; i < 8; i++) {
    if (existsSync(new URL('conf/signatures.toml', dir))) return dir;
    dir = new URL('../', dir);
  }
  throw new Error('repository root not found');
})();
const fixture = (name: string): PacketEvent[] =>
  readFileSync(new URL(`test/fixtures/ulogd/${name}`, root), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const r = decodeLine(l, 0, { verdictRules: [], useRawLabel: true, naiveTimestamps: 'utc', maxFutureMs: 300_000 });
      if (r.kind !== 'packet') throw new Error(name);
      return r;
    });

const signatures = parseSignatures(readFileSync(new URL('conf/signatures.toml', root), 'utf8'));
const mix = [
  'syn-linux-curl.jsonl', 'syn-port6000.jsonl', 'syn-nmap.jsonl', 'syn-masscan.jsonl', 'syn-zmap.jsonl',
  'syn-hping3-default.jsonl', 'syn-mirai-like.jsonl', 'syn-probe-flags.jsonl', 'ipv6-tcp.jsonl', 'ipv4-curl-linux.jsonl',
].flatMap(fixture);
const flood = fixture('syn-hping3-default.jsonl');
const mirai = fixture('syn-mirai-like.jsonl')[0]!;

function run(label: string, events: PacketEvent[], vary?: (e: PacketEvent, i: number) => void): void {
  // Fresh objects per event, as the decoder makes them (the enricher writes into them).
  const pool = events.map((e) => ({ ...e }));
  const enricher = new FingerprintEnricher(signatures);
  let tools = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const e = pool[i % pool.length]!;
    if (vary) vary(e, i);
    enricher.enrich(e);
    if (e.tool !== '') tools++;
  }
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(44)} ${(N / (ms / 1000)).toFixed(0).padStart(10)} events/s  (${ms.toFixed(0)} ms, ${tools} tools)`);
}

// Warm-up so the JIT has compiled the hot path before measuring.
for (let i = 0; i < 200_000; i++) synFingerprint(mix[i % mix.length]!);

run('one shape (hping3 flood)', flood);
run('mix of captured tools and Linux clients', mix);
run('Mirai-like flood, random window per event', [mirai], (e, i) => {
  e.tcpWindow = (i * 40503) & 0xffff;
});
console.log(`caches after the runs: ${JSON.stringify(signatures.cacheSizes())}`);
