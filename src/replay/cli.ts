// `nfwatch replay [--config FILE] [--source NAME] FILE...`: argv, progress on stderr, the summary on
// stdout, the exit status. The work is in replay.ts.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { errorText } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { formatSummary, progressBar, progressLine, runReplay, type ReplayProgress } from './replay.js';

export const REPLAY_USAGE = `Usage: nfwatch replay [--config FILE] [--source NAME] FILE...

Backfills old ulogd JSON files (plain or gzip-compressed, recognised by content) through the same
decoding, enrichment and aggregation as the daemon, into the outputs of the configuration: each
interval is written at its event time with the counts a live run would have written, so replaying
a file the daemon already delivered rewrites the same values. Files are replayed in the order of
their first event's time, not the order given. The daemon's saved read positions are not read or
changed, and no web view is served; the daemon may keep running meanwhile.

Options:
  -c, --config FILE   the daemon's configuration (default: %DEFAULT%)
      --source NAME   count the events under this configured source (events.input.NAME and its
                      nfacct mode); default: the first configured source
  -h, --help          show this help

Progress goes to stderr (a bar on a terminal, a line every 5 s otherwise), the summary to stdout.
Exit status: 0 when every output took everything, 1 when one dropped or could not deliver
metrics (or on an error), 2 for bad arguments.
`;

/** Runs the subcommand with its own arguments (after "replay"); exits the process when done. */
export function replayMain(argv: string[], defaultConfig: string): void {
  const usage = REPLAY_USAGE.replace('%DEFAULT%', defaultConfig);
  let values: { config?: string; source?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        source: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    process.stderr.write(`nfwatch replay: ${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  if (positionals.length === 0) {
    process.stderr.write(`nfwatch replay: no FILE given\n\n${usage}`);
    process.exit(2);
  }
  const tty = process.stderr.isTTY === true;
  let barShown = false;
  const clearBar = () => {
    if (barShown) process.stderr.write('\r\x1b[K');
    barShown = false;
  };
  const progress = (p: ReplayProgress) => {
    if (tty) {
      const columns = process.stderr.columns || 120;
      process.stderr.write(`\r\x1b[K${progressBar(p).slice(0, Math.max(20, columns - 1))}`);
      barShown = true;
    } else {
      process.stderr.write(`${progressLine(p)}\n`);
    }
  };
  const run = async () => {
    const config = loadConfig(values.config ?? defaultConfig);
    // Log lines must not end up inside the bar: clear it first.
    const logger = createLogger(config.general.log_level, 'replay', (line) => {
      clearBar();
      process.stderr.write(line);
    });
    const summary = await runReplay({
      config,
      paths: positionals,
      ...(values.source !== undefined ? { sourceName: values.source } : {}),
      logger,
      progress,
      progressEveryMs: tty ? 200 : 5000,
    });
    clearBar();
    process.stdout.write(formatSummary(summary));
    return summary.complete ? 0 : 1;
  };
  run().then(
    (code) => process.exit(code),
    (err: unknown) => {
      clearBar();
      process.stderr.write(`nfwatch replay: ${errorText(err)}\n`);
      process.exit(1);
    },
  );
}
