// Which addresses GeoIP labels instead of looking them up (src/enrich/ip-ranges.ts): RFC 6890 and
// the IANA special-purpose address registries.
import { describe, expect, it } from 'vitest';
import { classifyIp, mappedIpv4 } from '../../src/enrich/ip-ranges.js';

const cases: Array<[string, 'private' | 'reserved' | '', string]> = [
  // IPv4 private
  ['10.0.0.1', 'private', 'RFC 1918 10/8'],
  ['10.255.255.255', 'private', 'RFC 1918 10/8, last'],
  ['172.16.0.0', 'private', 'RFC 1918 172.16/12, first'],
  ['172.31.255.255', 'private', 'RFC 1918 172.16/12, last'],
  ['192.168.1.1', 'private', 'RFC 1918 192.168/16'],
  ['100.64.0.1', 'private', 'CGNAT 100.64/10, first'],
  ['100.127.255.254', 'private', 'CGNAT 100.64/10, last'],
  ['127.0.0.1', 'private', 'loopback'],
  ['127.255.255.254', 'private', 'loopback /8'],
  ['169.254.169.254', 'private', 'link-local'],
  // IPv4 reserved
  ['0.0.0.0', 'reserved', 'this host'],
  ['0.1.2.3', 'reserved', 'this network 0/8'],
  ['192.0.0.8', 'reserved', 'IETF protocol assignments 192.0.0/24'],
  ['192.0.0.170', 'reserved', 'NAT64 discovery (192.0.0/24)'],
  ['192.0.2.33', 'reserved', 'TEST-NET-1'],
  ['198.51.100.7', 'reserved', 'TEST-NET-2'],
  ['203.0.113.200', 'reserved', 'TEST-NET-3'],
  ['198.18.0.1', 'reserved', 'benchmarking 198.18/15, first half'],
  ['198.19.255.255', 'reserved', 'benchmarking 198.18/15, second half'],
  ['192.88.99.1', 'reserved', 'deprecated 6to4 relay anycast'],
  ['224.0.0.251', 'reserved', 'multicast (mDNS)'],
  ['239.255.255.250', 'reserved', 'multicast (SSDP)'],
  ['240.0.0.1', 'reserved', '240/4'],
  ['255.255.255.255', 'reserved', 'limited broadcast'],
  // IPv4 global, including the edges of the ranges above
  ['8.8.8.8', '', 'global'],
  ['9.255.255.255', '', 'just below 10/8'],
  ['11.0.0.0', '', 'just above 10/8'],
  ['100.63.255.255', '', 'just below CGNAT'],
  ['100.128.0.0', '', 'just above CGNAT'],
  ['172.15.255.255', '', 'just below 172.16/12'],
  ['172.32.0.0', '', 'just above 172.16/12'],
  ['169.253.0.1', '', 'beside link-local'],
  ['192.0.0.9', '', 'PCP anycast: globally reachable'],
  ['192.0.0.10', '', 'TURN anycast: globally reachable'],
  ['192.0.1.1', '', 'beside 192.0.0/24 and TEST-NET-1'],
  ['192.31.196.1', '', 'AS112: globally reachable'],
  ['198.17.255.255', '', 'just below benchmarking'],
  ['198.20.0.0', '', 'just above benchmarking'],
  ['203.0.114.1', '', 'beside TEST-NET-3'],
  ['223.255.255.255', '', 'just below multicast'],
  // IPv6 private
  ['::1', 'private', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'private', 'loopback, uncompressed'],
  ['fd12:3456:789a::1', 'private', 'ULA fd00::/8'],
  ['fc00::1', 'private', 'ULA fc00::/8'],
  ['fe80::1ff:fe23:4567:890a', 'private', 'link-local'],
  ['fe80::1%eth0', 'private', 'link-local with a zone'],
  ['febf:ffff::1', 'private', 'link-local fe80::/10, last'],
  ['::ffff:192.168.0.1', 'private', 'IPv4-mapped, dotted: by the embedded address'],
  ['::ffff:c0a8:1', 'private', 'IPv4-mapped, hex: by the embedded address'],
  ['::FFFF:10.1.2.3', 'private', 'IPv4-mapped, upper case'],
  // IPv6 reserved
  ['::', 'reserved', 'unspecified'],
  ['::ffff:192.0.2.1', 'reserved', 'IPv4-mapped TEST-NET-1'],
  ['::ffff:255.255.255.255', 'reserved', 'IPv4-mapped broadcast'],
  ['::1.2.3.4', 'reserved', 'deprecated IPv4-compatible'],
  ['2001:db8::1', 'reserved', 'documentation'],
  ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved', 'documentation, last'],
  ['3fff::1', 'reserved', 'documentation 3fff::/20'],
  ['2001::1', 'reserved', 'Teredo'],
  ['2001:2::1', 'reserved', 'benchmarking'],
  ['2001:10::1', 'reserved', 'deprecated ORCHID'],
  ['2001:1::4', 'reserved', '2001:1::/48 beside the anycast addresses'],
  ['64:ff9b::808:808', 'reserved', 'NAT64 well-known prefix'],
  ['64:ff9b:1::1', 'reserved', 'local-use NAT64'],
  ['100::1', 'reserved', 'discard-only'],
  ['ff02::1', 'reserved', 'multicast all-nodes'],
  ['ff05::1:3', 'reserved', 'multicast site-local DHCP'],
  ['fec0::1', 'reserved', 'deprecated site-local'],
  ['5f00::1', 'reserved', 'SRv6 SIDs'],
  ['4000::1', 'reserved', 'outside 2000::/3'],
  // IPv6 global
  ['2001:4860:4860::8888', '', 'global unicast'],
  ['2a00:1450:4001:81c::200e', '', 'global unicast'],
  ['2001:1::1', '', 'PCP anycast: globally reachable'],
  ['2001:3::1', '', 'AMT: globally reachable'],
  ['2001:4:112::1', '', 'AS112-v6: globally reachable'],
  ['2001:20::1', '', 'ORCHIDv2: globally reachable'],
  ['2001:200::1', '', 'just above 2001::/23'],
  ['2002:c000:201::1', '', '6to4: looked up'],
  ['3ffe:1000::1', '', 'just below 3fff::/20'],
  ['3fff:1000::1', '', 'just above 3fff::/20'],
  ['::ffff:8.8.8.8', '', 'IPv4-mapped global'],
  ['1:2:3:4:5:6:7:8', 'reserved', 'outside 2000::/3, uncompressed'],
  ['2001:db8:0:0:0:0:2:1', 'reserved', 'documentation, uncompressed'],
];

describe('classifyIp', () => {
  it.each(cases)('%s is %j (%s)', (ip, label) => {
    expect(classifyIp(ip)).toBe(label);
  });

  it.each([
    '',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1..2.3',
    '1.2.3.',
    ':',
    ':::',
    '1:2',
    '1::2::3',
    '12345::1',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1:',
    ':1',
    'g::1',
    '::ffff:1.2.3',
    '::ffff:1.2.3.256',
    '1:2:3:4:5:6:7:1.2.3.4',
  ])('%j is not an address (null)', (text) => {
    expect(classifyIp(text)).toBeNull();
  });

  it('accepts every textual form of one address', () => {
    for (const ip of ['2001:db8::', '2001:DB8::0', '2001:0db8:0000:0000:0000:0000:0000:0000', '2001:db8:0:0::0:0']) expect(classifyIp(ip)).toBe('reserved');
    for (const ip of ['::ffff:0808:0808', '0:0:0:0:0:ffff:8.8.8.8', '::ffff:808:808']) expect(classifyIp(ip)).toBe('');
  });
});

describe('mappedIpv4', () => {
  it('gives the IPv4 address inside an IPv4-mapped IPv6 address, else ""', () => {
    expect(mappedIpv4('::ffff:8.8.8.8')).toBe('8.8.8.8');
    expect(mappedIpv4('::ffff:c000:201')).toBe('192.0.2.1');
    expect(mappedIpv4('0:0:0:0:0:ffff:ffff:ffff')).toBe('255.255.255.255');
    expect(mappedIpv4('::1.2.3.4')).toBe('');
    expect(mappedIpv4('2001:db8::1')).toBe('');
    expect(mappedIpv4('8.8.8.8')).toBe('');
  });
});

describe('the address parser', () => {
  it("agrees with Node's net.isIP on 20 000 mangled addresses", async () => {
    const { isIP } = await import('node:net');
    const seeds = ['192.0.2.1', '8.8.8.8', '255.255.255.255', '::', '::1', '2001:db8::1', 'fe80::1%eth0', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8', '1::8', '1:2:3:4:5:6:1.2.3.4'];
    const alphabet = '0123456789abcdefABCDEF.:%xg ';
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      let s = seeds[random(seeds.length)] ?? '';
      for (let edits = 1 + random(3); edits > 0; edits--) {
        const at = random(s.length + 1);
        const op = random(3);
        const c = alphabet[random(alphabet.length)] ?? '';
        s = op === 0 ? s.slice(0, at) + c + s.slice(at) : op === 1 ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + c + s.slice(at + 1);
      }
      expect(classifyIp(s) !== null, s).toBe(isIP(s) !== 0);
    }
  });
});
