// The live-mode writer of `npm run bench -- --live RATE`, a child process of its own so producing
// lines never competes with the bench's polling loop:
//   node dist/bench/writer.js FILE RATE SECONDS SEED     (started with an IPC channel)
// Appends spoofed-SYN-flood lines (corpus.ts FloodTraffic) stamped with the current time to FILE at
// RATE packet lines per second in ~10 ms batches, plus ulogd's NFACCT poll lines once a second,
// for SECONDS seconds. Reports progress after every batch and the truth at the end.
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { FloodTraffic, NfacctPoller, Rng, TruthCounter, UlogdClock, corpusSeed, packetLine, type CorpusTruth } from './corpus.js';

export type WriterMessage = { type: 'progress'; written: number } | { type: 'done'; truth: CorpusTruth };

const BATCH_MS = 10;

function send(message: WriterMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, undefined, undefined, () => resolve());
    else resolve();
  });
}

async function main(file: string, rate: number, seconds: number, seed: number): Promise<void> {
  const rng = new Rng(corpusSeed(seed, 'live'));
  const traffic = new FloodTraffic(rng);
  const poller = new NfacctPoller(rng);
  const clock = new UlogdClock();
  const counter = new TruthCounter('live flood', seed);
  const fd = openSync(file, 'a');
  const start = performance.now();
  let packets = 0;
  let lastUsec = Date.now() * 1000;
  for (;;) {
    const elapsedMs = performance.now() - start;
    const finished = elapsedMs >= seconds * 1000;
    const due = Math.floor((rate * Math.min(elapsedMs, seconds * 1000)) / 1000) - packets;
    if (due > 0) {
      // Event times spread over the time since the previous batch, ending now.
      const nowUsec = Date.now() * 1000;
      const lines: string[] = [];
      for (let i = 1; i <= due; i++) {
        const t = Math.round(lastUsec + ((nowUsec - lastUsec) * i) / due);
        const poll = poller.due(t);
        if (poll !== null) {
          poller.poll(poll, clock, (text, name, pkts, bytes) => {
            counter.nfacct(text, name, pkts, bytes, poll);
            lines.push(text);
          });
        }
        const { spec, source } = traffic.next(t);
        const text = packetLine(spec, rng, clock);
        counter.packet(text, spec, source);
        lines.push(text);
      }
      lastUsec = nowUsec;
      packets += due;
      writeSync(fd, `${lines.join('\n')}\n`);
      await send({ type: 'progress', written: counter.truth.lines });
    }
    if (finished) break;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, BATCH_MS - (performance.now() - start - elapsedMs))));
  }
  closeSync(fd);
  await send({ type: 'done', truth: counter.truth });
  process.disconnect?.();
}

const [file, rate, seconds, seed] = process.argv.slice(2);
if (file === undefined || !(Number(rate) > 0) || !(Number(seconds) > 0) || seed === undefined) {
  process.stderr.write('usage: node dist/bench/writer.js FILE RATE SECONDS SEED\n');
  process.exit(2);
}
await main(file, Number(rate), Number(seconds), Number(seed));
