// The configuration schema: the single source of truth for nfwatch's settings, their defaults,
// their validation and their documentation (README's reference and conf/nfwatch.toml are
// generated from / checked against this file).
import type { Static, TSchema } from '@sinclair/typebox';
import { Type } from '../deps.js';

const strict = { additionalProperties: false } as const;

const Port = (description: string, def: number) =>
  Type.Integer({ minimum: 1, maximum: 65535, default: def, description });

const NfacctMode = Type.Union([Type.Literal('deltas'), Type.Literal('totals')], {
  default: 'deltas',
  description:
    'How ulogd\'s NFACCT input reports counters: "deltas" with its default zerocounter=1 (each record ' +
    'is the count since the previous poll), "totals" with zerocounter=0 (running totals; nfwatch takes ' +
    'differences, treats a drop as a counter reset and never emits a negative value).',
});

export const FileSourceSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, default: 'ulogd', description: 'Name of this source; tags its events and names its state file.' }),
    path: Type.String({ minLength: 1, default: '/var/log/ulog/ulogd.json', description: "The file ulogd's JSON plugin writes (Debian's default path). Waited for if it does not exist yet." }),
    from: Type.Union([Type.Literal('end'), Type.Literal('beginning')], {
      default: 'end',
      description: 'Where to start on the very first run, when no read position was saved yet.',
    }),
    poll_ms: Type.Integer({ minimum: 10, maximum: 60000, default: 250, description: 'How often to look for new data, rotation and truncation when the file is idle (ms).' }),
    follow_symlinks: Type.Boolean({
      default: false,
      description:
        'Whether `path` may be a symbolic link. Off: a symlink found at `path` is not opened (an error is logged once, it is counted as symlinks_refused, and nfwatch waits for a regular file), so whoever can write the log directory cannot make nfwatch read another file. Only links at `path` itself are refused; its directories may be links.',
    }),
    nfacct: NfacctMode,
  },
  strict,
);

export const SocketSourceSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, default: 'ulogd-socket', description: 'Name of this source; tags its events.' }),
    unix_path: Type.String({ default: '', description: 'Unix socket to listen on for ulogd\'s JSON plugin in mode="unix" (its `file` option). Empty: no unix socket.' }),
    tcp_host: Type.String({ default: '127.0.0.1', description: 'Address to listen on for ulogd\'s JSON plugin in mode="tcp". Loopback unless you mean otherwise.' }),
    tcp_port: Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'TCP port for mode="tcp"; 0: no TCP listener.' }),
    max_connections: Type.Integer({
      minimum: 1,
      maximum: 1024,
      default: 16,
      description:
        'TCP connections accepted at once. At the limit a new connection takes the place of the oldest one that has not delivered a complete line yet (counted as connections_evicted); when every connection has delivered, it is refused (connections_refused). Connections are never closed for being quiet.',
    }),
    unix_max_connections: Type.Integer({
      minimum: 1,
      maximum: 1024,
      default: 8,
      description:
        'Connections accepted at once on the unix socket, a limit of its own so TCP clients cannot use up ulogd\'s slots (ulogd opens one per JSON stack). At the limit the same rule as for TCP applies.',
    }),
    unix_mode: Type.String({
      pattern: '^0?[0-7]{3}$',
      default: '0660',
      description: 'Permissions of the unix socket (octal). Connecting needs write permission: keep "other" out, or any local user can send lines.',
    }),
    unix_group: Type.String({
      default: '',
      description: 'Group (name or number) the unix socket is given, e.g. ulogd\'s "ulog"; empty: nfwatch\'s own group.',
    }),
    nfacct: NfacctMode,
  },
  strict,
);

const VerdictRule = Type.Object(
  {
    prefix_contains: Type.String({ minLength: 1, description: 'Substring of the log prefix (case-sensitive).' }),
    verdict: Type.Union([Type.Literal('allowed'), Type.Literal('blocked')], { description: 'Verdict for a matching event.' }),
  },
  strict,
);

export const ThreatListSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'Name of the list: lower-case letters, digits, `_` and `-` (it becomes a metric path component), e.g. "firehol_level1".' }),
    path: Type.String({ minLength: 1, description: 'The list file.' }),
    format: Type.Union(
      [Type.Literal('auto'), Type.Literal('plain'), Type.Literal('netset'), Type.Literal('spamhaus'), Type.Literal('spamhaus-json'), Type.Literal('et')],
      { default: 'auto', description: 'File format: plain (an address, network or a-b range per line, # and ; comments), netset (FireHOL), spamhaus (DROP/EDROP text), spamhaus-json (drop_v4.json/drop_v6.json), et (Emerging Threats compromised-ips.txt); auto tells them apart.' },
    ),
  },
  strict,
);

export const ConfigSchema = Type.Object(
  {
    general: Type.Object(
      {
        hostname: Type.String({ default: '', description: "Host name used in the metric prefix; empty: the machine's short host name." }),
        state_dir: Type.String({
          minLength: 1,
          default: '/var/lib/nfwatch',
          description: 'Where read positions (one small JSON file per file source), the series names admitted so far (series.json), the history (history.sqlite, unless history.path says otherwise) and the bundled AS data as parsed at the first start where the copy made by the build (dist/asn-bundled.table) does not match the installed data (asn-bundled.table, about 10 MB: later starts read it in a fraction of the time; made again when the data changes) are kept; it must be writable by the user nfwatch runs as (the systemd unit gives it /var/lib/nfwatch). A relative path is taken from the working directory.',
        }),
        log_level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], { default: 'info', description: 'Least severe log level written to stderr.' }),
        max_line_bytes: Type.Integer({ minimum: 256, maximum: 16 * 1024 * 1024, default: 65536, description: 'Longest accepted line; longer lines are skipped and counted, never buffered whole.' }),
        error_samples_per_minute: Type.Integer({ minimum: 0, maximum: 10000, default: 10, description: 'How many undecodable lines are quoted in the log per minute (all are counted).' }),
        heap_growth_percent: Type.Integer({
          minimum: 0,
          maximum: 1000,
          default: 25,
          description:
            "How far the JavaScript heap may grow past what the last full collection kept before the next one, in percent; 0: Node's own heuristics (which let a flood's heap reach about twice the live data). 25 keeps a 1,000,000-source flood under 300 MiB for about a tenth more CPU.",
        }),
      },
      { ...strict, default: {} },
    ),
    decode: Type.Object(
      {
        verdict_rules: Type.Array(VerdictRule, {
          default: [
            { prefix_contains: 'DROP', verdict: 'blocked' },
            { prefix_contains: 'REJECT', verdict: 'blocked' },
            { prefix_contains: 'ACCEPT', verdict: 'allowed' },
          ],
          description:
            'Used when a line has no `action` (JSON plugin without boolean_label): the first rule whose text the log prefix contains gives the verdict.',
        }),
        use_raw_label: Type.Boolean({ default: true, description: 'Without `action`, a numeric `raw.label` (NFLOG numeric_label) gives the verdict: non-zero allowed, zero blocked. Checked after the prefix rules.' }),
        naive_timestamps: Type.Union([Type.Literal('local'), Type.Literal('utc')], { default: 'local', description: 'How to read a `timestamp` without a UTC offset (ulogd 2.0.8 writes local time): in this process\'s time zone (TZ) or as UTC. Only used where `oob.time.sec` is absent (NFACCT without timestamp=1).' }),
        max_future_seconds: Type.Integer({
          minimum: 1,
          maximum: 86400,
          default: 300,
          description:
            'How far ahead of this host\'s clock an event time is trusted. ulogd stamps packets with the same clock, so a line dated later is broken or forged: it is counted as decode_errors.future_timestamp and never holds back the intervals of other events. Raise it only if ulogd runs on another host with a skewed clock.',
        }),
      },
      { ...strict, default: {} },
    ),
    aggregate: Type.Object(
      {
        interval_seconds: Type.Integer({ minimum: 1, maximum: 3600, default: 60, description: "Length of an aggregation interval, aligned to wall-clock multiples. Must equal the finest retention of carbon's storage schema for nfwatch's prefix: whisper keeps only the last value written per slot, so with Debian's stock schema (60s:1d,...) a 10 s interval would keep one count in six. 60 matches stock carbon; use 10 only with conf/carbon/storage-schemas.conf (10s:1d,...) installed." }),
        grace_seconds: Type.Number({ minimum: 0, maximum: 600, default: 2, description: 'While live, how long after an interval ends its events may still arrive before it is written.' }),
        lateness_seconds: Type.Number({ minimum: 0, maximum: 3600, default: 5, description: 'While catching up, how far event time may step backwards before an interval is closed.' }),
        top_ports: Type.Integer({ minimum: 0, maximum: 1000, default: 20, description: 'Destination ports written per verdict and interval; the rest are summed into `other` so a port scan cannot create 65 535 series.' }),
        top_values: Type.Integer({ minimum: 0, maximum: 1000, default: 20, description: 'SYN window sizes, SYN fingerprints and source countries written per interval; the rest are summed into `other`.' }),
        max_prefixes: Type.Integer({ minimum: 1, maximum: 10000, default: 200, description: 'Distinct log prefixes counted per interval; more are summed into `other`.' }),
        max_counter_names: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Distinct NFACCT counter names written over the daemon\'s life (nfacct objects are few). Names first seen after that are summed into `_other`, so a stream of garbage names cannot create series without end; totals stay exact.' }),
        max_series: Type.Integer({ minimum: 1, maximum: 100_000, default: 100, description: 'Series budget over the daemon\'s life, per family (destination ports of each verdict, log prefixes, SYN windows, SYN fingerprints, countries, tools; NFACCT names use max_counter_names): the first names admitted, busiest first in each interval, keep their own series; later new names are summed into the family\'s `other`. An hour-long 65 535-port scan creates at most this many dport series; totals stay exact. The admitted names are kept in state_dir/series.json, so a restart does not spend a new budget.' }),
        max_open_intervals: Type.Integer({ minimum: 2, maximum: 100000, default: 720, description: 'Intervals held open at once; events far in the future are counted into the newest one.' }),
      },
      { ...strict, default: {} },
    ),
    sources: Type.Object(
      {
        file: Type.Array(FileSourceSchema, { default: [{}], description: "Files written by ulogd's JSON plugin in mode=\"file\" (any number). The default, Debian's path, applies only when no [[sources.socket]] is configured either." }),
        socket: Type.Array(SocketSourceSchema, { default: [], description: "Listeners for ulogd's JSON plugin in mode=\"unix\"/\"tcp\" (any number)." }),
      },
      { ...strict, default: {} },
    ),
    fingerprint: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Fingerprint TCP SYNs and classify them into OS families and scanning tools.' }),
        signatures: Type.String({ default: '', description: 'Signature file (TOML, see conf/signatures.toml for the format); empty: the bundled conf/signatures.toml.' }),
      },
      { ...strict, default: {} },
    ),
    geoip: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Look up the country (and city/ASN where a database gives them) of source addresses.' }),
        country_db: Type.String({ default: '', description: 'MaxMind DB (.mmdb) with countries; empty: the bundled DB-IP Lite country database (CC BY 4.0).' }),
        city_db: Type.String({ default: '', description: 'Optional GeoLite2/GeoIP2 City (or compatible) .mmdb; its country is used too.' }),
        asn_db: Type.String({ default: '', description: 'Optional GeoLite2/GeoIP2 ASN (or compatible) .mmdb.' }),
        cache_size: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 65536, description: 'Answers kept in memory: IPv6 addresses (LRU), and IPv4 answers by database record (one database) or by network (several). 0: none, every packet is looked up.' }),
      },
      { ...strict, default: {} },
    ),
    owner: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Name who holds each source address: its autonomous system and organisation (e.g. AS16509 AMAZON-02), and the cloud range it is in where range files are given.' }),
        asn_csv: Type.String({ default: '', description: 'ASN ranges as CSV `start,end,asn,organisation` (ip-location-db\'s asn-ipv4-num.csv / asn-ipv6.csv layout); empty: the bundled RouteViews + DB-IP ASN data (CC BY 4.0). Watched and reloaded on change and SIGHUP.' }),
        cloud: Type.Array(Type.String({ minLength: 1 }), { default: [], maxItems: 64, description: "Cloud providers' published range files, in their own formats: AWS ip-ranges.json, Google Cloud cloud.json, Azure Service Tags JSON. A source in one is shown as provider/region/service, e.g. aws/us-east-1/EC2. Watched and reloaded on change and SIGHUP." }),
      },
      { ...strict, default: {} },
    ),
    lists: Type.Array(ThreatListSchema, {
      default: [],
      maxItems: 256,
      description: 'Threat lists: local files of addresses and networks, each named. A source on a list is flagged in the stream, /api/sources, the page, the history and the metric events.listed.<name>. Files are watched and reloaded on change and SIGHUP; refresh them with a timer (see README).',
    }),
    track: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Track sources: per-source behaviour, scan detection, campaigns, the scan and campaign gauges and the page\'s sources, scans and campaigns. Off: counts, fingerprints and GeoIP still work, at less CPU and memory per packet (the tracker is most of both during a flood of spoofed sources).' }),
        max_sources: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 100_000, description: 'Source addresses tracked at once; the least recently seen are evicted (and counted) beyond it, so a scan from a /16 cannot exhaust memory.' }),
        window_seconds: Type.Integer({ minimum: 10, maximum: 86400, default: 300, description: 'Sliding window over which a source\'s behaviour is judged.' }),
        max_ports_per_source: Type.Integer({ minimum: 16, maximum: 65536, default: 1024, description: 'Distinct destination ports remembered per source within the window; beyond it the count is reported as "at least".' }),
        max_hosts_per_source: Type.Integer({ minimum: 16, maximum: 65536, default: 1024, description: 'Distinct destination addresses remembered per source within the window; beyond it the count is reported as "at least".' }),
        ipv6_prefix_length: Type.Integer({ minimum: 16, maximum: 128, default: 64, description: 'IPv6 sources are tracked per network of this prefix length: one host holds a whole /64 and can rotate through it, so each address alone would be a new source every packet (psad tracks IPv6 addresses one by one). 128: per address. The source is then shown as its network, e.g. 2001:db8:1:2::/64; events keep the address.' }),
        reuse_min_targets: Type.Integer({ minimum: 2, maximum: 100000, default: 10, description: 'A source "reuses one source port" (raw-socket tools: hping3 -k, nmap, the port-6000 scanner) or "one TCP sequence number" (stateless scanners, Mirai) when at least this many probes to changing targets share it.' }),
        scan_count_allowed: Type.Boolean({ default: false, description: 'Whether every accepted packet counts towards vertical/horizontal scans and campaigns. Off: only crafted ones do (a recognised tool, a reused source port or sequence number), so a client browsing many web servers through its own TCP stack is no sweep, and the clients of a web server sharing one OS\'s fingerprint are no campaign, while a raw-socket sweep of an open port is; dropped packets always count.' }),
        vertical_suspect_ports: Type.Integer({ minimum: 2, maximum: 65536, default: 5, description: 'Distinct destination ports probed by one source within the window for a suspected vertical scan (psad: DANGER_LEVEL1 = 5 packets).' }),
        vertical_ports: Type.Integer({ minimum: 2, maximum: 65536, default: 20, description: 'Distinct destination ports probed by one source within the window for a detected vertical scan (crowdsec iptables-scan-multi_ports overflows on the 16th distinct port at one per 5 s leak).' }),
        horizontal_suspect_hosts: Type.Integer({ minimum: 2, maximum: 65536, default: 10, description: 'Distinct destination hosts probed by one source within the window for a suspected horizontal sweep (psad: DL1_UNIQUE_HOSTS = 10).' }),
        horizontal_hosts: Type.Integer({ minimum: 2, maximum: 65536, default: 20, description: 'Distinct destination hosts probed by one source within the window for a detected horizontal sweep (psad: DL2_UNIQUE_HOSTS = 20).' }),
        ssh_ports: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), { default: [22], maxItems: 16, description: 'Destination ports whose accepted SYNs feed the SSH brute-force bucket.' }),
        ssh_capacity: Type.Integer({ minimum: 2, maximum: 100000, default: 20, description: 'SSH brute force: leaky-bucket capacity in accepted SYNs per source (crowdsec style); more than half of it is "suspected", overflowing it "detected".' }),
        ssh_leak_seconds: Type.Number({ minimum: 0.1, maximum: 86400, default: 10, description: 'SSH brute force: one SYN leaks out of a source\'s bucket every this many seconds, so a slow, sustained rate overflows it too.' }),
        severity_packets: Type.Array(Type.Integer({ minimum: 1 }), { default: [5, 15, 150, 1500, 10000], minItems: 5, maxItems: 5, description: 'Scan severity 1–5 from the probes counted in the window: the level of the highest threshold reached (psad DANGER_LEVEL1–5).' }),
        severity_hosts: Type.Array(Type.Integer({ minimum: 1 }), { default: [10, 20, 50, 100, 500], minItems: 5, maxItems: 5, description: 'Scan severity 1–5 from the distinct hosts probed in the window (psad DL1–DL5_UNIQUE_HOSTS). Crafted packets (a recognised tool, a reused source port or sequence number) add one level.' }),
        max_fingerprints: Type.Integer({ minimum: 10, maximum: 100000, default: 2000, description: 'Distinct SYN fingerprint keys in the histogram over the window; more are counted as "other".' }),
        campaign_window_seconds: Type.Integer({ minimum: 10, maximum: 7 * 86400, default: 3600, description: 'Sources that share a SYN fingerprint and a target port set within this window form a campaign; a campaign silent for longer ends.' }),
        campaign_min_sources: Type.Integer({ minimum: 2, maximum: 100000, default: 5, description: 'Sources a group needs to be reported as a campaign.' }),
        campaign_max_ports: Type.Integer({ minimum: 1, maximum: 1024, default: 32, description: 'Target ports that make up a campaign key; a source probing more ports joins the "many ports" campaign of its fingerprint.' }),
        max_campaigns: Type.Integer({ minimum: 10, maximum: 1_000_000, default: 1000, description: 'Campaigns (and candidate groups) held at once; the least recently active are dropped beyond it.' }),
        campaign_max_listed: Type.Integer({ minimum: 1, maximum: 100000, default: 200, description: 'Source addresses listed per campaign; the total count goes on beyond it.' }),
      },
      { ...strict, default: {} },
    ),
    history: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Keep a searchable history on disk (SQLite): per source and hour its packets by verdict, ports, hosts, SYN windows, fingerprints, tools, OS, country (and city, with a City database), ASN and threat lists, and every detection, alert and block. The investigate page and /api/history/* ask it. Written in batches by a thread of its own, off the packet path.' }),
        path: Type.String({ default: '', description: 'The SQLite file; empty: history.sqlite in general.state_dir.' }),
        retention_days: Type.Number({ minimum: 0.01, maximum: 3650, default: 30, description: 'Sightings and incidents older than this are deleted (checked every 10 minutes and at start).' }),
        max_megabytes: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1024, description: 'The file is kept under this size by deleting the oldest hours first (a flood of new sources adds about fold_after_sources rows an hour: see there).' }),
        flush_seconds: Type.Number({
          minimum: 0.1,
          maximum: 3600,
          default: 60,
          description:
            'How often the sightings gathered in memory are handed to the writer. Each hand-over writes a row again for every source-hour with packets since the one before, so with many sources active the writer\'s work falls as this rises (100,000 sources active: 0.80-0.91 times the CPU at 60 that 5 took, a botnet of scanners 0.60-0.72; what is held waits within max_pending_sources). A question (the investigate page, /api/history/*) hands them over first, at most once a second, and detections, alerts and blocks go at least every 5 s, so answers are current; a crash (not a stop, which writes everything) loses at most this long of sightings.',
        }),
        max_pending_sources: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 100_000, description: 'Source-hours gathered in memory at most (~1 KiB each); reaching it hands them to the writer early. A source-hour already gathered counts its packets in memory, so with many sources active at once each is written once a flush rather than once for every time this many others came between its packets (100,000 active sources: about a fifth less CPU than with 25,000, ~55 MiB more). A flood of one-packet sources stays far below it (fold_after_sources).' }),
        max_queued_batches: Type.Integer({ minimum: 1, maximum: 1000, default: 2, description: 'Batches handed to the writer and not yet written at most. When the disk cannot keep up, the sightings wait in memory until a batch is written, within max_pending_sources: past it (and for a source new since the last batch) a source goes into its network row, as a flood does, so every packet is still counted. With fold_after_sources = 0 such packets are dropped and counted (nfwatch_history_dropped_packets_total).' }),
        max_ports_per_row: Type.Integer({ minimum: 1, maximum: 65536, default: 64, description: 'Distinct destination ports kept per source and hour (beyond it the row says "at least").' }),
        max_hosts_per_row: Type.Integer({ minimum: 1, maximum: 100_000, default: 64, description: 'Distinct destination hosts kept per source and hour.' }),
        fold_after_sources: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 10_000, description: 'Distinct sources in one hour past which a source seen only once that hour is kept in its network\'s row (IPv4 /8; IPv6 /32, or /12 once a batch has 256 IPv6 /32 rows; the row counts the sources it stands for) instead of a row of its own. A flood of spoofed or one-packet sources, IPv4 or IPv6, then costs at most a few thousand rows an hour instead of one a packet; a source that sends again gets its own row from its second packet, so scanners, sweeps of several hosts and brute forces keep theirs. Every packet is still counted once. Past 10,000 one-packet sources in an hour it is a flood or a randomised sweep, and the rows of its first sources are most of what it costs the history (see Performance in the README). 0: never fold.' }),
      },
      { ...strict, default: {} },
    ),
    web: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Serve the live scan-watch page, its JSON API, /metrics and the WebSocket event stream.' }),
        host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address to listen on. Anything but loopback exposes firewall logs: then `token` is required (nfwatch refuses to start without it) and TLS is strongly advised.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8733, description: 'TCP port (0: any free port, for tests). The default, 8733, stays clear of the ports of tools often found beside it (crowdsec 8080/6060, Prometheus 9090, node_exporter 9100, Grafana 3000, InfluxDB 8086, VictoriaMetrics 8428, carbon 2003/2004).' }),
        token: Type.String({ default: '', description: 'Access token for the page, the API and the stream (sent as `Authorization: Bearer <token>` or `?token=`). Required when host is not loopback.' }),
        token_file: Type.String({ default: '', description: 'Read the token from this file instead (keeps it out of the config file).' }),
        tls_cert: Type.String({ default: '', description: 'PEM certificate file: serve HTTPS/WSS. Needs tls_key.' }),
        tls_key: Type.String({ default: '', description: 'PEM private key file for tls_cert.' }),
        allowed_origins: Type.Array(Type.String(), { default: [], description: 'Origins (scheme://host:port) besides the server\'s own allowed to open the WebSocket stream.' }),
        max_clients: Type.Integer({ minimum: 1, maximum: 10000, default: 32, description: 'WebSocket clients at once; more are refused.' }),
        max_message_bytes: Type.Integer({ minimum: 64, maximum: 1_048_576, default: 4096, description: 'Largest message a client may send (subscription filters).' }),
        client_events_per_second: Type.Integer({ minimum: 1, maximum: 100_000, default: 200, description: 'Events per second sent to one client; above it the client gets a sample plus per-second aggregate frames, and is told so.' }),
        slow_client_bytes: Type.Integer({ minimum: 16_384, maximum: 1_073_741_824, default: 4_194_304, description: 'A client whose unsent data exceeds this gets summaries only; at twice this it is disconnected (close code 4008).' }),
        heartbeat_seconds: Type.Integer({ minimum: 1, maximum: 3600, default: 15, description: 'Ping interval; a client that misses a pong is disconnected.' }),
      },
      { ...strict, default: {} },
    ),
    alerts: Type.Object(
      {
        min_severity: Type.Integer({ minimum: 1, maximum: 5, default: 3, description: 'Alert when a source\'s scan is detected at this severity (1-5, psad-style) or above, and again when it rises.' }),
        campaigns: Type.Boolean({ default: true, description: 'Also alert when a campaign forms: track.campaign_min_sources sources sharing a SYN fingerprint and target ports.' }),
        dedupe_seconds: Type.Integer({ minimum: 0, maximum: 604_800, default: 3600, description: 'A source (or campaign) alerted is not alerted again within this time unless its severity rises; counted as deduplicated.' }),
        max_per_minute: Type.Integer({ minimum: 1, maximum: 10_000, default: 20, description: 'Alerts sent per minute at most (a token bucket, bursts of this many); beyond it they are counted as rate-limited and summed up in one log line a minute, so a scan from a /16 is no alert storm.' }),
        max_age_seconds: Type.Integer({ minimum: 0, maximum: 31_536_000, default: 600, description: 'A detection whose event time is older than this (reading an old file from its beginning, a replay) is counted as stale and not alerted; 0: no limit.' }),
        only_listed: Type.Boolean({ default: false, description: 'Alert on scans only from sources on a threat list ([[lists]]); others are counted as not_listed. Campaign alerts are not affected.' }),
        webhook: Type.Object(
          {
            url: Type.String({ default: '', description: 'POST each alert as JSON to this URL (empty: off). Beyond loopback it must be https:// (alerts name attackers and your hosts).' }),
            token: Type.String({ default: '', description: 'Sent as `Authorization: Bearer <token>`; prefer token_file.' }),
            token_file: Type.String({ default: '', description: 'Read the token from this file (trailing whitespace removed); takes precedence over `token`.' }),
            timeout_ms: Type.Integer({ minimum: 100, maximum: 120_000, default: 5000, description: 'Timeout of one POST.' }),
            retries: Type.Integer({ minimum: 0, maximum: 20, default: 3, description: 'Retries after a failed POST (connection error, timeout, 429, 5xx), waiting retry_min_ms, then twice as long each time. A 4xx other than 429 is not retried.' }),
            retry_min_ms: Type.Integer({ minimum: 10, maximum: 600_000, default: 1000, description: 'First retry delay.' }),
          },
          { ...strict, default: {} },
        ),
        syslog: Type.Object(
          {
            enabled: Type.Boolean({ default: false, description: 'Send each alert to syslog through util-linux `logger` (the journal or rsyslog; Node has no unix datagram sockets for /dev/log).' }),
            facility: Type.Union(['auth', 'authpriv', 'daemon', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7', 'user'].map((f) => Type.Literal(f)), { default: 'authpriv', description: 'Syslog facility (psad and fail2ban use auth/authpriv). The priority follows the severity: 5 crit, 4 err, 3 warning, 1-2 notice.' }),
            tag: Type.String({ minLength: 1, maxLength: 48, pattern: '^[A-Za-z0-9._-]+$', default: 'nfwatch', description: 'Syslog tag (program name).' }),
            server: Type.String({ default: '', description: 'Send to this remote syslog server instead ("host" or "host:port", UDP 514 by default); empty: the local syslog.' }),
          },
          { ...strict, default: {} },
        ),
        command: Type.Object(
          {
            path: Type.String({ default: '', description: 'Run this program for each alert (empty: off), without a shell, with the facts in its environment: NFWATCH_ALERT_KIND, _SOURCE, _SEVERITY, _TYPES, _LABEL, _TOOLS, _OS, _COUNTRY, _ASN, _PORTS, _HOSTS, _SINCE, _TITLE, _TEXT and _JSON (everything as JSON).' }),
            args: Type.Array(Type.String(), { default: [], description: 'Its arguments (fixed; the facts are in the environment, never in the arguments).' }),
            timeout_ms: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000, description: 'Killed (SIGKILL) after this long; counted as failed.' }),
          },
          { ...strict, default: {} },
        ),
      },
      { ...strict, default: {} },
    ),
    response: Type.Object(
      {
        enabled: Type.Boolean({ default: false, description: 'Block sources whose scan is detected at min_severity or above by adding them, with a timeout, to an nftables named set that your ruleset drops (see nftables-examples/firewall.nft). Off by default: nfwatch changes no firewall unless told to.' }),
        dry_run: Type.Boolean({ default: false, description: 'Decide, log and count every block as if enabled (whether `enabled` is set or not), but change nothing.' }),
        min_severity: Type.Integer({ minimum: 1, maximum: 5, default: 4, description: 'Block at this psad-style severity (1-5) or above.' }),
        only_listed: Type.Boolean({ default: false, description: 'Block only sources on a threat list ([[lists]]): a scan must be detected at min_severity and its source listed. Others are counted as not_listed.' }),
        block_seconds: Type.Integer({ minimum: 1, maximum: 31_536_000, default: 3600, description: 'How long a block lasts (the set element\'s timeout); the kernel removes it then.' }),
        family: Type.Union([Type.Literal('inet'), Type.Literal('ip'), Type.Literal('ip6')], { default: 'inet', description: 'Family of the table holding the sets.' }),
        table: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', default: 'nfwatch_filter', description: 'Table holding the sets (nftables-examples/firewall.nft\'s).' }),
        set_v4: Type.String({ maxLength: 64, pattern: '^([A-Za-z0-9_.-]+)?$', default: 'nfwatch_block4', description: 'Set of IPv4 addresses (`type ipv4_addr; flags timeout`); empty: IPv4 sources are not blocked.' }),
        set_v6: Type.String({ maxLength: 64, pattern: '^([A-Za-z0-9_.-]+)?$', default: 'nfwatch_block6', description: 'Set of IPv6 networks (`type ipv6_addr; flags interval, timeout`: an IPv6 source is its /64, see track.ipv6_prefix_length); empty: IPv6 sources are not blocked.' }),
        max_entries: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'Blocks nfwatch keeps at once; beyond it new ones are refused and counted (a spoofed flood must not fill the kernel set). Give the sets a `size` at least this.' }),
        allow: Type.Array(Type.String(), { default: [], description: 'Addresses and CIDRs never blocked (your admin hosts, monitoring, partners). Loopback and this host\'s own addresses are never blocked either.' }),
        block_private: Type.Boolean({ default: false, description: 'Whether private and special ranges (RFC 1918, CGNAT, ULA, link-local, documentation, benchmarking) may be blocked. Off: a LAN host is never cut off by an automatic block.' }),
        nft_command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['nft'], description: 'The nft program and any arguments before its own (e.g. ["ip", "netns", "exec", "fw", "nft"]). nfwatch runs it with -j and a JSON batch as its argument: the stable JSON interface of libnftables, no text to parse or inject into, one atomic batch per change.' }),
      },
      { ...strict, default: {} },
    ),
    outputs: Type.Object(
      {
        graphite: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: 'Write metrics to carbon (plaintext protocol).' }),
            host: Type.String({ minLength: 1, default: '127.0.0.1', description: "carbon-cache or carbon-relay host." }),
            port: Port('Its plaintext line receiver port.', 2003),
            prefix: Type.String({ minLength: 1, default: 'netfilter.{hostname}', description: 'First components of every path; `{hostname}` is replaced by general.hostname.' }),
            tagged: Type.Boolean({ default: false, description: 'Write Graphite 1.1 tagged series (`name;tag=value`) instead of the dotted tree.' }),
            nfacct_layout: Type.Union([Type.Literal('nfwatch'), Type.Literal('ulogd')], {
              default: 'nfwatch',
              description: '"nfwatch": <prefix>.nfacct.<name>.pkts|bytes. "ulogd": <prefix>.<name>.pkts|bytes, the layout of ulogd\'s own GRAPHITE output, so existing dashboards keep working.',
            }),
            backlog_max_lines: Type.Integer({ minimum: 1000, maximum: 100_000_000, default: 1_000_000, description: 'Metric lines held while carbon is unreachable; beyond it the oldest are dropped and counted.' }),
            resend_intervals: Type.Integer({ minimum: 0, maximum: 1000, default: 12, description: 'After a reconnect, intervals written just before the break are written again (carbon keeps the last write for a timestamp, so this is harmless and covers lines lost in a dying connection).' }),
            reconnect_min_ms: Type.Integer({ minimum: 10, maximum: 600000, default: 250, description: 'First reconnect delay; doubles up to reconnect_max_ms.' }),
            reconnect_max_ms: Type.Integer({ minimum: 10, maximum: 600000, default: 10000, description: 'Longest reconnect delay.' }),
            max_creates_per_minute: Type.Integer({ minimum: 0, maximum: 100_000, default: 40, description: 'New series nfwatch asks carbon to create per minute (a token bucket like carbon\'s own, bursts of 3/4 of it). Keep it below carbon\'s MAX_CREATES_PER_MINUTE (Debian: 50), which drops the points of series it has no budget to create, with room for carbon\'s own ~20 series. Core series (events.<verdict>.count, proto, input, syn.count, every `other`) go first, then NFACCT counters, then the busiest values, then health gauges; a new series that does not fit yet is summed into its family\'s `other` (a gauge: written by a later snapshot) and created in a later minute. Counted in nfwatch.series.admitted / folded. 0: no limit (carbon with MAX_CREATES_PER_MINUTE = inf).' }),
          },
          { ...strict, default: {} },
        ),
        influx: Type.Object(
          {
            enabled: Type.Boolean({ default: false, description: 'Write metrics to an InfluxDB v2 write endpoint (InfluxDB 2.x, InfluxDB 3.x\'s v2-compatible API, VictoriaMetrics\' /api/v2/write).' }),
            url: Type.String({ minLength: 1, default: 'http://127.0.0.1:8086', description: 'Base URL of the server; nfwatch appends /api/v2/write. VictoriaMetrics: http://host:8428.' }),
            token: Type.String({ default: '', description: 'API token (sent as `Authorization: Token <token>`). Prefer token_file or token_env, which keep it out of this file. Empty with both others empty: no Authorization header (VictoriaMetrics).' }),
            token_file: Type.String({ default: '', description: 'Read the token from this file (trailing whitespace removed); takes precedence over `token`.' }),
            token_env: Type.String({ default: '', description: 'Name of an environment variable holding the token (e.g. "INFLUX_TOKEN"); takes precedence over token_file and token.' }),
            org: Type.String({ default: 'nfwatch', description: 'Organisation (InfluxDB 2.x; ignored by InfluxDB 3.x and VictoriaMetrics).' }),
            bucket: Type.String({ minLength: 1, default: 'nfwatch', description: 'Bucket (InfluxDB 2.x), database (InfluxDB 3.x); ignored by VictoriaMetrics.' }),
            precision: Type.Union([Type.Literal('s'), Type.Literal('ms'), Type.Literal('us'), Type.Literal('ns')], { default: 's', description: 'Timestamp precision of interval and health points. Intervals start on whole seconds, so "s" loses nothing and stores smallest. Sampled event points are always written in ns.' }),
            measurement_prefix: Type.String({ minLength: 1, default: 'nfwatch', description: 'Measurements are named <prefix>_events, <prefix>_events_by_port, … (see "InfluxDB and VictoriaMetrics").' }),
            events: Type.Boolean({ default: false, description: 'Also write one point per packet (<prefix>_event; addresses are fields, never tags). Off by default: it is one point per logged packet.' }),
            events_sample: Type.Number({ minimum: 0.000001, maximum: 1, default: 1.0, description: 'With events = true, the fraction of packets written: 1.0 every packet, 0.01 every 100th (deterministic: every round(1/x)-th packet).' }),
            backlog_max_points: Type.Integer({ minimum: 1000, maximum: 100_000_000, default: 1_000_000, description: 'Points held while the server is unreachable or refusing writes (429/503); beyond it the oldest whole batches are dropped and counted (health: sinks.influx.dropped). Sampled event points are dropped first.' }),
            timeout_ms: Type.Integer({ minimum: 100, maximum: 600000, default: 10000, description: 'HTTP timeout of one write request; a timeout is retried like a connection error.' }),
            retry_min_ms: Type.Integer({ minimum: 10, maximum: 600000, default: 1000, description: 'First retry delay after a failed write (connection refused, timeout, 429, 5xx); doubles per failure up to retry_max_ms. A Retry-After header from the server takes precedence (capped at retry_max_ms). nfwatch retries the oldest batch for ever, in order, instead of using the client library\'s retry buffer (its maxRetries/maxRetryTime would drop data after a few minutes of outage and its buffer re-orders batches); the client is used with maxRetries = 0.' }),
            retry_max_ms: Type.Integer({ minimum: 10, maximum: 600000, default: 30000, description: 'Longest retry delay.' }),
            retry_jitter_ms: Type.Integer({ minimum: 0, maximum: 60000, default: 200, description: 'Random extra delay (0..this) added to each retry, so several nfwatch hosts do not retry in lock step.' }),
            max_batch_points: Type.Integer({ minimum: 100, maximum: 1_000_000, default: 5000, description: 'Most points per HTTP request. Consecutive small batches (intervals, health) are sent together up to this; one interval is never split.' }),
            resend_intervals: Type.Integer({ minimum: 0, maximum: 1000, default: 0, description: 'After the server was unreachable and accepts writes again, re-send this many of the last acknowledged intervals (covers a server that acknowledged and then crashed before persisting, e.g. VictoriaMetrics killed hard). Only idempotent where a rewrite replaces (InfluxDB; VictoriaMetrics with -dedup.minScrapeInterval): keep 0 otherwise.' }),
          },
          { ...strict, default: {} },
        ),
      },
      { ...strict, default: {} },
    ),
  },
  strict,
);

export type Config = Static<typeof ConfigSchema>;
export type FileSourceConfig = Static<typeof FileSourceSchema>;
export type SocketSourceConfig = Static<typeof SocketSourceSchema>;
export type GraphiteConfig = Config['outputs']['graphite'];
export type InfluxConfig = Config['outputs']['influx'];
export type AlertsConfig = Config['alerts'];
export type ResponseConfig = Config['response'];

export type { TSchema };
