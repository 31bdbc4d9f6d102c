import { describe, expect, it } from 'vitest';
import { BATCH_LINES, Pipeline, type PipelineOptions, type PipelineStages } from '../../src/pipeline/pipeline.js';
import { NONE, type Checkpoint, type HealthSnapshot, type IntervalAggregate, type LineReceiver, type LineSource, type PacketEvent, type Sink, type SinkHealth } from '../../src/pipeline/types.js';
import { memoryLogger } from '../../src/util/log.js';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);

class FakeSource implements LineSource {
  readonly kind = 'fake';
  commits: Checkpoint[] = [];
  receiver: LineReceiver | undefined;
  constructor(readonly name: string, readonly replayable: boolean, private readonly saved?: Checkpoint) {}
  async start(receiver: LineReceiver): Promise<Checkpoint | undefined> {
    this.receiver = receiver;
    return this.saved;
  }
  async commit(checkpoint: Checkpoint): Promise<void> {
    this.commits.push(checkpoint);
  }
  async reopen(): Promise<void> {}
  async stop(): Promise<void> {}
  stats(): Record<string, number> {
    return {};
  }
}

/** A sink whose backend acknowledges only when told to. */
class FakeSink implements Sink {
  readonly name = 'fake';
  written: IntervalAggregate[] = [];
  health_: HealthSnapshot[] = [];
  acknowledged = 0;
  writeInterval(a: IntervalAggregate): void {
    this.written.push(a);
  }
  writeHealth(h: HealthSnapshot): void {
    this.health_.push(h);
  }
  deliveredUntil(): number {
    const pending = this.written.slice(this.acknowledged);
    return pending.length ? pending[0]!.start : Infinity;
  }
  health(): SinkHealth {
    return { backlog: this.written.length - this.acknowledged, dropped: 0, sent: this.acknowledged, connected: true };
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

const options = (): PipelineOptions => ({
  decode: { verdictRules: [], useRawLabel: true, naiveTimestamps: 'utc', maxFutureMs: 300_000 },
  aggregate: { intervalMs: 10_000, graceMs: 2_000, latenessMs: 5_000, maxPrefixes: 10, maxOpenIntervals: 100, maxCounterNames: 1000 },
  nfacctModes: ['deltas'],
  errorSamplesPerMinute: 2,
  tickMs: 1_000_000,
});

/** A started pipeline with one replayable source, one sink and `stages` (none if not given), and the source's receiver. */
async function started(stages?: PipelineStages): Promise<{ source: FakeSource; sink: FakeSink; pipeline: Pipeline; rx: LineReceiver }> {
  const source = new FakeSource('ulogd', true);
  const sink = new FakeSink();
  const pipeline = new Pipeline(options(), [source], [sink], memoryLogger(), stages);
  await pipeline.start();
  return { source, sink, pipeline, rx: source.receiver! };
}

/** Hands `text` to the receiver as a source does: as bytes. */
function send(receiver: LineReceiver, text: string, start: number, end: number): void {
  const bytes = Buffer.from(text);
  receiver.line(0, bytes, 0, bytes.length, start, end);
}

const line = (sec: number, port = 22) => JSON.stringify({ 'oob.time.sec': sec, 'oob.time.usec': 0, 'oob.prefix': 'x', src_ip: '198.18.0.2', 'ip.protocol': 6, dest_port: port, action: 'blocked' });

describe('pipeline', () => {
  it('commits a read position only once the sink has delivered the intervals before it', async () => {
    const { source, sink, pipeline, rx } = await started();
    send(rx, line(T0 / 1000 + 1), 0, 100);
    send(rx, line(T0 / 1000 + 11), 100, 200);
    rx.caughtUp(0, true);
    pipeline.tick(T0 + 12_500); // closes [T0, T0+10 s)
    expect(sink.written.map((a) => a.start)).toEqual([T0]);
    await new Promise((r) => setImmediate(r));
    expect(source.commits).toEqual([]); // carbon has not taken it yet

    sink.acknowledged = 1;
    pipeline.tick(T0 + 13_000);
    await new Promise((r) => setImmediate(r));
    expect(source.commits.at(-1)).toMatchObject({ resumeAt: 100, skipBelow: 200, flushedUntil: T0 + 10_000 });
    await pipeline.stop(10);
  });

  it('counts undecodable lines by reason and quotes only a few per minute', async () => {
    const source = new FakeSource('ulogd', true);
    const logger = memoryLogger();
    const pipeline = new Pipeline(options(), [source], [], logger);
    await pipeline.start();
    for (let i = 0; i < 5; i++) send(source.receiver!, `garbage ${i}`, i * 10, i * 10 + 10);
    send(source.receiver!, '[1]', 50, 60);
    source.receiver!.oversized(0, 1_000_000);
    const health = pipeline.health();
    expect(health.decodeErrors.not_json).toBe(5);
    expect(health.decodeErrors.not_object).toBe(1);
    expect(health.oversizedLines).toBe(1);
    expect(health.lines).toBe(6);
    expect(logger.lines.filter((l) => l.includes(' warn '))).toHaveLength(2);
    expect(logger.lines[0]).toMatch(/source ulogd at position 0: not_json: .*"garbage 0"/);
    await pipeline.stop(10);
  });

  it('refuses an event dated beyond the clock bound (year 2100): counted as future_timestamp, later events close on time', async () => {
    const { sink, pipeline, rx } = await started();
    pipeline.tick(T0); // the wall clock: T0, so the bound is T0 + 300 s
    send(rx, line(T0 / 1000 + 1), 0, 100);
    send(rx, line(4_102_444_800), 100, 200);
    send(rx, line(T0 / 1000 + 11), 200, 300);
    rx.caughtUp(0, true);
    pipeline.tick(T0 + 22_500);
    expect(sink.written.map((a) => a.start)).toEqual([T0, T0 + 10_000]);
    expect(sink.written.map((a) => a.verdicts.blocked.count)).toEqual([1, 1]);
    expect(pipeline.health().decodeErrors.future_timestamp).toBe(1);
    expect(pipeline.health().lateEvents).toBe(0);
    // Just inside the bound (the clock is now T0 + 22.5 s): taken.
    send(rx, line(T0 / 1000 + 322), 300, 400);
    await pipeline.stop(10);
    expect(sink.written.reduce((n, a) => n + a.verdicts.blocked.count, 0)).toBe(3);
    expect(pipeline.health().decodeErrors.future_timestamp).toBe(1);
  });

  it('ignores a saved position that says intervals in the future were delivered', async () => {
    const saved: Checkpoint = { resumeAt: 0, skipBelow: 0, flushedUntil: 1e23, counters: {}, late: [] };
    const source = new FakeSource('ulogd', true, saved);
    const sink = new FakeSink();
    const logger = memoryLogger();
    const pipeline = new Pipeline(options(), [source], [sink], logger);
    await pipeline.start();
    // Stamped in the current second (not the next: its interval could start after Date.now()).
    send(source.receiver!, line(Math.floor(Date.now() / 1000)), 0, 100);
    await pipeline.stop(10);
    // Counted and written now, not held until 1e23.
    expect(sink.written.map((a) => a.verdicts.blocked.count)).toEqual([1]);
    expect(sink.written[0]!.start).toBeLessThanOrEqual(Date.now());
    expect(logger.lines.join('\n')).toMatch(/saved state says intervals up to 1e\+23 were delivered, which is in the future/);
  });

  it('logs a read position it cannot save once, not at every commit, and says when saving works again', async () => {
    class ReadOnlyStateSource extends FakeSource {
      failing = true;
      override async commit(checkpoint: Checkpoint): Promise<void> {
        if (this.failing) throw new Error("EROFS: read-only file system, open '/var/lib/nfwatch/file-ulogd.json'");
        await super.commit(checkpoint);
      }
    }
    const source = new ReadOnlyStateSource('ulogd', true);
    const logger = memoryLogger();
    const sink = new FakeSink();
    const pipeline = new Pipeline(options(), [source], [sink], logger);
    await pipeline.start();
    const deliverAll = async (now: number) => {
      pipeline.tick(now); // closes the due interval
      sink.acknowledged = sink.written.length;
      pipeline.tick(now); // commits what was delivered
      await new Promise((r) => setImmediate(r));
    };
    for (let i = 0; i < 20; i++) {
      send(source.receiver!, line(T0 / 1000 + i * 10), i * 100, i * 100 + 100);
      await deliverAll(T0 + i * 10_000 + 12_500);
    }
    const errors = logger.lines.filter((l) => l.includes('cannot save its read position'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('EROFS');
    source.failing = false;
    send(source.receiver!, line(T0 / 1000 + 200), 2000, 2100);
    await deliverAll(T0 + 212_500);
    expect(source.commits.length).toBeGreaterThan(0);
    expect(logger.lines.some((l) => l.includes('its read position is saved again'))).toBe(true);
    await pipeline.stop(10);
  });

  it('on stop, closes every open interval and hands it to the sinks', async () => {
    const source = new FakeSource('s', false);
    const sink = new FakeSink();
    const pipeline = new Pipeline(options(), [source], [sink], memoryLogger());
    await pipeline.start();
    send(source.receiver!, line(Math.floor(Date.now() / 1000)), NONE, NONE);
    await pipeline.stop(10);
    expect(sink.written).toHaveLength(1);
    expect(sink.written[0]!.verdicts.blocked.count).toBe(1);
    expect(sink.health_.length).toBeGreaterThan(0);
  });

  it('runs each stage over a batch of lines in turn, each in line order, and delivers a batch when flushed, at its last line, or before a bad line', async () => {
    const seen: string[] = [];
    const stage = (name: string) => (e: PacketEvent) => void seen.push(`${name}:${e.dstPort}`);
    const { sink, pipeline, rx } = await started({
      enrichers: [
        { name: 'a', enrich: stage('a') },
        { name: 'b', enrich: stage('b') },
      ],
      tracker: null,
      recorder: { record: stage('recorder') },
      live: { publish: stage('live') },
    });
    const packet = (port: number) => line(T0 / 1000 + 1, port);
    const stagesOver = (ports: number[]) => ['a', 'b', 'recorder', 'live'].flatMap((name) => ports.map((port) => `${name}:${port}`));

    // Held until the source says its read is handed over.
    for (const port of [1, 2, 3]) send(rx, packet(port), port * 100, port * 100 + 100);
    expect(seen).toEqual([]);
    rx.flush();
    expect(seen).toEqual(stagesOver([1, 2, 3]));

    // A full batch goes at its last line.
    seen.length = 0;
    const full = Array.from({ length: BATCH_LINES }, (_, i) => 1000 + i);
    for (const port of full.slice(0, -1)) send(rx, packet(port), port * 100, port * 100 + 100);
    expect(seen).toEqual([]);
    send(rx, packet(full.at(-1)!), 0, 100);
    expect(seen).toEqual(stagesOver(full));

    // A bad line: the lines before it first, so the aggregator meets every line in its order.
    seen.length = 0;
    send(rx, packet(7), 700, 800);
    send(rx, 'garbage', 800, 900);
    expect(seen).toEqual(stagesOver([7]));
    expect(pipeline.health().decodeErrors.not_json).toBe(1);

    // The aggregator counted every packet, batched or not, once the interval closed.
    send(rx, packet(8), 900, 1000);
    rx.caughtUp(0, true);
    pipeline.tick(T0 + 12_500);
    expect(sink.written.map((a) => a.verdicts.blocked.count)).toEqual([3 + BATCH_LINES + 2]);
    await pipeline.stop(10);
  });

  it('delivers lines still in a batch before a tick closes intervals and before it stops', async () => {
    const { sink, pipeline, rx } = await started();
    // Lines read before an await of the source (no flush yet): the tick delivers them first.
    send(rx, line(T0 / 1000 + 1), 0, 100);
    send(rx, line(T0 / 1000 + 21), 100, 200);
    pipeline.tick(T0 + 22_500);
    expect(sink.written.map((a) => [a.start, a.verdicts.blocked.count])).toEqual([[T0, 1]]);
    send(rx, line(T0 / 1000 + 31), 200, 300);
    await pipeline.stop(10);
    expect(sink.written.map((a) => [a.start, a.verdicts.blocked.count])).toEqual([
      [T0, 1],
      [T0 + 20_000, 1],
      [T0 + 30_000, 1],
    ]);
  });
});
