// NFACCT records → CounterEvent. ulogd's NFACCT input emits sum.name, sum.pkts, sum.bytes (and
// oob.time.sec/usec with its timestamp=1 option), see input/sum/ulogd_inpflow_NFACCT.c.
import type { CounterEvent, DecodeError } from '../pipeline/types.js';
import type { Record_ } from './packet.js';

export function isCounterRecord(record: Record_): boolean {
  return record['sum.name'] !== undefined;
}

export function decodeCounter(record: Record_, source: number, time: number): CounterEvent | DecodeError {
  const name = record['sum.name'];
  const pkts = record['sum.pkts'];
  const bytes = record['sum.bytes'];
  if (typeof name !== 'string' || name === '') return wrongType('sum.name', 'a non-empty string', name);
  if (!isCount(pkts)) return wrongType('sum.pkts', 'a non-negative integer', pkts);
  if (!isCount(bytes)) return wrongType('sum.bytes', 'a non-negative integer', bytes);
  return { kind: 'counter', source, time, name, pkts, bytes };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function wrongType(key: string, expected: string, got: unknown): DecodeError {
  return { kind: 'error', reason: 'wrong_type', detail: `key "${key}" should be ${expected}, got ${JSON.stringify(got)?.slice(0, 40)}` };
}
