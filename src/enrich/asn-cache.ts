// The bundled AS data, kept parsed: by the build beside the code (SHIPPED_ASN_TABLE) and, when
// that one does not match the installed data, by the first start in state_dir. Parsing its 30 MB
// of CSV takes a second or more of CPU and lifts the start's peak memory by ~70 MiB (the file bytes
// and the builder's arrays); the parsed table, written once as typed arrays, reads back in a few
// milliseconds as views of one buffer. The file names what it was made from (asnCacheSignature):
// when that differs, or the file is not one this code wrote whole, it is not used, the CSV is
// parsed and the file in state_dir written again. A broken file is never worse than none.
//
// Layout, little-endian: MAGIC, the CRC-32 of everything after it, a u32 header length, the header
// (JSON), zero padding to a multiple of 8, then the sections (32-bit words: AS numbers, where each
// organisation ends, IPv4 starts and slots, IPv6 starts as four words and slots), then the
// organisations as UTF-8, one after another.
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { errorCode, errorText } from '../util/errors.js';
import type { Segments } from './address-ranges.js';
import { AsnTable, type AsnBadLine, type AsnInfo } from './asn-table.js';
import { MISSING } from './watched-files.js';

/** The parsed bundled AS data's file in state_dir. */
export const ASN_CACHE_FILE = 'asn-bundled.table';

/**
 * The same table made by the build (scripts/ship-asn-table.mjs) beside the code, dist/: a first
 * start with an empty state_dir reads it instead of parsing the CSV, when it was made from the
 * installed package's version.
 */
export const SHIPPED_ASN_TABLE = fileURLToPath(new URL(`../${ASN_CACHE_FILE}`, import.meta.url));

/** The first 8 bytes; the digits are the layout's version. */
const MAGIC = Buffer.from('NFWASN01', 'latin1');
/** Where the CRC-32 is, the header's length, the header. */
const CRC_AT = MAGIC.length;
const LENGTH_AT = CRC_AT + 4;
const HEADER_AT = LENGTH_AT + 4;

interface Header {
  /** What the table was made from (asnCacheSignature). */
  signature: string;
  ranges: number;
  badLines: number;
  bad: AsnBadLine[];
  answers: number;
  v4: number;
  v6: number;
  orgBytes: number;
}

/**
 * How the files a table is made from are identified. Files of an installed package (its
 * `name@version` given) by that version and each file's name and size: npm never changes what a
 * published version holds, so a table made at build time (SHIPPED_ASN_TABLE) holds wherever and
 * whenever the package is installed. Other files by the path, size and modification time of each.
 */
export async function asnCacheSignature(files: readonly string[], packageVersion = ''): Promise<string> {
  const parts = await Promise.all(files.map(async (file) => {
    const s = await stat(file);
    return packageVersion === '' ? `${file} ${s.size} ${s.mtimeMs}` : `${packageVersion} ${path.basename(file)} ${s.size}`;
  }));
  return parts.join('\n');
}

const align8 = (n: number): number => (n + 7) & ~7;

/** The table as the cache file's bytes. */
export function encodeAsnCache(table: AsnTable, signature: string): Buffer {
  const s = table.segments;
  const answers = Array.from({ length: table.answers }, (_, slot) => table.answer(slot));
  const orgs = answers.map((a) => Buffer.from(a.org, 'utf8'));
  const orgBytes = orgs.reduce((n, b) => n + b.length, 0);
  const header: Header = {
    signature,
    ranges: table.ranges,
    badLines: table.badLines,
    bad: [...table.bad],
    answers: answers.length,
    v4: s.v4Starts.length,
    v6: s.v6Slots.length,
    orgBytes,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const sectionsAt = align8(HEADER_AT + headerBytes.length);
  const words = 2 * header.answers + 2 * header.v4 + 5 * header.v6;
  // Its own ArrayBuffer at offset 0: the sections are copied in at their offsets in it.
  const out = Buffer.from(new ArrayBuffer(sectionsAt + 4 * words + orgBytes));
  MAGIC.copy(out, 0);
  out.writeUInt32LE(headerBytes.length, LENGTH_AT);
  headerBytes.copy(out, HEADER_AT);
  const asns = new Uint32Array(header.answers);
  const orgEnds = new Uint32Array(header.answers);
  let end = 0;
  for (let i = 0; i < header.answers; i++) {
    asns[i] = answers[i]!.asn;
    end += orgs[i]!.length;
    orgEnds[i] = end;
  }
  let at = sectionsAt;
  for (const section of [asns, orgEnds, s.v4Starts, s.v4Slots, ...s.v6Words, s.v6Slots]) {
    new Uint8Array(out.buffer, at, section.byteLength).set(new Uint8Array(section.buffer, section.byteOffset, section.byteLength));
    at += section.byteLength;
  }
  for (const org of orgs) {
    org.copy(out, at);
    at += org.length;
  }
  out.writeUInt32LE(crc32(out.subarray(LENGTH_AT)), CRC_AT);
  return out;
}

const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The table in `data`, when it is a whole cache file made from `signature`; else why not (the
 * caller parses the CSV instead). A damaged file fails its CRC-32; past it, what a lookup relies
 * on is checked too (sizes, the order of the segments, slots in range), so that even a file
 * written wrongly with a good CRC cannot make a lookup fail.
 */
export function decodeAsnCache(data: Buffer, signature: string): AsnTable | string {
  if (data.length < HEADER_AT || !data.subarray(0, MAGIC.length).equals(MAGIC)) return 'not an AS table file of this version';
  if (crc32(data.subarray(LENGTH_AT)) !== data.readUInt32LE(CRC_AT)) return 'it is damaged or cut short (its CRC-32 does not match)';
  const headerLength = data.readUInt32LE(LENGTH_AT);
  if (HEADER_AT + headerLength > data.length) return 'its header is damaged';
  let header: Header;
  try {
    header = JSON.parse(data.toString('utf8', HEADER_AT, HEADER_AT + headerLength)) as Header;
  } catch {
    return 'its header is not JSON';
  }
  if (typeof header !== 'object' || header === null) return 'its header is not JSON';
  if (header.signature !== signature) return 'it was made from other CSV files (or other versions of them)';
  const { answers, v4, v6, orgBytes } = header;
  if (![answers, v4, v6, orgBytes, header.ranges, header.badLines].every(count) || !Array.isArray(header.bad) || v4 < 1 || v6 < 1) return 'its header is damaged';
  const sectionsAt = align8(HEADER_AT + headerLength);
  if (sectionsAt + 4 * (2 * answers + 2 * v4 + 5 * v6) + orgBytes !== data.length) return 'its size does not match its header';
  // Views need 4-byte alignment in memory; a Buffer that is a slice of a pool may not have it.
  const bytes = data.byteOffset % 4 === 0 ? data : Buffer.from(data);
  let at = bytes.byteOffset + sectionsAt;
  const u32 = (n: number): Uint32Array => {
    const view = new Uint32Array(bytes.buffer, at, n);
    at += 4 * n;
    return view;
  };
  const i32 = (n: number): Int32Array => {
    const view = new Int32Array(bytes.buffer, at, n);
    at += 4 * n;
    return view;
  };
  const asns = u32(answers);
  const orgEnds = u32(answers);
  const v4Starts = u32(v4);
  const v4Slots = i32(v4);
  const v6Words: [Uint32Array, Uint32Array, Uint32Array, Uint32Array] = [u32(v6), u32(v6), u32(v6), u32(v6)];
  const v6Slots = i32(v6);
  const orgsAt = at - bytes.byteOffset;

  if (v4Starts[0] !== 0) return 'its IPv4 segments do not start at 0.0.0.0';
  if (!ascending(v4Starts)) return 'its IPv4 segments are not in order';
  const [w0, w1, w2, w3] = v6Words;
  if (w0[0] !== 0 || w1[0] !== 0 || w2[0] !== 0 || w3[0] !== 0) return 'its IPv6 segments do not start at ::';
  if (!ascendingWords(w0, w1, w2, w3)) return 'its IPv6 segments are not in order';
  if (!slotsBelow(v4Slots, answers) || !slotsBelow(v6Slots, answers)) return 'a segment names an answer it does not have';
  if (!endsWithin(orgEnds, orgBytes)) return 'its organisations are damaged';
  // Answers are made when first asked for: a day's traffic meets a fraction of the ~90,000, and
  // each made would be an object and a string (~80 bytes) held for the daemon's life.
  const make = (slot: number): AsnInfo => {
    const start = slot === 0 ? 0 : orgEnds[slot - 1]!;
    return Object.freeze({ asn: asns[slot]!, org: bytes.toString('utf8', orgsAt + start, orgsAt + orgEnds[slot]!) });
  };
  const segments: Segments<AsnInfo> = { values: Array.from({ length: answers }, () => undefined), make, v4Starts, v4Slots, v6Words, v6Slots };
  return AsnTable.fromSegments(segments, header.ranges, header.badLines, header.bad);
}

// The checks of a table's ~650,000 segments, each loop a function of its own: V8 compiles a small
// hot function at once, where a loop within decodeAsnCache had the whole of it compiled again for
// each loop (on-stack replacement, five times a start).

/** Whether each number is greater than the one before. */
function ascending(starts: Uint32Array): boolean {
  for (let i = 1; i < starts.length; i++) if (starts[i]! <= starts[i - 1]!) return false;
  return true;
}

/** Whether each 128-bit number (four words, most significant first) is greater than the one before. */
function ascendingWords(w0: Uint32Array, w1: Uint32Array, w2: Uint32Array, w3: Uint32Array): boolean {
  for (let i = 1; i < w0.length; i++) {
    const j = i - 1;
    const ordered = w0[i] !== w0[j] ? w0[i]! > w0[j]! : w1[i] !== w1[j] ? w1[i]! > w1[j]! : w2[i] !== w2[j] ? w2[i]! > w2[j]! : w3[i]! > w3[j]!;
    if (!ordered) return false;
  }
  return true;
}

/** Whether every slot is −1 (no answer) or an answer's index below `answers`. */
function slotsBelow(slots: Int32Array, answers: number): boolean {
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!;
    if (slot < -1 || slot >= answers) return false;
  }
  return true;
}

/** Whether the organisations' end offsets never go back and stay within `bytes`. */
function endsWithin(ends: Uint32Array, bytes: number): boolean {
  let from = 0;
  for (let i = 0; i < ends.length; i++) {
    const to = ends[i]!;
    if (to < from || to > bytes) return false;
    from = to;
  }
  return true;
}

/** The table kept in `file` for `signature`; else why not (MISSING when there is no file). */
export async function readAsnCache(file: string, signature: string): Promise<AsnTable | string> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    return errorCode(error) === 'ENOENT' ? MISSING : errorText(error);
  }
  return decodeAsnCache(data, signature);
}

/** Keeps `table` in `file`: written beside it and renamed over it, so a reader never sees half a file. */
export async function writeAsnCache(file: string, table: AsnTable, signature: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFile(temporary, encodeAsnCache(table, signature), { mode: 0o644 });
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
