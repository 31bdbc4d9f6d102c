import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, formatLine, logFormatFor, memoryLogger } from '../../src/util/log.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

function capture(format?: 'plain' | 'journal') {
  const lines: string[] = [];
  const logger = createLogger('debug', '', (l) => lines.push(l), format);
  return { logger, lines };
}

afterEach(() => vi.unstubAllEnvs());

describe('log line format', () => {
  it('plain (foreground): ISO time, level, scope, message', () => {
    const { logger, lines } = capture('plain');
    logger.child('graphite').warn('carbon away');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(ISO);
    expect(lines[0]!.replace(ISO, '')).toBe('warn [graphite] carbon away\n');
  });

  it('journal: the sd-daemon(3) priority of each level, no time', () => {
    const { logger, lines } = capture('journal');
    logger.error('e');
    logger.warn('w');
    logger.info('i');
    logger.debug('d');
    logger.child('file:ulogd').info('following');
    expect(lines).toEqual(['<3>error e\n', '<4>warn w\n', '<6>info i\n', '<7>debug d\n', '<6>info [file:ulogd] following\n']);
  });

  it('journal: a message with newlines stays one entry with its priority', () => {
    expect(formatLine('journal', 'error', '', 'a\nb\r\nc')).toBe('<3>error a b c\n');
    expect(formatLine('plain', 'info', ' [x]', 'm', new Date(0))).toBe('1970-01-01T00:00:00.000Z info [x] m\n');
  });

  it('the level filter applies in both formats', () => {
    const { logger, lines } = capture('journal');
    logger.level = 'warn';
    logger.info('hidden');
    logger.debug('hidden');
    logger.warn('shown');
    expect(lines).toEqual(['<4>warn shown\n']);
  });

  it('chooses journal when JOURNAL_STREAM is set and names stderr (systemd sets it for journal-connected stdout/stderr)', () => {
    expect(logFormatFor({ JOURNAL_STREAM: '8:123456' }, () => '8:123456')).toBe('journal');
    expect(logFormatFor({}, () => '8:123456')).toBe('plain');
    expect(logFormatFor({ JOURNAL_STREAM: '' }, () => '8:123456')).toBe('plain');
    // Inherited by a child whose stderr is a pipe or a file: not the journal.
    expect(logFormatFor({ JOURNAL_STREAM: '8:123456' }, () => '14:999')).toBe('plain');
    // stderr cannot be examined: the variable decides.
    expect(logFormatFor({ JOURNAL_STREAM: '8:123456' }, () => null)).toBe('journal');
  });

  it("the default format follows the process's environment and its real stderr", () => {
    const st = fstatSync(2, { bigint: true });
    vi.stubEnv('JOURNAL_STREAM', `${st.dev}:${st.ino}`);
    const journal = capture();
    journal.logger.info('x');
    expect(journal.lines).toEqual(['<6>info x\n']);
    vi.stubEnv('JOURNAL_STREAM', '1:1');
    const other = capture();
    other.logger.info('x');
    expect(other.lines[0]).toMatch(ISO);
    vi.stubEnv('JOURNAL_STREAM', '');
    const plain = capture();
    plain.logger.info('x');
    expect(plain.lines[0]).toMatch(ISO);
  });

  it('the daemon under systemd-like conditions: JOURNAL_STREAM naming its stderr gives <N> lines without a time', () => {
    // A child whose stderr is a file, with JOURNAL_STREAM set to that file's device:inode, as
    // systemd sets it for the journal's socket.
    const dir = mkdtempSync(join(tmpdir(), 'nfw-log-'));
    try {
      const out = join(dir, 'stderr');
      const fd = openSync(out, 'w');
      const st = fstatSync(fd, { bigint: true });
      const script = `import('${pathToFileURL(join(process.cwd(), 'dist/util/log.js')).href}').then((m) => { const l = m.createLogger('debug'); l.error('e'); l.child('graphite').warn('w'); l.info('i'); l.debug('d'); })`;
      spawnSync(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', fd], env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
      closeSync(fd);
      expect(readFileSync(out, 'utf8')).toBe('<3>error e\n<4>warn [graphite] w\n<6>info i\n<7>debug d\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('memoryLogger keeps the plain format whatever the environment', () => {
    vi.stubEnv('JOURNAL_STREAM', '8:42');
    const logger = memoryLogger();
    logger.info('kept');
    expect(logger.lines[0]).toMatch(ISO);
  });
});
