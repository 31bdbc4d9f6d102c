// `npm run bench`: throughput and memory of the hot path, on one core, against the floor of
// splitting lines and JSON.parse-ing each one. ulogd writes up to ~80 000 lines/s on these
// machines; nfwatch must keep up with room to spare.
import { performance } from 'node:perf_hooks';
import { parseConfigText } from '../config/load.js';
import { createGeoIp } from '../enrich/geoip.js';
import { FingerprintEnricher } from '../enrich/signatures.js';
import { Pipeline, type PipelineStages } from '../pipeline/pipeline.js';
import { trackOptions } from '../track/options.js';
import { Tracker } from '../track/query.js';
import type { LineReceiver } from '../pipeline/types.js';
import { LineSplitter } from '../sources/lines.js';

const LINES = Number(process.env.BENCH_LINES ?? 500_000);
const CHUNK = 256 * 1024;
const ULOGD_RATE = 80_000;

/** A packet line shaped like ulogd 2.0.8's with the Debian stack (BASE, IFINDEX, IP2STR, HWHDR). */
function packetLine(i: number, sec: number, usec: number): string {
  const drop = i % 3 === 0;
  const port = drop ? 1 + (i % 1024) : 22;
  return JSON.stringify({
    timestamp: new Date(sec * 1000).toISOString().slice(0, 19) + `.${String(usec).padStart(6, '0')}`,
    dvc: 'Netfilter',
    'raw.pktlen': 40,
    'raw.pktcount': 1,
    'oob.prefix': drop ? 'Input Default DROP' : 'SSH Attempt',
    'oob.time.sec': sec,
    'oob.time.usec': usec,
    'oob.mark': 0,
    'oob.ifindex_in': 2,
    'oob.hook': 1,
    'raw.mac_len': 14,
    'oob.family': 2,
    'oob.protocol': 2048,
    'raw.label': drop ? 0 : 1,
    'raw.type': 1,
    'raw.mac.addrlen': 6,
    'ip.protocol': 6,
    'ip.tos': 0,
    'ip.ttl': 103,
    'ip.totlen': 40,
    'ip.ihl': 5,
    'ip.csum': 4242,
    'ip.id': 256,
    'ip.fragoff': 0,
    src_port: 6000,
    dest_port: port,
    'tcp.seq': 9764864 + i,
    'tcp.ackseq': 0,
    'tcp.window': 16384,
    'tcp.offset': 0,
    'tcp.reserved': 0,
    'tcp.urg': 0,
    'tcp.ack': 0,
    'tcp.psh': 0,
    'tcp.rst': 0,
    'tcp.syn': 1,
    'tcp.fin': 0,
    'tcp.res1': 0,
    'tcp.res2': 0,
    'tcp.csum': 1234,
    'oob.in': 'eth0',
    'oob.out': '',
    // 50 000 distinct public-looking sources, so GeoIP and the tracker see a realistic spread.
    src_ip: `${20 + ((i % 50_000) >> 16)}.${((i % 50_000) >> 8) & 255}.${i & 255}.9`,
    dest_ip: '198.51.100.1',
    'mac.saddr.str': '52:54:00:12:34:56',
    'mac.daddr.str': '52:54:00:65:43:21',
    'mac.str': '52:54:00:65:43:21:52:54:00:12:34:56:08:00',
    action: drop ? 'blocked' : 'allowed',
  });
}

function counterLine(sec: number, name: string): string {
  return JSON.stringify({ timestamp: new Date(sec * 1000).toISOString().slice(0, 19), dvc: 'Netfilter', 'sum.name': name, 'sum.pkts': 12, 'sum.bytes': 4800, 'oob.time.sec': sec, 'oob.time.usec': 0 });
}

function buildInput(): { data: Buffer; lines: number } {
  const parts: string[] = [];
  const start = Math.floor(Date.now() / 1000) - 3600;
  for (let i = 0; i < LINES; i++) {
    // ulogd's peak rate: event time advances by 1/80 000 s per line.
    const micros = Math.floor((i * 1_000_000) / ULOGD_RATE);
    const sec = start + Math.floor(micros / 1_000_000);
    parts.push(i % 1000 === 999 ? counterLine(sec, 'ipv4.http') : packetLine(i, sec, micros % 1_000_000));
  }
  return { data: Buffer.from(parts.join('\n') + '\n'), lines: LINES };
}

function feed(data: Buffer, splitter: LineSplitter): void {
  for (let off = 0; off < data.length; off += CHUNK) {
    // A reused read buffer in the file source; a subarray here (same bytes, no copy).
    splitter.push(data.subarray(off, Math.min(data.length, off + CHUNK)), off);
  }
}

function measure(name: string, lines: number, run: () => void): { rate: number; cpuMs: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  run();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const rate = lines / (wall / 1000);
  process.stdout.write(`${name.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} lines/s   ${(wall / 1000).toFixed(2)} s wall   ${(cpuMs / 1000).toFixed(2)} s cpu\n`);
  return { rate, cpuMs };
}

async function main(): Promise<void> {
  const { data, lines } = buildInput();
  process.stdout.write(`input: ${lines.toLocaleString('en-US')} ulogd JSON lines, ${(data.length / 1e6).toFixed(0)} MB, ~${Math.round(data.length / lines)} bytes/line\n\n`);

  // Floor: split and JSON.parse every line, nothing else.
  let parsed = 0;
  const floorReceiver: LineReceiver = {
    line: (_s, text) => {
      if (JSON.parse(text) !== null) parsed++;
    },
    oversized: () => undefined,
    caughtUp: () => undefined,
  };
  const floor = measure('floor: split + JSON.parse', lines, () => feed(data, new LineSplitter(floorReceiver, 0, 65536)));

  // nfwatch: split, decode, aggregate by event time (no sink I/O: sinks work per interval), first
  // bare, then with every enricher and the tracker as the daemon runs them.
  const defaults = parseConfigText('[outputs.graphite]\nenabled = false\n');
  const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return this; }, level: 'error' as const };
  const run = async (label: string, stages: () => Promise<PipelineStages>): Promise<number> => {
    let best = 0;
    for (let round = 1; round <= 2; round++) {
      const source = { name: 'bench', kind: 'bench', replayable: true, start: async () => undefined, commit: async () => undefined, reopen: async () => undefined, stop: async () => undefined, stats: () => ({}) };
      const pipeline = new Pipeline(
        {
          decode: { verdictRules: [{ prefix_contains: 'DROP', verdict: 'blocked' }], useRawLabel: true, naiveTimestamps: 'local', maxFutureMs: 300_000 },
          aggregate: { intervalMs: 10_000, graceMs: 2_000, latenessMs: 5_000, maxPrefixes: 200, maxOpenIntervals: 720, maxCounterNames: 1000 },
          nfacctModes: ['deltas'],
          errorSamplesPerMinute: 0,
          tickMs: 1000,
        },
        [source],
        [],
        silent,
        await stages(),
      );
      const splitter = new LineSplitter(pipeline, 0, 65536);
      const r = measure(`${label} (run ${round})`, lines, () => {
        feed(data, splitter);
        pipeline.aggregator.closeAll();
      });
      if (pipeline.aggregator.stats.events !== lines) throw new Error(`bench lost lines: ${pipeline.aggregator.stats.events} of ${lines}`);
      best = Math.max(best, r.rate);
    }
    return best;
  };
  const bare = await run('nfwatch: split + decode + aggregate', async () => ({ enrichers: [], tracker: null }));
  const full = await run('+ fingerprint + GeoIP + tracker', async () => {
    const geoip = await createGeoIp({ ...defaults.geoip }, silent, { watch: false, pollMs: 0 });
    return {
      enrichers: [FingerprintEnricher.fromConfig(''), ...(geoip ? [geoip] : [])],
      tracker: new Tracker(trackOptions(defaults.track)),
    };
  });
  if (parsed !== lines) throw new Error(`floor parsed ${parsed} of ${lines}`);

  const mem = process.memoryUsage();
  const line = (name: string, rate: number) =>
    `${name}: ${Math.round(rate).toLocaleString('en-US')} lines/s = ${(rate / ULOGD_RATE).toFixed(1)}× ulogd's peak of ${ULOGD_RATE.toLocaleString('en-US')}/s, ` +
    `${((rate / floor.rate) * 100).toFixed(0)}% of the JSON.parse floor, one core ${((ULOGD_RATE / rate) * 100).toFixed(0)}% busy at that peak\n`;
  process.stdout.write(
    `\n${line('decode + aggregate', bare)}${line('full daemon hot path', full)}` +
      `memory after: rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB (input buffer ${(data.length / 2 ** 20).toFixed(0)} MiB of it), heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB\n`,
  );
}

await main();
