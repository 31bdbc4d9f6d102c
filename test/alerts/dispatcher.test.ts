import { describe, expect, it } from 'vitest';
import { AlertDispatcher, type AlertPolicy } from '../../src/alerts/dispatcher.js';
import type { Alert, AlertChannel } from '../../src/pipeline/types.js';
import type { Detection } from '../../src/track/query.js';
import { T0, packet, tracker } from '../track/helpers.js';
import { detectionsOf } from './helpers.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } } as never;

class Recorder implements AlertChannel {
  readonly sent: Alert[] = [];
  constructor(readonly name = 'recorder', private readonly fail = false) {}
  async send(alert: Alert): Promise<void> {
    if (this.fail) throw new Error('down');
    this.sent.push(alert);
  }
}

const policy: AlertPolicy = { minSeverity: 3, campaigns: true, dedupeMs: 3_600_000, maxPerMinute: 20, maxAgeMs: 600_000, host: 'fw1' };

/** A detected vertical scan of `ports` ports from `src` (severity by psad's probe ladder). */
function scanFrom(src: string, ports: number, time = T0): Detection[] {
  const t = tracker();
  const out: Detection[] = [];
  t.onDetection((d) => out.push(d));
  for (let p = 1; p <= ports; p++) t.observe(packet({ time: time + p, src, dport: p, sport: 40000 + p, seq: p * 7919 }));
  return out;
}

describe('alert dispatcher', () => {
  it('alerts once per source and again only when its severity rises', async () => {
    const channel = new Recorder();
    const d = new AlertDispatcher(policy, [channel], quiet, () => T0 + 60_000);
    // 200 ports: detected at 20 (severity 2: below the floor), 150 probes → 3.
    const detections = scanFrom('192.0.2.1', 200);
    expect(detections.map((x) => (x.kind === 'scan' ? x.source.scan.severity : 0))).toEqual([2, 3]);
    for (const x of detections) d.accept(x);
    for (const x of detections) d.accept(x); // the same again: deduplicated
    await d.flush(1000);
    expect(channel.sent.map((a) => [a.key, a.severity])).toEqual([['scan 192.0.2.1', 3]]);
    expect(d.stats).toMatchObject({ detections: 4, alerts: 1, belowSeverity: 2, deduplicated: 1 });
    // Severity 4 (1500 probes) is news.
    for (const x of scanFrom('192.0.2.1', 1500)) d.accept(x);
    await d.flush(1000);
    expect(channel.sent.map((a) => a.severity)).toEqual([3, 4]);
  });

  it('sends at most max_per_minute, counts the rest, and refills with time', async () => {
    let now = T0 + 60_000;
    const channel = new Recorder();
    const d = new AlertDispatcher({ ...policy, maxPerMinute: 5 }, [channel], quiet, () => now);
    for (let i = 1; i <= 30; i++) for (const x of scanFrom(`192.0.2.${i}`, 150)) d.accept(x);
    await d.flush(1000);
    expect(channel.sent).toHaveLength(5);
    expect(d.stats.rateLimited).toBe(25);
    now += 60_000; // a minute later: a full bucket again
    for (const x of scanFrom('192.0.2.200', 150)) d.accept(x);
    await d.flush(1000);
    expect(channel.sent).toHaveLength(6);
  });

  it('with only_listed alerts on scans from sources on a threat list only, counting the rest', async () => {
    const channel = new Recorder();
    const d = new AlertDispatcher({ ...policy, onlyListed: true }, [channel], quiet, () => T0 + 60_000);
    for (const x of scanFrom('192.0.2.1', 150)) d.accept(x);
    for (const x of scanFrom('192.0.2.2', 150)) {
      if (x.kind === 'scan') x.source.listed = ['et_compromised'];
      d.accept(x);
    }
    await d.flush(1000);
    expect(channel.sent.map((a) => a.key)).toEqual(['scan 192.0.2.2']);
    expect(d.stats.notListed).toBe(1);
  });

  it('does not alert on what happened before max_age (reading an old file), only counts it', async () => {
    const channel = new Recorder();
    const d = new AlertDispatcher(policy, [channel], quiet, () => T0 + 3_600_000);
    for (const x of scanFrom('192.0.2.9', 150)) d.accept(x);
    await d.flush(1000);
    expect(channel.sent).toHaveLength(0);
    expect(d.stats.stale).toBe(2);
  });

  it('alerts on a forming campaign unless campaigns = false', async () => {
    const on = new Recorder();
    const off = new Recorder();
    const withCampaigns = new AlertDispatcher(policy, [on], quiet, () => T0 + 60_000);
    const without = new AlertDispatcher({ ...policy, campaigns: false }, [off], quiet, () => T0 + 60_000);
    const t = tracker();
    t.onDetection((x) => {
      withCampaigns.accept(x);
      without.accept(x);
    });
    for (let i = 1; i <= 6; i++) t.observe(packet({ time: T0 + i, src: `203.0.113.${i}`, sport: 6000, window: 16384, ttl: 103, olen: 0, df: 0, tool: 'port6000-ssh-scanner', verdict: 'allowed' }));
    await withCampaigns.flush(1000);
    expect(on.sent.map((a) => a.kind)).toEqual(['campaign']);
    expect(off.sent).toHaveLength(0);
    expect(without.stats.belowSeverity).toBe(1);
  });

  it('counts a channel that fails without holding back the others', async () => {
    const good = new Recorder('good');
    const bad = new Recorder('bad', true);
    const d = new AlertDispatcher(policy, [bad, good], quiet, () => T0 + 60_000);
    for (const x of scanFrom('192.0.2.5', 150)) d.accept(x);
    for (const x of detectionsOf('scan-nmap-os.jsonl')) d.accept({ ...x, time: T0 + 1 });
    await d.flush(1000);
    // One for 192.0.2.5; nmap -O's source at severity 3, then 4.
    expect(good.sent.map((a) => a.key)).toEqual(['scan 192.0.2.5', 'scan 198.18.0.21', 'scan 198.18.0.21']);
    expect(d.stats.channels).toEqual({ bad: { sent: 0, failed: 3 }, good: { sent: 3, failed: 0 } });
  });
});
