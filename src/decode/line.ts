// One ulogd JSON line → one typed event or a reasoned error. Pure: no I/O, no clock.
import type { DecodeResult } from '../pipeline/types.js';
import { decodeCounter, isCounterRecord } from './nfacct.js';
import { decodePacket, isPacketRecord, type Record_, type VerdictOptions } from './packet.js';
import { describe, epochFromOob, epochFromTimestamp, type NaiveZone } from './time.js';

export interface DecodeOptions extends VerdictOptions {
  naiveTimestamps: NaiveZone;
  /**
   * How far ahead of the wall clock an event time is trusted (ms). Checked by the pipeline, which
   * has the clock: ulogd stamps with this host's clock, so a time beyond it is a broken line, and
   * taking it would hold every later event behind it.
   */
  maxFutureMs: number;
}

export function decodeLine(line: string, source: number, options: DecodeOptions): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { kind: 'error', reason: 'not_json', detail: line.length === 0 ? 'empty line' : 'not valid JSON (truncated or garbage line)' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const what = parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed;
    return { kind: 'error', reason: 'not_object', detail: `JSON ${what}, not an object` };
  }
  const record = parsed as Record_;

  // Record kind first, so a line that is neither is reported as such rather than for its time.
  const counter = isCounterRecord(record);
  if (!counter && !isPacketRecord(record)) {
    return { kind: 'error', reason: 'unknown_record', detail: 'neither an NFLOG packet nor an NFACCT record (no src_ip, oob.prefix, ip.protocol or sum.name)' };
  }

  let time = epochFromOob(record['oob.time.sec'], record['oob.time.usec']);
  if (time === null) {
    // eventv1=1 names it @timestamp.
    const stamp = record['timestamp'] ?? record['@timestamp'];
    if (stamp === undefined) return { kind: 'error', reason: 'no_timestamp', detail: 'no oob.time.sec, timestamp or @timestamp' };
    if (typeof stamp !== 'string') return { kind: 'error', reason: 'bad_timestamp', detail: `timestamp is ${describe(stamp)}, not a string` };
    time = epochFromTimestamp(stamp, options.naiveTimestamps);
  }
  if (typeof time !== 'number') return { kind: 'error', reason: time.reason, detail: time.detail };

  return counter ? decodeCounter(record, source, time) : decodePacket(record, source, time, options);
}
