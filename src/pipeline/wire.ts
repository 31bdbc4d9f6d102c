// The one place where configuration becomes running components, top to bottom:
// sources → decoder → aggregator → sinks.
import type { Config } from '../config/schema.js';
import type { DecodeOptions } from '../decode/line.js';
import { createGeoIp } from '../enrich/geoip.js';
import { FingerprintEnricher } from '../enrich/signatures.js';
import { MetricNamer } from '../metrics/names.js';
import { GraphiteSink } from '../sinks/graphite.js';
import { FileSource } from '../sources/file.js';
import { trackOptions } from '../track/options.js';
import { Tracker } from '../track/query.js';
import { SocketSource } from '../sources/socket.js';
import type { Logger } from '../util/log.js';
import { Pipeline } from './pipeline.js';
import type { Enricher, LineSource, Sink } from './types.js';

export function decodeOptions(config: Config): DecodeOptions {
  return {
    verdictRules: config.decode.verdict_rules,
    useRawLabel: config.decode.use_raw_label,
    naiveTimestamps: config.decode.naive_timestamps,
  };
}

export async function buildPipeline(config: Config, logger: Logger): Promise<Pipeline> {
  const maxLineBytes = config.general.max_line_bytes;

  // 1. Sources: lines in, nothing else.
  const sources: LineSource[] = [];
  const nfacctModes: Array<'deltas' | 'totals'> = [];
  for (const file of config.sources.file) {
    sources.push(new FileSource(file, { stateDir: config.general.state_dir, maxLineBytes, logger: logger.child(`file:${file.name}`) }));
    nfacctModes.push(file.nfacct);
  }
  for (const socket of config.sources.socket) {
    sources.push(new SocketSource(socket, { maxLineBytes, logger: logger.child(`socket:${socket.name}`) }));
    nfacctModes.push(socket.nfacct);
  }

  // 2. Sinks: closed intervals out.
  const sinks: Sink[] = [];
  const graphite = config.outputs.graphite;
  if (graphite.enabled) {
    const namer = new MetricNamer(graphite, config.general.hostname);
    sinks.push(new GraphiteSink(graphite, {
        namer,
        top: { ports: config.aggregate.top_ports, values: config.aggregate.top_values },
        logger: logger.child('graphite'),
      }));
  }

  // 3. Enrichment of decoded packets, in order: SYN fingerprint and classification, GeoIP.
  const enrichers: Enricher[] = [];
  if (config.fingerprint.enabled) enrichers.push(FingerprintEnricher.fromConfig(config.fingerprint.signatures));
  const geoip = await createGeoIp(config.geoip, logger);
  if (geoip) enrichers.push(geoip);

  // 4. Who is knocking: per-source behaviour, scans, campaigns (queried by the web view).
  const tracker = new Tracker(trackOptions(config.track));

  // 5. Decoding and aggregation between them.
  const intervalMs = config.aggregate.interval_seconds * 1000;
  return new Pipeline(
    {
      decode: decodeOptions(config),
      aggregate: {
        intervalMs,
        graceMs: config.aggregate.grace_seconds * 1000,
        latenessMs: config.aggregate.lateness_seconds * 1000,
        maxPrefixes: config.aggregate.max_prefixes,
        maxOpenIntervals: config.aggregate.max_open_intervals,
      },
      nfacctModes,
      errorSamplesPerMinute: config.general.error_samples_per_minute,
      tickMs: Math.min(1000, intervalMs / 4),
    },
    sources,
    sinks,
    logger.child('pipeline'),
    { enrichers, tracker },
  );
}
