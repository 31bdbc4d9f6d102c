// JSON schemas (TypeBox) of the web API: query strings are validated with them and responses are
// serialised through them, so a response carries exactly the fields declared here (an allow-list:
// anything else a query function returns is not sent).
import type { Static } from '@sinclair/typebox';
import { Type } from '../deps.js';
import { SOURCE_SORTS } from '../track/query.js';
import { TECHNIQUES } from '../track/sources.js';

const Iso = Type.String({ description: 'ISO 8601 time' });
const Level = Type.Union([Type.Literal('none'), Type.Literal('suspected'), Type.Literal('detected')]);
const ByScanType = <T extends Parameters<typeof Type.Object>[0][string]>(t: T) =>
  Type.Object({ vertical: t, horizontal: t, ssh_bruteforce: t });

export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  /** A stable name: bad_request, unauthorized, forbidden, not_found, upgrade_required, internal. */
  code: Type.String(),
  message: Type.String(),
});
export type ErrorReply = Static<typeof ErrorReply>;

export const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });

export const SourcesQuery = Type.Object(
  {
    limit: Limit,
    sort: Type.Union(SOURCE_SORTS.map((s) => Type.Literal(s)), { default: 'last_seen' }),
    list: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'Only sources on this threat list.' })),
  },
  { additionalProperties: false },
);
export type SourcesQuery = Static<typeof SourcesQuery>;

export const LimitQuery = Type.Object({ limit: Limit }, { additionalProperties: false });
export type LimitQuery = Static<typeof LimitQuery>;
export const NoQuery = Type.Object({}, { additionalProperties: false });

// --- /api/summary ---------------------------------------------------------------------------------

const VerdictPoint = Type.Object({
  time: Type.Integer({ description: 'interval start, epoch seconds' }),
  allowed: Type.Number(),
  blocked: Type.Number(),
  unknown: Type.Number(),
  syns: Type.Number(),
});

const SinkHealth = Type.Object({ backlog: Type.Number(), dropped: Type.Number(), sent: Type.Number(), connected: Type.Boolean() });

/** pipeline/types.ts SourceHealth: what each source went through (0 where a figure does not apply). */
const SourceHealth = Type.Object({
  kind: Type.String(),
  linesRead: Type.Number(),
  bytesRead: Type.Number(),
  connections: Type.Number(),
  connectionsRefused: Type.Number(),
  connectionsEvicted: Type.Number(),
  partialLinesDropped: Type.Number(),
  rotations: Type.Number(),
  truncations: Type.Number(),
  symlinksRefused: Type.Number(),
});

const DecodeErrors = Type.Object({
  not_json: Type.Number(),
  not_object: Type.Number(),
  no_timestamp: Type.Number(),
  bad_timestamp: Type.Number(),
  wrong_type: Type.Number(),
  out_of_range: Type.Number(),
  future_timestamp: Type.Number(),
  unknown_record: Type.Number(),
});

const TrackerSummary = Type.Object({
  time: Type.Union([Iso, Type.Null()]),
  windowSeconds: Type.Number(),
  packets: Type.Number(),
  sources: Type.Object({ tracked: Type.Number(), max: Type.Number(), evicted: Type.Number(), expired: Type.Number() }),
  scans: Type.Object({
    suspected: Type.Number(),
    detected: Type.Number(),
    byType: ByScanType(Type.Object({ suspected: Type.Number(), detected: Type.Number() })),
    bySeverity: Type.Record(Type.String({ pattern: '^[1-5]$' }), Type.Number()),
  }),
  campaigns: Type.Object({ active: Type.Number(), groups: Type.Number(), evicted: Type.Number() }),
  fingerprints: Type.Object({ keys: Type.Number(), syns: Type.Number() }),
});

/**
 * The tracker's summary fields sit at the top level (null when tracking is off; `time` is the event
 * time the tracker has reached), beside nfwatch's own figures.
 */
export const SummaryReply = Type.Object({
  tracking: Type.Boolean(),
  time: TrackerSummary.properties.time,
  windowSeconds: Type.Number(),
  packets: Type.Number(),
  sources: Type.Union([TrackerSummary.properties.sources, Type.Null()]),
  scans: Type.Union([TrackerSummary.properties.scans, Type.Null()]),
  campaigns: Type.Union([TrackerSummary.properties.campaigns, Type.Null()]),
  fingerprints: Type.Union([TrackerSummary.properties.fingerprints, Type.Null()]),
  /** Wall-clock time of the answer. */
  serverTime: Iso,
  startedAt: Iso,
  uptimeSeconds: Type.Number(),
  /** Packets per second by verdict in the newest closed interval. */
  rates: VerdictPoint,
  /** Packets by verdict in closed intervals since start. */
  totals: Type.Object({ allowed: Type.Number(), blocked: Type.Number(), unknown: Type.Number(), syns: Type.Number() }),
  health: Type.Object({
    lines: Type.Number(),
    events: Type.Number(),
    eventsPerSecond: Type.Number(),
    oversizedLines: Type.Number(),
    decodeErrors: DecodeErrors,
    lateEvents: Type.Number(),
    counterResets: Type.Number(),
    openIntervals: Type.Number(),
    sinks: Type.Record(Type.String(), SinkHealth),
    /** By source name. */
    sources: Type.Record(Type.String(), SourceHealth),
  }),
  stream: Type.Object({ clients: Type.Integer(), eventsPerSecondPerClient: Type.Integer() }),
  /** Credits of the GeoIP databases whose answers the page shows. */
  geoCredits: Type.Array(Type.Object({ text: Type.String(), url: Type.String() })),
  /** The threat lists in use, and packets from sources on each since start. */
  lists: Type.Array(Type.Object({
    name: Type.String(),
    entries: Type.Number(),
    addresses: Type.Number(),
    loadedAt: Type.Union([Iso, Type.Null()]),
    badLines: Type.Number(),
    error: Type.String(),
    packets: Type.Number(),
  })),
});
export type SummaryReply = Static<typeof SummaryReply>;

// --- /api/sources ---------------------------------------------------------------------------------

const SourceRow = Type.Object({
  address: Type.String(),
  firstSeen: Iso,
  lastSeen: Iso,
  packets: Type.Object({ allowed: Type.Number(), blocked: Type.Number(), unknown: Type.Number(), total: Type.Number() }),
  window: Type.Object({ allowed: Type.Number(), blocked: Type.Number(), unknown: Type.Number(), probes: Type.Number() }),
  ports: Type.Object({ distinct: Type.Number(), atLeast: Type.Boolean(), ranges: Type.String({ description: 'e.g. "20-30,53" (at most 32 ranges, then "…")' }) }),
  hosts: Type.Object({ distinct: Type.Number(), atLeast: Type.Boolean(), ranges: Type.Array(Type.String(), { description: 'addresses, consecutive IPv4 ones as "198.18.0.96-127"' }) }),
  lastPorts: Type.Array(Type.Integer()),
  sourcePortReuse: Type.Union([Type.Object({ port: Type.Integer(), targets: Type.Number() }), Type.Null()]),
  seqReuse: Type.Union([Type.Object({ seq: Type.Number(), syns: Type.Number() }), Type.Null()]),
  fingerprints: Type.Array(Type.String()),
  tools: Type.Array(Type.String()),
  os: Type.Array(Type.String()),
  country: Type.String(),
  asn: Type.Union([Type.Integer(), Type.Null()]),
  asOrg: Type.String(),
  cloud: Type.String(),
  listed: Type.Array(Type.String()),
  scan: Type.Object({
    state: Level,
    types: Type.Array(Type.String()),
    levels: ByScanType(Level),
    severity: Type.Integer(),
    since: Type.Union([Iso, Type.Null()]),
    techniques: Type.Array(Type.Object({ technique: Type.Union(TECHNIQUES.map((t) => Type.Literal(t))), probes: Type.Number() })),
    label: Type.String(),
    evidence: Type.Object({
      ports: Type.Number(),
      hosts: Type.Number(),
      probes: Type.Number(),
      sshSyns: Type.Number(),
      sshBucket: Type.Number(),
      crafted: Type.Boolean(),
    }),
  }),
});

export const SourcesReply = Type.Object({
  /** false when tracking is off (then the list is empty). */
  tracking: Type.Boolean(),
  sort: Type.String(),
  limit: Type.Integer(),
  sources: Type.Array(SourceRow),
});

// --- /api/fingerprints ----------------------------------------------------------------------------

export const FingerprintsReply = Type.Object({
  tracking: Type.Boolean(),
  windowSeconds: Type.Number(),
  total: Type.Number(),
  byKey: Type.Array(Type.Object({ key: Type.String(), count: Type.Number(), os: Type.String(), tool: Type.String() })),
  otherKeys: Type.Number(),
  byWindow: Type.Array(Type.Object({ window: Type.Integer(), count: Type.Number() })),
  byInitialTtl: Type.Array(Type.Object({ initialTtl: Type.Integer(), count: Type.Number() })),
});

// --- /api/campaigns -------------------------------------------------------------------------------

const CampaignRow = Type.Object({
  key: Type.String(),
  fingerprint: Type.String(),
  ports: Type.Array(Type.Integer()),
  manyPorts: Type.Boolean(),
  sources: Type.Number(),
  addresses: Type.Array(Type.String()),
  countries: Type.Array(Type.Object({ country: Type.String(), sources: Type.Number() })),
  sourcePorts: Type.Array(Type.Object({ port: Type.Integer(), sources: Type.Number() })),
  sharedSourcePort: Type.Union([Type.Integer(), Type.Null()]),
  syns: Type.Number(),
  os: Type.String(),
  tool: Type.String(),
  firstSeen: Iso,
  lastSeen: Iso,
});

export const CampaignsReply = Type.Object({ tracking: Type.Boolean(), campaigns: Type.Array(CampaignRow) });

// --- /api/counters, /api/rates ----------------------------------------------------------------------

export const CountersReply = Type.Object({
  counters: Type.Array(
    Type.Object({
      name: Type.String(),
      pkts: Type.Number(),
      bytes: Type.Number(),
      pktsPerSecond: Type.Number(),
      bytesPerSecond: Type.Number(),
      points: Type.Array(Type.Object({ time: Type.Integer(), pkts: Type.Number(), bytes: Type.Number() })),
    }),
  ),
});

export const RatesReply = Type.Object({
  /** Per closed interval, oldest first: packets per second by verdict (the accepted vs blocked chart). */
  points: Type.Array(VerdictPoint),
});

// --- /healthz (no token: names and rules only, never a path, host or error text; see healthz.ts) ---

const ComponentState = Type.Record(Type.String(), Type.String({ description: "'ok' or the rule that failed" }));

export const HealthzReply = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  problems: Type.Array(
    Type.Object({
      component: Type.Union([Type.Literal('sink'), Type.Literal('source')]),
      name: Type.String(),
      reason: Type.String({ description: 'unreachable, stalled, dropping, waiting, unconnected' }),
      message: Type.String(),
    }),
  ),
  sinks: ComponentState,
  sources: ComponentState,
});
export type HealthzReply = Static<typeof HealthzReply>;

// --- /api/blocks ----------------------------------------------------------------------------------

export const BlocksReply = Type.Object({
  /** false when [response] is off (then the list is empty). */
  enabled: Type.Boolean(),
  dryRun: Type.Boolean(),
  /** What the kernel's block sets hold now (nfwatch's blocks carry an "nfwatch" comment). */
  blocks: Type.Array(Type.Object({ target: Type.String(), expiresSeconds: Type.Number(), comment: Type.String() })),
  /** Blocks nfwatch made that have not expired, and its decisions since start. */
  stats: Type.Object({
    active: Type.Number(),
    blocked: Type.Number(),
    dryRun: Type.Number(),
    allowlisted: Type.Number(),
    full: Type.Number(),
    failed: Type.Number(),
    unblocked: Type.Number(),
  }),
  /** Why the list could not be read ('' when it was). */
  error: Type.String(),
});
export type BlocksReply = Static<typeof BlocksReply>;

export const BlockBody = Type.Object(
  {
    address: Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 address, IPv6 address or network' }),
    seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
    force: Type.Optional(Type.Boolean({ description: 'block even what the allowlist protects' })),
  },
  { additionalProperties: false },
);
export type BlockBody = Static<typeof BlockBody>;

export const UnblockQuery = Type.Object({ address: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export type UnblockQuery = Static<typeof UnblockQuery>;

export const BlockReply = Type.Object({ target: Type.String(), done: Type.Boolean(), message: Type.String() });
export type BlockReply = Static<typeof BlockReply>;
