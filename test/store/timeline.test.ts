import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryIncident } from '../../src/store/types.js';
import { HOUR, SyncStore, T0, packet, tempDir } from './helpers.js';

const W16 = 'ittl=128,win=16384,olen=0,df=0';
const W65 = 'ittl=128,win=65535,olen=0,df=0';

let tmp: ReturnType<typeof tempDir>;
let store: SyncStore;
beforeEach(() => {
  tmp = tempDir();
  store = new SyncStore(tmp.file());
});
afterEach(() => {
  store.close();
  tmp.cleanup();
});

const incident = (time: number, kind: HistoryIncident['kind'], subject: string, text: string): HistoryIncident => ({ time, kind, subject, severity: kind === 'detection' ? 3 : 0, text, detail: { n: time - T0 } });

describe('a source timeline', () => {
  it('lists its hours oldest first, its incidents in order, and where its SYN fingerprint changed', () => {
    const src = '203.0.113.7';
    const syn = (hour: number, window: number, dport: number) => packet({ src, time: T0 + hour * HOUR + 1000, window, ttl: 110, olen: 0, df: 0, dport, country: 'CN', asn: 4134, org: 'CHINANET' });
    store.record(syn(0, 16384, 22), syn(1, 16384, 23), syn(2, 65535, 80), syn(3, 65535, 81));
    store.record(packet({ src, time: T0 + 4 * HOUR + 5, protocol: 17, dport: 53, country: 'CN' })); // no SYN: no fingerprint, no change
    store.record(syn(5, 16384, 82));
    store.record(packet({ src: '203.0.113.8', time: T0 + HOUR })); // another source
    store.flush();
    store.db.write(null, [
      incident(T0 + 2 * HOUR + 10, 'detection', src, 'detected vertical scan (severity 3)'),
      incident(T0 + 2 * HOUR + 5, 'alert', src, 'alert sent'),
      incident(T0 + 3 * HOUR, 'block', src, 'blocked for 3600 s'),
      incident(T0 + 2 * HOUR, 'block', '203.0.113.8', 'not this one'),
    ]);
    const t = store.db.timeline(src, T0, T0 + 6 * HOUR);
    expect(t).toMatchObject({ source: src, country: 'CN', asn: 4134, org: 'CHINANET', cloud: '' });
    expect(t.hours.map((h) => [h.hour, h.ports, h.windows])).toEqual([
      [T0, [22], [16384]],
      [T0 + HOUR, [23], [16384]],
      [T0 + 2 * HOUR, [80], [65535]],
      [T0 + 3 * HOUR, [81], [65535]],
      [T0 + 4 * HOUR, [53], []],
      [T0 + 5 * HOUR, [82], [16384]],
    ]);
    expect(t.hours[0]).toEqual({
      hour: T0,
      firstSeen: T0 + 1000,
      lastSeen: T0 + 1000,
      packets: { allowed: 0, blocked: 1, unknown: 0, total: 1 },
      syns: 1,
      folded: 0,
      ports: [22],
      portsCapped: false,
      hosts: 1,
      hostsCapped: false,
      windows: [16384],
      fingerprints: [W16],
      tools: [],
      os: [],
      lists: [],
    });
    expect(t.incidents.map((i) => [i.time - T0, i.kind, i.text])).toEqual([
      [2 * HOUR + 5, 'alert', 'alert sent'],
      [2 * HOUR + 10, 'detection', 'detected vertical scan (severity 3)'],
      [3 * HOUR, 'block', 'blocked for 3600 s'],
    ]);
    expect(t.incidents[1]!.detail).toEqual({ n: 2 * HOUR + 10 });
    expect(t.fingerprintChanges).toEqual([
      { time: T0 + 2 * HOUR + 1000, from: [W16], to: [W65] },
      { time: T0 + 5 * HOUR + 1000, from: [W65], to: [W16] },
    ]);
  });

  it('covers only [from, to): hours overlapping it, incidents inside it', () => {
    const src = '203.0.113.7';
    store.record(packet({ src, time: T0 + 10 }), packet({ src, time: T0 + HOUR + 10 }), packet({ src, time: T0 + 2 * HOUR + 10 })).flush();
    store.db.write(null, [incident(T0 + 10, 'alert', src, 'early'), incident(T0 + HOUR + 10, 'alert', src, 'inside')]);
    const t = store.db.timeline(src, T0 + 30 * 60_000, T0 + 2 * HOUR);
    expect(t.hours.map((h) => h.hour)).toEqual([T0, T0 + HOUR]);
    expect(t.incidents.map((i) => i.text)).toEqual(['inside']);
  });

  it('finds an IPv6 source by any address of its network', () => {
    store.record(packet({ src: '2001:db8:1:2::5', time: T0 })).flush();
    expect(store.db.timeline('2001:db8:1:2::abcd', T0, T0 + HOUR).source).toBe('2001:db8:1:2::/64');
    expect(store.db.timeline('2001:db8:1:2::abcd', T0, T0 + HOUR).hours).toHaveLength(1);
    expect(store.db.timeline('2001:db8:1:2::/64', T0, T0 + HOUR).hours).toHaveLength(1);
  });

  it('names the city of its newest hour, as its country', () => {
    const src = '203.0.113.7';
    store.record(packet({ src, time: T0, country: 'GB', city: 'London', location: { lat: 51.5142, lon: -0.0931 } }));
    store.record(packet({ src, time: T0 + HOUR, country: 'NL', city: 'Amsterdam', location: { lat: 52.3759, lon: 4.8975 } })).flush();
    expect(store.db.timeline(src, T0, T0 + 2 * HOUR)).toMatchObject({ country: 'NL', city: 'Amsterdam' });
    expect(store.db.timeline(src, T0, T0 + HOUR)).toMatchObject({ country: 'GB', city: 'London' });
  });

  it('is empty for a source never seen', () => {
    expect(store.db.timeline('192.0.2.1', T0, T0 + HOUR)).toEqual({ source: '192.0.2.1', country: '', city: '', asn: null, org: '', cloud: '', hours: [], incidents: [], fingerprintChanges: [] });
  });
});

describe('incidents', () => {
  it('lists the range newest first, of one subject or all, up to a limit', () => {
    store.db.write(null, [
      incident(T0 + 1, 'detection', 'a', 'one'),
      incident(T0 + 3, 'block', 'a', 'three'),
      incident(T0 + 2, 'alert', 'b', 'two'),
      incident(T0 + 3, 'unblock', 'b', 'three too'),
      incident(T0 + HOUR, 'alert', 'a', 'outside'),
    ]);
    expect(store.db.incidents(T0, T0 + HOUR).map((i) => i.text)).toEqual(['three too', 'three', 'two', 'one']);
    expect(store.db.incidents(T0, T0 + HOUR, 'a').map((i) => i.text)).toEqual(['three', 'one']);
    expect(store.db.incidents(T0, T0 + HOUR, undefined, 2).map((i) => i.text)).toEqual(['three too', 'three']);
    expect(store.db.incidents(T0 + 2, T0 + 3).map((i) => i.text)).toEqual(['two']);
  });
});
