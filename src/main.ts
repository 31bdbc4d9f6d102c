// The daemon: load the configuration, wire the pipeline, run until a signal.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { SeriesBudgetFile } from './aggregate/budget-file.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { buildDaemon, decodeOptions } from './wire.js';
import { SettingError } from './util/errors.js';
import { raiseInterruptBudget } from './util/tier-up.js';
import { createLogger } from './util/log.js';
import type { Pipeline } from './pipeline/pipeline.js';
import type { HealthSnapshot } from './pipeline/types.js';
import type { SourceFigures } from './web/healthz.js';
import { startWeb, webAccess, type WebAccess, type WebServer } from './web/server.js';

/** How long SIGTERM waits for sinks to deliver what is pending before exiting anyway. */
const SHUTDOWN_FLUSH_MS = 5000;
/** How often newly admitted series names are saved (a crash loses at most this much of them). */
const BUDGET_SAVE_MS = 60_000;

/** A configuration as the daemon runs it, with the [web] token and TLS files read and checked. */
export interface CheckedConfig {
  config: Config;
  /** null when the web view is off. */
  web: WebAccess | null;
}

/**
 * Everything the daemon checks before it starts anything: the file (TOML, schema, cross-field
 * rules), then what its settings refer to and allow (the [web] token and TLS files, no listener
 * beyond loopback without a token). `--check-config` runs exactly this. Throws a ConfigError that
 * names the file and each key.
 */
export async function checkConfig(configPath: string): Promise<CheckedConfig> {
  const config = loadConfig(configPath);
  try {
    checkAlertFiles(config);
    return { config, web: config.web.enabled ? await webAccess(config.web) : null };
  } catch (err) {
    throw err instanceof ConfigError ? err.in(configPath) : err;
  }
}

/** The webhook's token_file must be readable and hold a token, or the daemon would start without one. */
function checkAlertFiles(config: Config): void {
  const file = config.alerts.webhook.token_file;
  if (file === '') return;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`alerts.webhook.token_file: cannot read ${file}: ${(err as Error).message}`);
  }
  if (token === '') throw new ConfigError(`alerts.webhook.token_file: ${file} is empty`);
}

/**
 * The pipeline's health with each file source's `missingFile` and `unreadable` added for /healthz
 * (web/healthz.ts: a file that does not exist or cannot be read is a stuck source). The API
 * schemas and /metrics list their fields, so nothing else shows them.
 */
export function webHealth(pipeline: Pipeline): HealthSnapshot {
  const health = pipeline.health();
  for (const source of pipeline.sources) {
    const figures = health.sources?.[source.name] as SourceFigures | undefined;
    const { missingFile, unreadable } = source.stats();
    if (figures && typeof missingFile === 'number') figures.missingFile = missingFile;
    if (figures && typeof unreadable === 'number') figures.unreadable = unreadable;
  }
  return health;
}

export async function runDaemon(configPath: string): Promise<void> {
  const { config, web: access } = await checkConfig(configPath);
  const logger = createLogger(config.general.log_level);
  // A GC heuristic, read by V8 after every full collection, so setting it at start takes effect.
  if (config.general.heap_growth_percent > 0) setFlagsFromString(`--heap-growing-percent=${config.general.heap_growth_percent}`);
  const startedAt = Date.now();
  const { pipeline, tracker, history, hub, geoCredits, alerts, responder, lists, store } = await buildDaemon(config, logger);
  let web: WebServer | undefined;
  if (hub && access) {
    // Listening first: a port in use stops the daemon before any source is read.
    try {
      web = await startWeb(config.web, { config: config.web, tracker, history, health: () => webHealth(pipeline), geoCredits, alerts: () => alerts?.stats ?? null, responder, blockSeconds: config.response.block_seconds, lists: () => lists?.stats() ?? [], historyReader: store, historyStats: () => store?.stats() ?? null, startedAt, logger: logger.child('web') }, hub, access);
    } catch (err) {
      throw err instanceof SettingError ? err.in(configPath) : err;
    }
  }
  // The series names admitted by earlier runs keep their series (aggregate.max_series is a budget
  // over the daemon's life, not per start).
  const budgetFile = new SeriesBudgetFile(join(config.general.state_dir, 'series.json'), pipeline.aggregator.budgets, logger.child('aggregate'));
  budgetFile.load();
  setInterval(() => void budgetFile.save(), BUDGET_SAVE_MS).unref();
  // Now, not at the first line of the process: the start runs a lot of code once (loading the AS
  // table, building the web app), which V8's default budget compiles sooner (util/tier-up.ts).
  raiseInterruptBudget(process.execArgv);
  await pipeline.start();
  if (web) logger.info(`scan-watch page at ${web.url}/`);
  if (responder) {
    const r = config.response;
    logger.warn(
      `${r.dry_run ? 'dry run: would block' : 'blocking'} sources at severity ${r.min_severity} and above for ${r.block_seconds} s in ${r.family} ${r.table} ${[r.set_v4, r.set_v6].filter(Boolean).join('/')} (at most ${r.max_entries}; never loopback, own addresses${r.block_private ? '' : ', private ranges'}${r.allow.length > 0 ? `, ${r.allow.length} allowed` : ''})`,
    );
  }
  if (alerts) logger.info(`alerts at severity ${config.alerts.min_severity} and above${config.alerts.campaigns ? ' and on campaigns' : ''} → ${alerts.channels.map((c) => c.name).join(', ')}`);
  logger.info(
    `nfwatch started: ${pipeline.sources.map((s) => `${s.kind}:${s.name}`).join(', ') || 'no sources'} → ${pipeline.sinks.map((s) => s.name).join(', ') || 'no outputs'}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: flushing and stopping`);
    Promise.resolve(web?.close())
      .then(() => pipeline.stop(SHUTDOWN_FLUSH_MS))
      .then(() => alerts?.flush(SHUTDOWN_FLUSH_MS))
      .then(() => responder?.settled())
      .then(() => store?.close())
      .then(() => budgetFile.save())
      .then(() => {
        logger.info(stoppedLine(process.cpuUsage(), process.resourceUsage().maxRSS, process.uptime()));
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error(`error while stopping: ${(err as Error).message}`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    // Only what can change without losing state: files are reopened, decoding and logging
    // settings re-read. Sources and outputs need a restart (the log says so).
    let fresh;
    try {
      fresh = loadConfig(configPath);
    } catch (err) {
      logger.error(`SIGHUP: configuration not reloaded: ${(err as Error).message}`);
      void pipeline.reopen();
      return;
    }
    logger.level = fresh.general.log_level;
    pipeline.updateDecodeOptions(decodeOptions(fresh), fresh.general.error_samples_per_minute);
    for (const section of ['sources', 'outputs', 'aggregate'] as const) {
      if (JSON.stringify(fresh[section]) !== JSON.stringify(config[section])) {
        logger.warn(`SIGHUP: changes to [${section}] take effect at the next restart`);
      }
    }
    logger.info('SIGHUP: reopened sources, reloaded decode and log settings');
    void pipeline.reopen();
  });
}

/**
 * The last line of a clean stop: the process's CPU (every thread, the history's last batch written)
 * and its peak memory over its life. An admin reads what nfwatch cost; `npm run bench` reads the
 * CPU of a run to its end from it (/proc has nothing once the process is gone).
 */
export function stoppedLine(cpu: NodeJS.CpuUsage, maxRssKiB: number, uptimeSeconds: number): string {
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return `stopped after ${uptimeSeconds.toFixed(1)} s: ${cpuSeconds.toFixed(2)} s of CPU, peak RSS ${Math.round(maxRssKiB / 1024)} MiB`;
}
