import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, mkdir, mkdtemp, open, readFile, rename, rm, symlink, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource, packPosition, parseState, stateFileName, unpackPosition, type FileSourceOptions } from '../../src/sources/file.js';
import { NONE, type Checkpoint } from '../../src/pipeline/types.js';
import type { FileSourceConfig } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/util/log.js';
import { RecordingReceiver, until } from '../support/recording-receiver.js';

/** Lets the source poll a few times (for asserting that nothing happens). */
const settle = (ms = 100) => new Promise((resolve) => setTimeout(resolve, ms));

const lines = (...texts: string[]) => texts.map((t) => `${t}\n`).join('');

let dir: string;
let logPath: string;
let stateDir: string;
const running: FileSource[] = [];
const handles: FileHandle[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nfwatch-file-'));
  logPath = join(dir, 'log', 'ulogd.json');
  stateDir = join(dir, 'state', 'nested');
  await mkdir(join(dir, 'log'));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  await Promise.all(handles.splice(0).map((h) => h.close()));
  await rm(dir, { recursive: true, force: true });
});

function makeSource(overrides: Partial<FileSourceConfig> = {}, options: Partial<FileSourceOptions> = {}) {
  const logger = memoryLogger();
  const config: FileSourceConfig = { name: 'ulogd', path: logPath, from: 'beginning', poll_ms: 20, follow_symlinks: false, nfacct: 'deltas', ...overrides };
  const source = new FileSource(config, { stateDir, maxLineBytes: 1024, logger, ...options });
  running.push(source);
  return { source, logger, receiver: new RecordingReceiver() };
}

/** Opens the log for appending the way ulogd does, and keeps the fd across renames. */
async function ulogdOpen(path = logPath): Promise<FileHandle> {
  const handle = await open(path, 'a');
  handles.push(handle);
  return handle;
}

function checkpointAt(position: number): Checkpoint {
  return { resumeAt: position, skipBelow: position, flushedUntil: 1_700_000_000_000, counters: { 'ipv4.http': [10, 2000] }, late: [] };
}

describe('file source positions', () => {
  it('packs generation and offset into one number that orders by read order', () => {
    expect(packPosition(1, 0)).toBe(2 ** 40);
    expect(unpackPosition(packPosition(7, 123456))).toEqual({ generation: 7, offset: 123456 });
    expect(packPosition(2, 0)).toBeGreaterThan(packPosition(1, 2 ** 40 - 1));
  });

  it('names state files safely after the source', () => {
    expect(stateFileName('ulogd')).toBe('file-ulogd.json');
    expect(stateFileName('../etc/passwd')).toBe('file-__etc_passwd.json');
  });
});

describe('file source', () => {
  it('reads an existing file from the beginning on a first run with from = "beginning"', async () => {
    await writeFile(logPath, lines('one', 'two'));
    const { source, receiver } = makeSource({ from: 'beginning' });
    expect(await source.start(receiver, 0)).toBeUndefined();
    await until(() => receiver.lines.length === 2);
    expect(receiver.lines).toEqual([
      { source: 0, text: 'one', start: packPosition(1, 0), end: packPosition(1, 4) },
      { source: 0, text: 'two', start: packPosition(1, 4), end: packPosition(1, 8) },
    ]);
    await until(() => receiver.everCaughtUp);
    expect(source.stats()).toMatchObject({ bytesRead: 8, linesRead: 2, generation: 1, offset: 8, missingFile: 0 });
  });

  it('starts at the current end on a first run with from = "end"', async () => {
    await writeFile(logPath, lines('old1', 'old2'));
    const { source, receiver } = makeSource({ from: 'end' });
    await source.start(receiver, 0);
    await until(() => source.stats().offset === 10);
    await appendFile(logPath, lines('new'));
    await until(() => receiver.lines.length === 1);
    expect(receiver.lines[0]).toEqual({ source: 0, text: 'new', start: packPosition(1, 10), end: packPosition(1, 14) });
  });

  it('waits for a file that does not exist yet, logging that once, and reads it from its start', async () => {
    const { source, receiver, logger } = makeSource({ from: 'end' });
    await source.start(receiver, 0);
    await settle(100);
    expect(source.stats().missingFile).toBe(1);
    expect(logger.lines.filter((l) => l.includes('does not exist yet'))).toHaveLength(1);
    // Nothing to read must not hold back the intervals of other sources.
    expect(receiver.everCaughtUp).toBe(true);
    await writeFile(logPath, lines('first'));
    await until(() => receiver.lines.length === 1);
    expect(receiver.lines[0]).toEqual({ source: 0, text: 'first', start: packPosition(1, 0), end: packPosition(1, 6) });
    expect(source.stats().missingFile).toBe(0);
  });

  it('holds half a line until the rest is written', async () => {
    const ulogd = await ulogdOpen();
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    await ulogd.write('{"half":');
    await until(() => source.stats().bytesRead === 8);
    await settle(60);
    expect(receiver.lines).toEqual([]);
    await ulogd.write('"done"}\n');
    await until(() => receiver.lines.length === 1);
    expect(receiver.lines[0]).toEqual({ source: 0, text: '{"half":"done"}', start: packPosition(1, 0), end: packPosition(1, 16) });
  });

  it('skips and counts a line over max_line_bytes, keeping the lines around it', async () => {
    await writeFile(logPath, lines('before', 'x'.repeat(5000), 'after'));
    const { source, receiver } = makeSource({}, { maxLineBytes: 256 });
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 2);
    expect(receiver.texts).toEqual(['before', 'after']);
    expect(receiver.oversizedLines).toEqual([5000]);
    expect(receiver.lines[1]?.start).toBe(packPosition(1, 7 + 5001));
  });

  it('reads a large backlog in full', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => `{"n":${i},"pad":"${'p'.repeat(200)}"}`);
    await writeFile(logPath, lines(...many));
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 5000);
    expect(receiver.texts).toEqual(many);
  });

  it('follows a file renamed away by logrotate and continues with the new one, losing and repeating nothing', async () => {
    const old = await ulogdOpen();
    await old.write(lines('1', '2'));
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 2);

    await rename(logPath, `${logPath}.1`);
    // ulogd keeps writing the renamed file until it is SIGHUPed.
    await old.write(lines('3', '4'));
    await until(() => receiver.lines.length === 4);
    await settle(60);
    await old.write(lines('5'));
    // SIGHUP: ulogd closes the old file and creates a new one.
    await old.close();
    handles.splice(handles.indexOf(old), 1);
    const fresh = await ulogdOpen();
    await fresh.write(lines('6', '7'));

    await until(() => receiver.lines.length === 7);
    await settle(60);
    expect(receiver.texts).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(receiver.lines[4]).toMatchObject({ start: packPosition(1, 8), end: packPosition(1, 10) });
    expect(receiver.lines[5]).toMatchObject({ start: packPosition(2, 0), end: packPosition(2, 2) });
    expect(source.stats()).toMatchObject({ rotations: 1, generation: 2, offset: 4 });
  });

  it('delivers a partial line left at the end of a rotated file as a line', async () => {
    const old = await ulogdOpen();
    await old.write('complete\n{"cut":');
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 1);
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, lines('new'));
    await until(() => receiver.lines.length === 3);
    expect(receiver.lines.slice(1)).toEqual([
      { source: 0, text: '{"cut":', start: packPosition(1, 9), end: packPosition(1, 16) },
      { source: 0, text: 'new', start: packPosition(2, 0), end: packPosition(2, 4) },
    ]);
  });

  it('switches to a new empty file once the renamed one has been quiet for a while', async () => {
    await writeFile(logPath, lines('a'));
    const { source, receiver } = makeSource({}, { rotationIdleMs: 150 });
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 1);
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, '');
    await until(() => source.stats().generation === 2);
    await appendFile(logPath, lines('b'));
    await until(() => receiver.lines.length === 2);
    expect(receiver.lines[1]).toMatchObject({ source: 0, text: 'b', start: packPosition(2, 0) });
  });

  it('keeps reading a renamed file while no new file exists yet', async () => {
    const old = await ulogdOpen();
    const { source, receiver } = makeSource({}, { rotationIdleMs: 50 });
    await source.start(receiver, 0);
    // start() resolves before the first open: rotate only once the file is open.
    await until(() => source.stats().generation === 1, 5000, 'the file to be opened');
    await rename(logPath, `${logPath}.1`);
    await settle(120);
    await old.write(lines('still here'));
    await until(() => receiver.lines.length === 1);
    expect(source.stats().generation).toBe(1);
  });

  it('notices copytruncate and reads the truncated file from its start as a new generation', async () => {
    await writeFile(logPath, lines('aaaa', 'bbbb', 'cccc'));
    const { source, receiver, logger } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 3);
    await truncate(logPath, 0);
    await appendFile(logPath, lines('new'));
    await until(() => receiver.lines.length === 4);
    expect(receiver.lines[3]).toEqual({ source: 0, text: 'new', start: packPosition(2, 0), end: packPosition(2, 4) });
    expect(source.stats()).toMatchObject({ truncations: 1, generation: 2 });
    expect(logger.lines.some((l) => l.includes('info') && l.includes('truncated'))).toBe(true);
  });

  it('re-checks the file at once on reopen (SIGHUP) instead of waiting for the poll', async () => {
    await writeFile(logPath, lines('a'));
    const { source, receiver } = makeSource({ poll_ms: 60_000 });
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 1);
    await settle(30);
    await appendFile(logPath, lines('b'));
    await source.reopen();
    await until(() => receiver.lines.length === 2, 1000);
  });

  it('delivers nothing after stop() resolved', async () => {
    await writeFile(logPath, lines('a'));
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 1);
    await source.stop();
    await appendFile(logPath, lines('b'));
    await settle(80);
    expect(receiver.texts).toEqual(['a']);
  });

  it('refuses to start with a clear error when the state directory cannot be created', async () => {
    await writeFile(join(dir, 'blocker'), '');
    const { source, receiver } = makeSource({}, { stateDir: join(dir, 'blocker', 'state') });
    await expect(source.start(receiver, 0)).rejects.toThrow(/cannot create state directory/);
  });
});

describe('file source restart', () => {
  it('writes the checkpoint atomically and coalesces overlapping commits to the newest', async () => {
    await writeFile(logPath, lines('a', 'b'));
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 2);
    await Promise.all([1, 2, 3].map((n) => source.commit(checkpointAt(packPosition(1, n)))));
    const state = parseState(await readFile(join(stateDir, 'file-ulogd.json'), 'utf8'));
    expect(state?.checkpoint.resumeAt).toBe(packPosition(1, 3));
    expect(state?.generation).toBe(1);
    expect(Object.keys(state?.generations ?? {})).toEqual(['1']);
  });

  it('resumes exactly at the committed position and returns the checkpoint', async () => {
    await writeFile(logPath, lines('one', 'two', 'three'));
    const first = makeSource({ from: 'end' });
    await first.source.start(first.receiver, 0);
    await until(() => first.source.stats().offset === 14);
    await appendFile(logPath, lines('four', 'five'));
    await until(() => first.receiver.lines.length === 2);
    const checkpoint = checkpointAt(first.receiver.lines[0]?.end ?? -1);
    await first.source.commit(checkpoint);
    await first.source.stop();

    await appendFile(logPath, lines('six'));
    const second = makeSource({ from: 'end' });
    expect(await second.source.start(second.receiver, 0)).toEqual(checkpoint);
    await until(() => second.receiver.lines.length === 2);
    expect(second.receiver.lines).toEqual([
      { source: 0, text: 'five', start: packPosition(1, 19), end: packPosition(1, 24) },
      { source: 0, text: 'six', start: packPosition(1, 24), end: packPosition(1, 28) },
    ]);
  });

  it('resumes inside the rotated file found by inode, then continues with the new file', async () => {
    await writeFile(logPath, lines('1', '2', '3'));
    const first = makeSource();
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 3);
    await first.source.commit(checkpointAt(first.receiver.lines[0]?.end ?? -1));
    await first.source.stop();

    // While nfwatch is down logrotate renames the file under an unusual name, ulogd writes a
    // last line to it, then starts a new file.
    await rename(logPath, join(dir, 'log', 'ulogd.json-20240101'));
    await appendFile(join(dir, 'log', 'ulogd.json-20240101'), lines('4'));
    await writeFile(join(dir, 'log', 'unrelated.json.gz'), 'zz');
    await writeFile(logPath, lines('5'));

    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 4);
    expect(second.receiver.lines).toEqual([
      { source: 0, text: '2', start: packPosition(1, 2), end: packPosition(1, 4) },
      { source: 0, text: '3', start: packPosition(1, 4), end: packPosition(1, 6) },
      { source: 0, text: '4', start: packPosition(1, 6), end: packPosition(1, 8) },
      { source: 0, text: '5', start: packPosition(2, 0), end: packPosition(2, 2) },
    ]);
  });

  it('gives a file read before the restart the same generation again, so positions match skipBelow', async () => {
    const old = await ulogdOpen();
    await old.write(lines('1', '2'));
    const first = makeSource();
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 2);
    await rename(logPath, `${logPath}.1`);
    await old.write(lines('3'));
    await writeFile(logPath, lines('4', '5'));
    await until(() => first.receiver.lines.length === 5);
    const seenBefore = first.receiver.lines.slice(1);
    // The interval holding line 2 was not delivered yet; everything up to line 4 was read.
    const checkpoint: Checkpoint = { ...checkpointAt(first.receiver.lines[0]?.end ?? -1), skipBelow: first.receiver.lines[3]?.end ?? -1 };
    await first.source.commit(checkpoint);
    await first.source.stop();

    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 4);
    expect(second.receiver.lines).toEqual(seenBefore);
    expect(second.source.stats().generation).toBe(2);
  });

  it('continues the generation counter after a restart so positions keep growing', async () => {
    await writeFile(logPath, lines('a'));
    const first = makeSource();
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 1);
    await truncate(logPath, 0);
    await until(() => first.source.stats().truncations === 1);
    await appendFile(logPath, lines('bb'));
    await until(() => first.receiver.lines.length === 2);
    await first.source.commit(checkpointAt(first.receiver.lines[1]?.end ?? -1));
    await first.source.stop();
    const lastBefore = first.receiver.lines[1]?.end ?? Infinity;

    // Rotated while stopped; the new file must not reuse generation 1 or 2.
    await rename(logPath, `${logPath}.1`);
    await writeFile(logPath, lines('c'));
    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 1);
    expect(second.receiver.lines[0]).toMatchObject({ source: 0, text: 'c', start: packPosition(3, 0) });
    expect(second.receiver.lines[0]?.start).toBeGreaterThanOrEqual(lastBefore);
  });

  it('warns how many bytes may have been missed when the file to resume is gone, and reads the current one from its start', async () => {
    await writeFile(logPath, lines('0123456789', 'abc'));
    const first = makeSource();
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 2);
    await first.source.commit(checkpointAt(first.receiver.lines[0]?.end ?? -1));
    await first.source.stop();

    // Replaced by a new file (created before the old one is freed, so its inode differs).
    await writeFile(`${logPath}.new`, lines('fresh'));
    await rename(`${logPath}.new`, logPath);
    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 1);
    expect(second.receiver.lines[0]).toMatchObject({ source: 0, text: 'fresh', start: packPosition(2, 0) });
    expect(second.logger.lines.some((l) => l.includes('warn') && l.includes('4 bytes may have been missed'))).toBe(true);
  });

  it('starts a truncated file from 0 as a new generation when its size is below the saved offset', async () => {
    await writeFile(logPath, lines('long line here', 'x'));
    const first = makeSource();
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 2);
    await first.source.commit(checkpointAt(first.receiver.lines[1]?.end ?? -1));
    await first.source.stop();

    await truncate(logPath, 0);
    await appendFile(logPath, lines('y'));
    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 1);
    expect(second.receiver.lines[0]).toMatchObject({ source: 0, text: 'y', start: packPosition(2, 0) });
  });

  it('does not resume inside content that copytruncate has since replaced', async () => {
    await writeFile(logPath, lines('aaaa', 'bbbb'));
    const first = makeSource();
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 2);
    await truncate(logPath, 0);
    await until(() => first.source.stats().truncations === 1);
    await appendFile(logPath, lines('c'.repeat(16)));
    await until(() => first.receiver.lines.length === 3);
    // Line "bbbb" (generation 1) was not delivered yet when nfwatch stopped.
    await first.source.commit({ ...checkpointAt(packPosition(1, 5)), skipBelow: first.receiver.lines[2]?.end ?? -1 });
    await first.source.stop();

    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 1);
    await settle(60);
    expect(second.receiver.lines).toEqual([first.receiver.lines[2]]);
    expect(second.logger.lines.some((l) => l.includes('was truncated since: at least 5 bytes may have been missed'))).toBe(true);
  });

  it('replays from where the first run started when the checkpoint predates any line', async () => {
    await writeFile(logPath, lines('before start'));
    const first = makeSource({ from: 'end' });
    await first.source.start(first.receiver, 0);
    await until(() => first.source.stats().offset === 13);
    // The pipeline had no line yet, so its checkpoint carries no position.
    await first.source.commit({ resumeAt: NONE, skipBelow: NONE, flushedUntil: 0, counters: {}, late: [] });
    await appendFile(logPath, lines('read but not delivered'));
    await until(() => first.receiver.lines.length === 1);
    await first.source.stop();

    const second = makeSource({ from: 'end' });
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 1);
    expect(second.receiver.lines[0]).toMatchObject({ source: 0, text: 'read but not delivered', start: packPosition(1, 13) });
  });

  it('ignores from = "end" once a position was saved', async () => {
    await writeFile(logPath, lines('a'));
    const first = makeSource({ from: 'end' });
    await first.source.start(first.receiver, 0);
    await until(() => first.source.stats().offset === 2);
    await first.source.commit(checkpointAt(packPosition(1, 2)));
    await first.source.stop();
    await appendFile(logPath, lines('b'));
    const second = makeSource({ from: 'end' });
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 1);
    expect(second.receiver.texts).toEqual(['b']);
  });
});

describe('file source: a file found shorter than the read position', () => {
  it('continues at the new end of a file cut shorter that begins as it did, as a new generation', async () => {
    await writeFile(logPath, lines('aaaa', 'bbbb', 'cccc', 'dddd'));
    const { source, receiver, logger } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 4);
    await truncate(logPath, 10);
    await until(() => source.stats().truncations === 1);
    await appendFile(logPath, lines('new'));
    await until(() => receiver.lines.length === 5);
    await settle(60);
    expect(receiver.texts).toEqual(['aaaa', 'bbbb', 'cccc', 'dddd', 'new']);
    // Positions keep growing: the cut file continues as generation 2 from byte 10.
    expect(receiver.lines[4]).toEqual({ source: 0, text: 'new', start: packPosition(2, 10), end: packPosition(2, 14) });
    expect(logger.lines.some((l) => l.includes('cut shorter'))).toBe(true);
  });

  it('reads from the start a file that shrank and begins differently (copytruncate, then new lines)', async () => {
    await writeFile(logPath, lines('aaaa', 'bbbb', 'cccc', 'dddd'));
    const { source, receiver } = makeSource();
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 4);
    await writeFile(logPath, lines('xxxx'));
    await until(() => receiver.lines.length === 5);
    expect(receiver.lines[4]).toEqual({ source: 0, text: 'xxxx', start: packPosition(2, 0), end: packPosition(2, 5) });
  });

  it('saves the first bytes\' fingerprint and continues at the new end of a file cut shorter while stopped', async () => {
    const first = makeSource();
    await writeFile(logPath, lines('long line here', 'second', 'third'));
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 3);
    await first.source.commit(checkpointAt(first.receiver.lines[2]?.end ?? -1));
    await first.source.stop();
    const state = parseState(await readFile(join(stateDir, 'file-ulogd.json'), 'utf8'));
    expect(state?.generations['1']?.fingerprint?.bytes).toBe(15);

    await truncate(logPath, 22);
    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.source.stats().truncations === 1);
    await appendFile(logPath, lines('after'));
    await until(() => second.receiver.lines.length === 1);
    await settle(60);
    expect(second.receiver.lines).toEqual([{ source: 0, text: 'after', start: packPosition(2, 22), end: packPosition(2, 28) }]);

    // The generation that continues the cut file starts there after a further restart too.
    await second.source.commit({ ...checkpointAt(packPosition(2, 22)), skipBelow: packPosition(2, 22) });
    await second.source.stop();
    const third = makeSource();
    await third.source.start(third.receiver, 0);
    await until(() => third.receiver.lines.length === 1);
    expect(third.receiver.lines[0]).toMatchObject({ text: 'after', start: packPosition(2, 22) });
  });

  it('reads from the start a file shorter after a restart whose first bytes changed', async () => {
    const first = makeSource();
    await writeFile(logPath, lines('long line here', 'second'));
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === 2);
    await first.source.commit(checkpointAt(first.receiver.lines[1]?.end ?? -1));
    await first.source.stop();

    await writeFile(logPath, lines('other content', 'x'));
    const second = makeSource();
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 2);
    expect(second.receiver.texts).toEqual(['other content', 'x']);
    expect(second.receiver.lines[0]?.start).toBe(packPosition(2, 0));
  });
});

describe('file source: what is at the path', () => {
  it('refuses a symbolic link at the path, logs it once, counts it, and follows a regular file put there later', async () => {
    const secret = join(dir, 'secret');
    await writeFile(secret, lines('root:$6$hash'));
    await symlink(secret, logPath);
    const { source, receiver, logger } = makeSource();
    await source.start(receiver, 0);
    await until(() => source.stats().symlinksRefused === 1);
    await settle(100);
    expect(receiver.lines).toEqual([]);
    expect(logger.lines.filter((l) => l.includes('error') && l.includes('is a symbolic link'))).toHaveLength(1);
    expect(source.stats().symlinksRefused).toBe(1);

    await rm(logPath);
    await writeFile(logPath, lines('real'));
    await until(() => receiver.lines.length === 1);
    expect(receiver.texts).toEqual(['real']);
  });

  /** A source that read a file's one line ('a'); the file is then renamed away while ulogd keeps it open. */
  async function followedThenRenamed(rotationIdleMs: number) {
    await writeFile(logPath, lines('a'));
    const { source, receiver } = makeSource({}, { rotationIdleMs });
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 1);
    const old = await ulogdOpen();
    await rename(logPath, `${logPath}.1`);
    return { source, receiver, old };
  }

  it('refuses a symbolic link put in place of the followed file, after reading the old file to its end', async () => {
    const { source, receiver, old } = await followedThenRenamed(50);
    // ulogd writes on into the renamed file; then the link appears. The other way round, 50 ms of
    // quiet in the old file could pass before the line under load, and the source move on.
    await old.write(lines('b'));
    await symlink(join(dir, 'elsewhere'), logPath);
    await writeFile(join(dir, 'elsewhere'), lines('never read'));
    await until(() => source.stats().symlinksRefused === 1);
    await settle(60);
    expect(receiver.texts).toEqual(['a', 'b']);
  });

  it('reads on in the renamed file while a symbolic link at the path waits to be refused: a link is no new file with data', async () => {
    const { source, receiver, old } = await followedThenRenamed(2000);
    await symlink(join(dir, 'elsewhere'), logPath);
    await writeFile(join(dir, 'elsewhere'), lines('never read'));
    // The source sees the link before these lines (it polls every few ms): it keeps the old file open until it goes quiet.
    await settle(100);
    await old.write(lines('b'));
    await until(() => receiver.lines.length === 2, 6000);
    await until(() => source.stats().symlinksRefused === 1, 6000);
    await settle(60);
    expect(receiver.texts).toEqual(['a', 'b']);
  });

  it('follows a symbolic link when follow_symlinks is set', async () => {
    await writeFile(join(dir, 'target.json'), lines('through the link'));
    await symlink(join(dir, 'target.json'), logPath);
    const { source, receiver } = makeSource({ follow_symlinks: true });
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 1);
    expect(source.stats().symlinksRefused).toBe(0);
  });

  it('does not block on a FIFO put at the path, and says it is not a regular file', async () => {
    execFileSync('mkfifo', [logPath]);
    const { source, receiver, logger } = makeSource();
    await source.start(receiver, 0);
    await until(() => logger.lines.some((l) => l.includes('not a regular file')));
    await rm(logPath);
    await writeFile(logPath, lines('after the fifo'));
    await until(() => receiver.lines.length === 1);
  });
});

describe('file source: a damaged state file', () => {
  const statePath = () => join(stateDir, 'file-ulogd.json');

  async function runAndCommit(from: 'beginning' | 'end', count: number): Promise<void> {
    const first = makeSource({ from });
    await first.source.start(first.receiver, 0);
    await until(() => first.receiver.lines.length === count);
    for (const line of first.receiver.lines) await first.source.commit(checkpointAt(line.end));
    await first.source.stop();
  }

  it('keeps the state written before as the previous copy, replacing both atomically', async () => {
    await writeFile(logPath, lines('a', 'b', 'c'));
    await runAndCommit('beginning', 3);
    expect(parseState(await readFile(statePath(), 'utf8'))?.checkpoint.resumeAt).toBe(packPosition(1, 6));
    expect(parseState(await readFile(`${statePath()}.prev`, 'utf8'))?.checkpoint.resumeAt).toBe(packPosition(1, 4));
  });

  it('resumes from the previous copy when the state file is damaged, and warns', async () => {
    await writeFile(logPath, '');
    const first = makeSource({ from: 'end' });
    await first.source.start(first.receiver, 0);
    await until(() => first.source.stats().generation === 1);
    await appendFile(logPath, lines('a', 'b', 'c'));
    await until(() => first.receiver.lines.length === 3);
    for (const line of first.receiver.lines) await first.source.commit(checkpointAt(line.end));
    await first.source.stop();
    await appendFile(logPath, lines('while stopped'));
    await writeFile(statePath(), '{"version": 1, "chec');

    const second = makeSource({ from: 'end' });
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 2);
    expect(second.receiver.texts).toEqual(['c', 'while stopped']);
    expect(second.logger.lines.some((l) => l.includes('warn') && l.includes('is damaged') && l.includes('previous copy'))).toBe(true);
  });

  it('reads the file from its start, whatever `from` says, when no copy of the state can be read', async () => {
    await writeFile(logPath, lines('a', 'b'));
    await runAndCommit('beginning', 2);
    await appendFile(logPath, lines('while stopped'));
    await writeFile(statePath(), 'garbage');
    await writeFile(`${statePath()}.prev`, '');

    const second = makeSource({ from: 'end' });
    await second.source.start(second.receiver, 0);
    await until(() => second.receiver.lines.length === 3);
    expect(second.receiver.texts).toEqual(['a', 'b', 'while stopped']);
    expect(second.logger.lines.some((l) => l.includes('warn') && l.includes('from its start'))).toBe(true);
  });

  it('treats an unreadable state file (a directory in its place) like a damaged one', async () => {
    await writeFile(logPath, lines('a'));
    await mkdir(statePath(), { recursive: true });
    const { source, receiver, logger } = makeSource({ from: 'end' });
    await source.start(receiver, 0);
    await until(() => receiver.lines.length === 1);
    expect(logger.lines.some((l) => l.includes('cannot be read'))).toBe(true);
  });

  it('accepts the fingerprint and start of a generation in a state file and rejects them malformed', () => {
    const base = { version: 1, source: 'ulogd', checkpoint: checkpointAt(5), origin: 0, generation: 2 };
    const info = { dev: '1', ino: '2', path: '/x', size: 10 };
    expect(parseState(JSON.stringify({ ...base, generations: { '2': { ...info, start: 4, fingerprint: { bytes: 4, sha256: 'ab' } } } }))).toBeDefined();
    expect(parseState(JSON.stringify({ ...base, generations: { '2': { ...info, start: '4' } } }))).toBeUndefined();
    expect(parseState(JSON.stringify({ ...base, generations: { '2': { ...info, fingerprint: { bytes: 4 } } } }))).toBeUndefined();
  });
});
