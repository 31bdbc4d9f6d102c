#!/usr/bin/env node
// Command line: argv only; the daemon itself is in main.ts.
import { parseArgs } from 'node:util';
import { checkConfig, runDaemon } from './main.js';
import { errorText } from './util/errors.js';

const USAGE = `Usage: nfwatch [--config FILE] [--check-config FILE] [--help]

nfwatch reads the JSON that ulogd2 writes for NFLOG packets and NFACCT counters (from its file or
its unix/tcp socket mode) and writes Graphite metrics aggregated by event time.

Options:
  -c, --config FILE        run the daemon with this configuration (default: /etc/nfwatch/nfwatch.toml)
      --check-config FILE  run the daemon's start-up checks on FILE (also the [web] token and TLS
                           files) and exit: 0 when it would start, 1 with the problems otherwise
  -h, --help               show this help

Signals: SIGTERM/SIGINT flush pending intervals and exit 0; SIGHUP reopens the source files
and re-reads log level, verdict rules and error sampling from the configuration.
`;

function main(argv: string[]): void {
  let values: { config?: string; 'check-config'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`nfwatch: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const checkPath = values['check-config'];
  if (checkPath !== undefined) {
    // The daemon's own start-up checks, without starting anything.
    checkConfig(checkPath).then(
      () => {
        process.stdout.write(`${checkPath}: configuration is valid\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`${errorText(err)}\n`);
        process.exit(1);
      },
    );
    return;
  }
  const path = values.config ?? '/etc/nfwatch/nfwatch.toml';
  // Start-up errors name the setting and the file (ConfigError, SettingError) or say what failed;
  // an operator needs that line, not a JavaScript stack trace.
  runDaemon(path).catch((err: unknown) => {
    process.stderr.write(`nfwatch: ${errorText(err)}\n`);
    process.exit(1);
  });
}

main(process.argv.slice(2));
