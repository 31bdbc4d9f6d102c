// Threat-list file formats (src/enrich/list-formats.ts): plain lists, FireHOL netsets, Spamhaus
// DROP text and JSON, Emerging Threats' compromised-ips.txt; what is not understood is reported
// with its line number and why, and never stops the rest of the file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mergeNamedRanges, type AddressRange } from '../../src/enrich/address-ranges.js';
import { MAX_BAD_LINES, detectListFormat, parseList, parseRangeText } from '../../src/enrich/list-formats.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/lists/${name}`, import.meta.url), 'utf8');

const v4 = (start: string, end = start): AddressRange => {
  const n = (ip: string): number => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  return { family: 4, start: n(start), end: n(end) };
};

/** The lists a parsed file puts each address on, through the merged table as the enricher uses it. */
function covers(text: string, addresses: string[]): Record<string, boolean> {
  const t = mergeNamedRanges([{ name: 'l', ranges: parseList(text).ranges }]);
  return Object.fromEntries(addresses.map((a) => [a, t.lookup(a) !== undefined]));
}

describe('the bundled fixture lists', () => {
  it('reads plain.txt: addresses, a range and IPv6, with comments after entries and on their own', () => {
    const parsed = parseList(fixture('plain.txt'));
    expect(parsed).toMatchObject({ format: 'plain', badLines: 0, bad: [] });
    expect(parsed.ranges).toEqual([
      v4('198.18.0.12'),
      v4('198.18.0.15'),
      v4('198.18.0.13', '198.18.0.14'),
      { family: 6, start: 0xfd006e660000000000000000000000a1n, end: 0xfd006e660000000000000000000000a1n },
      v4('192.0.2.0', '192.0.2.255'),
      v4('198.51.100.7'),
      { family: 6, start: 0x20010db80bad00000000000000000000n, end: 0x20010db80badffffffffffffffffffffn },
    ]);
  });

  it('reads a FireHOL netset, its header comments and all', () => {
    const parsed = parseList(fixture('firehol.netset'));
    expect(parsed).toMatchObject({ format: 'netset', badLines: 0 });
    expect(parsed.ranges).toEqual([v4('192.0.2.0', '192.0.2.255'), v4('198.18.0.20', '198.18.0.23'), v4('198.18.0.24', '198.18.0.27'), v4('203.0.113.64', '203.0.113.71')]);
  });

  it('reads Spamhaus DROP text, the SBL ids being comments', () => {
    const parsed = parseList(fixture('spamhaus-drop.txt'));
    expect(parsed).toMatchObject({ format: 'spamhaus', badLines: 0 });
    expect(parsed.ranges).toEqual([v4('192.0.2.0', '192.0.2.127'), v4('198.18.0.30', '198.18.0.31'), v4('198.51.100.0', '198.51.100.255')]);
  });

  it("reads Spamhaus's drop_v4.json lines and skips the metadata line", () => {
    const parsed = parseList(fixture('spamhaus-drop_v4.json'));
    expect(parsed).toMatchObject({ format: 'spamhaus-json', badLines: 0 });
    expect(parsed.ranges).toEqual([v4('192.0.2.128', '192.0.2.255'), v4('198.18.0.12'), v4('198.18.0.30', '198.18.0.31')]);
  });

  it("reads Emerging Threats' compromised-ips.txt", () => {
    const parsed = parseList(fixture('et-compromised-ips.txt'));
    expect(parsed).toMatchObject({ format: 'plain', badLines: 0 });
    expect(parsed.ranges).toEqual(['192.0.2.200', '198.18.0.15', '198.18.0.40', '198.18.0.41', '203.0.113.9'].map((a) => v4(a)));
    expect(parseList(fixture('et-compromised-ips.txt'), 'et').format).toBe('et');
  });

  it('names the capture sources its README says it names', () => {
    expect(covers(fixture('plain.txt'), ['198.18.0.12', '198.18.0.13', '198.18.0.14', '198.18.0.15', 'fd00:6e66::a1', '198.18.0.2', 'fd00:6e66::2', '198.18.0.11'])).toEqual({
      '198.18.0.12': true, '198.18.0.13': true, '198.18.0.14': true, '198.18.0.15': true, 'fd00:6e66::a1': true,
      '198.18.0.2': false, 'fd00:6e66::2': false, '198.18.0.11': false,
    });
    const nmap = ['198.18.0.20', '198.18.0.21', '198.18.0.22', '198.18.0.23', '198.18.0.24', '198.18.0.25', '198.18.0.26', '198.18.0.27'];
    expect(Object.values(covers(fixture('firehol.netset'), nmap)).every(Boolean)).toBe(true);
    expect(covers(fixture('firehol.netset'), ['198.18.0.28', '198.18.0.30', '198.18.0.2'])).toEqual({ '198.18.0.28': false, '198.18.0.30': false, '198.18.0.2': false });
    expect(covers(fixture('spamhaus-drop.txt'), ['198.18.0.30', '198.18.0.12'])).toEqual({ '198.18.0.30': true, '198.18.0.12': false });
    expect(covers(fixture('spamhaus-drop_v4.json'), ['198.18.0.30', '198.18.0.12', '198.18.0.15'])).toEqual({ '198.18.0.30': true, '198.18.0.12': true, '198.18.0.15': false });
    expect(covers(fixture('et-compromised-ips.txt'), ['198.18.0.15', '198.18.0.40', '198.18.0.41', '198.18.0.30'])).toEqual({ '198.18.0.15': true, '198.18.0.40': true, '198.18.0.41': true, '198.18.0.30': false });
  });
});

describe('telling the formats apart', () => {
  it('finds Spamhaus JSON by its first line, Spamhaus text by its header or SBL ids, FireHOL by its header, else plain', () => {
    expect(detectListFormat('\n{"cidr":"192.0.2.0/24","sblid":"SBL1"}\n')).toBe('spamhaus-json');
    expect(detectListFormat('; Spamhaus EDROP List 2024/01/15\n192.0.2.0/24 ; SBL1\n')).toBe('spamhaus');
    expect(detectListFormat('192.0.2.0/24 ; SBL123456\n')).toBe('spamhaus');
    expect(detectListFormat('#\n# firehol_level1\n#\n# ipv4 hash:net ipset\n192.0.2.0/24\n')).toBe('netset');
    expect(detectListFormat('192.0.2.1\n192.0.2.2\n')).toBe('plain');
    expect(detectListFormat('# my own list\n192.0.2.1 # seen on 2026-01-05\n')).toBe('plain');
    expect(detectListFormat('')).toBe('plain');
  });

  it('reads a file as the format asked for, whatever it looks like', () => {
    const json = fixture('spamhaus-drop_v4.json');
    const asText = parseList(json, 'plain');
    expect(asText.format).toBe('plain');
    expect(asText.ranges).toEqual([]);
    expect(asText.badLines).toBe(4);
    expect(parseList('192.0.2.1\n', 'spamhaus-json')).toMatchObject({ ranges: [], badLines: 1, bad: [{ line: 1, excerpt: '192.0.2.1', reason: 'not JSON' }] });
    expect(parseList('42\n', 'spamhaus-json').bad[0]!.reason).toBe('not a JSON object');
  });
});

describe('the line grammar of the text formats', () => {
  it('skips blank lines and comments, takes CRLF and a byte order mark', () => {
    const text = '\uFEFF# header\r\n\r\n   \r\n192.0.2.1\r\n\t198.51.100.0/24\t; trailing\r\n;only a comment\r\n203.0.113.0/24#no space\r\n';
    const parsed = parseList(text);
    expect(parsed.badLines).toBe(0);
    expect(parsed.ranges).toEqual([v4('192.0.2.1'), v4('198.51.100.0', '198.51.100.255'), v4('203.0.113.0', '203.0.113.255')]);
  });

  it('reports each line it does not understand with its number, an excerpt and why, and reads the rest', () => {
    const text = [
      '# test list', // 1
      '192.0.2.1', // 2
      '300.1.2.3', // 3
      '192.0.2.0/33', // 4
      'example.org', // 5
      '2001:db8::/129', // 6
      '192.0.2.9-192.0.2.1', // 7
      '192.0.2.1-2001:db8::1', // 8
      '192.0.2.1 192.0.2.2', // 9
      '01.2.3.4', // 10
      '192.0.2.0/', // 11
      '<html><body>Too many requests</body></html>', // 12
      '198.51.100.1 # fine', // 13
    ].join('\n');
    const parsed = parseList(text);
    expect(parsed.ranges).toEqual([v4('192.0.2.1'), v4('198.51.100.1')]);
    expect(parsed.badLines).toBe(10);
    expect(parsed.bad).toEqual([
      { line: 3, excerpt: '300.1.2.3', reason: 'not an IPv4 address (four numbers 0–255, without leading zeros)' },
      { line: 4, excerpt: '192.0.2.0/33', reason: 'prefix length /33 is out of range for IPv4 (0–32)' },
      { line: 5, excerpt: 'example.org', reason: 'not an IP address, network or range' },
      { line: 6, excerpt: '2001:db8::/129', reason: 'prefix length /129 is out of range for IPv6 (0–128)' },
      { line: 7, excerpt: '192.0.2.9-192.0.2.1', reason: 'the range ends before it starts' },
      { line: 8, excerpt: '192.0.2.1-2001:db8::1', reason: 'a range from IPv4 to IPv6' },
      { line: 9, excerpt: '192.0.2.1 192.0.2.2', reason: 'text after the entry (one entry per line; comments start with # or ;)' },
      { line: 10, excerpt: '01.2.3.4', reason: 'not an IPv4 address (four numbers 0–255, without leading zeros)' },
      { line: 11, excerpt: '192.0.2.0/', reason: 'not a prefix length after "/"' },
      { line: 12, excerpt: '<html><body>Too many requests</body></html>', reason: 'not an IP address, network or range' },
    ]);
  });

  it('counts every bad line but keeps only the first few to show, each cut to a readable length', () => {
    const text = Array.from({ length: 500 }, (_, i) => `garbage line ${i} ${'x'.repeat(100)}`).join('\n');
    const parsed = parseList(text);
    expect(parsed.badLines).toBe(500);
    expect(parsed.bad).toHaveLength(MAX_BAD_LINES);
    expect(parsed.bad[0]!.excerpt).toHaveLength(60);
    expect(parsed.bad[0]!.excerpt.endsWith('…')).toBe(true);
  });

  it('takes a network with host bits set as its network', () => {
    expect(parseList('192.0.2.77/24\n2001:db8::1/32\n').ranges).toEqual([
      v4('192.0.2.0', '192.0.2.255'),
      { family: 6, start: 0x20010db8n << 96n, end: (0x20010db8n << 96n) | ((1n << 96n) - 1n) },
    ]);
  });

  it('reads the IPv4 edges and IPv6 ranges', () => {
    expect(parseList('0.0.0.0\n255.255.255.255\n0.0.0.0/0\n1.2.3.4/32\n').ranges).toEqual([v4('0.0.0.0'), v4('255.255.255.255'), v4('0.0.0.0', '255.255.255.255'), v4('1.2.3.4')]);
    expect(parseRangeText('2001:db8::10-2001:db8::1f')).toEqual({ family: 6, start: (0x20010db8n << 96n) | 0x10n, end: (0x20010db8n << 96n) | 0x1fn });
    expect(parseRangeText('::/0')).toEqual({ family: 6, start: 0n, end: (1n << 128n) - 1n });
    expect(parseRangeText('::ffff:192.0.2.1')).toEqual({ family: 6, start: 0xffffc0000201n, end: 0xffffc0000201n });
    expect(parseRangeText('fe80::1%eth0')).toBe('not an IP address, network or range');
  });
});

describe('Spamhaus JSON lines', () => {
  it('reports lines that are not JSON objects with a cidr, and reads IPv6', () => {
    const text = [
      '{"cidr":"2001:db8:100::/40","sblid":"SBL303641","rir":"ripencc"}',
      '{"cidr":"192.0.2.0/24"',
      '[1,2]',
      '{"sblid":"SBL1"}',
      '{"cidr":"192.0.2.0/40","sblid":"SBL2"}',
      '',
      '{"type":"metadata","timestamp":1767607200,"size":120,"records":2}',
    ].join('\r\n');
    const parsed = parseList(text);
    expect(parsed.format).toBe('spamhaus-json');
    expect(parsed.ranges).toEqual([{ family: 6, start: 0x20010db8010000000000000000000000n, end: 0x20010db801ffffffffffffffffffffffn }]);
    expect(parsed.bad).toEqual([
      { line: 2, excerpt: '{"cidr":"192.0.2.0/24"', reason: 'not JSON' },
      { line: 3, excerpt: '[1,2]', reason: 'not a JSON object' },
      { line: 4, excerpt: '{"sblid":"SBL1"}', reason: 'no "cidr" string' },
      { line: 5, excerpt: '{"cidr":"192.0.2.0/40","sblid":"SBL2"}', reason: 'prefix length /40 is out of range for IPv4 (0–32)' },
    ]);
  });
});
