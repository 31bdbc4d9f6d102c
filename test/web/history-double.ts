// A HistoryReader test double for the investigate specs: fixed answers (three sources, countries,
// cities, a timeline with a fingerprint change, incidents), every question it was asked recorded, and a
// switch that makes every call fail as a broken store would.
import type { HistoryCity, HistoryCountry, HistoryIncident, HistoryReader, HistorySearch, HistorySearchResult, HistorySource, HistoryTimeline } from '../../src/store/types.js';

export const H0 = Date.UTC(2026, 10, 24, 6, 0, 0);
const HOUR = 3_600_000;

export type Question =
  | { method: 'search'; query: HistorySearch }
  | { method: 'countries'; query: HistorySearch }
  | { method: 'cities'; query: HistorySearch }
  | { method: 'timeline'; source: string; from: number; to: number }
  | { method: 'incidents'; from: number; to: number; subject: string | undefined; limit: number | undefined };

function source(overrides: Partial<HistorySource> & Pick<HistorySource, 'source'>): HistorySource {
  return {
    firstSeen: H0,
    lastSeen: H0 + 2 * HOUR,
    packets: { allowed: 0, blocked: 0, unknown: 0, total: 0 },
    syns: 0,
    folded: 0,
    ports: [],
    portsCapped: false,
    hosts: 1,
    windows: [],
    fingerprints: [],
    tools: [],
    os: [],
    country: '',
    city: '',
    asn: null,
    org: '',
    cloud: '',
    lists: [],
    detections: 0,
    maxSeverity: 0,
    hours: 1,
    ...overrides,
  };
}

export const SOURCES: HistorySource[] = [
  source({
    source: '203.0.113.7',
    packets: { allowed: 200, blocked: 1000, unknown: 0, total: 1200 },
    syns: 1100,
    ports: [22, 23, 80, 81, 82, 443],
    hosts: 3,
    windows: [16384, 65535],
    fingerprints: ['ittl=128,win=16384,olen=0,df=0', 'ittl=128,win=65535,olen=0,df=0'],
    tools: ['port6000-scanner'],
    os: ['windows'],
    country: 'US',
    city: 'Ashburn',
    asn: 16509,
    org: 'AMAZON-02',
    cloud: 'aws',
    lists: ['firehol_level1'],
    detections: 2,
    maxSeverity: 4,
    hours: 3,
  }),
  source({
    source: '2001:db8:1:2::/64',
    packets: { allowed: 40, blocked: 60, unknown: 0, total: 100 },
    syns: 90,
    ports: [22],
    windows: [64240],
    fingerprints: ['ittl=64,win=64240,olen=20,df=1'],
    os: ['linux'],
    country: 'DE',
    asn: 3320,
    org: 'Deutsche Telekom AG',
  }),
  source({
    source: '198.51.100.9',
    packets: { allowed: 0, blocked: 7, unknown: 1, total: 8 },
    syns: 7,
    ports: [6000],
    windows: [1024],
    fingerprints: ['ittl=255,win=1024,olen=0,df=0'],
    tools: ['masscan'],
    os: ['crafted'],
    country: 'SG',
    asn: 14061,
    org: 'DIGITALOCEAN-ASN',
    cloud: 'digitalocean',
  }),
  // A network's row: 4,321 sources seen once in a flood hour, folded together.
  source({
    source: '45.0.0.0/8',
    packets: { allowed: 0, blocked: 4321, unknown: 0, total: 4321 },
    syns: 4321,
    folded: 4321,
    ports: [80],
    windows: [1024, 65535],
    country: 'NL',
  }),
];

export const RESULT: HistorySearchResult = { totals: { sources: 1234, packets: 98_765, blocked: 54_321 }, sources: SOURCES, truncated: true };

export const COUNTRIES: HistoryCountry[] = [
  { country: 'US', sources: 40, packets: 5000, blocked: 4000 },
  { country: 'DE', sources: 12, packets: 900, blocked: 300 },
  { country: 'CN', sources: 25, packets: 7000, blocked: 6900 },
  { country: 'SG', sources: 3, packets: 80, blocked: 70 },
  { country: 'private', sources: 2, packets: 10, blocked: 0 },
  { country: '', sources: 1, packets: 5, blocked: 5 },
];

/** Places a City database located sources at; the last one a country's centre (no city name). */
export const CITIES: HistoryCity[] = [
  { country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931, sources: 9, packets: 1200, blocked: 1100 },
  { country: 'NL', city: 'Amsterdam', lat: 52.3759, lon: 4.8975, sources: 4, packets: 300, blocked: 250 },
  { country: 'US', city: '', lat: 37.751, lon: -97.822, sources: 2, packets: 20, blocked: 20 },
];

export const INCIDENTS: HistoryIncident[] = [
  { time: H0 + HOUR + 60_000, kind: 'block', subject: '203.0.113.7', severity: 4, text: 'blocked for 3600 s by the responder', detail: { seconds: 3600 } },
  { time: H0 + 30_000, kind: 'detection', subject: '203.0.113.7', severity: 4, text: 'detected vertical scan (severity 4): SYN port scan of 6 ports (22-23,80-82,443)', detail: { ports: [22, 23] } },
];

export const TIMELINE: HistoryTimeline = {
  source: '203.0.113.7',
  country: 'US',
  city: 'Ashburn',
  asn: 16509,
  org: 'AMAZON-02',
  cloud: 'aws',
  hours: [0, 1, 2].map((i) => ({
    hour: H0 + i * HOUR,
    firstSeen: H0 + i * HOUR,
    lastSeen: H0 + i * HOUR + 1800_000,
    packets: { allowed: 50 + i, blocked: 300 + i * 20, unknown: 0, total: 350 + i * 21 },
    syns: 340,
    folded: 0,
    ports: i === 0 ? [22, 23] : [80, 81, 82, 443],
    portsCapped: false,
    hosts: 1,
    windows: i === 0 ? [16384] : [65535],
    fingerprints: [i === 0 ? 'ittl=128,win=16384,olen=0,df=0' : 'ittl=128,win=65535,olen=0,df=0'],
    tools: ['port6000-scanner'],
    os: ['windows'],
    lists: ['firehol_level1'],
  })),
  incidents: [...INCIDENTS].reverse(),
  fingerprintChanges: [{ time: H0 + HOUR + 5_000, from: ['ittl=128,win=16384,olen=0,df=0'], to: ['ittl=128,win=65535,olen=0,df=0'] }],
};

export class RecordingReader implements HistoryReader {
  readonly questions: Question[] = [];
  /** When set, every call fails with it (a broken or locked store). */
  failure: Error | null = null;
  /** What search() answers (tests may replace it). */
  result: HistorySearchResult = RESULT;

  private answer<T>(question: Question, value: T): Promise<T> {
    this.questions.push(question);
    return this.failure === null ? Promise.resolve(structuredClone(value)) : Promise.reject(this.failure);
  }

  search(query: HistorySearch): Promise<HistorySearchResult> {
    return this.answer({ method: 'search', query }, this.result);
  }

  countries(query: HistorySearch): Promise<HistoryCountry[]> {
    return this.answer({ method: 'countries', query }, COUNTRIES);
  }

  cities(query: HistorySearch): Promise<HistoryCity[]> {
    return this.answer({ method: 'cities', query }, CITIES);
  }

  timeline(source: string, from: number, to: number): Promise<HistoryTimeline> {
    return this.answer({ method: 'timeline', source, from, to }, { ...TIMELINE, source });
  }

  incidents(from: number, to: number, subject?: string, limit?: number): Promise<HistoryIncident[]> {
    return this.answer({ method: 'incidents', from, to, subject, limit }, INCIDENTS);
  }

  /** The questions of one method, oldest first. */
  of<M extends Question['method']>(method: M): Array<Extract<Question, { method: M }>> {
    return this.questions.filter((q): q is Extract<Question, { method: M }> => q.method === method);
  }

  last<M extends Question['method']>(method: M): Extract<Question, { method: M }> | undefined {
    return this.of(method).at(-1);
  }
}
