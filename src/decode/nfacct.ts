// NFACCT records → CounterEvent. ulogd's NFACCT input emits sum.name, sum.pkts, sum.bytes (and
// oob.time.sec/usec with its timestamp=1 option), see input/sum/ulogd_inpflow_NFACCT.c.
import type { CounterEvent, DecodeError } from '../pipeline/types.js';
import { F, type Fields } from './fields.js';
import { describe } from './time.js';

export function isCounterRecord(fields: Fields): boolean {
  return fields[F['sum.name']] !== undefined;
}

export function decodeCounter(fields: Fields, source: number, time: number): CounterEvent | DecodeError {
  const name = fields[F['sum.name']];
  const pkts = fields[F['sum.pkts']];
  const bytes = fields[F['sum.bytes']];
  if (typeof name !== 'string' || name === '') return refuse('wrong_type', 'sum.name', 'a non-empty string', name);
  if (name.length > MAX_NAME) return refuse('out_of_range', 'sum.name', `at most ${MAX_NAME} characters`, name);
  if (typeof pkts !== 'number') return refuse('wrong_type', 'sum.pkts', 'a number', pkts);
  if (!isCount(pkts)) return refuse('out_of_range', 'sum.pkts', 'a whole number 0–2^53', pkts);
  if (typeof bytes !== 'number') return refuse('wrong_type', 'sum.bytes', 'a number', bytes);
  if (!isCount(bytes)) return refuse('out_of_range', 'sum.bytes', 'a whole number 0–2^53', bytes);
  return { kind: 'counter', source, time, name, pkts, bytes };
}

/** nfacct object names are at most 31 bytes (NFACCT_NAME_MAX); this leaves room, not 64 KiB. */
const MAX_NAME = 128;

/** A counter that sums stay exact with: a non-negative safe integer. */
function isCount(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

function refuse(reason: 'wrong_type' | 'out_of_range', key: string, expected: string, got: unknown): DecodeError {
  return { kind: 'error', reason, detail: `key "${key}" should be ${expected}, got ${describe(got)}` };
}
