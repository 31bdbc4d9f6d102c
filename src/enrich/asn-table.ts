// Autonomous system of an address, from CSV ranges `start,end,asn,"organisation"`: the layout of
// ip-location-db's asn files (bundled as the npm package @ip-location-db/asn: RouteViews, NRO and
// DB-IP ASN Lite data, CC BY 4.0), start and end inclusive, as decimal IPv4 numbers
// (asn-ipv4-num.csv) or address text (asn-ipv4.csv, asn-ipv6.csv).
//
// The files are read as bytes: 400 000 lines parse in a fraction of a second, and each
// organisation name is decoded on its own (a slice of the whole text would keep all of it alive).
// Answers are frozen {asn, org} objects, one per distinct pair, shared by every address they cover;
// a lookup is a binary search over typed arrays (address-ranges.ts) and allocates nothing for IPv4.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parseIPv4, parseIPv6 } from '../util/ip.js';
import { AddressRanges, AddressRangesBuilder, IPV4_MAX, type Segments } from './address-ranges.js';
import type { GeoCredit } from './geoip.js';
import type { BadLine } from './list-formats.js';

/** Who an address's autonomous system is. Frozen, one object per (asn, org). */
export interface AsnInfo {
  readonly asn: number;
  /** The organisation as the data names it, e.g. "Cloudflare, Inc."; '' when it gives none. */
  readonly org: string;
}

/** The bundled files: IPv4 as decimal numbers (smaller, faster to read), IPv6 as text. */
const BUNDLED_PACKAGE = '@ip-location-db/asn';
export const BUNDLED_ASN_CSV = { ipv4: `${BUNDLED_PACKAGE}/asn-ipv4-num.csv`, ipv6: `${BUNDLED_PACKAGE}/asn-ipv6.csv` } as const;

/** The credit the bundled data asks for (CC BY 4.0; DB-IP asks for a link to db-ip.com). */
export const ASN_CREDIT: GeoCredit = { text: 'AS data by RouteViews, DB-IP and NRO (CC BY 4.0)', url: 'https://db-ip.com' };

/** Where a bundled ASN file is on this machine; '' when its package is not installed. */
export function bundledAsnCsvPath(family: keyof typeof BUNDLED_ASN_CSV): string {
  try {
    return createRequire(import.meta.url).resolve(BUNDLED_ASN_CSV[family]);
  } catch {
    return '';
  }
}

/** The bundled files installed on this machine: none when their package is not. */
export function bundledAsnCsvPaths(): string[] {
  return [bundledAsnCsvPath('ipv4'), bundledAsnCsvPath('ipv6')].filter((p) => p !== '');
}

/** The contents of CSV files, each named by its path (what fromCsv() takes). */
export async function readAsnCsv(paths: readonly string[]): Promise<AsnCsv[]> {
  return Promise.all(paths.map(async (file) => ({ file, data: await readFile(file) })));
}

/** The installed version of the bundled files' package; '' when it is not installed. */
export function bundledAsnVersion(): string {
  try {
    const { name, version } = createRequire(import.meta.url)(`${BUNDLED_PACKAGE}/package.json`) as { name?: unknown; version?: unknown };
    return typeof version === 'string' ? `${String(name)}@${version}` : '';
  } catch {
    return '';
  }
}

/** A line not understood, and the file it is in. */
export interface AsnBadLine extends BadLine {
  file: string;
}

/** One CSV file's contents and a name for it (its path) in reports of bad lines. */
export interface AsnCsv {
  readonly file: string;
  readonly data: Buffer;
}

const MAX_BAD_SHOWN = 10;

export class AsnTable {
  private constructor(
    private readonly table: AddressRanges<AsnInfo>,
    /** Ranges read. */
    readonly ranges: number,
    /** Lines not understood (skipped), all counted. */
    readonly badLines: number,
    /** The first few of them. */
    readonly bad: readonly AsnBadLine[],
  ) {}

  /** The table of one or more CSV files (IPv4 and IPv6 lines may be in any of them). */
  static fromCsv(files: readonly AsnCsv[]): AsnTable {
    // Room for the ranges and AS numbers up front, guessed from the size of the files (IPv6 lines
    // are longer): growing typed arrays line by line costs a tenth of the load.
    let ipv4 = 0;
    let ipv6 = 0;
    for (const { data } of files) {
      if (data.subarray(0, 100).includes(58 /* : */)) ipv6 += data.length / 80;
      else ipv4 += data.length / 50;
    }
    const reader = new CsvReader(Math.ceil(ipv4), Math.ceil(ipv6));
    for (const { file, data } of files) reader.read(file, data);
    return new AsnTable(reader.builder.build(), reader.builder.size, reader.badLines, reader.bad);
  }

  static empty(): AsnTable {
    return new AsnTable(new AddressRangesBuilder<AsnInfo>().build(), 0, 0, []);
  }

  /** A table as asn-cache.ts kept it: the segments of an earlier fromCsv() and what it counted. */
  static fromSegments(segments: Segments<AsnInfo>, ranges: number, badLines: number, bad: readonly AsnBadLine[]): AsnTable {
    return new AsnTable(new AddressRanges(segments), ranges, badLines, bad);
  }

  /** The segments as held (asn-cache.ts writes them). */
  get segments(): Readonly<Segments<AsnInfo>> {
    return this.table.data;
  }

  /** Who holds `ip`; null when no range covers it or it is no address. */
  lookup(ip: string): AsnInfo | null {
    return this.table.lookup(ip) ?? null;
  }

  /** Distinct (asn, org) answers: slots 0 to answers − 1 (see slotOf). */
  get answers(): number {
    return this.table.slots;
  }

  /** The answer of a slot (0 ≤ slot < answers). */
  answer(slot: number): AsnInfo {
    return this.table.value(slot);
  }

  slotOf(ip: string): number {
    return this.table.slotOf(ip);
  }

  slotOfIpv4(address: number): number {
    return this.table.slotOfIpv4(address);
  }

  slotOfIpv6(w0: number, w1: number, w2: number, w3: number): number {
    return this.table.slotOfIpv6(w0, w1, w2, w3);
  }
}

/** Reads CSV lines into a range builder, interning the answers. */
class CsvReader {
  readonly builder: AddressRangesBuilder<AsnInfo>;
  badLines = 0;
  readonly bad: AsnBadLine[] = [];
  /** Answers by slot. */
  private readonly answers: AsnInfo[] = [];
  /** Slots by AS number; the rare AS with several names in the data has the others in `byPair`. */
  private readonly byAsn: AsnSlots;
  private readonly byPair = new Map<string, number>();
  /**
   * Where each answer's organisation field was seen in the file being read (file number, from,
   * to): most lines repeat an AS seen before, and equal bytes need no decoding.
   */
  private readonly seenIn: number[] = [];
  private readonly seenFrom: number[] = [];
  private readonly seenTo: number[] = [];
  private files = 0;

  constructor(ipv4: number, ipv6: number) {
    this.builder = new AddressRangesBuilder<AsnInfo>({ ipv4, ipv6 });
    // About one AS for every five IPv4 ranges, every two IPv6 ones.
    this.byAsn = new AsnSlots(ipv4 / 5 + ipv6 / 2);
  }

  read(file: string, data: Buffer): void {
    this.files++;
    const length = data.length;
    let line = 0;
    let start = length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? 3 : 0; // UTF-8 BOM
    while (start < length) {
      line++;
      // One pass over the line: its end and its first three commas (the organisation may hold more).
      let end = start;
      let c1 = -1;
      let c2 = -1;
      let c3 = -1;
      for (; end < length; end++) {
        const b = data[end];
        if (b === 10) break;
        if (b === 44 && c3 < 0) {
          if (c1 < 0) c1 = end;
          else if (c2 < 0) c2 = end;
          else c3 = end;
        }
      }
      const stop = end > start && data[end - 1] === 13 ? end - 1 : end;
      if (stop > start) {
        const why = c3 < 0 ? 'fewer than four fields' : this.line(data, start, c1, c2, c3, stop);
        if (why !== '') this.badLine(file, line, data, start, stop, why);
      }
      start = end + 1;
    }
  }

  /** One line data[from, to) with commas at c1, c2, c3; '' when it was added, else why not. */
  private line(data: Buffer, from: number, c1: number, c2: number, c3: number, to: number): string {
    const asn = decimal(data, c2 + 1, c3);
    if (asn < 0) return 'the AS number is not a number from 0 to 4294967295';
    const n4 = decimal(data, from, c1);
    if (n4 >= 0) {
      const e4 = decimal(data, c1 + 1, c2);
      if (e4 < 0 || e4 < n4) return 'the end is not a number from the start to 4294967295';
      const slot = this.answer(data, asn, c3 + 1, to);
      if (slot < 0) return BAD_ORGANISATION;
      this.builder.addIpv4(n4, e4, slot);
      return '';
    }
    const first = address(data, from, c1, firstGroups);
    const last = address(data, c1 + 1, c2, lastGroups);
    if (first === 0 || last === 0) return 'the start or end is not an address';
    if (first !== last) return 'the range goes from IPv4 to IPv6';
    const slot = this.answer(data, asn, c3 + 1, to);
    if (slot < 0) return BAD_ORGANISATION;
    if (first === 4) {
      const s4 = v4Of(firstGroups);
      const e4 = v4Of(lastGroups);
      if (e4 < s4) return RANGE_BACKWARDS;
      this.builder.addIpv4(s4, e4, slot);
    } else {
      if (compareGroups(firstGroups, lastGroups) > 0) return RANGE_BACKWARDS;
      this.builder.addIpv6Groups(firstGroups, lastGroups, slot);
    }
    return '';
  }

  /** The slot of (asn, the organisation field data[from, to)); -1 when the field is malformed. */
  private answer(data: Buffer, asn: number, from: number, to: number): number {
    const known = this.byAsn.get(asn);
    if (known >= 0 && this.seenIn[known] === this.files && sameBytes(data, this.seenFrom[known]!, this.seenTo[known]!, from, to)) return known;
    const org = organisation(data, from, to);
    if (org === null) return -1;
    let slot: number | undefined;
    if (known < 0) {
      slot = this.newAnswer(asn, org);
      this.byAsn.set(asn, slot);
    } else if (this.answers[known]!.org === org) {
      slot = known;
    } else {
      const key = `${asn}\u0000${org}`;
      slot = this.byPair.get(key);
      if (slot === undefined) {
        slot = this.newAnswer(asn, org);
        this.byPair.set(key, slot);
      }
      return slot;
    }
    this.seenIn[slot] = this.files;
    this.seenFrom[slot] = from;
    this.seenTo[slot] = to;
    return slot;
  }

  private newAnswer(asn: number, org: string): number {
    const info: AsnInfo = Object.freeze({ asn, org });
    const slot = this.builder.newSlot(info);
    this.answers[slot] = info;
    return slot;
  }

  private badLine(file: string, line: number, data: Buffer, from: number, to: number, reason: string): void {
    this.badLines++;
    if (this.bad.length >= MAX_BAD_SHOWN) return;
    const text = data.toString('utf8', from, Math.min(to, from + 80)).trim();
    this.bad.push({ file, line, excerpt: to - from > 80 ? `${text}…` : text, reason });
  }
}

/**
 * AS number → slot, open addressing in typed arrays: a Map costs more than the rest of the parse
 * for the 400 000 lookups of a file.
 */
class AsnSlots {
  private keys: Float64Array;
  private slots: Int32Array;
  private size = 0;

  constructor(expected: number) {
    // A power of two at least twice the expected count: at most half full.
    let capacity = 1 << 10;
    while (capacity < 2 * expected) capacity *= 2;
    this.keys = new Float64Array(capacity);
    this.slots = new Int32Array(capacity).fill(-1);
  }

  /** The slot of `asn`, -1 when it has none. */
  get(asn: number): number {
    const mask = this.slots.length - 1;
    for (let i = Math.imul(asn | 0, 0x9e3779b1) & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i]!;
      if (slot < 0 || this.keys[i] === asn) return slot;
    }
  }

  set(asn: number, slot: number): void {
    if (2 * (this.size + 1) > this.slots.length) this.grow();
    const mask = this.slots.length - 1;
    let i = Math.imul(asn | 0, 0x9e3779b1) & mask;
    while (this.slots[i]! >= 0 && this.keys[i] !== asn) i = (i + 1) & mask;
    if (this.slots[i]! < 0) this.size++;
    this.keys[i] = asn;
    this.slots[i] = slot;
  }

  private grow(): void {
    const { keys, slots } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.slots = new Int32Array(slots.length * 2).fill(-1);
    this.size = 0;
    for (let i = 0; i < slots.length; i++) if (slots[i]! >= 0) this.set(keys[i]!, slots[i]!);
  }
}

const RANGE_BACKWARDS = 'the range ends before it starts';
const BAD_ORGANISATION = 'the organisation is not a CSV field (a quote is not closed, or text follows it)';

function sameBytes(data: Buffer, aFrom: number, aTo: number, bFrom: number, bTo: number): boolean {
  if (aTo - aFrom !== bTo - bFrom) return false;
  for (let i = 0; i < aTo - aFrom; i++) if (data[aFrom + i] !== data[bFrom + i]) return false;
  return true;
}

/** An unsigned decimal of up to 10 digits in data[from, to) that fits 32 bits; -1 otherwise. */
function decimal(data: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 10) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = data[i]! - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value <= IPV4_MAX ? value : -1;
}

const firstGroups = new Uint16Array(8);
const lastGroups = new Uint16Array(8);

/** An address in data[from, to) into `groups` (IPv4 in groups 6 and 7): 4, 6, or 0 when it is none. */
function address(data: Buffer, from: number, to: number, groups: Uint16Array): 0 | 4 | 6 {
  if (to - from > 45) return 0;
  const text = data.toString('latin1', from, to);
  const v4 = parseIPv4(text, 0, text.length);
  if (v4 >= 0) {
    groups[6] = v4 >>> 16;
    groups[7] = v4 & 0xffff;
    return 4;
  }
  return !text.includes('%') && parseIPv6(text, groups) ? 6 : 0;
}

const v4Of = (groups: Uint16Array): number => groups[6]! * 65536 + groups[7]!;

function compareGroups(a: Uint16Array, b: Uint16Array): number {
  for (let g = 0; g < 8; g++) if (a[g] !== b[g]) return a[g]! - b[g]!;
  return 0;
}

/** The last field, data[from, to): quoted ("…", with "" for a quote) or bare; null when malformed. */
function organisation(data: Buffer, from: number, to: number): string | null {
  if (from >= to || data[from] !== 34) return data.toString('utf8', from, to);
  let doubled = false;
  let i = from + 1;
  for (;;) {
    if (i >= to) return null;
    if (data[i] === 34) {
      if (i + 1 < to && data[i + 1] === 34) {
        doubled = true;
        i += 2;
        continue;
      }
      break;
    }
    i++;
  }
  if (i !== to - 1) return null;
  const inner = data.toString('utf8', from + 1, i);
  return doubled ? inner.replaceAll('""', '"') : inner;
}
