// The followed file cut shorter in place (truncate -s, a filesystem that lost its tail) is the same
// file: what is left was counted already and must not be counted again. copytruncate (cut to 0,
// then new lines) is new content and is read from its start. Runs the real daemon (dist/cli.js).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { followConfig, packetLineAt, Scope, sleep, waitFor, type GraphiteListener, type Nfwatch } from './harness.js';

const BLOCKED = 'nfw.events.blocked.count';

/** What a spec started, stopped after it whatever happened. */
const scope = new Scope();
let dir: string;
let graphite: GraphiteListener;
let nfwatch: Nfwatch | undefined;
let file: string;

beforeEach(async () => {
  dir = scope.temp('nfw-truncate-');
  graphite = await scope.listener();
  file = join(dir, 'ulogd.json');
});

afterEach(async () => {
  await scope.close();
  nfwatch = undefined;
});

/** `count` packet lines stamped now, as ulogd writes them (one per line). */
function lines(count: number): string {
  return Array.from({ length: count }, () => `${packetLineAt(Date.now())}\n`).join('');
}

async function expectTotal(total: number): Promise<void> {
  await waitFor(`${total} events in Graphite`, () => (graphite.carbonSum(BLOCKED) >= total ? true : undefined), 10_000).catch(() => undefined);
  // Long enough for a wrong extra count to show up too.
  await sleep(1500);
  expect(graphite.carbonSum(BLOCKED)).toBe(total);
}

describe('file source: a file cut shorter in place', () => {
  it('does not count again what is left of a file cut shorter while followed (100 lines, cut to 50, 10 more: 110)', async () => {
    const hundred = lines(100);
    writeFileSync(file, hundred);
    nfwatch = await scope.daemon(dir, followConfig(dir, file, graphite.port));
    await expectTotal(100);

    const fifty = hundred.split('\n').slice(0, 50).join('\n').length + 1;
    truncateSync(file, fifty);
    await waitFor('nfwatch to notice the cut', () => (/truncated|cut shorter/.test(nfwatch!.log()) ? true : undefined), 5000);
    await sleep(300);
    appendFileSync(file, lines(10));
    await expectTotal(110);
    expect(nfwatch.log()).toMatch(/cut shorter/);
  });

  it('does not count again what is left of a file cut shorter while nfwatch was stopped', async () => {
    const hundred = lines(100);
    writeFileSync(file, hundred);
    nfwatch = await scope.daemon(dir, followConfig(dir, file, graphite.port));
    await expectTotal(100);
    expect(await nfwatch.stop()).toBe(0);

    truncateSync(file, hundred.split('\n').slice(0, 50).join('\n').length + 1);
    await nfwatch.restart();
    await waitFor('nfwatch to look at the file', () => (/cut shorter|truncated/.test(nfwatch!.log()) ? true : undefined), 5000);
    await sleep(300);
    // Lines written after the cut but before nfwatch looked could not be told from what is left:
    // the spec is about what comes once nfwatch has seen the cut.
    appendFileSync(file, lines(10));
    await expectTotal(110);
  });

  it('still reads a copytruncated file (cut to 0, then new lines) from its start', async () => {
    writeFileSync(file, lines(100));
    nfwatch = await scope.daemon(dir, followConfig(dir, file, graphite.port));
    await expectTotal(100);

    truncateSync(file, 0);
    appendFileSync(file, lines(10));
    await expectTotal(110);
  });

  it('reads new content written after a copytruncate that nfwatch noticed only once it was there', async () => {
    writeFileSync(file, lines(100));
    nfwatch = await scope.daemon(dir, followConfig(dir, file, graphite.port));
    await expectTotal(100);
    expect(await nfwatch.stop()).toBe(0);

    // copytruncate while nfwatch was stopped, and ulogd wrote 30 lines into the emptied file.
    truncateSync(file, 0);
    appendFileSync(file, lines(30));
    await nfwatch.restart();
    await expectTotal(130);
  });
});
