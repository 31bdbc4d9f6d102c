// The search tree walked on numbers (src/enrich/mmdb-tree.ts): every address leads to the record
// mmdb-lib finds for it as a string, in the bundled database and in trees of each record size.
import { readFileSync } from 'node:fs';
import { Reader, type Response } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { bundledCountryDbPath } from '../../src/enrich/geoip.js';
import { SearchTree, NO_RECORD } from '../../src/enrich/mmdb-tree.js';
import { ipv4Number } from '../../src/util/ip.js';
import { writeMmdb } from '../fixtures/geoip/mmdb-writer.js';

const dotted = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

function seeded(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
}

function treeOf(bytes: Buffer): { tree: SearchTree; reader: Reader<Response> } {
  const reader = new Reader<Response>(bytes);
  const m = reader.metadata;
  return { tree: new SearchTree(bytes, m.nodeCount, m.recordSize, m.ipVersion), reader };
}

/**
 * Addresses with one record have one answer, and an address without a record has none (`ip`: an
 * address as text for mmdb-lib; `recordOf`: the record the walk on numbers leads it to).
 */
function expectSameAnswers(reader: Reader<Response>, addresses: Iterable<string>, recordOf: (ip: string) => number): number {
  const answerOf = new Map<number, string>();
  for (const ip of addresses) {
    const record = recordOf(ip);
    const answer = reader.get(ip);
    if (record === NO_RECORD) {
      expect(answer, ip).toBeNull();
      continue;
    }
    expect(answer, ip).not.toBeNull();
    const text = JSON.stringify(answer);
    const seen = answerOf.get(record);
    if (seen === undefined) answerOf.set(record, text);
    else expect(text, ip).toBe(seen);
  }
  return answerOf.size;
}

/** expectSameAnswers for IPv4 addresses given as numbers. */
const sameIpv4Answers = (tree: SearchTree, reader: Reader<Response>, addresses: readonly number[]): number =>
  expectSameAnswers(reader, addresses.map(dotted), (ip) => tree.recordOfIpv4(ipv4Number(ip)));

describe('the IPv4 tree of a MaxMind DB, walked on integers', () => {
  it('leads every address of the bundled database to the record mmdb-lib reads for it', () => {
    const { tree, reader } = treeOf(readFileSync(bundledCountryDbPath()));
    const random = seeded(11);
    const addresses = Array.from({ length: 100_000 }, random);
    // Both ends of the space, and around well-known networks.
    addresses.push(0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x08080808, 0x08080400, 0xc1000600);
    const records = sameIpv4Answers(tree, reader, addresses);
    // One record per country the addresses fell in: a few hundred, not one per address.
    expect(records).toBeGreaterThan(100);
    expect(records).toBeLessThan(400);
  });

  it.each([24, 28, 32] as const)('reads trees of %i-bit records, IPv4-only and IPv4 inside IPv6', (recordSize) => {
    for (const ipVersion of [4, 6] as const) {
      const bytes = writeMmdb({
        databaseType: 'test',
        ipVersion,
        recordSize,
        networks: [
          ['0.0.0.0/8', { n: 'zero' }],
          ['8.8.8.0/24', { n: 'google' }],
          ['8.8.4.4/32', { n: 'one address' }],
          ['128.0.0.0/1', { n: 'upper half' }],
          ['64.0.0.0/3', { n: 'upper half' }],
        ],
      });
      const { tree, reader } = treeOf(bytes);
      const random = seeded(recordSize * ipVersion);
      const addresses = [...Array.from({ length: 5_000 }, random), 0, 0x08080808, 0x08080404, 0x08080405, 0x40000000, 0x7fffffff, 0xffffffff];
      // zero, google, one address, upper half (two networks, one shared record).
      expect(sameIpv4Answers(tree, reader, addresses)).toBe(4);
      expect(tree.recordOfIpv4(0x0a000001)).toBe(NO_RECORD);
    }
  });

  it('reads the four high bits of 28-bit records from the middle byte (left: high nibble, right: low)', () => {
    // One node; a claimed nodeCount of 2^25 puts every data record above 24 bits.
    const nodeCount = 2 ** 25;
    const left = nodeCount + 0xabcdef;
    const right = 0xfedcba9;
    const node = Buffer.from([(left >>> 16) & 255, (left >>> 8) & 255, left & 255, ((left >>> 24) << 4) | (right >>> 24), (right >>> 16) & 255, (right >>> 8) & 255, right & 255]);
    const tree = new SearchTree(node, nodeCount, 28, 4);
    expect(tree.recordOfIpv4(0x00000001)).toBe(left);
    expect(tree.recordOfIpv4(0x80000000)).toBe(right);
  });

  it('answers no record where a damaged tree points outside itself, and refuses record sizes the format has not', () => {
    // The root's records point at node 5 of a one-node tree: the walk reads zeros (node 0) and never reaches data.
    const damaged = Buffer.from([0, 0, 5, 0, 0, 5]);
    expect(new SearchTree(damaged, 6, 24, 4).recordOfIpv4(0x01020304)).toBe(NO_RECORD);
    expect(() => new SearchTree(damaged, 1, 16, 4)).toThrow(/record size 16/);
  });
});

/** The eight groups of `text` (full form, no "::"). */
function groupsOf(text: string): Uint16Array {
  return Uint16Array.from(text.split(':'), (g) => parseInt(g, 16));
}

describe('the IPv6 tree of a MaxMind DB, walked on an address\'s groups', () => {
  it('leads every address of the bundled database to the record mmdb-lib reads for it', () => {
    const { tree, reader } = treeOf(readFileSync(bundledCountryDbPath()));
    const random = seeded(13);
    const group = (): string => (random() >>> 16).toString(16);
    const full = (first: string): string => [first, ...Array.from({ length: 7 }, group)].join(':');
    // Global unicast (2000::/3) mostly, and the rest of the space.
    const addresses = Array.from({ length: 50_000 }, (_, i) => full(i % 10 === 0 ? group() : (0x2000 + (random() & 0x1fff)).toString(16)));
    addresses.push('0:0:0:0:0:0:0:0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:4860:4860:0:0:0:0:8888', '2a00:1450:4001:0:0:0:0:1', '0:0:0:0:0:ffff:808:808');
    // Random IPv6 addresses mostly fall where nothing is allocated: a few records, not one per address.
    const records = expectSameAnswers(reader, addresses, (ip) => tree.recordOfIpv6(groupsOf(ip)));
    expect(records).toBeGreaterThan(10);
    expect(records).toBeLessThan(1000);
  });

  it.each([24, 28, 32] as const)('reads trees of %i-bit records; an IPv4-only tree has no IPv6 record', (recordSize) => {
    const bytes = writeMmdb({
      databaseType: 'test',
      ipVersion: 6,
      recordSize,
      networks: [
        ['2001:db8::/32', { n: 'documentation' }],
        ['2001:db9:1::/48', { n: 'a /48' }],
        ['2a00::/12', { n: 'ripe' }],
        ['2c0f:f000::/20', { n: 'ripe' }],
        ['fe80::1/128', { n: 'one address' }],
      ],
    });
    const { tree, reader } = treeOf(bytes);
    const random = seeded(recordSize);
    const group = (): string => (random() >>> 16).toString(16);
    const addresses = Array.from({ length: 5_000 }, () => Array.from({ length: 8 }, group).join(':'));
    addresses.push('2001:db8:0:0:0:0:0:1', '2001:db9:1:0:0:0:0:1', '2001:db9:1:ffff:0:0:0:1', '2a0f:ffff:0:0:0:0:0:0', '2c0f:f000:0:0:0:0:0:1', 'fe80:0:0:0:0:0:0:1');
    // documentation, a /48, ripe (two networks, one shared record), one address.
    expect(expectSameAnswers(reader, addresses, (ip) => tree.recordOfIpv6(groupsOf(ip)))).toBe(4);
    expect(tree.recordOfIpv6(groupsOf('fe80:0:0:0:0:0:0:2'))).toBe(NO_RECORD);
    expect(tree.recordOfIpv6(groupsOf('2001:db9:2:0:0:0:0:1'))).toBe(NO_RECORD);
    const v4only = treeOf(writeMmdb({ databaseType: 'test', ipVersion: 4, recordSize, networks: [['0.0.0.0/0', { n: 'all' }]] }));
    expect(v4only.tree.recordOfIpv6(groupsOf('2001:db8:0:0:0:0:0:1'))).toBe(NO_RECORD);
  });
});
