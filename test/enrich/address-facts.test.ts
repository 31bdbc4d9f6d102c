// What the source address says (GeoIP, owner, lists), kept per address (src/enrich/address-facts.ts):
// an address seen again gets the facts its first packet got without asking the databases; new data
// (an enricher's generation) drops them; a flood of new addresses makes the cache stand aside.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressFacts } from '../../src/enrich/address-facts.js';
import { createGeoIp, type GeoIpEnricher } from '../../src/enrich/geoip.js';
import { OwnerEnricher } from '../../src/enrich/owner.js';
import { NONE, NOT_LISTED, type AddressEnricher, type GeoInfo, type PacketEvent } from '../../src/pipeline/types.js';
import { memoryLogger } from '../../src/util/log.js';
import { synEvent } from './fixtures.js';

/** An address enricher that answers the country "X<n>" where n counts its lookups, and says which addresses it was asked. */
class Counting implements AddressEnricher {
  readonly name: string;
  generation = 0;
  asked: string[] = [];
  reloads = 0;
  closed = false;
  failReload = false;
  constructor(name = 'counting') {
    this.name = name;
  }
  enrich(e: PacketEvent): void {
    this.asked.push(e.srcIp);
    const geo: GeoInfo = { country: `X${this.asked.length}`, city: '', asn: NONE, asOrg: '', location: null };
    e.geo = geo;
    e.listed = this.generation > 0 ? ['fresh'] : NOT_LISTED;
  }
  async reload(): Promise<void> {
    this.reloads++;
    if (this.failReload) throw new Error('the file is gone');
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const from = (srcIp: string): PacketEvent => synEvent({ srcIp });

describe('address facts', () => {
  it('asks the enrichers once per address and gives a later packet of it the same facts', () => {
    const inner = new Counting();
    const facts = new AddressFacts([inner]);
    const first = from('192.0.2.7');
    facts.enrich(first);
    const again = from('192.0.2.7');
    facts.enrich(again);
    facts.enrich(from('192.0.2.8'));
    expect(inner.asked).toEqual(['192.0.2.7', '192.0.2.8']);
    expect(again.geo).toBe(first.geo);
    expect(again.listed).toBe(first.listed);
    expect(facts.stats()).toEqual({ hits: 1, misses: 2, bypassed: 0, entries: 2 });
    expect(facts.name).toBe('counting');
  });

  it('gives every address its own facts when many share a slot of the front of the cache, as the same strings or as equal new ones', () => {
    const inner = new Counting();
    // A window longer than the test: 20,000 new addresses in a row would otherwise make it stand aside (a flood).
    const facts = new AddressFacts([inner], { window: 1_000_000 });
    // 20,000 addresses: five for each slot of the front, and more; IPv6 ones too.
    const addresses = Array.from({ length: 20_000 }, (_, i) => (i % 10 === 0 ? `2001:db8::${i.toString(16)}` : `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
    const first = new Map<string, unknown>();
    for (const address of addresses) {
      const e = from(address);
      facts.enrich(e);
      first.set(address, e.geo);
    }
    // Again in another order, once with the very strings, once with equal new ones.
    for (const copy of [false, true]) {
      for (let i = addresses.length - 1; i >= 0; i--) {
        const address = copy ? ` ${addresses[i]!}`.slice(1) : addresses[i]!;
        const e = from(address);
        facts.enrich(e);
        expect(e.geo, address).toBe(first.get(addresses[i]!));
      }
    }
    expect(inner.asked.length).toBe(addresses.length);
    expect(facts.stats()).toMatchObject({ hits: 2 * addresses.length, misses: addresses.length });
  });

  it('asks again once an enricher has new data (its generation went up)', () => {
    const inner = new Counting();
    const facts = new AddressFacts([new Counting('other'), inner]);
    facts.enrich(from('192.0.2.7'));
    inner.generation++;
    const after = from('192.0.2.7');
    facts.enrich(after);
    expect(inner.asked).toEqual(['192.0.2.7', '192.0.2.7']);
    expect(after.listed).toEqual(['fresh']);
    expect(facts.name).toBe('other+counting');
  });

  it('keeps at most maxEntries addresses, then starts empty', () => {
    const facts = new AddressFacts([new Counting()], { maxEntries: 3 });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) facts.enrich(from(ip));
    expect(facts.stats().entries).toBe(3);
    facts.enrich(from('192.0.2.4'));
    expect(facts.stats().entries).toBe(1);
  });

  it('stands aside in a flood of new addresses (under one hit in eight over a window), then tries again', () => {
    const inner = new Counting();
    const facts = new AddressFacts([inner], { window: 16, standAside: 40 });
    for (let i = 0; i < 16; i++) facts.enrich(from(`198.51.100.${i}`));
    expect(facts.stats()).toEqual({ hits: 0, misses: 16, bypassed: 0, entries: 0 });
    // Standing aside: every event is still enriched, by the enrichers themselves, and nothing is kept.
    const aside = from('198.51.100.200');
    facts.enrich(aside);
    facts.enrich(from('198.51.100.200'));
    expect(aside.geo?.country).toBe('X17');
    expect(inner.asked).toHaveLength(18);
    for (let i = 0; i < 38; i++) facts.enrich(from('203.0.113.1'));
    expect(facts.stats()).toMatchObject({ bypassed: 40, entries: 0 });
    // Then it keeps facts again: a busy address hits from its second packet on.
    facts.enrich(from('203.0.113.1'));
    facts.enrich(from('203.0.113.1'));
    expect(facts.stats()).toMatchObject({ hits: 1, misses: 17, bypassed: 40, entries: 1 });
  });

  it('keeps caching where traffic repeats its addresses: two hits in eight are enough', () => {
    const facts = new AddressFacts([new Counting()], { window: 16, standAside: 40 });
    for (let i = 0; i < 64; i++) facts.enrich(from(`198.51.100.${i % 4 === 0 ? 1 : i}`));
    expect(facts.stats().bypassed).toBe(0);
  });

  it('reloads and closes every enricher, and names the one whose reload failed', async () => {
    const a = new Counting('geoip');
    const b = new Counting('owner');
    b.failReload = true;
    const facts = new AddressFacts([a, b]);
    await expect(facts.reload()).rejects.toThrow('owner: the file is gone');
    expect([a.reloads, b.reloads]).toEqual([1, 1]);
    await facts.close();
    expect([a.closed, b.closed]).toEqual([true, true]);
  });
});

describe('address facts over the bundled GeoIP and AS data', () => {
  let geoip: GeoIpEnricher;
  let owner: OwnerEnricher;
  beforeAll(async () => {
    geoip = (await createGeoIp({ enabled: true, country_db: '', city_db: '', asn_db: '', cache_size: 10_000 }, memoryLogger(), { watch: false, pollMs: 0 }))!;
    owner = await OwnerEnricher.open({ asnCsv: '', cloudFiles: [], watch: false, pollMs: 0 }, memoryLogger());
  });
  afterAll(async () => {
    await geoip.close();
    await owner.close();
  });

  it('gives every packet what the enrichers give it, whether kept, asked or standing aside', () => {
    const facts = new AddressFacts([geoip, owner], { window: 64, standAside: 100 });
    // Repeating addresses (kept), then a run of new ones (it stands aside), then repeats again.
    const addresses = [
      ...Array.from({ length: 300 }, (_, i) => ['1.1.1.1', '8.8.8.8', '2001:4860:4860::8888', '10.0.0.1', '193.0.6.139'][i % 5]!),
      ...Array.from({ length: 300 }, (_, i) => `${(i * 37) % 223 + 1}.${(i * 11) % 256}.${i % 256}.${(i * 7) % 256}`),
      ...Array.from({ length: 300 }, (_, i) => ['9.9.9.9', '1.1.1.1'][i % 2]!),
    ];
    for (const ip of addresses) {
      const cached = from(ip);
      facts.enrich(cached);
      const direct = from(ip);
      geoip.enrich(direct);
      owner.enrich(direct);
      expect([cached.geo, cached.owner]).toEqual([direct.geo, direct.owner]);
    }
    const s = facts.stats();
    expect(s.hits).toBeGreaterThan(400);
    expect(s.bypassed).toBeGreaterThan(0);
  });
});
