// Whoever can write the log directory must not make nfwatch (often root) read another file and
// print it: the followed path is not followed through a symbolic link unless configured, and an
// undecodable line is quoted only as far as needed to recognise it. Runs the real daemon (dist/cli.js).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, chmodSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { followConfig, packetLineAt, Scope, sleep, waitFor, type GraphiteListener, type Nfwatch } from './harness.js';

const BLOCKED = 'nfw.events.blocked.count';
const HASH = '$6$Zq9Xw1Lm$K3cQ8e0vYpTn5sR2uJ7hG4fD1aB6iC9oE3wV0xM8nL2kH5jP7tS4qU1rY6zA0bN9mC3dF8gE2hI5jK7lO0pQ';
const SHADOW = `root:${HASH}:19700:0:99999:7:::\nulog:!:19700::::::\n`;

/** What a spec started, stopped after it whatever happened. */
const scope = new Scope();
let dir: string;
let graphite: GraphiteListener;
let nfwatch: Nfwatch | undefined;
let file: string;
let secret: string;

beforeEach(async () => {
  dir = scope.temp('nfw-symlink-');
  graphite = await scope.listener();
  file = join(dir, 'ulogd.json');
  // A root-only file, like /etc/shadow.
  secret = join(dir, 'shadow');
  writeFileSync(secret, SHADOW, { mode: 0o600 });
  chmodSync(secret, 0o600);
});

afterEach(async () => {
  await scope.close();
  nfwatch = undefined;
});

function lines(count: number): string {
  return Array.from({ length: count }, () => `${packetLineAt(Date.now())}\n`).join('');
}

async function expectTotal(total: number): Promise<void> {
  await waitFor(`${total} events in Graphite`, () => (graphite.carbonSum(BLOCKED) >= total ? true : undefined), 10_000).catch(() => undefined);
  await sleep(1000);
  expect(graphite.carbonSum(BLOCKED)).toBe(total);
}

/** Nothing of the secret file's content may reach nfwatch's log. */
function expectNoSecretIn(log: string): void {
  expect(log).not.toContain('$6$');
  expect(log).not.toContain(HASH.slice(12, 40));
  expect(log).not.toContain('root:');
}

describe('file source and symbolic links', () => {
  it('refuses a followed path replaced by a symlink to a root-only file, reads none of it, and keeps running', async () => {
    writeFileSync(file, lines(5));
    nfwatch = await scope.daemon(dir, followConfig(dir, file, graphite.port));
    await expectTotal(5);

    // Someone who can write the log directory "rotates" the log and puts a symlink in its place.
    renameSync(file, `${file}.1`);
    symlinkSync(secret, file);
    await waitFor('nfwatch to refuse the symlink (or to read through it)', () =>
      /symbolic link|not_json/.test(nfwatch!.log()) ? true : undefined, 10_000);
    await sleep(1500);

    const log = nfwatch.log();
    expectNoSecretIn(log);
    expect(log).toMatch(/error.*is a symbolic link.*follow_symlinks/);
    expect(graphite.latest('nfw.nfwatch.sources.ulogd.symlinks_refused')).toBeGreaterThanOrEqual(1);
    expect(nfwatch.process.exitCode).toBeNull();

    // The admin puts a real file back: nfwatch follows it again.
    rmSync(file);
    writeFileSync(file, lines(3));
    await expectTotal(8);
    expectNoSecretIn(nfwatch.log());
  });

  it('refuses a path that is a symlink when nfwatch starts, and waits for a real file', async () => {
    symlinkSync(secret, file);
    nfwatch = await scope.daemon(dir, followConfig(dir, file, graphite.port));
    await waitFor('the refusal', () => (/symbolic link|not_json/.test(nfwatch!.log()) ? true : undefined), 10_000);
    await sleep(1000);
    expectNoSecretIn(nfwatch.log());
    expect(nfwatch.process.exitCode).toBeNull();

    rmSync(file);
    writeFileSync(file, lines(4));
    await expectTotal(4);
  });

  it('follows a symlink when the file source is configured to (follow_symlinks = true)', async () => {
    const target = join(dir, 'real.json');
    writeFileSync(target, lines(6));
    symlinkSync(target, file);
    const config = followConfig(dir, file, graphite.port).replace('poll_ms = 50', 'poll_ms = 50\nfollow_symlinks = true');
    nfwatch = await scope.daemon(dir, config);
    await expectTotal(6);
    appendFileSync(target, lines(2));
    await expectTotal(8);
  });
});

describe('quoting undecodable lines in the log', () => {
  it('quotes at most 64 characters of an undecodable line, with control characters escaped', async () => {
    const line = `garbage ${'x'.repeat(30)}\u001b[2J\u0007\u202e${'y'.repeat(30)} TAIL-NOT-QUOTED ${'z'.repeat(200)}`;
    writeFileSync(file, `${line}\n${lines(1)}`);
    nfwatch = await scope.daemon(dir, followConfig(dir, file, graphite.port));
    await expectTotal(1);
    const log = nfwatch.log();
    const sample = log.split('\n').find((l) => l.includes('not_json'));
    expect(sample).toBeDefined();
    expect(sample).toContain('garbage xxxx');
    expect(sample).toContain('\\u001b[2J\\u0007\\u202e');
    expect(log).not.toContain('TAIL-NOT-QUOTED');
    expect(log).not.toContain('zzzz');
    expect(log).not.toMatch(/[\u001b\u0007\u202e]/);
  });
});
