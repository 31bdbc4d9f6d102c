import { describe, expect, it } from 'vitest';
import { ipv4Number, ipv6Network, ipv6NetworkText, ipv6Text, parseIPv4, parseIPv6 } from '../../src/util/ip.js';

describe('address text', () => {
  it('reads dotted quads strictly (no leading zeros, four octets 0-255)', () => {
    expect(parseIPv4('198.18.0.1', 0, 10)).toBe(0xc6120001);
    for (const bad of ['198.18.0', '198.18.0.256', '198.018.0.1', '1.2.3.4.5', '', 'a.b.c.d']) expect(parseIPv4(bad, 0, bad.length), bad).toBe(-1);
  });
  it('answers a whole string as parseIPv4 does, asked in any order and again (it remembers the last one)', () => {
    const texts = ['198.18.0.1', '198.18.0.1', '198.18.0.2', '', '198.018.0.1', '2001:db8::1', '0.0.0.0', '255.255.255.255', '198.18.0.2', '1.2.3.4.5', '198.18.0.1'];
    for (const text of texts) expect(ipv4Number(text), text).toBe(parseIPv4(text, 0, text.length));
    // The same text as another string object, and a string built from parts.
    expect(ipv4Number(['198', '18', '0', '1'].join('.'))).toBe(0xc6120001);
    expect(ipv4Number('198.18.0.1x'.slice(0, 10))).toBe(0xc6120001);
    expect(ipv4Number('198.18.0.1x')).toBe(-1);
  });
  it('reads IPv6 with "::" and an IPv4 tail', () => {
    const g = new Uint16Array(8);
    expect(parseIPv6('2001:db8::1', g)).toBe(true);
    expect([...g]).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('::ffff:198.18.0.1', g)).toBe(true);
    expect([...g]).toEqual([0, 0, 0, 0, 0, 0xffff, 0xc612, 1]);
    for (const bad of ['2001:db8:::1', '1:2:3:4:5:6:7:8:9', '2001:db8::1::2', ':1', 'g::1']) expect(parseIPv6(bad, g), bad).toBe(false);
  });
  it('takes a zone of the characters net.isIP takes, and ignores it', () => {
    const g = new Uint16Array(8);
    expect(parseIPv6('fe80::1%eth0', g)).toBe(true);
    expect([...g]).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    for (const bad of ['fe80::1%', 'fe80::1%eth 0', 'fe80::1%et/h0', 'fe80::1%é']) expect(parseIPv6(bad, g), bad).toBe(false);
  });
  it('answers every text alike asked in any order and again (it remembers the last one), into each caller\'s own groups', () => {
    const texts = ['2001:db8::1', '2001:db8::1', '2001:db8::2', '', '2001:db8:::1', '198.18.0.1', '::', '2001:db8::2', 'fe80::1%eth0', '2001:db8::1'];
    const expected = new Map<string, number[] | null>([
      ['2001:db8::1', [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
      ['2001:db8::2', [0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]],
      ['::', [0, 0, 0, 0, 0, 0, 0, 0]],
      ['fe80::1%eth0', [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ]);
    for (const text of texts) {
      const g = new Uint16Array(8).fill(0xabcd);
      const want = expected.get(text) ?? null;
      expect(parseIPv6(text, g), text).toBe(want !== null);
      if (want !== null) expect([...g], text).toEqual(want);
    }
    // Groups handed out are the caller's: changing them changes no later answer.
    const mine = new Uint16Array(8);
    parseIPv6('2001:db8::1', mine);
    mine.fill(7);
    const again = new Uint16Array(8);
    expect(parseIPv6(['2001', 'db8', '', '1'].join(':'), again)).toBe(true);
    expect([...again]).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
  });
});

describe('the network an IPv6 source is tracked as', () => {
  const g = new Uint16Array(8);
  it('keeps the prefix bits and writes the network as RFC 5952 text with its length', () => {
    expect(ipv6Network('2001:db8:1:2:a:b:c:d', 64, g)).toBe('2001:db8:1:2::/64');
    expect(ipv6Network('2001:db8:1:2:ffff::1', 64, g)).toBe('2001:db8:1:2::/64');
    expect(ipv6Network('2001:db8:1:2:a:b:c:d', 48, g)).toBe('2001:db8:1::/48');
    expect(ipv6Network('2001:db8:1:2:a:b:c:d', 56, g)).toBe('2001:db8:1::/56');
    expect(ipv6Network('2001:db8:1:2ff:a:b:c:d', 56, g)).toBe('2001:db8:1:200::/56');
    expect(ipv6Network('2001:0:0:1:0:0:0:1', 128, g)).toBe('2001:0:0:1::1/128');
    expect(ipv6Network('fd00:6e66::2', 64, g)).toBe('fd00:6e66::/64');
  });
  it('writes every group value in lower-case hex without leading zeros', () => {
    const g = new Uint16Array(8);
    for (let x = 0; x <= 0xffff; x++) {
      const hex = x.toString(16);
      expect(ipv6Network(`2001:${hex.toUpperCase()}:1:${hex}:5::`, 128, g)).toBe(x === 0 ? '2001:0:1:0:5::/128' : `2001:${hex}:1:${hex}:5::/128`);
    }
  });
  it('answers null for what is not IPv6', () => {
    expect(ipv6Network('198.18.0.1', 64, g)).toBeNull();
    expect(ipv6Network('not:an:address', 64, g)).toBeNull();
  });
  it('answers alike asked again, at another prefix length or in any order (it remembers the last answer)', () => {
    const asked: Array<[string, number, string | null]> = [
      ['2001:db8:1:2:a:b:c:d', 96, '2001:db8:1:2:a:b::/96'],
      ['2001:db8:1:2:a:b:c:d', 96, '2001:db8:1:2:a:b::/96'],
      ['2001:db8:1:2:a:b:c:d', 64, '2001:db8:1:2::/64'],
      ['198.18.0.1', 64, null],
      ['2001:db8:1:2:a:b:c:d', 96, '2001:db8:1:2:a:b::/96'],
      [['2001', 'db8', '1', '2', 'a', 'b', 'c', 'e'].join(':'), 96, '2001:db8:1:2:a:b::/96'],
      ['2001:db8:1:2:a:c:c:d', 96, '2001:db8:1:2:a:c::/96'],
    ];
    for (const [address, bits, network] of asked) expect(ipv6Network(address, bits, g), `${address} /${bits}`).toBe(network);
  });
  it('writes the same network from an address already parsed (ipv6NetworkText), and an address alone (ipv6Text)', () => {
    for (const address of ['2001:db8:1:2:a:b:c:d', '2001:0:0:1:0:0:0:1', 'fd00:6e66::2', '::1', '1::', '2a00:0:0:1:0:0:2:3']) {
      for (const bits of [12, 32, 48, 64, 128]) {
        const parsed = new Uint16Array(8);
        expect(parseIPv6(address, parsed)).toBe(true);
        expect(ipv6NetworkText(parsed, bits)).toBe(ipv6Network(address, bits, g));
      }
    }
    const parsed = new Uint16Array(8);
    for (const [address, text] of [['2001:0db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2a00:0:0:1:0:0:2:3', '2a00::1:0:0:2:3'], ['0:0:0:0:0:0:0:1', '::1'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0']]) {
      parseIPv6(address!, parsed);
      expect(ipv6Text(parsed)).toBe(text);
    }
  });
});
