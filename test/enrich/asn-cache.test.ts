// The parsed AS data kept in state_dir (src/enrich/asn-cache.ts): written once after the CSV is
// parsed, read back at the next start with the same answers; a file made from other CSV files,
// cut short or damaged is not used (and says why), never crashes and never answers wrongly.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asnCacheSignature, decodeAsnCache, encodeAsnCache, readAsnCache, writeAsnCache } from '../../src/enrich/asn-cache.js';
import { AsnTable } from '../../src/enrich/asn-table.js';
import { MISSING } from '../../src/enrich/watched-files.js';

const CSV = [
  '16843008,16843263,13335,"Cloudflare, Inc."',
  '134744064,134744319,15169,Google LLC',
  '35309568,35313663,201907,"LLC ""SPUTNIK"""',
  '3758096384,4294967295,64512,Zürich Netz AG',
  '2001:4860::,2001:4860:4804:ffff:ffff:ffff:ffff:ffff,15169,Google LLC',
  '2606:4700::,2606:4700:ffff:ffff:ffff:ffff:ffff:ffff,13335,"Cloudflare, Inc."',
  'not,a,line',
].join('\n');

const table = (): AsnTable => AsnTable.fromCsv([{ file: 'asn.csv', data: Buffer.from(CSV) }]);
const PROBES = ['1.1.1.1', '1.1.2.1', '8.8.8.8', '2.26.200.1', '224.0.0.1', '255.255.255.255', '0.0.0.0', '2001:4860:4860::8888', '2606:4700:4700::1111', '2606:4701::1', '::1', '::ffff:8.8.8.8'];
const answers = (t: AsnTable): unknown[] => PROBES.map((ip) => t.lookup(ip));

describe('the AS table cache', () => {
  it('gives back the table it was given: every answer, the counts and the lines not understood', () => {
    const original = table();
    const back = decodeAsnCache(encodeAsnCache(original, 'sig'), 'sig');
    expect(back).toBeInstanceOf(AsnTable);
    const t = back as AsnTable;
    expect(answers(t)).toEqual(answers(original));
    expect(answers(t)).toContainEqual({ asn: 64512, org: 'Zürich Netz AG' });
    expect(t.lookup('2.26.200.1')).toEqual({ asn: 201907, org: 'LLC "SPUTNIK"' });
    expect([t.ranges, t.badLines]).toEqual([original.ranges, original.badLines]);
    expect(t.bad).toEqual(original.bad);
    expect(t.bad[0]).toMatchObject({ file: 'asn.csv', line: 7 });
    expect(Object.isFrozen(t.lookup('1.1.1.1'))).toBe(true);
  });

  it('makes the answers of a table read back only as they are asked for, each once', () => {
    const t = decodeAsnCache(encodeAsnCache(table(), 'sig'), 'sig') as AsnTable;
    const made = (): number => t.segments.values.filter((v) => v !== undefined).length;
    expect(made()).toBe(0);
    const google = t.lookup('8.8.8.8');
    expect(google).toEqual({ asn: 15169, org: 'Google LLC' });
    expect(made()).toBe(1);
    // The same object for every address of the answer, IPv4 and IPv6 alike.
    expect(t.lookup('8.8.8.9')).toBe(google);
    expect(t.lookup('2001:4860:4800::1')).toBe(google);
    expect(made()).toBe(1);
    expect(Array.from({ length: t.answers }, (_, slot) => t.answer(slot))).toEqual(Array.from({ length: table().answers }, (_, slot) => table().answer(slot)));
    expect(made()).toBe(t.answers);
  });

  it('keeps an empty table', () => {
    const t = decodeAsnCache(encodeAsnCache(AsnTable.empty(), 'sig'), 'sig') as AsnTable;
    expect(t.ranges).toBe(0);
    expect(t.lookup('8.8.8.8')).toBeNull();
  });

  it('reads a buffer that is not 4-byte aligned in memory', () => {
    const bytes = encodeAsnCache(table(), 'sig');
    const odd = Buffer.alloc(bytes.length + 1).subarray(1);
    bytes.copy(odd);
    expect(odd.byteOffset % 4).not.toBe(0);
    expect(answers(decodeAsnCache(odd, 'sig') as AsnTable)).toEqual(answers(table()));
  });

  it('is not used when made from other files, and says so', () => {
    expect(decodeAsnCache(encodeAsnCache(table(), 'a.csv 100 1'), 'a.csv 101 1')).toBe('it was made from other CSV files (or other versions of them)');
  });

  const DAMAGED = 'it is damaged or cut short (its CRC-32 does not match)';
  it.each([
    ['not one at all', (_: Buffer) => Buffer.from('hello'), 'not an AS table file of this version'],
    ['of another version', (b: Buffer) => Buffer.concat([Buffer.from('NFWASN00'), b.subarray(8)]), 'not an AS table file of this version'],
    ['cut short', (b: Buffer) => b.subarray(0, b.length - 3), DAMAGED],
    ['cut in its header', (b: Buffer) => b.subarray(0, 20), DAMAGED],
    ['longer than it was', (b: Buffer) => Buffer.concat([b, Buffer.alloc(4)]), DAMAGED],
  ])('is not used when %s', (_, damage, why) => {
    expect(decodeAsnCache(damage(encodeAsnCache(table(), 'sig')), 'sig')).toBe(why);
  });

  it('refuses every single flipped byte', () => {
    const bytes = encodeAsnCache(table(), 'sig');
    const answered: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const damaged = Buffer.from(bytes);
      damaged[i] = damaged[i]! ^ 0x01;
      if (typeof decodeAsnCache(damaged, 'sig') !== 'string') answered.push(i);
    }
    expect(answered).toEqual([]);
  });

  /** The CRC made right again after a change: what the checks past it see. */
  const resigned = (b: Buffer): Buffer => {
    b.writeUInt32LE(crc32(b.subarray(12)), 8);
    return b;
  };

  it('checks what a lookup relies on even under a good CRC: the order of the segments, the answers they name, the sizes', () => {
    const t = table();
    const bytes = encodeAsnCache(t, 'sig');
    const sectionsAt = (16 + bytes.readUInt32LE(12) + 7) & ~7;
    const answersCount = t.segments.values.length;
    // The second IPv4 start set below the first; then a slot past the answers.
    const v4StartsAt = sectionsAt + 8 * answersCount;
    const swapped = Buffer.from(bytes);
    swapped.writeUInt32LE(0, v4StartsAt + 4);
    expect(decodeAsnCache(resigned(swapped), 'sig')).toBe('its IPv4 segments are not in order');
    const badSlot = Buffer.from(bytes);
    badSlot.writeInt32LE(answersCount, v4StartsAt + 4 * t.segments.v4Starts.length);
    expect(decodeAsnCache(resigned(badSlot), 'sig')).toBe('a segment names an answer it does not have');
    expect(decodeAsnCache(resigned(Buffer.concat([bytes, Buffer.alloc(4)])), 'sig')).toBe('its size does not match its header');
    const headerless = Buffer.from(bytes);
    headerless.write('{', 16, 'latin1');
    headerless.write('x', 17, 'latin1');
    expect(decodeAsnCache(resigned(headerless), 'sig')).toBe('its header is not JSON');
  });
});

describe('the AS table cache file', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nfwatch-asn-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is written whole (creating its directory) and read back', async () => {
    const file = path.join(dir, 'state', 'asn-bundled.table');
    await writeAsnCache(file, table(), 'sig');
    expect(answers((await readAsnCache(file, 'sig')) as AsnTable)).toEqual(answers(table()));
    expect(readFileSync(file).subarray(0, 8).toString('latin1')).toBe('NFWASN01');
  });

  it('is MISSING when there is none', async () => {
    expect(await readAsnCache(path.join(dir, 'none.table'), 'sig')).toBe(MISSING);
  });

  it('is signed by the path, size and modification time of each CSV file', async () => {
    const csv = path.join(dir, 'a.csv');
    writeFileSync(csv, CSV);
    const before = await asnCacheSignature([csv]);
    expect(before).toMatch(new RegExp(`^${csv} ${Buffer.byteLength(CSV)} \\d+(\\.\\d+)?$`));
    writeFileSync(csv, `${CSV}\n`);
    expect(await asnCacheSignature([csv])).not.toBe(before);
    await expect(asnCacheSignature([path.join(dir, 'absent.csv')])).rejects.toThrow(/ENOENT/);
  });

  it("is signed by the package's version and each file's name and size for an installed package's files, wherever they are", async () => {
    const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
    for (const d of [a, b]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'asn.csv'), CSV);
    }
    const signed = await asnCacheSignature([path.join(a, 'asn.csv')], 'pkg@1.0.0');
    expect(signed).toBe(`pkg@1.0.0 asn.csv ${Buffer.byteLength(CSV)}`);
    utimesSync(path.join(b, 'asn.csv'), new Date(0), new Date(0));
    expect(await asnCacheSignature([path.join(b, 'asn.csv')], 'pkg@1.0.0')).toBe(signed);
    expect(await asnCacheSignature([path.join(b, 'asn.csv')], 'pkg@1.0.1')).not.toBe(signed);
    writeFileSync(path.join(b, 'asn.csv'), `${CSV}\n`);
    expect(await asnCacheSignature([path.join(b, 'asn.csv')], 'pkg@1.0.0')).not.toBe(signed);
  });
});
