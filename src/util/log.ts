// A small leveled logger writing one line per message to stderr (journald adds its own time when
// run under systemd; we keep an ISO time so foreground runs and CI logs read the same).
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A logger whose lines carry `[scope]`. */
  child(scope: string): Logger;
  level: LogLevel;
}

export function createLogger(level: LogLevel = 'info', scope = '', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const state = { level };
  const make = (prefix: string): Logger => {
    const emit = (at: LogLevel, message: string) => {
      if (RANK[at] < RANK[state.level]) return;
      write(`${new Date().toISOString()} ${at}${prefix} ${message}\n`);
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
  const logger = createLogger(level, '', (l) => lines.push(l.trimEnd()));
  return Object.assign(logger, { lines });
}
