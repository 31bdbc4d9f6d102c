// What the web layer is given by the daemon: read-only views of the pipeline's state. app.ts
// builds a fastify instance from these and never reaches into the pipeline otherwise.
import type { AlertStats } from '../alerts/dispatcher.js';
import type { Config } from '../config/schema.js';
import type { Responder } from '../respond/responder.js';
import type { GeoCredit } from '../enrich/geoip.js';
import type { ThreatListStats } from '../enrich/threat-lists.js';
import type { HistoryStats } from '../store/history.js';
import type { HealthSnapshot } from '../pipeline/types.js';
import type { HistoryReader } from '../store/types.js';
import type { Tracker } from '../track/query.js';
import type { Logger } from '../util/log.js';
import type { IntervalHistory } from './history.js';

export interface WebDeps {
  config: Config['web'];
  /** Per-source table, fingerprint histogram, campaigns, summary; null when tracking is off. */
  tracker: Tracker | null;
  /** Recent verdict rates and NFACCT counter rates. */
  history: IntervalHistory;
  /** The pipeline's health now (lines, events, decode errors, sinks, tracker figures). */
  health(): HealthSnapshot;
  /** Credits the GeoIP databases in use ask for (shown on the page beside their answers). */
  geoCredits(): GeoCredit[];
  /** The alert figures; null (or absent) when alerts are off. */
  alerts?: () => AlertStats | null;
  /** The block set's responder; null (or absent) when [response] is off. */
  responder?: Responder | null;
  /** The on-disk history store the investigate page searches; null (or absent) when [history] is off. */
  historyReader?: HistoryReader | null;
  /** response.block_seconds: the default length of a block made through the API. */
  blockSeconds?: number;
  /** The threat lists in use (name, entries, when loaded, errors); absent or empty when none is configured. */
  lists?: () => readonly ThreatListStats[];
  /** The history store's figures for /metrics; absent or null when [history] is off. */
  historyStats?: () => HistoryStats | null;
  /** Epoch ms the daemon started. */
  startedAt: number;
  logger: Logger;
}
