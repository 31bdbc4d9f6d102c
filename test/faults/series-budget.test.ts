// The series budget is one over the daemon's life, restarts included: the names admitted before a
// restart keep their series, a name first seen after it is folded into `other` once the family is
// full, and the counts stay exact. The real daemon (dist/cli.js), a file, a Graphite listener.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followConfig, packetLineWith, Scope, waitFor } from './harness.js';

const scope = new Scope();
afterEach(() => scope.close());

/** `n` blocked SYNs to `port`, stamped now. */
function toPort(port: number, n: number): string {
  return Array.from({ length: n }, () => `${packetLineWith(Date.now(), { dest_port: port })}\n`).join('');
}

describe('aggregate.max_series across a restart', () => {
  it('keeps the names of the last run (state_dir/series.json) and folds a new one once the family is full', async () => {
    const dir = scope.temp('nfw-series-');
    const g = await scope.listener();
    const file = join(dir, 'ulogd.json');
    writeFileSync(file, '');
    const toml = followConfig(dir, file, g.port).replace('grace_seconds = 0.5', 'grace_seconds = 0.5\nmax_series = 2');
    const port = (p: number | string) => `nfw.events.blocked.dport.${p}`;

    const first = await scope.daemon(dir, toml);
    appendFileSync(file, toPort(1000, 5) + toPort(1001, 3));
    await waitFor('the first run\'s ports', () => (g.carbonSum(port(1000)) === 5 && g.carbonSum(port(1001)) === 3 ? true : undefined), 15_000);
    expect(await first.stop()).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'state', 'series.json'), 'utf8')).families['dport.blocked']).toEqual(['1000', '1001']);

    // After the restart a busier new port does not take a saved name's place.
    await first.restart();
    appendFileSync(file, toPort(2000, 10) + toPort(1000, 1));
    await waitFor('the second run counted', () => (g.carbonSum('nfw.events.blocked.count') === 19 ? true : undefined), 15_000);
    await waitFor('the folded port in other', () => (g.carbonSum(port('other')) === 10 ? true : undefined), 5_000);
    expect(g.carbonSum(port(1000))).toBe(6);
    expect(g.points().some((p) => p.path === port(2000))).toBe(false);
    expect(first.log()).toMatch(/series budget: \d+ series names kept from the last run/);
  });
});
