// One ulogd JSON line → one typed event or a reasoned error. Pure: no I/O, no clock (the
// scanner's key predictions are a cache, they never change a result).
import type { DecodeResult } from '../pipeline/types.js';
import { F, fieldsFromObject, newFields, type Fields } from './fields.js';
import { decodeCounter, isCounterRecord } from './nfacct.js';
import { decodePacket, isPacketRecord, type VerdictOptions } from './packet.js';
import { DEFERRED, LineScanner } from './scan.js';
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

const scanner = new LineScanner();
const fields = newFields();

/**
 * The line bytes[from, to) as ulogd wrote it (UTF-8): read by the scanner when it is plain ulogd
 * JSON, else parsed as text by decodeLine, with the same result either way.
 */
export function decodeBytes(bytes: Buffer, from: number, to: number, source: number, options: DecodeOptions): DecodeResult {
  if (scanner.scan(bytes, from, to, fields)) return decodeFields(fields, source, options, true);
  return decodeLine(bytes.toString('utf8', from, to), source, options);
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
  scanner.disown(fields);
  return decodeFields(fieldsFromObject(parsed as { readonly [key: string]: unknown }, fields), source, options);
}

/** `scanned`: the line scanner read `values` (not JSON.parse), so their addresses were checked. */
function decodeFields(values: Fields, source: number, options: DecodeOptions, scanned = false): DecodeResult {
  // Record kind first, so a line that is neither is reported as such rather than for its time.
  const counter = isCounterRecord(values);
  if (!counter && !isPacketRecord(values)) {
    return { kind: 'error', reason: 'unknown_record', detail: 'neither an NFLOG packet nor an NFACCT record (no src_ip, oob.prefix, ip.protocol or sum.name)' };
  }

  let time = epochFromOob(values[F['oob.time.sec']], values[F['oob.time.usec']]);
  if (time === null) {
    // eventv1=1 names it @timestamp.
    const stamp = valueOf(values, F.timestamp) ?? valueOf(values, F['@timestamp']);
    if (stamp === undefined) return { kind: 'error', reason: 'no_timestamp', detail: 'no oob.time.sec, timestamp or @timestamp' };
    if (typeof stamp !== 'string') return { kind: 'error', reason: 'bad_timestamp', detail: `timestamp is ${describe(stamp)}, not a string` };
    time = epochFromTimestamp(stamp, options.naiveTimestamps);
  }
  if (typeof time !== 'number') return { kind: 'error', reason: time.reason, detail: time.detail };

  return counter ? decodeCounter(values, source, time) : decodePacket(values, source, time, options, scanned);
}

/** A field's value, with a string the scanner deferred made now. */
function valueOf(values: Fields, id: number): unknown {
  const value = values[id];
  return value === DEFERRED ? scanner.deferred(id) : value;
}
