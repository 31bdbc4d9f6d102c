// The IPv4 tree walk on integers (src/enrich/mmdb-ipv4.ts): every address leads to the record
// mmdb-lib finds for it as a string, in the bundled database and in trees of each record size.
import { readFileSync } from 'node:fs';
import { Reader, type Response } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { bundledCountryDbPath } from '../../src/enrich/geoip.js';
import { Ipv4Tree, NO_RECORD } from '../../src/enrich/mmdb-ipv4.js';
import { writeMmdb } from '../fixtures/geoip/mmdb-writer.js';

const dotted = (v: number): string => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

function seeded(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
}

function treeOf(bytes: Buffer): { tree: Ipv4Tree; reader: Reader<Response> } {
  const reader = new Reader<Response>(bytes);
  const m = reader.metadata;
  return { tree: new Ipv4Tree(bytes, m.nodeCount, m.recordSize, m.ipVersion), reader };
}

/** Addresses with one record have one answer, and an address without a record has none. */
function expectSameAnswers(tree: Ipv4Tree, reader: Reader<Response>, addresses: Iterable<number>): number {
  const answerOf = new Map<number, string>();
  for (const v4 of addresses) {
    const record = tree.recordOf(v4);
    const answer = reader.get(dotted(v4));
    if (record === NO_RECORD) {
      expect(answer, dotted(v4)).toBeNull();
      continue;
    }
    expect(answer, dotted(v4)).not.toBeNull();
    const text = JSON.stringify(answer);
    const seen = answerOf.get(record);
    if (seen === undefined) answerOf.set(record, text);
    else expect(text, dotted(v4)).toBe(seen);
  }
  return answerOf.size;
}

describe('the IPv4 tree of a MaxMind DB, walked on integers', () => {
  it('leads every address of the bundled database to the record mmdb-lib reads for it', () => {
    const { tree, reader } = treeOf(readFileSync(bundledCountryDbPath()));
    const random = seeded(11);
    const addresses = Array.from({ length: 100_000 }, random);
    // Both ends of the space, and around well-known networks.
    addresses.push(0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x08080808, 0x08080400, 0xc1000600);
    const records = expectSameAnswers(tree, reader, addresses);
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
      expect(expectSameAnswers(tree, reader, addresses)).toBe(4);
      expect(tree.recordOf(0x0a000001)).toBe(NO_RECORD);
    }
  });

  it('reads the four high bits of 28-bit records from the middle byte (left: high nibble, right: low)', () => {
    // One node; a claimed nodeCount of 2^25 puts every data record above 24 bits.
    const nodeCount = 2 ** 25;
    const left = nodeCount + 0xabcdef;
    const right = 0xfedcba9;
    const node = Buffer.from([(left >>> 16) & 255, (left >>> 8) & 255, left & 255, ((left >>> 24) << 4) | (right >>> 24), (right >>> 16) & 255, (right >>> 8) & 255, right & 255]);
    const tree = new Ipv4Tree(node, nodeCount, 28, 4);
    expect(tree.recordOf(0x00000001)).toBe(left);
    expect(tree.recordOf(0x80000000)).toBe(right);
  });

  it('answers no record where a damaged tree points outside itself, and refuses record sizes the format has not', () => {
    // The root's records point at node 5 of a one-node tree: the walk reads zeros (node 0) and never reaches data.
    const damaged = Buffer.from([0, 0, 5, 0, 0, 5]);
    expect(new Ipv4Tree(damaged, 6, 24, 4).recordOf(0x01020304)).toBe(NO_RECORD);
    expect(() => new Ipv4Tree(damaged, 1, 16, 4)).toThrow(/record size 16/);
  });
});
