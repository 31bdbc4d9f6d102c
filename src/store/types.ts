// The history store's questions and answers: what the investigate API asks of the on-disk store
// (store/history.ts) and what it gets back. Plain JSON-able data; times are epoch milliseconds.
// The ground of the store: imports nothing.

/** A search over stored sightings. Every field narrows; absent fields do not. */
export interface HistorySearch {
  /** Time range [from, to), epoch ms; sightings are per hour, so an hour overlapping the range counts. */
  from: number;
  to: number;
  /** One address, or a CIDR network ("203.0.113.0/24", "2001:db8::/32"). */
  address?: string;
  /** SYN window seen from the source (e.g. 16384). */
  window?: number;
  /** SYN fingerprint key as the tracker shows it, e.g. "ittl=128,win=16384,olen=0,df=0". */
  fingerprint?: string;
  /** Tool signature id, e.g. "port6000-scanner". */
  tool?: string;
  /** OS family: linux, windows, bsd, network-device, crafted, unknown. */
  os?: string;
  /** ISO 3166 alpha-2 country code (or "private"/"reserved"). */
  country?: string;
  /** City name exactly as the City database gives it (e.g. "Amsterdam"). */
  city?: string;
  asn?: number;
  /** Threat list name. */
  list?: string;
  /** Destination port probed. */
  port?: number;
  /** Only sources with packets of this verdict. */
  verdict?: 'allowed' | 'blocked';
  /** Sort of the result rows (default packets). */
  sort?: 'packets' | 'last_seen' | 'first_seen' | 'severity';
  /** Rows returned (default 100, at most 10 000); totals count every match. */
  limit?: number;
}

/** One source's stored sightings over the searched range, summed. */
/** What was seen of a source over some time (a search's range, or one hour). */
export interface HistorySightings {
  firstSeen: number;
  lastSeen: number;
  packets: { allowed: number; blocked: number; unknown: number; total: number };
  /** SYNs among them (TCP SYN without ACK). */
  syns: number;
  /**
   * Sources seen once that this network's row stands for (kept in it past
   * history.fold_after_sources in an hour, one packet each); 0 for a source of its own.
   */
  folded: number;
  /** Distinct destination ports, up to a cap (ascending), and whether the cap was hit. */
  ports: number[];
  portsCapped: boolean;
  /** Distinct destination hosts (count, capped as ports are). */
  hosts: number;
  /** The host count hit the cap: there were at least that many. */
  hostsCapped?: boolean;
  windows: number[];
  fingerprints: string[];
  tools: string[];
  os: string[];
}

/** Where a source is and who holds it, as its newest hour in the range says. */
export interface HistorySourceFacts {
  country: string;
  /** '' where no City database named one. */
  city: string;
  asn: number | null;
  org: string;
  cloud: string;
}

export interface HistorySource extends HistorySightings, HistorySourceFacts {
  /** The tracked source: an address, or an IPv6 network ("2001:db8:1:2::/64"). */
  source: string;
  lists: string[];
  /** Detections recorded for this source in the range, and the highest severity among them (0: none). */
  detections: number;
  maxSeverity: number;
  /** Hours with sightings in the range. */
  hours: number;
}

export interface HistorySearchResult {
  /** Every matching source, not only the rows returned. */
  totals: { sources: number; packets: number; blocked: number };
  sources: HistorySource[];
  /** More sources matched than `limit`. */
  truncated: boolean;
}

/** Something that happened to a source, from the detections, alerts and block decisions stored. */
export interface HistoryIncident {
  time: number;
  kind: 'detection' | 'alert' | 'block' | 'unblock';
  /** Source address or network, or a campaign key for campaign detections. */
  subject: string;
  /** 0 when not applicable. */
  severity: number;
  /** One line for people, e.g. "detected vertical scan (severity 4): SYN port scan of 200 ports (1-200)". */
  text: string;
  /** The stored details (a scan's fingerprints, tools, ports, the block's expiry, ...). */
  detail: Record<string, unknown>;
}

/** One hour of one source. */
export interface HistoryHour extends HistorySightings {
  hour: number;
  lists: string[];
}

/** A source's story: its hours and its incidents, oldest first. */
export interface HistoryTimeline extends HistorySourceFacts {
  source: string;
  hours: HistoryHour[];
  incidents: HistoryIncident[];
  /** Where the SYN fingerprint changed between consecutive sightings, e.g. win 16384 → 65535. */
  fingerprintChanges: Array<{ time: number; from: string[]; to: string[] }>;
}

/** Sources and packets per country over a search (for the map). */
export interface HistoryCountry {
  country: string;
  sources: number;
  packets: number;
  blocked: number;
}

/**
 * Sources and packets per located place over a search (for the map by city, where a City database
 * is configured). A source counts at the newest place it was located at in the range.
 */
export interface HistoryCity {
  country: string;
  /** '' where the database has coordinates but no city name (a country's centre). */
  city: string;
  /** Degrees, WGS 84. */
  lat: number;
  lon: number;
  sources: number;
  packets: number;
  blocked: number;
}

/** What the web layer reads from the store (every call is asynchronous: the store may answer off-thread). */
export interface HistoryReader {
  search(query: HistorySearch): Promise<HistorySearchResult>;
  /** Sources per country for the same filters (limit and sort ignored). */
  countries(query: HistorySearch): Promise<HistoryCountry[]>;
  /** Sources per located place for the same filters (limit and sort ignored; at most 1000 places, busiest first). */
  cities(query: HistorySearch): Promise<HistoryCity[]>;
  /** One source (address or IPv6 network as stored) over [from, to). */
  timeline(source: string, from: number, to: number): Promise<HistoryTimeline>;
  /** Incidents over [from, to), newest first, optionally of one subject. */
  incidents(from: number, to: number, subject?: string, limit?: number): Promise<HistoryIncident[]>;
}
