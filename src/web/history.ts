// Recent interval figures for the web view: verdict rates over time and NFACCT counter rates.
// Fed by the pipeline's closed intervals (event time); bounded to the last `keep` intervals.
import { VERDICTS, type IntervalAggregate, type Verdict } from '../pipeline/types.js';

export interface VerdictPoint {
  /** Interval start, epoch seconds. */
  time: number;
  /** Packets per second in the interval, by verdict. */
  allowed: number;
  blocked: number;
  unknown: number;
  syns: number;
}

export interface CounterPoint {
  time: number;
  /** Per second over the interval. */
  pkts: number;
  bytes: number;
}

export interface CounterSeries {
  name: string;
  /** Totals seen since nfwatch started. */
  pkts: number;
  bytes: number;
  /** The newest interval's rates (0 when the counter was not polled in it). */
  pktsPerSecond: number;
  bytesPerSecond: number;
  points: CounterPoint[];
}

/** Counter names kept at most; more are summed under "_other" (a flood of names stays bounded). */
const MAX_COUNTERS = 1000;

export class IntervalHistory {
  private readonly verdictPoints: VerdictPoint[] = [];
  private readonly counterPoints = new Map<string, CounterPoint[]>();
  private readonly counterTotals = new Map<string, { pkts: number; bytes: number }>();
  readonly totals: Record<Verdict, number> & { syns: number } = { allowed: 0, blocked: 0, unknown: 0, syns: 0 };
  /** Packets from sources on each threat list in closed intervals since start (list names are configured: few). */
  readonly listed = new Map<string, number>();

  constructor(private readonly keep = 360) {}

  /** An IntervalListener: `pipeline.onIntervalClosed(history.add)`. */
  readonly add = (a: IntervalAggregate): void => {
    const seconds = a.length / 1000;
    const time = Math.floor(a.start / 1000);
    const point: VerdictPoint = { time, allowed: 0, blocked: 0, unknown: 0, syns: a.syns / seconds };
    for (const v of VERDICTS) {
      point[v] = a.verdicts[v].count / seconds;
      this.totals[v] += a.verdicts[v].count;
    }
    this.totals.syns += a.syns;
    for (const [list, n] of a.lists) this.listed.set(list, (this.listed.get(list) ?? 0) + n);
    push(this.verdictPoints, point, this.keep);
    for (const [raw, c] of a.counters) {
      const name = this.counterPoints.has(raw) || this.counterPoints.size < MAX_COUNTERS ? raw : '_other';
      let points = this.counterPoints.get(name);
      if (!points) this.counterPoints.set(name, (points = []));
      push(points, { time, pkts: c.pkts / seconds, bytes: c.bytes / seconds }, this.keep);
      const total = this.counterTotals.get(name) ?? { pkts: 0, bytes: 0 };
      total.pkts += c.pkts;
      total.bytes += c.bytes;
      this.counterTotals.set(name, total);
    }
  };

  verdicts(): VerdictPoint[] {
    return this.verdictPoints.slice();
  }

  /** The latest interval's rates, or zeros before the first. */
  latest(): VerdictPoint {
    return this.verdictPoints.at(-1) ?? { time: 0, allowed: 0, blocked: 0, unknown: 0, syns: 0 };
  }

  counters(): CounterSeries[] {
    const newest = this.verdictPoints.at(-1)?.time;
    const out: CounterSeries[] = [];
    for (const [name, points] of this.counterPoints) {
      const last = points.at(-1);
      const current = last !== undefined && last.time === newest ? last : undefined;
      const total = this.counterTotals.get(name)!;
      out.push({
        name,
        pkts: total.pkts,
        bytes: total.bytes,
        pktsPerSecond: current?.pkts ?? 0,
        bytesPerSecond: current?.bytes ?? 0,
        points: points.slice(),
      });
    }
    return out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  }
}

function push<T>(list: T[], item: T, keep: number): void {
  list.push(item);
  if (list.length > keep) list.splice(0, list.length - keep);
}
