// The one place where configuration becomes running components, top to bottom:
// sources → decoder → enrichers → tracker (→ alerts, block set) → history → live stream →
// aggregator → sinks, and the web view over them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { AlertDispatcher } from './alerts/dispatcher.js';
import { CommandChannel } from './alerts/command.js';
import { SyslogChannel } from './alerts/syslog.js';
import { WebhookChannel } from './alerts/webhook.js';
import { Allowlist } from './respond/allowlist.js';
import { NftBlockSet } from './respond/nft-set.js';
import { Responder } from './respond/responder.js';
import type { Config } from './config/schema.js';
import type { DecodeOptions } from './decode/line.js';
import { AddressFacts } from './enrich/address-facts.js';
import { createGeoIp, type GeoCredit } from './enrich/geoip.js';
import { createOwner } from './enrich/owner.js';
import { createThreatLists, type ThreatListEnricher } from './enrich/threat-lists.js';
import { FingerprintEnricher } from './enrich/signatures.js';
import { MetricNamer } from './metrics/names.js';
import { GraphiteSink } from './sinks/graphite.js';
import { FileSource } from './sources/file.js';
import { trackOptions } from './track/options.js';
import { Tracker } from './track/query.js';
import { HistoryStore } from './store/history.js';
import { incidentOfAlert, incidentOfBlock, incidentOfDetection } from './store/incident.js';
import { HISTORY_DEFAULTS, HISTORY_FILE, type HistoryOptions } from './store/options.js';
import { SocketSource } from './sources/socket.js';
import type { Logger } from './util/log.js';
import { IntervalHistory } from './web/history.js';
import { LiveHub } from './web/stream.js';
import { NFWATCH_VERSION } from './web/version.js';
import { Pipeline, type LiveEvents } from './pipeline/pipeline.js';
import type { AlertChannel, Enricher, LineSource, Sink } from './pipeline/types.js';

/** [history] as the store's options: the file in state_dir unless given; IPv6 grouped as the tracker groups it. */
export function historyOptions(config: Config): HistoryOptions {
  const h = config.history;
  return {
    ...HISTORY_DEFAULTS,
    path: h.path !== '' ? h.path : join(config.general.state_dir, HISTORY_FILE),
    ipv6PrefixLength: config.track.ipv6_prefix_length,
    flushMs: Math.round(h.flush_seconds * 1000),
    maxPendingSources: h.max_pending_sources,
    maxQueuedBatches: h.max_queued_batches,
    retentionDays: h.retention_days,
    maxBytes: h.max_megabytes * 1024 * 1024,
    maxPortsPerRow: h.max_ports_per_row,
    maxHostsPerRow: h.max_hosts_per_row,
    foldAfter: h.fold_after_sources,
    // By source index, as buildDaemon makes the pipeline's sources: files, then sockets.
    sourceNames: [...config.sources.file.map((f) => f.name), ...config.sources.socket.map((s) => s.name)],
  };
}

export function decodeOptions(config: Config): DecodeOptions {
  return {
    verdictRules: config.decode.verdict_rules,
    useRawLabel: config.decode.use_raw_label,
    naiveTimestamps: config.decode.naive_timestamps,
    maxFutureMs: config.decode.max_future_seconds * 1000,
  };
}

/** The running parts the daemon (and the web view) needs besides the pipeline itself. */
export interface Daemon {
  pipeline: Pipeline;
  /** null with track.enabled = false. */
  tracker: Tracker | null;
  /** Recent verdict and NFACCT rates for the web view, fed by closed intervals. */
  history: IntervalHistory;
  /** The WebSocket event stream; null when the web view is off. */
  hub: LiveHub | null;
  /** Credits the GeoIP databases in use ask for. */
  geoCredits(): GeoCredit[];
  /** Alerts on the tracker's detections; null when no alert channel is configured or tracking is off. */
  alerts: AlertDispatcher | null;
  /** Blocks on the tracker's detections; null unless [response] is enabled (or a dry run). */
  responder: Responder | null;
  /** The threat lists in use; null when none is configured. */
  lists: ThreatListEnricher | null;
  /** The history on disk; null with [history] enabled = false. */
  store: HistoryStore | null;
}

/** This host's own addresses, never blocked. */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
}

/** The block set and allowlist [response] describes (the CLI's block/unblock/blocked use them too). */
export function responseParts(response: Config['response']): { set: NftBlockSet; allowlist: Allowlist } {
  return {
    set: new NftBlockSet({ command: response.nft_command, family: response.family, table: response.table, setV4: response.set_v4, setV6: response.set_v6 }),
    allowlist: new Allowlist({ allow: response.allow, blockPrivate: response.block_private, ownAddresses: ownAddresses() }),
  };
}

/** The alert channels [alerts] configures (none: no alerts). Reads the webhook's token_file. */
export function alertChannels(alerts: Config['alerts']): AlertChannel[] {
  const channels: AlertChannel[] = [];
  const w = alerts.webhook;
  if (w.url !== '') {
    const token = w.token_file !== '' ? readFileSync(w.token_file, 'utf8').trim() : w.token;
    channels.push(new WebhookChannel({ url: w.url, token, timeoutMs: w.timeout_ms, retries: w.retries, retryMinMs: w.retry_min_ms }));
  }
  if (alerts.syslog.enabled) channels.push(new SyslogChannel({ facility: alerts.syslog.facility, tag: alerts.syslog.tag, server: alerts.syslog.server }));
  const c = alerts.command;
  if (c.path !== '') channels.push(new CommandChannel({ path: c.path, args: c.args, timeoutMs: c.timeout_ms }));
  return channels;
}

export async function buildPipeline(config: Config, logger: Logger): Promise<Pipeline> {
  return (await buildDaemon(config, logger)).pipeline;
}

/** `writesState`: false for a run that must leave state_dir as it is (replay): nothing is written there. */
export async function buildDaemon(config: Config, logger: Logger, writesState = true): Promise<Daemon> {
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

  const influx = config.outputs.influx;
  // Its client library is loaded only when the output is on (most daemons write Graphite alone).
  const influxSink = influx.enabled
    ? new (await import('./sinks/influx.js')).InfluxSink(influx, {
        hostname: config.general.hostname,
        top: { ports: config.aggregate.top_ports, values: config.aggregate.top_values },
        logger: logger.child('influx'),
      })
    : null;
  if (influxSink) sinks.push(influxSink);

  // 3. Enrichment of decoded packets, in order: SYN fingerprint and classification, then what the
  //    source address says, kept per address: GeoIP, who holds it (ASN, cloud range), the threat
  //    lists it is on.
  const enrichers: Enricher[] = [];
  if (config.fingerprint.enabled) enrichers.push(FingerprintEnricher.fromConfig(config.fingerprint.signatures));
  const geoip = await createGeoIp(config.geoip, logger);
  const owner = await createOwner(config.owner, logger, { stateDir: config.general.state_dir, keepParsed: writesState });
  const lists = await createThreatLists(config.lists, logger);
  const byAddress = [geoip, owner, lists].filter((e) => e !== null);
  if (byAddress.length > 0) enrichers.push(new AddressFacts(byAddress));

  // 4. Who is knocking: per-source behaviour, scans, campaigns (queried by the web view).
  const tracker = config.track.enabled ? new Tracker(trackOptions(config.track)) : null;

  // 4b. Alerts: the tracker's detections, decided and de-duplicated here, delivered off the packet path.
  const channels = tracker ? alertChannels(config.alerts) : [];
  const a = config.alerts;
  const alerts = tracker && channels.length > 0
    ? new AlertDispatcher(
        {
          minSeverity: a.min_severity,
          campaigns: a.campaigns,
          dedupeMs: a.dedupe_seconds * 1000,
          maxPerMinute: a.max_per_minute,
          maxAgeMs: a.max_age_seconds * 1000,
          onlyListed: a.only_listed,
          host: config.general.hostname,
        },
        channels,
        logger.child('alerts'),
      )
    : null;

  // 4c. Response, off by default: detections at response.min_severity into the nftables block set.
  const r = config.response;
  const responder = tracker && (r.enabled || r.dry_run)
    ? (() => {
        const { set, allowlist } = responseParts(r);
        return new Responder({ dryRun: r.dry_run, minSeverity: r.min_severity, blockMs: r.block_seconds * 1000, maxEntries: r.max_entries, onlyListed: r.only_listed }, allowlist, set, logger.child('response'));
      })()
    : null;

  // 4d. History on disk: every packet's sightings (per source and hour), and every detection,
  //     alert and block, written by a thread of its own.
  const store = config.history.enabled ? await HistoryStore.open(historyOptions(config), logger.child('history')) : null;
  if (store && alerts) alerts.onAlert = (alert, time) => store.recordIncident(incidentOfAlert(alert, time));
  if (store && responder) responder.onChange = (change) => store.recordIncident(incidentOfBlock(change));
  if (tracker && (alerts || responder || store)) {
    tracker.onDetection((d) => {
      store?.recordIncident(incidentOfDetection(d));
      alerts?.accept(d);
      responder?.accept(d);
    });
  }

  // 5. The live stream of enriched events for the web view.
  const sourceNames = sources.map((s) => s.name);
  const hub = config.web.enabled ? new LiveHub(config.web, { sourceNames, version: NFWATCH_VERSION, logger: logger.child('stream') }) : null;
  // Sampled per-event points (outputs.influx.events) ride on the same per-packet hook.
  const eventTap = influxSink && influx.events ? influxSink : null;
  const live: LiveEvents | null = hub && eventTap
    ? { publish: (e) => { hub.publish(e); eventTap.publish(e); } }
    : hub ?? eventTap;

  // 6. Decoding and aggregation between them; closed intervals also feed the web view's history.
  const intervalMs = config.aggregate.interval_seconds * 1000;
  const pipeline = new Pipeline(
    {
      decode: decodeOptions(config),
      aggregate: {
        intervalMs,
        graceMs: config.aggregate.grace_seconds * 1000,
        latenessMs: config.aggregate.lateness_seconds * 1000,
        maxPrefixes: config.aggregate.max_prefixes,
        maxOpenIntervals: config.aggregate.max_open_intervals,
        maxCounterNames: config.aggregate.max_counter_names,
        maxSeries: config.aggregate.max_series,
      },
      nfacctModes,
      errorSamplesPerMinute: config.general.error_samples_per_minute,
      tickMs: Math.min(1000, intervalMs / 4),
    },
    sources,
    sinks,
    logger.child('pipeline'),
    { enrichers, tracker, live, recorder: store },
  );
  const history = new IntervalHistory();
  pipeline.onIntervalClosed(history.add);
  return { pipeline, tracker, history, hub, geoCredits: () => [...(geoip?.credits() ?? []), ...(owner?.credits() ?? [])], alerts, responder, lists, store };
}
