// The daemon: load the configuration, wire the pipeline, run until a signal.
import { loadConfig } from './config/load.js';
import { buildDaemon, decodeOptions } from './pipeline/wire.js';
import { createLogger } from './util/log.js';
import { startWeb, type WebServer } from './web/server.js';

/** How long SIGTERM waits for sinks to deliver what is pending before exiting anyway. */
const SHUTDOWN_FLUSH_MS = 5000;

export async function runDaemon(configPath: string): Promise<void> {
  const config = loadConfig(configPath);
  const logger = createLogger(config.general.log_level);
  const startedAt = Date.now();
  const { pipeline, tracker, history, hub, geoCredits } = await buildDaemon(config, logger);
  await pipeline.start();
  let web: WebServer | undefined;
  if (hub) {
    web = await startWeb(config.web, { config: config.web, tracker, history, health: () => pipeline.health(), geoCredits, startedAt, logger: logger.child('web') }, hub);
    logger.info(`scan-watch page at ${web.url}/`);
  }
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
      .then(() => process.exit(0))
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
