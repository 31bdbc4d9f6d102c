// A state file that existed but cannot be read means a restart, not a first run: nothing written
// while nfwatch was stopped may be lost, whatever `from` says. Runs the real daemon (dist/cli.js).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { followConfig, packetLineAt, Scope, sleep, waitFor, type GraphiteListener, type Nfwatch } from './harness.js';

const BLOCKED = 'nfw.events.blocked.count';

/** What a spec started, stopped after it whatever happened. */
const scope = new Scope();
let dir: string;
let graphite: GraphiteListener;
let nfwatch: Nfwatch | undefined;
let file: string;
let statePath: string;

beforeEach(async () => {
  dir = scope.temp('nfw-state-');
  graphite = await scope.listener();
  file = join(dir, 'ulogd.json');
  statePath = join(dir, 'state', 'file-ulogd.json');
});

afterEach(async () => {
  await scope.close();
  nfwatch = undefined;
});

function lines(count: number, at = Date.now()): string {
  return Array.from({ length: count }, () => `${packetLineAt(at)}\n`).join('');
}

async function expectTotal(total: number): Promise<void> {
  await waitFor(`${total} events in Graphite`, () => (graphite.carbonSum(BLOCKED) >= total ? true : undefined), 15_000).catch(() => undefined);
  await sleep(1500);
  expect(graphite.carbonSum(BLOCKED)).toBe(total);
}

const fromEnd = (port: number) => followConfig(dir, file, port).replace('from = "beginning"', 'from = "end"');

describe('file source with a damaged state file', () => {
  it('resumes from the previous good copy when the state file is damaged (from = "end": 0 of 50 lost)', async () => {
    // Lines from before nfwatch was installed: from = "end" skips them.
    writeFileSync(file, lines(20, Date.now() - 3_600_000));
    nfwatch = await scope.daemon(dir, fromEnd(graphite.port));
    await sleep(500);
    for (let i = 0; i < 5; i++) {
      appendFileSync(file, lines(2));
      await sleep(400);
    }
    await expectTotal(10);
    await waitFor('a previous copy of the state', () => (existsSync(`${statePath}.prev`) ? true : undefined), 5000).catch(() => undefined);
    expect(await nfwatch.stop()).toBe(0);

    appendFileSync(file, lines(50));
    writeFileSync(statePath, '{"version": 1, "source": "ulogd", "checkpoint": {"resumeAt": 12');
    await nfwatch.restart();
    await expectTotal(60);
    expect(nfwatch.log()).toMatch(/warn.*state file .* (is damaged|cannot be read).*previous copy/);
  });

  it('reads the file from its start when neither the state file nor its previous copy can be read', async () => {
    writeFileSync(file, '');
    nfwatch = await scope.daemon(dir, fromEnd(graphite.port));
    await sleep(500);
    for (let i = 0; i < 5; i++) {
      appendFileSync(file, lines(2));
      await sleep(400);
    }
    await expectTotal(10);
    expect(await nfwatch.stop()).toBe(0);

    appendFileSync(file, lines(50));
    writeFileSync(statePath, '\u0000\u0000\u0000garbage');
    writeFileSync(`${statePath}.prev`, 'not json either');
    await nfwatch.restart();
    // Re-reading the 10 lines delivered before rewrites their intervals with the same values.
    await expectTotal(60);
    expect(nfwatch.log()).toMatch(/warn.*from its start/);
  });

  it('is a first run again once the state file and its copy are deleted on purpose (from = "end" skips what is there)', async () => {
    writeFileSync(file, lines(20, Date.now() - 3_600_000));
    nfwatch = await scope.daemon(dir, fromEnd(graphite.port));
    await sleep(500);
    appendFileSync(file, lines(3));
    await expectTotal(3);
    expect(await nfwatch.stop()).toBe(0);

    appendFileSync(file, lines(5, Date.now() - 1_800_000));
    rmSync(statePath, { force: true });
    rmSync(`${statePath}.prev`, { force: true });
    await nfwatch.restart();
    await sleep(500);
    appendFileSync(file, lines(2));
    await expectTotal(5);
  });
});
