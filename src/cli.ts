#!/usr/bin/env node
// Command line: argv only; the daemon itself is in main.ts, loaded only for a command that needs
// it (--version and --help answer without loading the daemon's modules).
import { parseArgs } from 'node:util';
import { errorText } from './util/errors.js';
import { raiseInterruptBudget } from './util/tier-up.js';
import { NFWATCH_VERSION } from './web/version.js';

/** Read when --config is not given: where the Debian install puts it (README "Install on Debian"). */
const DEFAULT_CONFIG = '/etc/nfwatch/nfwatch.toml';

const USAGE = `Usage: nfwatch [--config FILE] [--check-config FILE] [--version] [--help]

nfwatch reads the JSON that ulogd2 writes for NFLOG packets and NFACCT counters (from its file or
its unix/tcp socket mode) and writes Graphite metrics aggregated by event time.

Options:
  -c, --config FILE        run the daemon with this configuration (default: ${DEFAULT_CONFIG})
      --check-config FILE  run the daemon's start-up checks on FILE (also the [web] token and TLS
                           files) and exit: 0 when it would start, 1 with the problems otherwise
  -V, --version            print the version and exit
  -h, --help               show this help

Backfill: nfwatch replay [--config FILE] FILE...  (see nfwatch replay --help)
Block set: nfwatch block ADDRESS [--for DURATION] | unblock ADDRESS | blocked  (see nfwatch block --help)

Signals: SIGTERM/SIGINT flush pending intervals and exit 0; SIGHUP reopens the source files
and re-reads log level, verdict rules and error sampling from the configuration.
`;

/**
 * The daemon (main.ts and everything below it) as the build bundles it, one module instead of ~90:
 * scripts/bundle.mjs.
 */
function daemon(): Promise<typeof import('./main.js')> {
  return import(new URL('./daemon/main.js', import.meta.url).href) as Promise<typeof import('./main.js')>;
}

function main(argv: string[]): void {
  // `nfwatch replay ...`: backfill old ulogd files (src/replay/), with options of its own.
  if (argv[0] === 'replay') {
    // Before any packet is read (util/tier-up.ts): a replay runs one hot path for long. The daemon
    // raises it itself once it has started (main.ts).
    raiseInterruptBudget(process.execArgv);
    void import('./replay/cli.js').then((m) => m.replayMain(argv.slice(1), DEFAULT_CONFIG));
    return;
  }
  // `nfwatch block|unblock|blocked ...`: the nftables block set by hand (src/block-cli.ts).
  if (argv[0] === 'block' || argv[0] === 'unblock' || argv[0] === 'blocked') {
    const command = argv[0];
    void import('./block-cli.js').then(async (m) => {
      process.exitCode = await m.blockMain(command, argv.slice(1), DEFAULT_CONFIG);
    });
    return;
  }
  let values: { config?: string; 'check-config'?: string; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
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
  if (values.version) {
    process.stdout.write(`nfwatch ${NFWATCH_VERSION}\n`);
    return;
  }
  const checkPath = values['check-config'];
  if (checkPath !== undefined) {
    // The daemon's own start-up checks, without starting anything.
    daemon().then((m) => m.checkConfig(checkPath)).then(
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
  const path = values.config ?? DEFAULT_CONFIG;
  // Start-up errors name the setting and the file (ConfigError, SettingError) or say what failed;
  // an operator needs that line, not a JavaScript stack trace.
  daemon().then((m) => m.runDaemon(path)).catch((err: unknown) => {
    process.stderr.write(`nfwatch: ${errorText(err)}\n`);
    process.exit(1);
  });
}

main(process.argv.slice(2));
