// track.enabled = false: the daemon counts exactly without the tracker (the stage that costs most
// per packet during a spoofed flood); the page says tracking is off and no tracker gauge is written.
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followConfig, packetLineAt, Scope, waitFor, withWeb } from './harness.js';

const scope = new Scope();
afterEach(() => scope.close());

describe('track.enabled = false', () => {
  it('counts every line, answers the API with tracking off and writes no scan, campaign or tracking gauge', async () => {
    const dir = scope.temp('nfw-track-off-');
    const g = await scope.listener();
    const file = join(dir, 'ulogd.json');
    writeFileSync(file, '');
    const nfw = await scope.daemon(dir, withWeb(followConfig(dir, file, g.port, '[track]\nenabled = false')));
    const url = await waitFor('the web address', () => /scan-watch page at (http:\/\/\S+?)\/?$/m.exec(nfw.log())?.[1]);
    appendFileSync(file, Array.from({ length: 25 }, (_, i) => `${packetLineAt(Date.now() + i)}\n`).join(''));
    await waitFor('25 blocked events', () => (g.carbonSum('nfw.events.blocked.count') === 25 ? true : undefined), 15_000);
    const sources = (await (await fetch(`${url}/api/sources`)).json()) as { tracking: boolean; sources: unknown[] };
    expect(sources).toMatchObject({ tracking: false, sources: [] });
    await waitFor('a health snapshot', () => (g.points().some((p) => p.path === 'nfw.nfwatch.lines') ? true : undefined), 5_000);
    expect(g.points().filter((p) => /^nfw\.(scans|campaigns|track)\./.test(p.path))).toEqual([]);
    expect(nfw.log()).not.toMatch(/ error /);
  });
});
