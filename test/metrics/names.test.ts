import { describe, expect, it } from 'vitest';
import { CreateLimiter, OTHER_VALUE, OTHER_WINDOW, planWrites } from '../../src/aggregate/budget.js';
import { emptyAggregate } from '../../src/aggregate/empty.js';
import {
  MetricNamer,
  planHealth,
  planInterval,
  protocolName,
  renderHealth,
  renderInterval,
  sanitizeComponent,
  sanitizeDotted,
  sanitizeTagValue,
} from '../../src/metrics/names.js';
import { noDecodeErrors, type HealthSnapshot } from '../../src/pipeline/types.js';

const dotted = (over: Partial<{ prefix: string; tagged: boolean; nfacct_layout: 'nfwatch' | 'ulogd' }> = {}, host = 'fw1') =>
  new MetricNamer({ prefix: 'netfilter.{hostname}', tagged: false, nfacct_layout: 'nfwatch', ...over }, host);
const tagged = (host = 'fw1') => new MetricNamer({ prefix: 'nfwatch.{hostname}', tagged: true, nfacct_layout: 'nfwatch' }, host);

describe('sanitizeComponent: one path component, safe for the plaintext protocol', () => {
  it('cannot inject a line, a value or a tag', () => {
    expect(sanitizeComponent('a\nb 1 2')).toBe('a_b_1_2');
    expect(sanitizeComponent('x\r\ny')).toBe('x_y');
    expect(sanitizeComponent('a;host=evil')).toBe('a_host_evil');
    expect(sanitizeComponent('~tag')).toBe('tag');
  });
  it('turns dots, slashes, spaces and non-ASCII into single underscores', () => {
    expect(sanitizeComponent('DROP.IN')).toBe('DROP_IN');
    expect(sanitizeComponent('in/out')).toBe('in_out');
    expect(sanitizeComponent('IN DROP: ')).toBe('IN_DROP');
    expect(sanitizeComponent('blocé—ü')).toBe('bloc');
    expect(sanitizeComponent('a   b__c')).toBe('a_b_c');
  });
  it('keeps letters, digits, - and _', () => {
    expect(sanitizeComponent('fw-1_eth0')).toBe('fw-1_eth0');
  });
  it('maps empty and all-junk names to "_"', () => {
    expect(sanitizeComponent('')).toBe('_');
    expect(sanitizeComponent(' . ')).toBe('_');
  });
  it('is at most 128 characters', () => {
    expect(sanitizeComponent('x'.repeat(500))).toHaveLength(128);
    expect(sanitizeComponent('x'.repeat(127) + ' y')).toBe('x'.repeat(127));
  });
});

describe('sanitizeDotted: dots are hierarchy', () => {
  it('keeps dotted names and sanitises each component', () => {
    expect(sanitizeDotted('ipv4.http')).toBe('ipv4.http');
    expect(sanitizeDotted('ipv4.web server.in/out')).toBe('ipv4.web_server.in_out');
  });
  it('drops empty components', () => {
    expect(sanitizeDotted('.a..b.')).toBe('a.b');
    expect(sanitizeDotted('a. .b')).toBe('a.b');
    expect(sanitizeDotted('')).toBe('_');
    expect(sanitizeDotted('...')).toBe('_');
  });
  it('cannot inject a line', () => {
    expect(sanitizeDotted('a\nb 1 2.c')).toBe('a_b_1_2.c');
  });
});

describe('sanitizeTagValue', () => {
  it('keeps dots, forbids ; = ~ and whitespace', () => {
    expect(sanitizeTagValue('ipv4.http')).toBe('ipv4.http');
    expect(sanitizeTagValue('a;b=c')).toBe('a_b_c');
    expect(sanitizeTagValue('~x')).toBe('x');
    expect(sanitizeTagValue('a\nb 1 2')).toBe('a_b_1_2');
    expect(sanitizeTagValue('')).toBe('_');
  });
});

describe('protocolName', () => {
  it('names the common IP protocols', () => {
    const names = [1, 2, 6, 17, 41, 47, 50, 51, 58, 132, 136].map(protocolName);
    expect(names).toEqual(['icmp', 'igmp', 'tcp', 'udp', 'ipv6', 'gre', 'esp', 'ah', 'icmpv6', 'sctp', 'udplite']);
  });
  it('numbers the others and calls NONE unknown', () => {
    expect(protocolName(253)).toBe('p253');
    expect(protocolName(-1)).toBe('unknown');
  });
});

describe('MetricNamer, dotted tree', () => {
  it('resolves {hostname} as one component', () => {
    const n = dotted({}, 'web1.example.com');
    expect(n.verdictCount('blocked')).toBe('netfilter.web1_example_com.events.blocked.count');
  });
  it('sanitises every prefix component', () => {
    const n = dotted({ prefix: 'my net.{hostname}..x' }, 'h');
    expect(n.verdictCount('allowed')).toBe('my_net.h.x.events.allowed.count');
  });
  it('names every event series', () => {
    const n = dotted();
    expect(n.protocol('blocked', 6)).toBe('netfilter.fw1.events.blocked.proto.tcp');
    expect(n.protocol('unknown', -1)).toBe('netfilter.fw1.events.unknown.proto.unknown');
    expect(n.dport('allowed', 443)).toBe('netfilter.fw1.events.allowed.dport.443');
    expect(n.dport('allowed', 'other')).toBe('netfilter.fw1.events.allowed.dport.other');
    expect(n.logPrefix('IN DROP.')).toBe('netfilter.fw1.events.prefix.IN_DROP');
    expect(n.logPrefix('')).toBe('netfilter.fw1.events.prefix.none');
    expect(n.logPrefix(null)).toBe('netfilter.fw1.events.prefix.other');
    expect(n.input('ulogd')).toBe('netfilter.fw1.events.input.ulogd');
  });
  it('puts nfacct counters under .nfacct with their dots as hierarchy', () => {
    const n = dotted();
    expect(n.nfacct('ipv4.http', 'bytes')).toBe('netfilter.fw1.nfacct.ipv4.http.bytes');
    expect(n.nfacct('ipv4.http', 'pkts')).toBe('netfilter.fw1.nfacct.ipv4.http.pkts');
  });
  it('with nfacct_layout "ulogd", writes counters where ulogd\'s GRAPHITE output does: <prefix>.<name>.pkts', () => {
    const n = dotted({ nfacct_layout: 'ulogd' });
    expect(n.nfacct('ipv4.http', 'pkts')).toBe('netfilter.fw1.ipv4.http.pkts');
    expect(n.nfacct('ipv4.http', 'bytes')).toBe('netfilter.fw1.ipv4.http.bytes');
  });
  it('names health series', () => {
    const n = dotted();
    expect(n.health('events_per_second')).toBe('netfilter.fw1.nfwatch.events_per_second');
    expect(n.decodeErrors('not_json')).toBe('netfilter.fw1.nfwatch.decode_errors.not_json');
    expect(n.sink('graphite', 'backlog')).toBe('netfilter.fw1.nfwatch.sinks.graphite.backlog');
  });
  it('keeps working past its cache bound', () => {
    const n = dotted();
    for (let i = 0; i < 25_000; i++) expect(n.input(`s ${i}`)).toBe(`netfilter.fw1.events.input.s_${i}`);
  });
});

describe('MetricNamer, tagged series', () => {
  it('moves {hostname} into a host tag and sorts tags by name', () => {
    const n = tagged('fw 1');
    expect(n.verdictCount('blocked')).toBe('nfwatch.events.count;host=fw_1;verdict=blocked');
    expect(n.protocol('allowed', 17)).toBe('nfwatch.events.proto;host=fw_1;proto=udp;verdict=allowed');
    expect(n.dport('blocked', 22)).toBe('nfwatch.events.dport;host=fw_1;port=22;verdict=blocked');
    expect(n.dport('blocked', 'other')).toBe('nfwatch.events.dport;host=fw_1;port=other;verdict=blocked');
    expect(n.logPrefix('DROP;x=1')).toBe('nfwatch.events.prefix;host=fw_1;prefix=DROP_x_1');
    expect(n.logPrefix('')).toBe('nfwatch.events.prefix;host=fw_1;prefix=none');
    expect(n.input('ulogd')).toBe('nfwatch.events.input;host=fw_1;source=ulogd');
    expect(n.nfacct('ipv4.http', 'pkts')).toBe('nfwatch.nfacct.pkts;counter=ipv4.http;host=fw_1');
    expect(n.health('lines')).toBe('nfwatch.nfwatch.lines;host=fw_1');
    expect(n.decodeErrors('no_timestamp')).toBe('nfwatch.nfwatch.decode_errors;host=fw_1;reason=no_timestamp');
    expect(n.sink('graphite', 'sent')).toBe('nfwatch.nfwatch.sinks.sent;host=fw_1;sink=graphite');
  });
  it('adds no host tag when the prefix has no {hostname}', () => {
    const n = new MetricNamer({ prefix: 'fw', tagged: true, nfacct_layout: 'nfwatch' }, 'h');
    expect(n.verdictCount('allowed')).toBe('fw.events.count;verdict=allowed');
  });
});

describe('renderInterval', () => {
  it('always writes the three verdict counts, also as 0', () => {
    expect(renderInterval(emptyAggregate(60_000, 10_000), dotted(), { ports: 20, values: 20 })).toEqual({
      'netfilter.fw1.events.allowed.count': 0,
      'netfilter.fw1.events.blocked.count': 0,
      'netfilter.fw1.events.unknown.count': 0,
    });
  });

  it('writes protocols, prefixes, inputs and nfacct counters', () => {
    const agg = emptyAggregate(60_000, 10_000);
    agg.verdicts.blocked.count = 5;
    agg.verdicts.blocked.protocols.set(6, 4).set(1, 1);
    agg.prefixes.set('IN DROP', 4).set('', 1);
    agg.otherPrefixes = 2;
    agg.sources.set('ulogd', 7);
    agg.counters.set('ipv4.http', { pkts: 10, bytes: 1500 });
    const out = renderInterval(agg, dotted(), { ports: 20, values: 20 });
    expect(out).toMatchObject({
      'netfilter.fw1.events.blocked.count': 5,
      'netfilter.fw1.events.blocked.proto.tcp': 4,
      'netfilter.fw1.events.blocked.proto.icmp': 1,
      'netfilter.fw1.events.prefix.IN_DROP': 4,
      'netfilter.fw1.events.prefix.none': 1,
      'netfilter.fw1.events.prefix.other': 2,
      'netfilter.fw1.events.input.ulogd': 7,
      'netfilter.fw1.nfacct.ipv4.http.pkts': 10,
      'netfilter.fw1.nfacct.ipv4.http.bytes': 1500,
    });
  });

  it('writes the top N ports and folds the rest into dport.other, preserving the sum', () => {
    const agg = emptyAggregate(60_000, 10_000);
    const ports = agg.verdicts.blocked.ports;
    ports.set(22, 50).set(23, 40).set(3389, 30).set(80, 5).set(8080, 3);
    agg.verdicts.blocked.otherPorts = 7; // folded by the aggregator already
    const out = renderInterval(agg, dotted(), { ports: 3, values: 20 });
    const dport = Object.entries(out).filter(([k]) => k.includes('.blocked.dport.'));
    expect(Object.fromEntries(dport)).toEqual({
      'netfilter.fw1.events.blocked.dport.22': 50,
      'netfilter.fw1.events.blocked.dport.23': 40,
      'netfilter.fw1.events.blocked.dport.3389': 30,
      'netfilter.fw1.events.blocked.dport.other': 5 + 3 + 7,
    });
    expect(dport.reduce((s, [, v]) => s + v, 0)).toBe(50 + 40 + 30 + 5 + 3 + 7);
  });

  it('writes no dport.other when nothing was folded, and everything to other with top_ports = 0', () => {
    const agg = emptyAggregate(60_000, 10_000);
    agg.verdicts.allowed.ports.set(443, 2).set(53, 1);
    expect(renderInterval(agg, dotted(), { ports: 5, values: 20 })['netfilter.fw1.events.allowed.dport.other']).toBeUndefined();
    const all = renderInterval(agg, dotted(), { ports: 0, values: 20 });
    expect(Object.keys(all).filter((k) => k.includes('dport'))).toEqual(['netfilter.fw1.events.allowed.dport.other']);
    expect(all['netfilter.fw1.events.allowed.dport.other']).toBe(3);
  });

  it('adds the values of names that sanitise to the same path instead of losing one', () => {
    const agg = emptyAggregate(60_000, 10_000);
    agg.prefixes.set('a b', 2).set('a_b', 3).set('a\nb', 4);
    expect(renderInterval(agg, dotted(), { ports: 20, values: 20 })['netfilter.fw1.events.prefix.a_b']).toBe(9);
  });

  it('renders tagged series', () => {
    const agg = emptyAggregate(60_000, 10_000);
    agg.verdicts.blocked.count = 1;
    agg.verdicts.blocked.ports.set(22, 1);
    agg.counters.set('ipv4.http', { pkts: 1, bytes: 60 });
    expect(renderInterval(agg, tagged(), { ports: 20, values: 20 })).toEqual({
      'nfwatch.events.count;host=fw1;verdict=allowed': 0,
      'nfwatch.events.count;host=fw1;verdict=blocked': 1,
      'nfwatch.events.count;host=fw1;verdict=unknown': 0,
      'nfwatch.events.dport;host=fw1;port=22;verdict=blocked': 1,
      'nfwatch.nfacct.pkts;counter=ipv4.http;host=fw1': 1,
      'nfwatch.nfacct.bytes;counter=ipv4.http;host=fw1': 60,
    });
  });
});

describe('renderHealth', () => {
  it('writes every health figure, the sinks\' state and decode errors by reason', () => {
    const h: HealthSnapshot = {
      time: 1_700_000_000_000,
      elapsed: 10,
      lines: 1000,
      events: 990,
      eventsPerSecond: 99.0123456,
      oversizedLines: 1,
      decodeErrors: { ...noDecodeErrors(), not_json: 9 },
      lateEvents: 2,
      counterResets: 0,
      openIntervals: 3,
      sinks: { graphite: { backlog: 12, dropped: 0, sent: 3400, connected: true } },
      tracker: null,
    };
    const out = renderHealth(h, dotted());
    expect(out).toEqual({
      'netfilter.fw1.nfwatch.lines': 1000,
      'netfilter.fw1.nfwatch.events': 990,
      'netfilter.fw1.nfwatch.events_per_second': 99.012,
      'netfilter.fw1.nfwatch.oversized_lines': 1,
      'netfilter.fw1.nfwatch.late_events': 2,
      'netfilter.fw1.nfwatch.counter_resets': 0,
      'netfilter.fw1.nfwatch.open_intervals': 3,
      'netfilter.fw1.nfwatch.decode_errors.not_json': 9,
      'netfilter.fw1.nfwatch.decode_errors.out_of_range': 0,
      'netfilter.fw1.nfwatch.decode_errors.future_timestamp': 0,
      'netfilter.fw1.nfwatch.decode_errors.not_object': 0,
      'netfilter.fw1.nfwatch.decode_errors.no_timestamp': 0,
      'netfilter.fw1.nfwatch.decode_errors.bad_timestamp': 0,
      'netfilter.fw1.nfwatch.decode_errors.wrong_type': 0,
      'netfilter.fw1.nfwatch.decode_errors.unknown_record': 0,
      'netfilter.fw1.nfwatch.sinks.graphite.backlog': 12,
      'netfilter.fw1.nfwatch.sinks.graphite.dropped': 0,
      'netfilter.fw1.nfwatch.sinks.graphite.sent': 3400,
      'netfilter.fw1.nfwatch.sinks.graphite.connected': 1,
    });
    for (const [k, v] of Object.entries(out)) if (!k.endsWith('events_per_second')) expect(Number.isInteger(v)).toBe(true);
  });
});

describe('SYN fingerprint, tool and country metrics', () => {
  function synAggregate() {
    const agg = emptyAggregate(60_000, 10_000);
    agg.syns = 46;
    for (const [w, n] of [[16384, 30], [64240, 10], [1024, 3], [512, 2], [65535, 1]] as const) agg.synWindows.set(w, n);
    agg.synInitialTtls.set(128, 30).set(64, 13).set(255, 3);
    agg.fingerprints.set('ittl=128,win=16384,olen=0,df=0', 30).set('ittl=64,win=64240,olen=20,df=1', 10).set('ittl=64,win=1024,olen=4,df=0', 6);
    agg.otherFingerprints = 0;
    agg.synOs.set('windows', 30).set('linux', 10).set('', 6);
    agg.tools.set('port6000-ssh-scanner', 30).set('nmap', 3);
    agg.countries.set('CN', 30).set('US', 10).set('private', 5).set('', 1);
    return agg;
  }

  it('writes SYN windows, initial TTLs, fingerprints, OS, tools and countries under their branches', () => {
    const out = renderInterval(synAggregate(), dotted(), { ports: 20, values: 20 });
    expect(out).toMatchObject({
      'netfilter.fw1.syn.count': 46,
      'netfilter.fw1.syn.window.16384': 30,
      'netfilter.fw1.syn.ittl.128': 30,
      'netfilter.fw1.syn.fingerprint.ittl_128_win_16384_olen_0_df_0': 30,
      'netfilter.fw1.syn.os.windows': 30,
      'netfilter.fw1.syn.os.unknown': 6,
      'netfilter.fw1.tools.port6000-ssh-scanner': 30,
      'netfilter.fw1.geo.CN': 30,
      'netfilter.fw1.geo.private': 5,
      'netfilter.fw1.geo.unknown': 1,
    });
  });

  it('keeps the top N windows, fingerprints and countries and sums the rest into other', () => {
    const out = renderInterval(synAggregate(), dotted(), { ports: 20, values: 2 });
    expect(Object.keys(out).filter((k) => k.includes('.syn.window.')).sort()).toEqual([
      'netfilter.fw1.syn.window.16384',
      'netfilter.fw1.syn.window.64240',
      'netfilter.fw1.syn.window.other',
    ]);
    expect(out['netfilter.fw1.syn.window.other']).toBe(6);
    expect(out['netfilter.fw1.syn.fingerprint.other']).toBe(6);
    expect(out['netfilter.fw1.geo.other']).toBe(6);
    const windowSum = Object.entries(out).filter(([k]) => k.includes('.syn.window.')).reduce((n, [, v]) => n + v, 0);
    expect(windowSum).toBe(46);
  });

  it('writes them as tagged series in tagged mode', () => {
    const out = renderInterval(synAggregate(), tagged(), { ports: 20, values: 20 });
    expect(out).toMatchObject({
      'nfwatch.syn.window;host=fw1;window=16384': 30,
      'nfwatch.syn.fingerprint;fingerprint=ittl_128_win_16384_olen_0_df_0;host=fw1': 30,
      'nfwatch.tools;host=fw1;tool=port6000-ssh-scanner': 30,
      'nfwatch.geo;country=CN;host=fw1': 30,
    });
  });

  it('writes packets per threat list under events.listed, dotted and tagged', () => {
    const agg = emptyAggregate(60_000, 10_000);
    agg.lists.set('firehol_level1', 7).set('et_compromised', 2);
    expect(renderInterval(agg, dotted(), { ports: 20, values: 20 })).toMatchObject({
      'netfilter.fw1.events.listed.firehol_level1': 7,
      'netfilter.fw1.events.listed.et_compromised': 2,
    });
    expect(renderInterval(agg, tagged(), { ports: 20, values: 20 })).toMatchObject({
      'nfwatch.events.listed;host=fw1;list=firehol_level1': 7,
    });
  });

  it('writes no SYN branch for an interval without SYNs', () => {
    const out = renderInterval(emptyAggregate(0, 10_000), dotted(), { ports: 20, values: 20 });
    expect(Object.keys(out).some((k) => k.includes('.syn.'))).toBe(false);
  });
});

describe('scan, campaign and tracking gauges', () => {
  it('are written with the health snapshot when the tracker is on', () => {
    const h: HealthSnapshot = {
      time: 1_700_000_000_000, elapsed: 10, lines: 0, events: 0, eventsPerSecond: 0, oversizedLines: 0,
      decodeErrors: { ...noDecodeErrors(), not_json: 0 },
      lateEvents: 0, counterResets: 0, openIntervals: 0, sinks: {},
      tracker: {
        tracked: 120, evicted: 7, expired: 3, suspected: 2, campaigns: 1,
        scans: { vertical: 1, horizontal: 0, ssh_bruteforce: 4 },
        newScans: { vertical: 1, horizontal: 0, ssh_bruteforce: 2 },
      },
    };
    expect(renderHealth(h, dotted())).toMatchObject({
      'netfilter.fw1.scans.vertical.active': 1,
      'netfilter.fw1.scans.ssh_bruteforce.active': 4,
      'netfilter.fw1.scans.ssh_bruteforce.new': 2,
      'netfilter.fw1.scans.suspected': 2,
      'netfilter.fw1.campaigns.active': 1,
      'netfilter.fw1.track.sources': 120,
      'netfilter.fw1.track.evicted': 7,
    });
    expect(renderHealth(h, tagged())).toMatchObject({ 'nfwatch.scans.active;host=fw1;type=ssh_bruteforce': 4 });
  });

  it('come first in the health snapshot\'s creation order, so a scan spending the budget on its ports cannot keep them out of carbon', () => {
    const h: HealthSnapshot = {
      time: 1_700_000_000_000, elapsed: 10, lines: 0, events: 0, eventsPerSecond: 0, oversizedLines: 0, decodeErrors: noDecodeErrors(),
      lateEvents: 0, counterResets: 0, openIntervals: 0, sinks: { graphite: { backlog: 0, sent: 0, dropped: 0, connected: true } },
      tracker: { tracked: 1, evicted: 0, expired: 0, suspected: 0, campaigns: 0, scans: { vertical: 1, horizontal: 0, ssh_bruteforce: 0 }, newScans: { vertical: 1, horizontal: 0, ssh_bruteforce: 0 } },
    };
    const plan = planHealth(h, dotted());
    const firstOther = plan.findIndex((m) => !/\.(scans|campaigns|track)\./.test(m.path));
    expect(firstOther).toBe(11);
    expect(plan.slice(0, 11).every((m) => m.kind === 'defer')).toBe(true);
    // The budget spent by a scan: the two tokens that refill in 3 s go to the tracker's gauges.
    const limiter = new CreateLimiter(40);
    for (let i = 0; limiter.available(0) >= 1; i++) limiter.allow(`netfilter.fw1.events.blocked.dport.${i}`, 0, 'fold');
    const written = Object.keys(planWrites(plan, limiter, 3_000).write);
    expect(written.length).toBe(2);
    expect(written.every((p) => /\.(scans|campaigns|track)\./.test(p))).toBe(true);
  });
});

describe('planInterval: what the creation budget may do with each new series', () => {
  it('marks counts that make totals add up as core, named values as foldable into their family\'s other, counters first', () => {
    const agg = emptyAggregate(0, 60_000);
    agg.verdicts.blocked.count = 5;
    agg.verdicts.blocked.protocols.set(6, 5);
    agg.verdicts.blocked.ports.set(22, 5);
    agg.counters.set('ipv4.ssh', { pkts: 5, bytes: 300 });
    agg.countries.set('CN', 2);
    agg.countries.set(OTHER_VALUE, 3);
    const plan = new Map(planInterval(agg, dotted(), { ports: 20, values: 20 }).map((m) => [m.path, m]));
    expect(plan.get('netfilter.fw1.events.blocked.count')!.kind).toBe('core');
    expect(plan.get('netfilter.fw1.events.blocked.proto.tcp')!.kind).toBe('core');
    expect(plan.get('netfilter.fw1.events.blocked.dport.22')).toMatchObject({ kind: 'fold', other: 'netfilter.fw1.events.blocked.dport.other' });
    expect(plan.get('netfilter.fw1.nfacct.ipv4.ssh.pkts')).toMatchObject({ kind: 'fold', first: true, other: 'netfilter.fw1.nfacct.other.pkts' });
    expect(plan.get('netfilter.fw1.geo.CN')).toMatchObject({ kind: 'fold', other: 'netfilter.fw1.geo.other' });
    // Countries the aggregator's budget folded are written as geo.other, which is core.
    expect(plan.get('netfilter.fw1.geo.other')).toMatchObject({ kind: 'core', value: 3 });
  });

  it('writes windows the aggregator folded (OTHER_WINDOW) as syn.window.other, never as a window number', () => {
    const agg = emptyAggregate(0, 60_000);
    agg.syns = 4;
    agg.synWindows.set(1024, 1);
    agg.synWindows.set(OTHER_WINDOW, 3);
    const out = renderInterval(agg, dotted(), { ports: 20, values: 20 });
    expect(out['netfilter.fw1.syn.window.other']).toBe(3);
    expect(out['netfilter.fw1.syn.window.1024']).toBe(1);
    expect(Object.keys(out).some((p) => p.includes(String(OTHER_WINDOW)))).toBe(false);
  });

  it('renderHealth writes nfwatch.series.admitted and folded when the sink reports them', () => {
    const h: HealthSnapshot = {
      time: 0, elapsed: 10, lines: 0, events: 0, eventsPerSecond: 0, oversizedLines: 0, decodeErrors: noDecodeErrors(),
      lateEvents: 0, counterResets: 0, openIntervals: 0, tracker: null, sinks: {},
    };
    const out = renderHealth(h, dotted(), { admitted: 42, folded: 7 });
    expect(out['netfilter.fw1.nfwatch.series.admitted']).toBe(42);
    expect(out['netfilter.fw1.nfwatch.series.folded']).toBe(7);
    expect(planHealth(h, dotted()).every((m) => m.kind === 'defer' || m.kind === 'spare')).toBe(true);
  });

  it('a health figure still at 0 is created only from the top of the budget (spare); once it moves, before the others (defer)', () => {
    const h: HealthSnapshot = {
      time: 0, elapsed: 10, lines: 5, events: 0, eventsPerSecond: 0, oversizedLines: 0, decodeErrors: { ...noDecodeErrors(), not_json: 2 },
      lateEvents: 0, counterResets: 0, openIntervals: 1, tracker: null, sinks: {},
    };
    const kinds = Object.fromEntries(planHealth(h, dotted()).map((m) => [m.path, m.kind]));
    expect(kinds['netfilter.fw1.nfwatch.lines']).toBe('defer');
    expect(kinds['netfilter.fw1.nfwatch.events']).toBe('spare');
    expect(kinds['netfilter.fw1.nfwatch.open_intervals']).toBe('defer');
    expect(kinds['netfilter.fw1.nfwatch.decode_errors.not_json']).toBe('defer');
    expect(kinds['netfilter.fw1.nfwatch.decode_errors.bad_timestamp']).toBe('spare');
  });
});
