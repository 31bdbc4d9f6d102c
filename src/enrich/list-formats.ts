// Threat-list files → address ranges. Pure: text in, ranges and the lines that were not
// understood out (with their number and why); a bad line never stops the rest of the file.
//
// Formats:
//   plain          an address, a CIDR network or an IPv4/IPv6 range "a-b" per line; `#` and `;`
//                  start comments, also after the entry
//   netset         FireHOL's .netset/.ipset (https://iplists.firehol.org/): plain with a `#` header
//   spamhaus       Spamhaus DROP/EDROP text: "1.10.16.0/20 ; SBL256894" under a `;` header
//   spamhaus-json  Spamhaus drop_v4.json/drop_v6.json: one JSON object per line,
//                  {"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}, then a
//                  {"type":"metadata",...} line
//   et             Emerging Threats compromised-ips.txt: one address per line
// The text formats share one line grammar; their names say what a file is (and what `auto` found).
//
// A network written with host bits set ("192.0.2.77/24") is taken as its network (192.0.2.0/24),
// as ipset(8) and nftables do with such an element: lists built from observed addresses have them.
import { parseIPv4, parseIPv6 } from '../util/ip.js';
import { ipv4CidrRange, ipv6CidrRange, ipv6Value, type AddressRange } from './address-ranges.js';

export type ListFormat = 'auto' | 'plain' | 'netset' | 'spamhaus' | 'spamhaus-json' | 'et';
export type KnownListFormat = Exclude<ListFormat, 'auto'>;
export const LIST_FORMATS: readonly ListFormat[] = ['auto', 'plain', 'netset', 'spamhaus', 'spamhaus-json', 'et'];

/** A line that was not understood. */
export interface BadLine {
  /** 1-based line number. */
  line: number;
  /** The line, trimmed and cut to a readable length. */
  excerpt: string;
  reason: string;
}

export interface ParsedList {
  /** The format the file was read as (what `auto` found, or the one asked for). */
  format: KnownListFormat;
  ranges: AddressRange[];
  /** Lines not understood, all of them counted. */
  badLines: number;
  /** The first MAX_BAD_LINES of them, to show. */
  bad: BadLine[];
}

/** How many bad lines a parse keeps to show (a wrong file, say an HTML error page, has thousands). */
export const MAX_BAD_LINES = 20;
const EXCERPT_LENGTH = 60;

/** What a file is, from its first lines: Spamhaus JSON or text by their shapes, FireHOL by its header, else plain. */
export function detectListFormat(text: string): KnownListFormat {
  let seen = 0;
  for (const line of lines(text, 200)) {
    const t = line.trim();
    if (t === '') continue;
    if (seen++ === 0 && t.startsWith('{')) return 'spamhaus-json';
    if (/^;.*spamhaus/i.test(t) || /;\s*SBL\d+/.test(t)) return 'spamhaus';
    if (/^#.*(firehol|\bipset\b)/i.test(t)) return 'netset';
  }
  return 'plain';
}

/** The ranges a list file names. Never throws: what is not understood is in `bad`. */
export function parseList(text: string, format: ListFormat = 'auto'): ParsedList {
  const known = format === 'auto' ? detectListFormat(text) : format;
  const out: ParsedList = { format: known, ranges: [], badLines: 0, bad: [] };
  const parseLine = known === 'spamhaus-json' ? jsonLine : textLine;
  let number = 0;
  for (const line of lines(text, Infinity)) {
    number++;
    const why = parseLine(line, out.ranges);
    if (why === '') continue;
    out.badLines++;
    if (out.bad.length < MAX_BAD_LINES) out.bad.push({ line: number, excerpt: excerpt(line), reason: why });
  }
  return out;
}

/** The lines of `text` (LF or CRLF, a leading byte order mark dropped), at most `max`. */
function* lines(text: string, max: number): Generator<string> {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let n = 0; n < max && start < text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    yield text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end);
    start = end + 1;
  }
}

function excerpt(line: string): string {
  const t = line.trim();
  return t.length <= EXCERPT_LENGTH ? t : `${t.slice(0, EXCERPT_LENGTH - 1)}…`;
}

/** One line of a text format into `ranges`; '' when fine (or blank), else why not. */
function textLine(line: string, ranges: AddressRange[]): string {
  let end = line.length;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 35 /* # */ || c === 59 /* ; */) {
      end = i;
      break;
    }
  }
  const entry = line.slice(0, end).trim();
  if (entry === '') return '';
  const space = entry.search(/\s/);
  const range = parseRangeText(space < 0 ? entry : entry.slice(0, space));
  if (typeof range === 'string') return range;
  if (space >= 0) return 'text after the entry (one entry per line; comments start with # or ;)';
  ranges.push(range);
  return '';
}

/** One line of Spamhaus's JSON lines into `ranges`; the metadata line is skipped. */
function jsonLine(line: string, ranges: AddressRange[]): string {
  const t = line.trim();
  if (t === '') return '';
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  if (record.type === 'metadata') return '';
  if (typeof record.cidr !== 'string') return 'no "cidr" string';
  const range = parseRangeText(record.cidr);
  if (typeof range === 'string') return range;
  ranges.push(range);
  return '';
}

const groups = new Uint16Array(8);

/**
 * An address ("192.0.2.1", "2001:db8::1"), network ("192.0.2.0/24") or range
 * ("192.0.2.10-192.0.2.20") as a range; a string saying why not when it is none.
 */
export function parseRangeText(text: string): AddressRange | string {
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const from = parseRangeText(text.slice(0, dash));
    const to = parseRangeText(text.slice(dash + 1));
    if (typeof from === 'string' && typeof to === 'string') return NOT_AN_ADDRESS;
    if (typeof from === 'string' || typeof to === 'string' || text.includes('/')) return 'not an address range (a-b, two addresses)';
    if (from.family !== to.family) return 'a range from IPv4 to IPv6';
    if (from.family === 4 && to.family === 4) return from.start <= to.start ? { family: 4, start: from.start, end: to.end } : 'the range ends before it starts';
    if (from.family === 6 && to.family === 6) return from.start <= to.start ? { family: 6, start: from.start, end: to.end } : 'the range ends before it starts';
  }
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  let bits = -1;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(b)) return 'not a prefix length after "/"';
    bits = Number(b);
  }
  const v4 = parseIPv4(address, 0, address.length);
  if (v4 >= 0) {
    if (bits > 32) return `prefix length /${bits} is out of range for IPv4 (0–32)`;
    return ipv4CidrRange(v4, bits < 0 ? 32 : bits);
  }
  if (address.includes(':') && !address.includes('%') && parseIPv6(address, groups)) {
    if (bits > 128) return `prefix length /${bits} is out of range for IPv6 (0–128)`;
    return ipv6CidrRange(ipv6Value(groups), bits < 0 ? 128 : bits);
  }
  if (/^\d+(\.\d+){3}$/.test(address)) return 'not an IPv4 address (four numbers 0–255, without leading zeros)';
  return NOT_AN_ADDRESS;
}

const NOT_AN_ADDRESS = 'not an IP address, network or range';
