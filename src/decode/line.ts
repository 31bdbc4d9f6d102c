// One ulogd JSON line → one typed event or a reasoned error. Pure: no I/O, no clock.
import type { DecodeResult } from '../pipeline/types.js';
import { decodeCounter, isCounterRecord } from './nfacct.js';
import { decodePacket, isPacketRecord, type Record_, type VerdictOptions } from './packet.js';
import { epochFromOob, parseTimestamp, type NaiveZone } from './time.js';

export interface DecodeOptions extends VerdictOptions {
  naiveTimestamps: NaiveZone;
}

export function decodeLine(line: string, source: number, options: DecodeOptions): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { kind: 'error', reason: 'not_json', detail: line.length === 0 ? 'empty line' : 'not valid JSON (truncated or garbage line)' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { kind: 'error', reason: 'not_object', detail: `a JSON ${Array.isArray(parsed) ? 'array' : typeof parsed}, not an object` };
  }
  const record = parsed as Record_;

  // Record kind first, so a line that is neither is reported as such rather than for its time.
  const counter = isCounterRecord(record);
  if (!counter && !isPacketRecord(record)) {
    return { kind: 'error', reason: 'unknown_record', detail: 'neither an NFLOG packet nor an NFACCT record (no src_ip, oob.prefix, ip.protocol or sum.name)' };
  }

  let time = epochFromOob(record['oob.time.sec'], record['oob.time.usec']);
  if (Number.isNaN(time)) {
    // eventv1=1 names it @timestamp.
    const stamp = record['timestamp'] ?? record['@timestamp'];
    if (stamp === undefined) return { kind: 'error', reason: 'no_timestamp', detail: 'no oob.time.sec, timestamp or @timestamp' };
    if (typeof stamp !== 'string') return { kind: 'error', reason: 'bad_timestamp', detail: `timestamp is a ${typeof stamp}, not a string` };
    time = parseTimestamp(stamp, options.naiveTimestamps);
    if (Number.isNaN(time)) return { kind: 'error', reason: 'bad_timestamp', detail: `"${stamp.slice(0, 40)}" is not an ISO 8601 time` };
  }

  return counter ? decodeCounter(record, source, time) : decodePacket(record, source, time, options);
}
