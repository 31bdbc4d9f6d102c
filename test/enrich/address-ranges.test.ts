// Address range tables (src/enrich/address-ranges.ts): the narrowest range covering an address
// answers, overlapping input is flattened into disjoint segments, several named lists merge into
// one table answering shared frozen arrays of names.
import { describe, expect, it } from 'vitest';
import {
  AddressRanges,
  AddressRangesBuilder,
  IPV4_MAX,
  IPV6_MAX,
  addressCount,
  ipv4CidrRange,
  ipv6CidrRange,
  mergeNamedRanges,
  parseAddress,
  type AddressRange,
} from '../../src/enrich/address-ranges.js';
import { parseRangeText } from '../../src/enrich/list-formats.js';

/** A range from text ("192.0.2.0/24", "10.0.0.1-10.0.0.9", "2001:db8::/32"). */
function r(text: string): AddressRange {
  const range = parseRangeText(text);
  if (typeof range === 'string') throw new Error(`${text}: ${range}`);
  return range;
}

function table<V>(entries: Array<[string, V]>): AddressRanges<V> {
  const builder = new AddressRangesBuilder<V>();
  for (const [text, value] of entries) builder.add(r(text), value);
  return builder.build();
}

const ip4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

describe('an address range table', () => {
  it('answers the value of the range covering an address, undefined outside every range', () => {
    const t = table([
      ['192.0.2.0/24', 'doc'],
      ['198.51.100.10-198.51.100.20', 'range'],
      ['203.0.113.5', 'host'],
    ]);
    expect(t.lookup('192.0.2.0')).toBe('doc');
    expect(t.lookup('192.0.2.255')).toBe('doc');
    expect(t.lookup('192.0.3.0')).toBeUndefined();
    expect(t.lookup('192.0.1.255')).toBeUndefined();
    expect(t.lookup('198.51.100.9')).toBeUndefined();
    expect(t.lookup('198.51.100.10')).toBe('range');
    expect(t.lookup('198.51.100.20')).toBe('range');
    expect(t.lookup('198.51.100.21')).toBeUndefined();
    expect(t.lookup('203.0.113.5')).toBe('host');
    expect(t.lookup('203.0.113.4')).toBeUndefined();
    expect(t.lookup('203.0.113.6')).toBeUndefined();
  });

  it('lets the narrowest range win where ranges nest, whatever the order they came in', () => {
    const entries: Array<[string, string]> = [
      ['10.0.0.0/8', 'wide'],
      ['10.1.0.0/16', 'middle'],
      ['10.1.2.0/24', 'narrow'],
      ['10.1.2.3', 'host'],
    ];
    for (const order of [entries, [...entries].reverse(), [entries[2]!, entries[0]!, entries[3]!, entries[1]!]]) {
      const t = table(order);
      expect(t.lookup('10.200.0.1')).toBe('wide');
      expect(t.lookup('10.1.200.1')).toBe('middle');
      expect(t.lookup('10.1.2.2')).toBe('narrow');
      expect(t.lookup('10.1.2.3')).toBe('host');
      expect(t.lookup('10.1.2.4')).toBe('narrow');
      expect(t.lookup('10.1.3.0')).toBe('middle');
      expect(t.lookup('10.2.0.0')).toBe('wide');
      expect(t.lookup('11.0.0.0')).toBeUndefined();
    }
  });

  it('flattens partly overlapping ranges into disjoint segments, the narrower one winning the overlap', () => {
    // 100 addresses and 51 addresses overlapping on 50..100.
    const t = table([
      ['192.0.2.0-192.0.2.99', 'hundred'],
      ['192.0.2.50-192.0.2.100', 'fifty-one'],
    ]);
    expect([...t.entries()].map(([range, value]) => [range, value])).toEqual([
      [{ family: 4, start: 0xc0000200, end: 0xc0000231 }, 'hundred'],
      [{ family: 4, start: 0xc0000232, end: 0xc0000264 }, 'fifty-one'],
    ]);
    expect(t.lookup('192.0.2.49')).toBe('hundred');
    expect(t.lookup('192.0.2.50')).toBe('fifty-one');
    expect(t.lookup('192.0.2.100')).toBe('fifty-one');
  });

  it('keeps the first of identical ranges, and joins adjacent ranges of one value into one segment', () => {
    const t = table([
      ['192.0.2.0/25', 'first'],
      ['192.0.2.0/25', 'second'],
      ['192.0.2.128/25', 'first'],
    ]);
    expect(t.lookup('192.0.2.1')).toBe('first');
    expect([...t.entries()]).toEqual([[{ family: 4, start: 0xc0000200, end: 0xc00002ff }, 'first']]);
    expect(t.segments).toBe(1);
  });

  it('covers the IPv4 edges: 0.0.0.0, 255.255.255.255, /0 and /32', () => {
    const t = table([
      ['0.0.0.0/0', 'all'],
      ['0.0.0.0', 'zero'],
      ['255.255.255.255/32', 'broadcast'],
    ]);
    expect(t.lookup('0.0.0.0')).toBe('zero');
    expect(t.lookup('0.0.0.1')).toBe('all');
    expect(t.lookup('128.0.0.0')).toBe('all');
    expect(t.lookup('255.255.255.254')).toBe('all');
    expect(t.lookup('255.255.255.255')).toBe('broadcast');
    const all = table([['0.0.0.0/0', 'all']]);
    expect(all.lookup('0.0.0.0')).toBe('all');
    expect(all.lookup('255.255.255.255')).toBe('all');
    expect(all.lookup('::1')).toBeUndefined(); // IPv4's /0 is not IPv6
    const ends = table([
      ['0.0.0.0-0.0.0.0', 'first'],
      ['255.255.255.255-255.255.255.255', 'last'],
    ]);
    expect([...ends.entries()]).toEqual([
      [{ family: 4, start: 0, end: 0 }, 'first'],
      [{ family: 4, start: IPV4_MAX, end: IPV4_MAX }, 'last'],
    ]);
    expect(ends.lookup('0.0.0.1')).toBeUndefined();
    expect(ends.lookup('255.255.255.254')).toBeUndefined();
  });

  it('answers IPv6, exactly also for ranges that end inside a /64', () => {
    const t = table([
      ['2001:db8::/32', 'doc'],
      ['2001:db8:1::/48', 'site'],
      ['2001:db8:1:2::/64', 'subnet'],
      ['2001:db8:1:2:0:8000::/81', 'half'],
      ['2001:db8:1:2::10-2001:db8:1:2::1f', 'sixteen'],
    ]);
    expect(t.lookup('2001:db8:ffff::1')).toBe('doc');
    expect(t.lookup('2001:db8:1:ffff::1')).toBe('site');
    expect(t.lookup('2001:db8:1:2::1')).toBe('subnet');
    expect(t.lookup('2001:db8:1:2::f')).toBe('subnet');
    expect(t.lookup('2001:db8:1:2::10')).toBe('sixteen');
    expect(t.lookup('2001:db8:1:2::1f')).toBe('sixteen');
    expect(t.lookup('2001:db8:1:2::20')).toBe('subnet');
    expect(t.lookup('2001:db8:1:2:0:7fff:ffff:ffff')).toBe('subnet');
    expect(t.lookup('2001:db8:1:2:0:8000::')).toBe('half');
    expect(t.lookup('2001:db8:1:2:0:ffff:ffff:ffff')).toBe('half');
    expect(t.lookup('2001:db8:1:2:1::')).toBe('subnet');
    expect(t.lookup('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('subnet');
    expect(t.lookup('2001:db8:1:3::')).toBe('site');
    expect(t.lookup('2001:db9::')).toBeUndefined();
    expect(t.lookup('2001:db7:ffff:ffff:ffff:ffff:ffff:ffff')).toBeUndefined();
    expect(t.lookup('2001:DB8:1:2::10')).toBe('sixteen'); // upper-case hex
    expect(t.lookup('2001:db8:1:2::10%eth0')).toBe('sixteen'); // a zone is not part of the address
  });

  it('covers the IPv6 edges: ::, the last address and ::/0', () => {
    const t = table([
      ['::/0', 'all'],
      ['::', 'unspecified'],
      ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'last'],
    ]);
    expect(t.lookup('::')).toBe('unspecified');
    expect(t.lookup('::1')).toBe('all');
    expect(t.lookup('ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe')).toBe('all');
    expect(t.lookup('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe('last');
    expect([...table([['::/0', 'all']]).entries()]).toEqual([[{ family: 6, start: 0n, end: IPV6_MAX }, 'all']]);
  });

  it('looks up IPv4-mapped IPv6 addresses as IPv4, and stores mapped ranges as IPv4', () => {
    const t = table([
      ['192.0.2.0/24', 'v4'],
      ['::ffff:198.51.100.0/120', 'mapped'],
    ]);
    expect(t.lookup('::ffff:192.0.2.7')).toBe('v4');
    expect(t.lookup('::ffff:c000:207')).toBe('v4');
    expect(t.lookup('198.51.100.1')).toBe('mapped');
    expect(t.lookup('::ffff:198.51.100.1')).toBe('mapped');
    expect(t.lookup('::192.0.2.7')).toBeUndefined(); // the deprecated IPv4-compatible form is IPv6
  });

  it('answers undefined for text that is no address', () => {
    const t = table([['0.0.0.0/0', 'all'], ['::/0', 'all6']]);
    for (const text of ['', 'example.org', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4/32', ':::', '2001:db8::1::2', ' 1.2.3.4']) {
      expect(t.lookup(text), text).toBeUndefined();
    }
  });

  it('returns the very value object it was given, one slot per distinct value', () => {
    const a = Object.freeze({ label: 'a' });
    const b = Object.freeze({ label: 'b' });
    const builder = new AddressRangesBuilder<{ label: string }>();
    builder.add(r('192.0.2.0/25'), a);
    builder.add(r('192.0.2.128/25'), b);
    builder.add(r('198.51.100.0/24'), a);
    builder.add(r('2001:db8::/32'), a);
    const t = builder.build();
    expect(t.lookup('192.0.2.1')).toBe(a);
    expect(t.lookup('198.51.100.1')).toBe(a);
    expect(t.lookup('2001:db8::1')).toBe(a);
    expect(t.lookup('192.0.2.200')).toBe(b);
    expect(t.values).toEqual([a, b]);
    expect(t.slotOf('198.51.100.1')).toBe(0);
    expect(t.slotOf('192.0.2.129')).toBe(1);
    expect(t.slotOf('203.0.113.1')).toBe(-1);
  });

  it('refuses ranges that end before they start or leave the address space', () => {
    const builder = new AddressRangesBuilder<string>();
    const slot = builder.slot('x');
    expect(() => builder.addIpv4(10, 9, slot)).toThrow(RangeError);
    expect(() => builder.addIpv4(0, IPV4_MAX + 1, slot)).toThrow(RangeError);
    expect(() => builder.addIpv4(-1, 5, slot)).toThrow(RangeError);
    expect(() => builder.addIpv4(1.5, 5, slot)).toThrow(RangeError);
    expect(() => builder.addIpv6(2n, 1n, slot)).toThrow(RangeError);
    expect(() => builder.addIpv6(0n, IPV6_MAX + 1n, slot)).toThrow(RangeError);
    expect(() => builder.addIpv4(1, 2, 7)).toThrow(/no value in slot 7/);
  });

  it('is empty when built from nothing', () => {
    const t = AddressRanges.empty<string>();
    expect(t.lookup('192.0.2.1')).toBeUndefined();
    expect(t.lookup('2001:db8::1')).toBeUndefined();
    expect(t.segments).toBe(0);
  });

  it('answers as a brute-force scan does for random overlapping ranges (IPv4 and IPv6)', () => {
    let seed = 11;
    const random = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed % n);
    for (let round = 0; round < 20; round++) {
      // Ranges inside a small window so they overlap a lot; values are the range's own number.
      const ranges: Array<{ start: number; end: number }> = [];
      const builder = new AddressRangesBuilder<number>();
      const base = 0xc6120000; // 198.18.0.0
      for (let i = 0; i < 40; i++) {
        const start = random(1000);
        const end = start + random(random(2) === 0 ? 20 : 400);
        ranges.push({ start, end });
        builder.addIpv4(base + start, base + end, builder.slot(i));
        builder.addIpv6(0x20010db8n << 96n | BigInt(start), 0x20010db8n << 96n | BigInt(end), builder.slot(i));
      }
      const t = builder.build();
      for (let a = 0; a < 1500; a++) {
        let best = -1;
        ranges.forEach((x, i) => {
          if (a < x.start || a > x.end) return;
          if (best < 0 || x.end - x.start < ranges[best]!.end - ranges[best]!.start) best = i;
        });
        const expected = best < 0 ? undefined : best;
        expect(t.lookup(ip4(base + a)), `round ${round}, address ${a}`).toBe(expected);
        expect(t.lookup(`2001:db8::${a.toString(16)}`), `round ${round}, IPv6 address ${a}`).toBe(expected);
      }
    }
  });
});

describe('IPv6 ranges across the 32-bit words an address is stored in', () => {
  it('answers as a brute-force scan does near every word boundary and the ends of the space', () => {
    const anchors = [0n, 1n << 32n, 1n << 64n, 1n << 96n, 0x20010db8n << 96n, 0xffffn << 32n, IPV6_MAX];
    const points: bigint[] = [];
    for (const a of anchors) for (let d = -3n; d <= 3n; d++) if (a + d >= 0n && a + d <= IPV6_MAX) points.push(a + d);
    points.sort((a, b) => (a < b ? -1 : 1));
    let seed = 5;
    const random = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed % n);
    const text = (v: bigint): string => Array.from({ length: 8 }, (_, g) => ((v >> BigInt(112 - 16 * g)) & 0xffffn).toString(16)).join(':');
    for (let round = 0; round < 30; round++) {
      const ranges: Array<{ start: bigint; end: bigint }> = [];
      const builder = new AddressRangesBuilder<number>();
      for (let i = 0; i < 12; i++) {
        const a = points[random(points.length)]!;
        const b = points[random(points.length)]!;
        const range = a <= b ? { start: a, end: b } : { start: b, end: a };
        ranges.push(range);
        builder.addIpv6(range.start, range.end, builder.slot(i));
      }
      const t = builder.build();
      for (const p of points) {
        // ::ffff:0:0/96 is IPv4 to a lookup: ranges are not cut at it, so probes inside it are left out.
        if (p >= 0xffffn << 32n && p <= (0xffffn << 32n) + 0xffffffffn) continue;
        let best = -1;
        ranges.forEach((x, i) => {
          if (p < x.start || p > x.end) return;
          if (best < 0 || x.end - x.start < ranges[best]!.end - ranges[best]!.start) best = i;
        });
        expect(t.lookup(text(p)), `round ${round}, ${text(p)}`).toBe(best < 0 ? undefined : best);
      }
    }
  });
});

describe('merging named lists', () => {
  const lists = [
    { name: 'firehol', ranges: [r('198.18.0.0/24'), r('192.0.2.0/24')] },
    { name: 'spamhaus', ranges: [r('198.18.0.12/30'), r('2001:db8::/32')] },
    { name: 'et', ranges: [r('198.18.0.13'), r('198.18.0.200'), r('2001:db8::1')] },
  ];

  it('answers the names of every list covering an address, in the order the lists are given', () => {
    const t = mergeNamedRanges(lists);
    expect(t.lookup('198.18.0.1')).toEqual(['firehol']);
    expect(t.lookup('198.18.0.12')).toEqual(['firehol', 'spamhaus']);
    expect(t.lookup('198.18.0.13')).toEqual(['firehol', 'spamhaus', 'et']);
    expect(t.lookup('198.18.0.200')).toEqual(['firehol', 'et']);
    expect(t.lookup('192.0.2.77')).toEqual(['firehol']);
    expect(t.lookup('2001:db8::1')).toEqual(['spamhaus', 'et']);
    expect(t.lookup('2001:db8::2')).toEqual(['spamhaus']);
    expect(t.lookup('198.18.1.0')).toBeUndefined();
  });

  it('answers one frozen array per set of names: the same object for every address of a segment, and for equal sets elsewhere', () => {
    const t = mergeNamedRanges(lists);
    const both = t.lookup('198.18.0.12');
    expect(Object.isFrozen(both)).toBe(true);
    expect(t.lookup('198.18.0.14')).toBe(both);
    expect(t.lookup('198.18.0.15')).toBe(both);
    const firehol = t.lookup('198.18.0.1');
    expect(t.lookup('198.18.0.100')).toBe(firehol);
    expect(t.lookup('192.0.2.1')).toBe(firehol); // another range of the same list
    expect(t.lookup('198.18.0.201')).toBe(firehol); // after a gap in another list
  });

  it('counts a list once where its own ranges overlap', () => {
    const t = mergeNamedRanges([{ name: 'own', ranges: [r('192.0.2.0/24'), r('192.0.2.0/25'), r('192.0.2.7')] }]);
    expect(t.lookup('192.0.2.7')).toEqual(['own']);
    expect(t.segments).toBe(1);
  });

  it('answers with the arrays of a previous table after a rebuild, given its interned sets', () => {
    const interned = new Map<string, readonly string[]>();
    const before = mergeNamedRanges(lists, interned);
    expect([...interned.values()]).toEqual([...before.values]);
    const after = mergeNamedRanges([lists[0]!, { ...lists[1]!, ranges: [r('198.18.0.12/31')] }, lists[2]!], interned);
    expect(after.lookup('198.18.0.12')).toBe(before.lookup('198.18.0.12'));
    expect(after.lookup('198.18.0.13')).toBe(before.lookup('198.18.0.13'));
    expect(after.lookup('198.18.0.14')).toEqual(['firehol']);
    expect(after.lookup('198.18.0.14')).toBe(before.lookup('198.18.0.1'));
    // Sets no longer met are forgotten: 2001:db8::/32 left with the new spamhaus version.
    expect([...before.values]).toContainEqual(['spamhaus', 'et']);
    expect([...after.values]).not.toContainEqual(['spamhaus', 'et']);
    expect([...interned.values()]).toEqual([...after.values]);
  });
});

describe('range helpers', () => {
  it('makes CIDR ranges with the host bits cleared', () => {
    expect(ipv4CidrRange(0xc0000277, 24)).toEqual({ family: 4, start: 0xc0000200, end: 0xc00002ff });
    expect(ipv4CidrRange(0xffffffff, 0)).toEqual({ family: 4, start: 0, end: IPV4_MAX });
    expect(ipv4CidrRange(0xffffffff, 32)).toEqual({ family: 4, start: IPV4_MAX, end: IPV4_MAX });
    expect(ipv6CidrRange((0x20010db8n << 96n) | 0xffn, 32)).toEqual({ family: 6, start: 0x20010db8n << 96n, end: (0x20010db8n << 96n) | ((1n << 96n) - 1n) });
    expect(ipv6CidrRange(IPV6_MAX, 0)).toEqual({ family: 6, start: 0n, end: IPV6_MAX });
  });

  it('counts the addresses of ranges, overlaps once, capped at 2^53 − 1', () => {
    expect(addressCount([])).toBe(0);
    expect(addressCount([r('192.0.2.0/24'), r('192.0.2.0/25'), r('192.0.2.255'), r('198.51.100.1')])).toBe(257);
    expect(addressCount([r('192.0.2.0-192.0.2.9'), r('192.0.2.5-192.0.2.19')])).toBe(20);
    expect(addressCount([r('0.0.0.0/0')])).toBe(2 ** 32);
    expect(addressCount([r('2001:db8::/120'), r('192.0.2.0/24')])).toBe(512);
    expect(addressCount([r('2001:db8::/64')])).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('parses lookup addresses into numbers without allocating a result', () => {
    const out = new Uint32Array(4);
    expect(parseAddress('192.0.2.1', out)).toBe(4);
    expect(out[0]).toBe(0xc0000201);
    expect(parseAddress('::ffff:192.0.2.1', out)).toBe(4);
    expect(out[0]).toBe(0xc0000201);
    expect(parseAddress('2001:db8::1:2', out)).toBe(6);
    expect([...out]).toEqual([0x20010db8, 0, 0, 0x00010002]);
    expect(parseAddress('nonsense', out)).toBe(0);
  });
});

describe('a large IPv4 table (searched through its /16 index)', () => {
  it('answers every address as a plain search over the ranges would', () => {
    // 20,000 ranges of varied sizes, some nested, some sharing a /16, some spanning many.
    const ranges: Array<[number, number, number]> = [];
    let x = 12345;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 20_000; i++) {
      const start = next();
      const size = 2 ** (next() % 24) + i; // all sizes differ: no tie for the narrowest
      ranges.push([start, Math.min(IPV4_MAX, start + size - 1), i]);
    }
    ranges.push([0x0a000000, 0x0affffff, 20_000], [0x0a010000, 0x0a0100ff, 20_001], [0xfffffff0, IPV4_MAX, 20_002]);
    // Ranges of one address at a /16's first and last address.
    ranges.push([0x0c00ffff, 0x0c00ffff, 20_003], [0x0c020000, 0x0c020000, 20_004]);
    const builder = new AddressRangesBuilder<number>();
    for (const [start, end, value] of ranges) builder.add({ family: 4, start, end } as AddressRange, value);
    const t = builder.build();
    // The narrowest covering range wins.
    const plain = (a: number): number | undefined => {
      let best: [number, number, number] | undefined;
      for (const range of ranges) {
        if (a < range[0] || a > range[1]) continue;
        if (best === undefined || range[1] - range[0] < best[1] - best[0]) best = range;
      }
      return best?.[2];
    };
    const probes = [0, 1, 0x0a000000, 0x0a010000, 0x0a0100ff, 0x0a010100, 0x0affffff, 0x0b000000, 0xfffffff0, IPV4_MAX, 0x0c00fffe, 0x0c00ffff, 0x0c020000, 0x0c020001];
    for (const [start, end] of ranges.slice(0, 300)) probes.push(start, end, (start - 1) >>> 0, Math.min(IPV4_MAX, end + 1));
    for (let i = 0; i < 2000; i++) probes.push(next());
    // Each /16's first and last address (a /16 inside one segment is answered by the index alone).
    for (let i = 0; i < 2000; i++) {
      const from = (next() & 0xffff0000) >>> 0;
      probes.push(from, from + 0xffff);
    }
    for (const a of probes) expect(t.slotOfIpv4(a) < 0 ? undefined : t.values[t.slotOfIpv4(a)], `address ${a}`).toBe(plain(a));
  });
});

