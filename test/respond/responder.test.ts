// The responder's decisions, with a stand-in for the kernel set (test/respond/nft-set.test.ts and
// test/e2e/response.test.ts use the real one).
import { describe, expect, it } from 'vitest';
import { Allowlist } from '../../src/respond/allowlist.js';
import type { BlockEntry, NftBlockSet } from '../../src/respond/nft-set.js';
import { Responder, type ResponsePolicy } from '../../src/respond/responder.js';
import type { Detection } from '../../src/track/query.js';
import { T0, packet, tracker } from '../track/helpers.js';

const lines: string[] = [];
const logger = { debug() {}, info() {}, warn: (l: string) => void lines.push(l), error: (l: string) => void lines.push(`ERROR ${l}`), child() { return logger; } } as never;

class FakeSet {
  readonly added: Array<[string, number]> = [];
  fail = false;
  setFor(target: string): string {
    return target.includes(':') ? 'b6' : 'b4';
  }
  async add(target: string, seconds: number): Promise<void> {
    if (this.fail) throw new Error('nft: No such file or directory');
    this.added.push([target, seconds]);
  }
  async remove(target: string): Promise<boolean> {
    const i = this.added.findIndex(([t]) => t === target);
    if (i < 0) return false;
    this.added.splice(i, 1);
    return true;
  }
  async list(): Promise<BlockEntry[]> {
    return this.added.map(([target]) => ({ target, expiresSeconds: 60, comment: 'nfwatch' }));
  }
}

const policy: ResponsePolicy = { dryRun: false, minSeverity: 4, blockMs: 3_600_000, maxEntries: 3 };
const allowlist = new Allowlist({ allow: ['45.33.32.0/24'], blockPrivate: false, ownAddresses: [] });

/** The detections of a 1,500-port scan (severity up to 4) from `src`. */
function scanFrom(src: string): Detection[] {
  const t = tracker();
  const out: Detection[] = [];
  t.onDetection((d) => out.push(d));
  for (let p = 1; p <= 1500; p++) t.observe(packet({ time: T0 + p, src, dport: p, sport: 40000 + (p % 5000), seq: p * 7919 }));
  return out;
}

function responder(set: FakeSet, over: Partial<ResponsePolicy> = {}, list = allowlist): Responder {
  return new Responder({ ...policy, ...over }, list, set as unknown as NftBlockSet, logger, () => T0);
}

describe('the responder', () => {
  it('blocks a source at min_severity for block_seconds, once, and logs why', async () => {
    const set = new FakeSet();
    const r = responder(set);
    for (const d of scanFrom('80.82.77.33')) r.accept(d);
    await r.settled();
    expect(set.added).toEqual([['80.82.77.33', 3600]]);
    expect(r.stats).toMatchObject({ blocked: 1, belowSeverity: 2, active: 1 });
    expect(lines).toContain('response: block 80.82.77.33 for 3600 s (severity 4: SYN port scan of 1024 ports (1-1024))');
  });

  it('never blocks what the allowlist protects, nor private ranges by default', async () => {
    const set = new FakeSet();
    const r = responder(set);
    for (const src of ['45.33.32.156', '10.0.0.5', '127.0.0.1']) for (const d of scanFrom(src)) r.accept(d);
    await r.settled();
    expect(set.added).toEqual([]);
    expect(r.stats.allowlisted).toBe(3);
    expect(lines).toContain('response: not blocked: 45.33.32.156 is in response.allow (severity 4: SYN port scan of 1024 ports (1-1024))');
    expect(lines).toContain('response: not blocked: 10.0.0.5 is a private address (response.block_private = false) (severity 4: SYN port scan of 1024 ports (1-1024))');
  });

  it('with only_listed blocks only sources on a threat list', async () => {
    const set = new FakeSet();
    const r = responder(set, { onlyListed: true });
    for (const d of scanFrom('80.82.77.33')) r.accept(d);
    for (const d of scanFrom('80.82.77.34')) {
      if (d.kind === 'scan') d.source.listed = ['firehol_level1'];
      r.accept(d);
    }
    await r.settled();
    expect(set.added).toEqual([['80.82.77.34', 3600]]);
    expect(r.stats.notListed).toBe(1);
  });

  it('in a dry run decides, logs and counts, and changes nothing', async () => {
    const set = new FakeSet();
    const r = responder(set, { dryRun: true });
    for (const d of scanFrom('80.82.77.34')) r.accept(d);
    await r.settled();
    expect(set.added).toEqual([]);
    expect(r.stats).toMatchObject({ dryRun: 1, blocked: 0, active: 1 });
    expect(lines.some((l) => l.startsWith('response: dry run: would block 80.82.77.34 for 3600 s'))).toBe(true);
  });

  it('stops at max_entries, and counts a failed nft change', async () => {
    const set = new FakeSet();
    const r = responder(set);
    for (let i = 1; i <= 5; i++) for (const d of scanFrom(`80.82.77.${i + 40}`)) r.accept(d);
    await r.settled();
    expect(set.added).toHaveLength(3);
    expect(r.stats.full).toBe(2);
    set.fail = true;
    const failing = responder(set);
    for (const d of scanFrom('80.82.77.99')) failing.accept(d);
    await failing.settled();
    expect(failing.stats.failed).toBe(1);
    expect(lines.some((l) => l.startsWith('ERROR could not block 80.82.77.99'))).toBe(true);
  });

  it('blocks and unblocks by hand, the allowlist applying unless forced', async () => {
    const set = new FakeSet();
    const r = responder(set);
    await r.block('80.82.77.50', 600, 'the API');
    await expect(r.block('45.33.32.10', 600, 'the API')).rejects.toThrow(/in response.allow/);
    await r.block('45.33.32.10', 600, 'the API', true);
    expect(set.added).toEqual([['80.82.77.50', 600], ['45.33.32.10', 600]]);
    expect(await r.unblock('80.82.77.50', 'the API')).toBe(true);
    expect(await r.unblock('80.82.77.50', 'the API')).toBe(false);
    expect(r.stats).toMatchObject({ blocked: 2, unblocked: 1 });
  });
});
