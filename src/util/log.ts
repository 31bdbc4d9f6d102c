// A small leveled logger writing one line per message to stderr. In the foreground each line
// starts with an ISO time and the level. Under systemd with stderr connected to the journal
// (JOURNAL_STREAM is set and names stderr, systemd.exec(5)) each line starts with its sd-daemon(3) priority instead,
// `<3>` error, `<4>` warning, `<6>` info, `<7>` debug, which journald strips and stores as the
// entry's PRIORITY (so `journalctl -p warning` works); the time is left out, journald has its own.
import { fstatSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** sd-daemon(3) priority prefixes (syslog levels: LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7). */
export const JOURNAL_PRIORITY: Record<LogLevel, string> = { error: '<3>', warn: '<4>', info: '<6>', debug: '<7>' };

export type LogFormat = 'plain' | 'journal';

/**
 * 'journal' when systemd connected stderr to the journal, else 'plain'. JOURNAL_STREAM is
 * "<device>:<inode>" of that stream (systemd.exec(5)); it is inherited by every child, also one
 * whose stderr is a pipe or a file (a test, `nfwatch ... 2>log` run from a unit), so, as systemd
 * asks, it counts only when stderr is still that stream. `stderrId` gives stderr's
 * "<device>:<inode>" (null when it cannot be told: then the variable alone decides).
 */
export function logFormatFor(env: NodeJS.ProcessEnv = process.env, stderrId: () => string | null = stderrDeviceInode): LogFormat {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return 'plain';
  const id = stderrId();
  return id === null || id === stream ? 'journal' : 'plain';
}

function stderrDeviceInode(): string | null {
  try {
    const st = fstatSync(2, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/**
 * One log line, with its newline. In the journal a message's own newlines would start entries
 * without a prefix (priority info): they become spaces there.
 */
export function formatLine(format: LogFormat, at: LogLevel, scope: string, message: string, now: Date = new Date()): string {
  if (format === 'plain') return `${now.toISOString()} ${at}${scope} ${message}\n`;
  const text = message.includes('\n') ? message.replace(/\r?\n/g, ' ') : message;
  return `${JOURNAL_PRIORITY[at]}${at}${scope} ${text}\n`;
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A logger whose lines carry `[scope]`. */
  child(scope: string): Logger;
  level: LogLevel;
}

export function createLogger(
  level: LogLevel = 'info',
  scope = '',
  write: (line: string) => void = (l) => process.stderr.write(l),
  format: LogFormat = logFormatFor(),
): Logger {
  const state = { level };
  const make = (prefix: string): Logger => {
    const emit = (at: LogLevel, message: string) => {
      if (RANK[at] < RANK[state.level]) return;
      write(formatLine(format, at, prefix, message));
    };
    return {
      debug: (m) => emit('debug', m),
      info: (m) => emit('info', m),
      warn: (m) => emit('warn', m),
      error: (m) => emit('error', m),
      child: (s) => make(`${prefix} [${s}]`),
      get level() {
        return state.level;
      },
      set level(l: LogLevel) {
        state.level = l;
      },
    };
  };
  return make(scope ? ` [${scope}]` : '');
}

/** A logger that keeps lines in memory: for tests. */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger(level, '', (l) => lines.push(l.trimEnd()), 'plain');
  return Object.assign(logger, { lines });
}
