import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { HistorySearchResult } from '../../src/store/types.js';
import { buildApp } from '../../src/web/app.js';
import { csvField, parseTime, searchCsv } from '../../src/web/investigate.js';
import { deps, hub, packet, T0, webConfig } from './helpers.js';
import { CITIES, COUNTRIES, H0, INCIDENTS, RecordingReader, RESULT, SOURCES, TIMELINE } from './history-double.js';

const DAY = 86_400_000;
const TOKEN = 'investigate-token-0123456789';

let app: FastifyInstance | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await app?.close();
  app = undefined;
});

async function make(options: { reader?: RecordingReader | null; config?: Partial<Config['web']>; tracking?: boolean } = {}) {
  const config = webConfig(options.config);
  const d = deps(config, { tracking: options.tracking });
  const reader = options.reader === undefined ? new RecordingReader() : options.reader;
  app = await buildApp({ ...d, historyReader: reader }, hub(config));
  return { app, reader: reader!, deps: d };
}

/** A minimal RFC 4180 reader: rows of fields, quotes and CRLFs undone. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field), rows.push(row), (row = []), (field = ''), i++;
    } else field += c;
  }
  if (field !== '' || row.length) row.push(field), rows.push(row);
  return rows;
}

describe('GET /api/history/search', () => {
  it('asks the store with every filter parsed: times as epoch ms or ISO 8601, address or CIDR, integers, names, verdict, sort, limit', async () => {
    const { app, reader } = await make();
    const query = new URLSearchParams({
      from: '2026-11-24T06:00:00Z',
      to: String(H0 + DAY),
      address: '203.0.113.0/24',
      window: '16384',
      fingerprint: 'ittl=128,win=16384,olen=0,df=0',
      tool: 'port6000-scanner',
      os: 'windows',
      country: 'us',
      city: 'Ashburn',
      asn: '16509',
      list: 'firehol_level1',
      port: '22',
      verdict: 'blocked',
      sort: 'severity',
      limit: '10000',
    });
    const res = await app.inject(`/api/history/search?${query}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(reader.questions).toEqual([
      {
        method: 'search',
        query: {
          from: H0,
          to: H0 + DAY,
          address: '203.0.113.0/24',
          window: 16384,
          fingerprint: 'ittl=128,win=16384,olen=0,df=0',
          tool: 'port6000-scanner',
          os: 'windows',
          country: 'US',
          city: 'Ashburn',
          asn: 16509,
          list: 'firehol_level1',
          port: 22,
          verdict: 'blocked',
          sort: 'severity',
          limit: 10000,
        },
      },
    ]);
    expect(res.json()).toEqual(RESULT);
    expect(res.headers['content-disposition']).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('takes IPv6 addresses and networks, "private" and "reserved" as countries, ISO times with an offset or none (UTC)', async () => {
    const { app, reader } = await make();
    for (const [q, expected] of [
      ['address=2001:DB8::/32', { address: '2001:db8::/32' }],
      ['address=2001:db8::66', { address: '2001:db8::66' }],
      ['country=private', { country: 'private' }],
      ['country=reserved', { country: 'reserved' }],
      ['from=2026-11-24T07:00:00%2B01:00&to=2026-11-24T08:00', { from: H0, to: H0 + 2 * 3_600_000 }],
      ['from=2026-11-24&to=2026-11-25', { from: Date.UTC(2026, 10, 24), to: Date.UTC(2026, 10, 25) }],
    ] as const) {
      const res = await app.inject(`/api/history/search?${q}`);
      expect(res.statusCode, `${q}: ${res.body}`).toBe(200);
      expect(reader.last('search')!.query, q).toMatchObject(expected);
    }
  });

  it('searches the 24 h before now by default: to = now, from = to − 24 h; 100 rows; empty parameters are absent', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(H0 + 5 * DAY);
    const { app, reader } = await make();
    expect((await app.inject('/api/history/search')).statusCode).toBe(200);
    expect(reader.last('search')!.query).toEqual({ from: H0 + 4 * DAY, to: H0 + 5 * DAY, limit: 100 });
    // Only from: up to now. Only to: the 24 h before it.
    await app.inject(`/api/history/search?from=${H0}`);
    expect(reader.last('search')!.query).toMatchObject({ from: H0, to: H0 + 5 * DAY });
    await app.inject(`/api/history/search?to=${H0}`);
    expect(reader.last('search')!.query).toMatchObject({ from: H0 - DAY, to: H0 });
    // An empty form field is no filter (not window 0).
    await app.inject('/api/history/search?window=&port=&address=&country=&sort=&verdict=');
    expect(reader.last('search')!.query).toEqual({ from: H0 + 4 * DAY, to: H0 + 5 * DAY, limit: 100 });
  });

  it('refuses a bad parameter with 400 bad_request naming it and what it must be, before asking the store', async () => {
    const { app, reader } = await make();
    const cases: Array<[string, RegExp]> = [
      ['from=yesterday', /^from must be epoch milliseconds or an ISO 8601 time/],
      ['to=2026-13-45T99:00Z', /^to must be epoch milliseconds or an ISO 8601 time/],
      ['from=2026-11-25T00:00Z&to=2026-11-24T00:00Z', /^from \(2026-11-25T00:00:00.000Z\) must be before to/],
      [`from=${H0}&to=${H0}`, /^from .* must be before to/],
      ['address=999.1.1.1', /^address must be an IPv4 or IPv6 address or CIDR network/],
      ['address=203.0.113.0/33', /^address must be an IPv4 or IPv6 address or CIDR network/],
      ['address=example.org', /^address must be an IPv4 or IPv6 address or CIDR network/],
      ['window=70000', /^window must be an integer from 0 to 65535$/],
      ['window=16384.5', /^window must be an integer from 0 to 65535$/],
      ['port=-1', /^port must be an integer from 0 to 65535$/],
      ['asn=AS16509', /^asn must be an integer from 0 to 4294967295$/],
      ['asn=4294967296', /^asn must be an integer from 0 to 4294967295$/],
      ['limit=0', /^limit must be an integer from 1 to 10000$/],
      ['limit=10001', /^limit must be an integer from 1 to 10000$/],
      ['limit=1e400', /^querystring\/limit must be a finite number/],
      ['verdict=unknown', /^verdict must be allowed or blocked$/],
      ['sort=evil', /^sort must be packets, last_seen, first_seen or severity$/],
      ['os=amiga', /^os must be one of linux, windows, bsd, network-device, crafted, unknown$/],
      ['country=USA', /^country must be an ISO 3166 alpha-2 code/],
      ['tool=Port%206000', /^tool must be a tool signature id/],
      ['list=../etc', /^list must be a threat list name/],
      ['fingerprint=a%20b', /^fingerprint must be a fingerprint key/],
      ['format=xml', /^format must be json or csv$/],
      ['port=1&port=2', /^port must be an integer from 0 to 65535$/],
    ];
    for (const [q, message] of cases) {
      const res = await app.inject(`/api/history/search?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json(), q).toMatchObject({ statusCode: 400, code: 'bad_request' });
      expect(res.json().message, q).toMatch(message);
    }
    expect(reader.questions).toEqual([]);
  });

  it('says what it was given without repeating markup', async () => {
    const { app } = await make();
    const res = await app.inject(`/api/history/search?from=${encodeURIComponent('<script>x</script>')}`);
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain('<script>');
  });

  it('format=csv: an attachment, text/csv, a header row and one row per source', async () => {
    const { app, reader } = await make();
    const res = await app.inject(`/api/history/search?format=csv&from=${H0}&to=${H0 + DAY}&country=US`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="nfwatch-history-20261124T0600Z-20261125T0600Z.csv"');
    expect(reader.last('search')!.query).toMatchObject({ country: 'US', from: H0, to: H0 + DAY });
    const rows = parseCsv(res.body);
    expect(rows[0]).toEqual([
      'source', 'country', 'city', 'asn', 'org', 'cloud', 'lists', 'packets', 'allowed', 'blocked', 'unknown', 'syns', 'folded_sources', 'ports', 'ports_capped',
      'hosts', 'hosts_capped', 'windows', 'fingerprints', 'tools', 'os', 'detections', 'max_severity', 'hours', 'first_seen', 'last_seen',
    ]);
    expect(rows).toHaveLength(1 + SOURCES.length);
    const first = Object.fromEntries(rows[0]!.map((name, i) => [name, rows[1]![i]]));
    expect(first).toMatchObject({
      source: '203.0.113.7',
      country: 'US',
      city: 'Ashburn',
      asn: '16509',
      org: 'AMAZON-02',
      lists: 'firehol_level1',
      packets: '1200',
      blocked: '1000',
      folded_sources: '0',
      ports: '22-23,80-82,443',
      windows: '16384 65535',
      fingerprints: 'ittl=128,win=16384,olen=0,df=0 ittl=128,win=65535,olen=0,df=0',
      max_severity: '4',
      first_seen: '2026-11-24T06:00:00.000Z',
    });
    expect(rows[2]![0]).toBe('2001:db8:1:2::/64');
    expect(res.body.endsWith('\r\n')).toBe(true);
  });

  it('CSV fields: commas, quotes and line breaks quoted; text a spreadsheet would run as a formula (= + - @, tab, CR) starts with a quote', async () => {
    const reader = new RecordingReader();
    const nasty = {
      ...SOURCES[0]!,
      org: 'Example, "Quoted" Inc.\nsecond line',
      cloud: '=HYPERLINK("http://evil.example","click")',
      lists: ['+cmd'],
      tools: ['-2+3'],
      os: ['@SUM(A1)'],
      asn: null,
    };
    reader.result = { totals: { sources: 1, packets: 1, blocked: 1 }, sources: [nasty], truncated: false } satisfies HistorySearchResult;
    const { app } = await make({ reader });
    const body = (await app.inject('/api/history/search?format=csv')).body;
    const [header, row] = parseCsv(body);
    const got = Object.fromEntries(header!.map((name, i) => [name, row![i]]));
    expect(got).toMatchObject({
      org: 'Example, "Quoted" Inc.\nsecond line',
      cloud: `'=HYPERLINK("http://evil.example","click")`,
      lists: "'+cmd",
      tools: "'-2+3",
      os: "'@SUM(A1)",
      asn: '',
    });
    expect(body).toContain('"Example, ""Quoted"" Inc.\nsecond line"');
    expect(csvField('\tx')).toBe("'\tx");
    expect(csvField('\rx')).toBe(`"'\rx"`);
    expect(csvField('plain')).toBe('plain');
    expect(csvField(-1)).toBe('-1');
    expect(searchCsv({ totals: { sources: 0, packets: 0, blocked: 0 }, sources: [], truncated: false }).split('\r\n')).toHaveLength(2);
  });

  it('format=json: the same answer as an attachment', async () => {
    const { app } = await make();
    const res = await app.inject(`/api/history/search?format=json&from=${H0}&to=${H0 + DAY}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="nfwatch-history-20261124T0600Z-20261125T0600Z.json"');
    expect(res.json()).toEqual(RESULT);
  });

  it('sends only the declared fields of the store\'s answer', async () => {
    const reader = new RecordingReader();
    reader.result = { ...RESULT, secret: 'x', sources: [{ ...SOURCES[0]!, path: '/var/lib/nfwatch/history.db' }] } as unknown as HistorySearchResult;
    const { app } = await make({ reader });
    const body = (await app.inject('/api/history/search')).body;
    expect(body).not.toContain('secret');
    expect(body).not.toContain('/var/lib');
  });
});

describe('GET /api/history/countries', () => {
  it('asks with the same filters (sort and limit mean nothing per country) and answers HistoryCountry[]', async () => {
    const { app, reader } = await make();
    const res = await app.inject(`/api/history/countries?from=${H0}&to=${H0 + DAY}&tool=masscan&verdict=allowed&port=6000&sort=severity&limit=5`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(COUNTRIES);
    expect(reader.questions).toEqual([{ method: 'countries', query: { from: H0, to: H0 + DAY, tool: 'masscan', verdict: 'allowed', port: 6000 } }]);
    expect((await app.inject('/api/history/countries?address=nope')).statusCode).toBe(400);
  });
});

describe('GET /api/history/cities', () => {
  it('asks with the same filters as the countries (city among them) and answers HistoryCity[]', async () => {
    const { app, reader } = await make();
    const res = await app.inject(`/api/history/cities?from=${H0}&to=${H0 + DAY}&country=gb&city=London&window=16384&sort=packets&limit=5`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(CITIES);
    expect(reader.questions).toEqual([{ method: 'cities', query: { from: H0, to: H0 + DAY, country: 'GB', city: 'London', window: 16384 } }]);
  });

  it('takes a city name in any script, with spaces and punctuation, as it is; an empty one is no filter', async () => {
    const { app, reader } = await make();
    for (const city of ['São Paulo', 'Москва', 'Frankfurt am Main', "L'Aquila", 'Winston-Salem', 'x'.repeat(100)]) {
      const res = await app.inject(`/api/history/cities?city=${encodeURIComponent(city)}`);
      expect(res.statusCode, `${city}: ${res.body}`).toBe(200);
      expect(reader.last('cities')!.query.city, city).toBe(city);
    }
    await app.inject('/api/history/cities?city=');
    expect(reader.last('cities')!.query).not.toHaveProperty('city');
  });

  it('refuses a city with control characters or past 100 characters with 400, before asking the store', async () => {
    const { app, reader } = await make();
    for (const city of ['Lon\u0000don', 'Lon\ndon', 'Lon\tdon', '\u001b[31mred', 'Lon\u007fdon', 'Lon\u0085don', 'x'.repeat(101)]) {
      for (const route of ['cities', 'countries', 'search']) {
        const url = `/api/history/${route}?city=${encodeURIComponent(city)}`;
        const res = await app.inject(url);
        expect(res.statusCode, url).toBe(400);
        expect(res.json(), url).toMatchObject({ statusCode: 400, code: 'bad_request', message: 'city must be a city name as the City database gives it (at most 100 characters, no control characters)' });
      }
    }
    expect(reader.questions).toEqual([]);
  });
});

describe('GET /api/history/timeline', () => {
  it('asks for one source (an IPv6 network with "/" as a query parameter) over [from, to)', async () => {
    const { app, reader } = await make();
    const res = await app.inject(`/api/history/timeline?source=${encodeURIComponent('2001:db8:1:2::/64')}&from=${H0}&to=${H0 + DAY}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ ...TIMELINE, source: '2001:db8:1:2::/64' });
    expect(reader.questions).toEqual([{ method: 'timeline', source: '2001:db8:1:2::/64', from: H0, to: H0 + DAY }]);
  });

  it('needs a source that is an address or network; defaults to the last 24 h', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(H0 + DAY);
    const { app, reader } = await make();
    const missing = await app.inject('/api/history/timeline');
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toMatch(/^source is required/);
    const bad = await app.inject('/api/history/timeline?source=host.example');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^source must be an IPv4 or IPv6 address/);
    expect((await app.inject('/api/history/timeline?source=203.0.113.7')).statusCode).toBe(200);
    expect(reader.questions).toEqual([{ method: 'timeline', source: '203.0.113.7', from: H0, to: H0 + DAY }]);
  });
});

describe('GET /api/history/incidents', () => {
  it('passes from, to, subject and limit (default 100)', async () => {
    const { app, reader } = await make();
    const res = await app.inject(`/api/history/incidents?from=${H0}&to=${H0 + DAY}&subject=203.0.113.7&limit=5`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(INCIDENTS);
    await app.inject(`/api/history/incidents?from=${H0}&to=${H0 + DAY}&subject=${encodeURIComponent('ittl=128,win=16384,olen=0,df=0|22')}`);
    expect(reader.questions).toEqual([
      { method: 'incidents', from: H0, to: H0 + DAY, subject: '203.0.113.7', limit: 5 },
      { method: 'incidents', from: H0, to: H0 + DAY, subject: 'ittl=128,win=16384,olen=0,df=0|22', limit: 100 },
    ]);
    for (const q of ['limit=0', 'limit=10001', 'subject=a%20b', 'from=soon']) {
      expect((await app.inject(`/api/history/incidents?${q}`)).statusCode, q).toBe(400);
    }
  });
});

describe('without a history store, and when it fails', () => {
  it('answers 404 history_off on every history route when [history] is off', async () => {
    for (const reader of [null, undefined]) {
      const config = webConfig();
      const d = deps(config);
      app = await buildApp(reader === undefined ? d : { ...d, historyReader: reader }, hub(config));
      for (const url of ['/api/history/search', '/api/history/search?format=csv', '/api/history/countries', '/api/history/cities', '/api/history/timeline?source=192.0.2.1', '/api/history/incidents']) {
        const res = await app.inject(url);
        expect(res.statusCode, url).toBe(404);
        expect(res.json(), url).toMatchObject({ statusCode: 404, code: 'history_off' });
        expect(res.json().message, url).toContain('[history] is disabled');
      }
      await app.close();
      app = undefined;
    }
  });

  it('answers 503 history_unavailable with the store\'s reason when it throws, logs it, and goes on serving', async () => {
    const reader = new RecordingReader();
    reader.failure = new Error('SQLITE_BUSY: database is locked');
    const { app, deps: d } = await make({ reader });
    for (const url of ['/api/history/search', '/api/history/search?format=csv', '/api/history/countries', '/api/history/cities', '/api/history/timeline?source=192.0.2.1', '/api/history/incidents']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(503);
      expect(res.json(), url).toMatchObject({ statusCode: 503, code: 'history_unavailable' });
      expect(res.json().message, url).toMatch(/^the history store could not answer \(\w+\): SQLITE_BUSY: database is locked$/);
    }
    const logged = (d.logger as unknown as { lines: string[] }).lines;
    expect(logged.some((l) => l.includes('database is locked'))).toBe(true);
    reader.failure = null;
    expect((await app.inject('/api/history/search')).statusCode).toBe(200);
    expect((await app.inject('/api/summary')).statusCode).toBe(200);
  });
});

describe('GET /api/countries (the live map)', () => {
  it('sums the tracked sources in the window per country: sources, packets, blocked, scanning', async () => {
    const { app, deps: d } = await make();
    for (let i = 0; i < 30; i++) d.tracker!.observe(packet({ src: '203.0.113.7', dport: 1000 + i, time: T0 + i * 100, country: 'CN' }));
    d.tracker!.observe(packet({ src: '203.0.113.8', dport: 22, time: T0 + 4000, country: 'CN', verdict: 'allowed' }));
    d.tracker!.observe(packet({ src: '198.51.100.9', dport: 22, time: T0 + 5000, country: 'US' }));
    d.tracker!.observe(packet({ src: '192.168.1.5', dport: 22, time: T0 + 5000, country: 'private', verdict: 'allowed' }));
    const res = await app.inject('/api/countries');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ tracking: true, windowSeconds: 300, time: new Date(T0 + 5000).toISOString() });
    expect(body.countries).toEqual([
      { country: 'CN', sources: 2, packets: 31, blocked: 30, scanning: 1 },
      { country: 'US', sources: 1, packets: 1, blocked: 1, scanning: 0 },
      { country: 'private', sources: 1, packets: 1, blocked: 0, scanning: 0 },
    ]);
  });

  it('answers 404 tracking_off when tracking is off', async () => {
    const { app } = await make({ tracking: false });
    const res = await app.inject('/api/countries');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'tracking_off' });
    expect(res.json().message).toContain('[track] enabled = false');
  });
});

describe('GET /api/cities (the live map by city)', () => {
  const LONDON = { lat: 51.5142, lon: -0.0931 };
  const AMSTERDAM = { lat: 52.3759, lon: 4.8975 };

  it('sums the located sources in the window per place: sources, packets, blocked, scanning; unlocated ones are not on it', async () => {
    const { app, deps: d } = await make();
    for (let i = 0; i < 30; i++) d.tracker!.observe(packet({ src: '203.0.113.7', dport: 1000 + i, time: T0 + i * 100, country: 'NL', city: 'Amsterdam', location: AMSTERDAM }));
    d.tracker!.observe(packet({ src: '203.0.113.8', dport: 22, time: T0 + 4000, country: 'NL', city: 'Amsterdam', location: AMSTERDAM, verdict: 'allowed' }));
    d.tracker!.observe(packet({ src: '198.51.100.9', dport: 22, time: T0 + 5000, country: 'GB', city: 'London', location: LONDON }));
    d.tracker!.observe(packet({ src: '198.51.100.10', dport: 22, time: T0 + 5000, country: 'CN' }));
    const res = await app.inject('/api/cities');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      tracking: true,
      windowSeconds: 300,
      time: new Date(T0 + 5000).toISOString(),
      cities: [
        { country: 'NL', city: 'Amsterdam', ...AMSTERDAM, sources: 2, packets: 31, blocked: 30, scanning: 1 },
        { country: 'GB', city: 'London', ...LONDON, sources: 1, packets: 1, blocked: 1, scanning: 0 },
      ],
    });
  });

  it('is empty (not an error) before the first event and without a City database', async () => {
    const { app, deps: d } = await make();
    expect((await app.inject('/api/cities')).json()).toEqual({ tracking: true, windowSeconds: 300, time: null, cities: [] });
    // Past the 5 s one sum serves.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_000);
    d.tracker!.observe(packet({ src: '203.0.113.7', time: T0, country: 'NL' }));
    expect((await app.inject('/api/cities')).json()).toEqual({ tracking: true, windowSeconds: 300, time: new Date(T0).toISOString(), cities: [] });
  });

  it('answers 404 tracking_off when tracking is off', async () => {
    const { app } = await make({ tracking: false });
    const res = await app.inject('/api/cities');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'tracking_off', message: 'tracking is off ([track] enabled = false): there are no live sources to count per city' });
  });
});

describe('the live maps\' sums (/api/countries, /api/cities)', () => {
  it('serve every page for 5 s from one sum, then sum again (and at once when the clock went back)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(H0);
    const { app, deps: d } = await make();
    const sources = async (url: string, key: 'countries' | 'cities'): Promise<number> => {
      const body = (await app.inject(url)).json() as Record<typeof key, Array<{ sources: number }>>;
      return body[key].reduce((n, c) => n + c.sources, 0);
    };
    const seen = async (): Promise<[number, number]> => [await sources('/api/countries', 'countries'), await sources('/api/cities', 'cities')];
    const add = (src: string, time: number): void => void d.tracker!.observe(packet({ src, time, country: 'GB', city: 'London', location: { lat: 51.5142, lon: -0.0931 } }));
    add('203.0.113.1', T0);
    expect(await seen()).toEqual([1, 1]);
    add('203.0.113.2', T0 + 1);
    vi.setSystemTime(H0 + 4_999);
    expect(await seen()).toEqual([1, 1]);
    vi.setSystemTime(H0 + 5_000);
    expect(await seen()).toEqual([2, 2]);
    add('203.0.113.3', T0 + 2);
    vi.setSystemTime(H0 + 4_000);
    expect(await seen()).toEqual([3, 3]);
  });
});

describe('the token on the investigate routes', () => {
  const urls = ['/api/history/search', '/api/history/search?format=csv', '/api/history/countries', '/api/history/cities', '/api/history/timeline?source=192.0.2.1', '/api/history/incidents', '/api/countries', '/api/cities'];

  it('refuses every history route, /api/countries and /api/cities without it (401), and the page too', async () => {
    const { app, reader } = await make({ config: { token: TOKEN } });
    for (const url of [...urls, '/investigate', '/investigate.js', '/map.js', '/page.js', '/vendor/countries-50m.json', '/vendor/country-codes.json']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.json(), url).toMatchObject({ code: 'unauthorized' });
    }
    expect(reader.questions).toEqual([]);
  });

  it('does not take ?token= on /api/history/*, /api/countries or /api/cities (it would end up in logs); takes Authorization: Bearer', async () => {
    const { app } = await make({ config: { token: TOKEN } });
    for (const url of urls) {
      const withQuery = `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}`;
      expect((await app.inject(withQuery)).statusCode, withQuery).toBe(401);
      expect((await app.inject({ url, headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, url).toBe(200);
    }
  });

  it('takes ?token= on /investigate, which sets the cookie the page\'s own calls (and exports) carry', async () => {
    const { app } = await make({ config: { token: TOKEN } });
    const page = await app.inject(`/investigate?token=${encodeURIComponent(TOKEN)}&country=US`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const cookie = String(page.headers['set-cookie']);
    expect(cookie).toMatch(/^nfwatch_token=.*; HttpOnly; SameSite=Strict/);
    const pair = cookie.split(';')[0]!;
    for (const url of [...urls, '/investigate.js', '/map.js', '/page.js', '/vendor/d3-geo.min.js']) {
      expect((await app.inject({ url, headers: { cookie: pair } })).statusCode, url).toBe(200);
    }
    const wrong = await app.inject('/investigate?token=wrong');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('without a token: loopback Host only, as everywhere (DNS rebinding)', async () => {
    const { app } = await make();
    expect((await app.inject({ url: '/api/history/search', headers: { host: '127.0.0.1:8733' } })).statusCode).toBe(200);
    const rebound = await app.inject({ url: '/api/history/search', headers: { host: 'evil.example' } });
    expect(rebound.statusCode).toBe(403);
    expect(rebound.json()).toMatchObject({ code: 'forbidden_host' });
  });
});

describe('the investigate page and the map files', () => {
  it('serves the page, its scripts and the map data from the npm packages, with the strict headers; ETags make reloads 304', async () => {
    const { app } = await make();
    const types: Record<string, RegExp> = {
      '/investigate': /^text\/html/,
      '/investigate.js': /^text\/javascript/,
      '/map.js': /^text\/javascript/,
      '/page.js': /^text\/javascript/,
      '/vendor/d3-array.min.js': /^text\/javascript/,
      '/vendor/d3-geo.min.js': /^text\/javascript/,
      '/vendor/topojson-client.min.js': /^text\/javascript/,
      '/vendor/countries-110m.json': /^application\/json/,
      '/vendor/countries-50m.json': /^application\/json/,
      '/vendor/country-codes.json': /^application\/json/,
    };
    for (const [url, type] of Object.entries(types)) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(type);
      expect(res.headers['content-security-policy'], url).toContain("script-src 'self'");
      const again = await app.inject({ url, headers: { 'if-none-match': String(res.headers.etag) } });
      expect(again.statusCode, url).toBe(304);
      expect(again.body, url).toBe('');
    }
    expect((await app.inject('/vendor/d3-geo.min.js')).body).toMatch(/geoNaturalEarth1/);
    const atlas = (await app.inject('/vendor/countries-110m.json')).json();
    expect(atlas.type).toBe('Topology');
    expect(atlas.objects.countries.geometries.length).toBeGreaterThan(170);
  });

  it('the page has no inline script or style, and loads the map libraries before its module', async () => {
    const { app } = await make();
    for (const url of ['/investigate', '/']) {
      const html = (await app.inject(url)).body;
      expect(html, url).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(html, url).not.toMatch(/\sstyle=|<style/);
      const order = ['/vendor/d3-array.min.js', '/vendor/d3-geo.min.js', '/vendor/topojson-client.min.js', url === '/' ? '/app.js' : '/investigate.js'].map((s) => html.indexOf(s));
      expect(order.every((p) => p > 0), url).toBe(true);
      expect([...order].sort((a, b) => a - b), url).toEqual(order);
    }
  });
});

describe('times', () => {
  it('parseTime: epoch ms, ISO 8601 dates and date-times (UTC without a zone), nothing else', () => {
    expect(parseTime(String(H0))).toBe(H0);
    expect(parseTime('2026-11-24T06:00:00.000Z')).toBe(H0);
    expect(parseTime('2026-11-24T06:00')).toBe(H0);
    expect(parseTime('2026-11-24 06:00:00')).toBe(H0);
    expect(parseTime('2026-11-24T08:00+02:00')).toBe(H0);
    expect(parseTime('2026-11-24T0800+0200')).toBe(null);
    expect(parseTime('2026-11-24')).toBe(Date.UTC(2026, 10, 24));
    for (const bad of ['', 'now', '-1', '1e3', '2026-02-30T00:00Z', '2026-11-24T25:00Z', '99999999999999999']) expect(parseTime(bad), bad).toBe(null);
  });
});
