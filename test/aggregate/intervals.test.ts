import { describe, expect, it } from 'vitest';
import { IntervalAggregator, OTHER_COUNTER, type AggregatorOptions } from '../../src/aggregate/intervals.js';
import { NONE, type Checkpoint, type CounterEvent, type IntervalAggregate, type PacketEvent, type Verdict } from '../../src/pipeline/types.js';
import { shapeCode } from '../../src/enrich/fingerprint.js';

const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const options: AggregatorOptions = { intervalMs: 10_000, graceMs: 2_000, latenessMs: 5_000, maxPrefixes: 3, maxOpenIntervals: 50, maxCounterNames: 1000 };

function packet(time: number, verdict: Verdict = 'blocked', dstPort = 22, prefix = 'Input Default DROP'): PacketEvent {
  return {
    kind: 'packet', source: 0, time, device: 'fw', prefix, verdict, family: 4, protocol: 6,
    srcIp: '198.18.0.2', dstIp: '198.18.0.1', srcPort: 6000, dstPort, tcpFlags: 2, tcpWindow: 16384,
    tcpSeq: 1, ttl: 103, ipId: 256, df: 0, ipTotalLength: 40, ipHeaderLength: 20, icmpType: NONE,
    icmpCode: NONE, inIf: 'veth0', outIf: '', mac: '', nflogGroup: NONE,
    fingerprint: null, os: '', tool: '', classification: null, geo: null, owner: null, listed: [],
  };
}

function counter(time: number, name: string, pkts: number, bytes: number): CounterEvent {
  return { kind: 'counter', source: 0, time, name, pkts, bytes };
}

/** What carbon keeps: the last value written per series and timestamp. */
class LastWriteWins {
  readonly byStart = new Map<number, IntervalAggregate>();
  write = (a: IntervalAggregate) => void this.byStart.set(a.start, a);
  total(verdict: Verdict): number {
    let n = 0;
    for (const a of this.byStart.values()) n += a.verdicts[verdict].count;
    return n;
  }
  counter(name: string): { pkts: number; bytes: number } {
    const sum = { pkts: 0, bytes: 0 };
    for (const a of this.byStart.values()) {
      const c = a.counters.get(name);
      if (c) (sum.pkts += c.pkts), (sum.bytes += c.bytes);
    }
    return sum;
  }
}

describe('interval aggregator', () => {
  it('buckets events by their own time into wall-clock-aligned intervals', () => {
    const out = new LastWriteWins();
    let now = T0;
    const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => now);
    agg.caughtUp(0, true);
    agg.addPacket(packet(T0 + 1_000), 0, 100);
    agg.addPacket(packet(T0 + 9_999, 'allowed'), 100, 200);
    agg.addPacket(packet(T0 + 10_000), 200, 300);
    now = T0 + 11_999; // interval [T0, T0+10s) ends, grace of 2 s not over yet
    expect(agg.closeDue()).toBe(0);
    now = T0 + 12_000;
    expect(agg.closeDue()).toBe(1);
    const first = out.byStart.get(T0)!;
    expect(first.verdicts.blocked.count).toBe(1);
    expect(first.verdicts.allowed.count).toBe(1);
    expect(first.verdicts.blocked.ports.get(22)).toBe(1);
    expect(first.verdicts.blocked.protocols.get(6)).toBe(1);
    expect(first.sources.get('ulogd')).toBe(2);
    expect(out.byStart.has(T0 + 10_000)).toBe(false);
  });

  it('while a file is read from behind, closes intervals by event time, not by the wall clock', () => {
    const out = new LastWriteWins();
    const now = T0 + 3_600_000; // an hour later: the wall clock alone would close everything
    const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => now);
    agg.caughtUp(0, false);
    agg.addPacket(packet(T0 + 1_000), 0, 1);
    agg.addPacket(packet(T0 + 12_000), 1, 2);
    expect(agg.closeDue()).toBe(0); // 12 s − 5 s lateness has not passed T0+10 s
    agg.addPacket(packet(T0 + 15_001), 2, 3);
    expect(agg.closeDue()).toBe(1);
    expect(out.byStart.get(T0)!.verdicts.blocked.count).toBe(1);
  });

  it('counts a late event into the oldest open interval instead of rewriting a closed one', () => {
    const out = new LastWriteWins();
    let now = T0;
    const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => now);
    agg.caughtUp(0, true);
    agg.addPacket(packet(T0 + 1_000), 0, 1);
    now = T0 + 12_500;
    agg.closeDue();
    agg.addPacket(packet(T0 + 5_000), 1, 2); // belongs to the closed interval
    agg.closeAll();
    expect(out.byStart.get(T0)!.verdicts.blocked.count).toBe(1);
    expect(out.byStart.get(T0 + 10_000)!.verdicts.blocked.count).toBe(1);
    expect(agg.stats.lateEvents).toBe(1);
    expect(out.total('blocked')).toBe(2);
  });

  it('counts every SYN window from 0 to 65,535 exactly, each interval on its own', () => {
    const out = new LastWriteWins();
    let now = T0;
    const agg = new IntervalAggregator({ ...options, maxSeries: 100_000 }, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => now);
    agg.caughtUp(0, true);
    const syn = (time: number, window: number): PacketEvent => {
      const e = packet(time);
      e.fingerprint = { key: `ittl=64,win=${window},olen=0,df=0`, code: shapeCode(64, window, 0, 0), window, initialTtl: 64 } as unknown as PacketEvent['fingerprint'];
      return e;
    };
    // Three intervals in a row, so the arrays of closed intervals are used again.
    const windowsOf = [[0, 0, 65535, 1024], [1024, 7], [5, 65535, 5, 5]];
    for (let i = 0; i < windowsOf.length; i++) {
      for (const window of windowsOf[i]!) agg.addPacket(syn(T0 + i * 10_000 + 500, window), NONE, NONE);
      now = T0 + i * 10_000 + 12_000;
      agg.closeDue();
    }
    expect([...out.byStart.get(T0)!.synWindows].sort((a, b) => a[0] - b[0])).toEqual([[0, 2], [1024, 1], [65535, 1]]);
    expect([...out.byStart.get(T0 + 10_000)!.synWindows].sort((a, b) => a[0] - b[0])).toEqual([[7, 1], [1024, 1]]);
    expect([...out.byStart.get(T0 + 20_000)!.synWindows].sort((a, b) => a[0] - b[0])).toEqual([[5, 3], [65535, 1]]);
    expect([...out.byStart.values()].map((a) => a.syns)).toEqual([4, 2, 4]);
  });

  it('counts SYNs by window, initial TTL, fingerprint and OS, and packets by tool and country', () => {
    const out = new LastWriteWins();
    const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => T0);
    const syn = packet(T0);
    syn.fingerprint = { key: 'ittl=128,win=16384,olen=0,df=0', code: shapeCode(128, 16384, 0, 0), window: 16384, ttl: 103, initialTtl: 128, hops: 25, df: 0, ipId: 256, optionsLength: 0, srcPort: 6000, extraFlags: 0, probe: false };
    syn.os = 'windows';
    syn.tool = 'port6000-ssh-scanner';
    syn.geo = { country: 'CN', city: '', location: null, asn: NONE, asOrg: '' };
    agg.addPacket(syn, NONE, NONE);
    agg.addPacket(syn, NONE, NONE);
    agg.addPacket(packet(T0), NONE, NONE); // not fingerprinted: counted, but not as a SYN
    agg.closeAll();
    const a = out.byStart.get(T0)!;
    expect(a.syns).toBe(2);
    expect([...a.synWindows]).toEqual([[16384, 2]]);
    expect([...a.synInitialTtls]).toEqual([[128, 2]]);
    expect([...a.fingerprints]).toEqual([['ittl=128,win=16384,olen=0,df=0', 2]]);
    expect([...a.synOs]).toEqual([['windows', 2]]);
    expect([...a.tools]).toEqual([['port6000-ssh-scanner', 2]]);
    expect([...a.countries]).toEqual([['CN', 2]]);
    expect(a.verdicts.blocked.count).toBe(3);
  });

  it('counts packets per threat list, a packet on two lists in both', () => {
    const out = new LastWriteWins();
    const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => T0);
    const twice = packet(T0);
    twice.listed = ['firehol_level1', 'spamhaus_drop'];
    const once = packet(T0);
    once.listed = ['firehol_level1'];
    agg.addPacket(twice, NONE, NONE);
    agg.addPacket(once, NONE, NONE);
    agg.addPacket(packet(T0), NONE, NONE); // on no list
    agg.closeAll();
    const a = out.byStart.get(T0)!;
    expect([...a.lists].sort()).toEqual([['firehol_level1', 2], ['spamhaus_drop', 1]]);
    expect(a.verdicts.blocked.count).toBe(3);
  });

  it('folds log prefixes beyond the limit into "other"', () => {
    const out = new LastWriteWins();
    const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => T0);
    for (const p of ['a', 'b', 'c', 'd', 'e', 'a']) agg.addPacket(packet(T0, 'blocked', 22, p), NONE, NONE);
    agg.closeAll();
    const a = out.byStart.get(T0)!;
    expect([...a.prefixes.entries()]).toEqual([['a', 2], ['b', 1], ['c', 1]]);
    expect(a.otherPrefixes).toBe(2);
  });

  it('bounds open intervals: far-future events go into the newest one', () => {
    const out = new LastWriteWins();
    const agg = new IntervalAggregator({ ...options, maxOpenIntervals: 3 }, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => T0);
    agg.caughtUp(0, false);
    for (let i = 0; i < 10; i++) agg.addPacket(packet(T0 + i * 10_000 + 86_400_000 * (i > 2 ? 1 : 0)), i, i + 1);
    expect(agg.stats.openIntervals).toBeLessThanOrEqual(3);
    agg.closeAll();
    expect(out.total('blocked')).toBe(10);
  });

  describe('NFACCT counters', () => {
    it('sums deltas (zerocounter=1) per interval', () => {
      const out = new LastWriteWins();
      const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => T0);
      agg.addCounter(counter(T0 + 1_000, 'ipv4.http', 3, 300), 0, 1);
      agg.addCounter(counter(T0 + 3_000, 'ipv4.http', 2, 200), 1, 2);
      agg.closeAll();
      expect(out.byStart.get(T0)!.counters.get('ipv4.http')).toEqual({ pkts: 5, bytes: 500 });
    });

    it('bounds distinct counter names: a flood of garbage names is summed under _other, totals exact', () => {
      const out = new LastWriteWins();
      const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => T0);
      const names = options.maxCounterNames + 500;
      for (let i = 0; i < names; i++) agg.addCounter(counter(T0, `junk.${i}`, 1, 10), NONE, NONE);
      agg.closeAll();
      const counters = out.byStart.get(T0)!.counters;
      expect(counters.size).toBe(options.maxCounterNames + 1);
      expect(counters.get(OTHER_COUNTER)).toEqual({ pkts: 500, bytes: 5000 });
      let pkts = 0;
      for (const c of counters.values()) pkts += c.pkts;
      expect(pkts).toBe(names);
      expect(agg.stats.countersFolded).toBe(500);
    });

    it('bounds counter names over time, not per interval: new names in every interval fold once the budget is spent', () => {
      const out = new LastWriteWins();
      const agg = new IntervalAggregator({ ...options, maxCounterNames: 100 }, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => T0);
      // A known counter first, then 80 new garbage names in each of five intervals.
      for (let k = 0; k < 5; k++) {
        const t = T0 + k * options.intervalMs;
        agg.addCounter(counter(t, 'ipv4.ssh', 2, 20), NONE, NONE);
        for (let i = 0; i < 80; i++) agg.addCounter(counter(t, `junk.${k}.${i}`, 1, 10), NONE, NONE);
      }
      agg.closeAll();
      const written = new Set<string>();
      let pkts = 0;
      for (const a of out.byStart.values()) for (const [name, c] of a.counters) {
        written.add(name);
        pkts += c.pkts;
      }
      expect(written.size).toBe(100 + 1); // the budget and _other, over all five intervals
      expect(written.has('ipv4.ssh')).toBe(true); // a name admitted once keeps its series
      expect(pkts).toBe(5 * (2 + 80)); // nothing lost
    });

    it('turns running totals (zerocounter=0) into deltas, detects a reset, never goes negative', () => {
      const out = new LastWriteWins();
      const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'totals' }], out.write, () => T0);
      const totals = [[100, 1000], [104, 1400], [110, 2000], [2, 120], [5, 300]] as const;
      totals.forEach(([p, b], i) => agg.addCounter(counter(T0 + i * 10_000, 'ipv4.ssh', p, b), i, i + 1));
      agg.closeAll();
      const deltas = [...out.byStart.values()].map((a) => a.counters.get('ipv4.ssh'));
      expect(deltas).toEqual([
        { pkts: 0, bytes: 0 }, // first sight: a baseline, its history is not ours
        { pkts: 4, bytes: 400 },
        { pkts: 6, bytes: 600 },
        { pkts: 2, bytes: 120 }, // went backwards: reset, counted from zero
        { pkts: 3, bytes: 180 },
      ]);
      expect(agg.stats.counterResets).toBe(1);
    });
  });
});

// ---------------------------------------------------------------------------------------------

/** A deterministic pseudo-random generator so a failing case can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Line {
  start: number;
  end: number;
  event: PacketEvent | CounterEvent;
}

function makeLines(seed: number, count: number): Line[] {
  const random = rng(seed);
  const lines: Line[] = [];
  let time = T0 + Math.floor(random() * 10_000);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    time += Math.floor(random() * 700);
    // Some lines come slightly out of order (two NFLOG groups), a few very late (a clock step).
    const jitter = random() < 0.25 ? -Math.floor(random() * 4_500) : random() < 0.05 ? -Math.floor(random() * 30_000) : 0;
    const length = 200 + Math.floor(random() * 800);
    const event = random() < 0.1
      ? counter(time + jitter, 'ipv4.http', 1 + (i % 3), 60 * (1 + (i % 3)))
      : packet(time + jitter, random() < 0.3 ? 'allowed' : 'blocked', 20 + Math.floor(random() * 5));
    lines.push({ start: pos, end: pos + length, event });
    pos += length;
  }
  return lines;
}

/** Feeds lines as the pipeline does, recording a checkpoint every `tickEvery` lines. */
function run(
  lines: Line[],
  from: number,
  until: number,
  out: LastWriteWins,
  restore: Checkpoint | undefined,
  tickEvery: number,
): { checkpoint: Checkpoint | undefined; aggregator: IntervalAggregator } {
  let now = T0;
  const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'deltas' }], out.write, () => now);
  if (restore) agg.restore(0, restore);
  agg.caughtUp(0, false);
  let checkpoint: Checkpoint | undefined;
  for (let i = from; i < until; i++) {
    const line = lines[i]!;
    now = Math.max(now, line.event.time);
    if (line.event.kind === 'packet') agg.addPacket(line.event, line.start, line.end);
    else agg.addCounter(line.event, line.start, line.end);
    if (i % tickEvery === 0) {
      agg.closeDue();
      checkpoint = structuredClone(agg.checkpoint(0)); // the pipeline persists it as JSON
    }
  }
  return { checkpoint, aggregator: agg };
}

describe('interval aggregator: crash and replay', () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('rewrites every interval whole after a crash at a random line (seed %i)', (seed) => {
    const lines = makeLines(seed, 3000);
    const expectedBlocked = lines.filter((l) => l.event.kind === 'packet' && l.event.verdict === 'blocked').length;
    const expectedAllowed = lines.filter((l) => l.event.kind === 'packet' && l.event.verdict === 'allowed').length;
    const expectedPkts = lines.reduce((n, l) => n + (l.event.kind === 'counter' ? l.event.pkts : 0), 0);

    const store = new LastWriteWins();
    const random = rng(seed * 7919);
    // Crash twice: the second time while still replaying what the first crash left.
    const crash1 = 500 + Math.floor(random() * 2000);
    const first = run(lines, 0, crash1, store, undefined, 7);
    let restored = first.checkpoint!;
    let resume = lines.findIndex((l) => l.start >= restored.resumeAt);
    const crash2 = Math.min(lines.length, resume + Math.floor(random() * (crash1 - resume + 50)));
    const second = run(lines, resume, crash2, store, restored, 5);
    restored = second.checkpoint ?? restored;
    resume = lines.findIndex((l) => l.start >= restored.resumeAt);
    const last = run(lines, resume, lines.length, store, restored, 41);
    last.aggregator.closeAll();

    expect(store.total('blocked')).toBe(expectedBlocked);
    expect(store.total('allowed')).toBe(expectedAllowed);
    expect(store.counter('ipv4.http').pkts).toBe(expectedPkts);
  });

  it('without late lines, a replay writes exactly the intervals an uninterrupted run writes', () => {
    const lines = makeLines(42, 2000).map((l, i, all) => ({ ...l, event: { ...l.event, time: T0 + i * 97 } }));
    void lines.length;
    const reference = new LastWriteWins();
    run(lines, 0, lines.length, reference, undefined, 10).aggregator.closeAll();

    const store = new LastWriteWins();
    const first = run(lines, 0, 1234, store, undefined, 10);
    const resume = lines.findIndex((l) => l.start >= first.checkpoint!.resumeAt);
    run(lines, resume, lines.length, store, first.checkpoint, 10).aggregator.closeAll();

    expect([...store.byStart.keys()].sort()).toEqual([...reference.byStart.keys()].sort());
    for (const [start, a] of reference.byStart) {
      expect(store.byStart.get(start)!.verdicts.blocked.count).toBe(a.verdicts.blocked.count);
      expect(store.byStart.get(start)!.verdicts.allowed.count).toBe(a.verdicts.allowed.count);
    }
  });

  it('keeps running-total baselines in the checkpoint so a replay computes the same deltas', () => {
    const store = new LastWriteWins();
    const mk = (i: number) => counter(T0 + i * 2_000, 'ipv6.http', 10 + i * 3, 1000 + i * 300);
    const lines: Line[] = Array.from({ length: 60 }, (_, i) => ({ start: i * 100, end: i * 100 + 100, event: mk(i) }));
    const feed = (from: number, until: number, restore?: Checkpoint) => {
      let now = T0;
      const agg = new IntervalAggregator(options, [{ name: 'ulogd', replayable: true, nfacct: 'totals' }], store.write, () => now);
      if (restore) agg.restore(0, restore);
      let checkpoint: Checkpoint | undefined;
      for (let i = from; i < until; i++) {
        now = lines[i]!.event.time;
        agg.addCounter(lines[i]!.event as CounterEvent, lines[i]!.start, lines[i]!.end);
        agg.closeDue();
        checkpoint = structuredClone(agg.checkpoint(0));
      }
      return { agg, checkpoint: checkpoint! };
    };
    const first = feed(0, 33);
    const resume = lines.findIndex((l) => l.start >= first.checkpoint.resumeAt);
    feed(resume, 60, first.checkpoint).agg.closeAll();
    // 59 deltas of 3 packets after the first record set the baseline.
    expect(store.counter('ipv6.http')).toEqual({ pkts: 59 * 3, bytes: 59 * 300 });
  });
});

describe('series budget over the aggregator\'s life (aggregate.max_series)', () => {
  const source = [{ name: 'ulogd', replayable: true, nfacct: 'deltas' as const }];

  it('a port scan across many intervals names at most max_series ports per verdict; the busy port keeps its name; totals exact', () => {
    const out = new LastWriteWins();
    const agg = new IntervalAggregator({ ...options, maxSeries: 10 }, source, out.write, () => T0);
    let sent = 0;
    for (let k = 0; k < 30; k++) {
      const t = T0 + k * options.intervalMs;
      for (let i = 0; i < 5; i++) agg.addPacket(packet(t, 'blocked', 22), NONE, NONE);
      for (let p = 0; p < 100; p++) agg.addPacket(packet(t, 'blocked', 1000 + k * 100 + p), NONE, NONE);
      sent += 105;
    }
    agg.closeAll();
    const named = new Set<number>();
    let total = 0;
    for (const a of out.byStart.values()) {
      const v = a.verdicts.blocked;
      for (const [port, n] of v.ports) {
        named.add(port);
        total += n;
      }
      total += v.otherPorts;
      expect(v.ports.get(22)).toBe(5);
    }
    expect(named.size).toBe(10);
    expect(total).toBe(sent);
    expect(out.total('blocked')).toBe(sent);
    expect(agg.stats.seriesFolded).toBe(sent - 30 * 5 - 9);
  });

  it('folds fingerprints, windows, countries and tools into their `other` too, each family with its own budget', () => {
    const out = new LastWriteWins();
    const agg = new IntervalAggregator({ ...options, maxSeries: 2 }, source, out.write, () => T0);
    for (let i = 0; i < 6; i++) {
      const e = packet(T0, 'blocked', 22);
      e.fingerprint = { key: `ittl=64,win=${1000 + i},olen=0,df=0`, code: shapeCode(64, 1000 + i, 0, 0), window: 1000 + i, initialTtl: 64 } as unknown as PacketEvent['fingerprint'];
      e.tool = `tool${i}`;
      e.geo = { country: `C${i}` } as unknown as PacketEvent['geo'];
      agg.addPacket(e, NONE, NONE);
    }
    agg.closeAll();
    const a = out.byStart.get(T0)!;
    expect(a.fingerprints.size).toBe(2);
    expect(a.otherFingerprints).toBe(4);
    expect(a.synWindows.size).toBe(3); // two windows and OTHER_WINDOW
    expect(a.synWindows.get(65536)).toBe(4);
    expect(a.countries.get('other')).toBe(4);
    expect(a.tools.get('other')).toBe(4);
    expect(agg.stats.seriesAdmitted).toBe(2 * 4 + 1 + 1); // 2 each of fingerprint, window, country, tool; 1 prefix; 1 port
  });
});
