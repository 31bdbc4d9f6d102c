// Event time from a ulogd record. ulogd's JSON plugin writes `timestamp` (or `@timestamp` with
// eventv1=1) from localtime_r(): 2.0.8 without a UTC offset ("2026-11-24T04:09:26.712651"),
// later versions with "+HHMM". Packet records also carry the exact epoch in oob.time.sec/usec
// (NFLOG) — NFACCT records only with its timestamp=1 option — and those are preferred.

export type NaiveZone = 'local' | 'utc';

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Epoch ms of an ISO 8601 timestamp as ulogd writes it, or NaN when it is not one. */
export function parseTimestamp(text: string, naive: NaiveZone): number {
  const m = ISO.exec(text);
  if (!m) return NaN;
  const year = +m[1]!;
  const month = +m[2]! - 1;
  const day = +m[3]!;
  const hour = +m[4]!;
  const minute = +m[5]!;
  const second = +m[6]!;
  // Whole milliseconds, as from oob.time.usec, so both time sources agree exactly.
  const fraction = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  if (month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN;
  const zone = m[8];
  if (zone === undefined) {
    if (naive === 'utc') return Date.UTC(year, month, day, hour, minute, second) + fraction;
    // Local wall time in this process's TZ, as ulogd's localtime_r() wrote it.
    return new Date(year, month, day, hour, minute, second).getTime() + fraction;
  }
  const utc = Date.UTC(year, month, day, hour, minute, second) + fraction;
  if (zone === 'Z') return utc;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMinutes = +digits.slice(0, 2) * 60 + (digits.length > 2 ? +digits.slice(2, 4) : 0);
  return utc - sign * offsetMinutes * 60_000;
}

/** Epoch ms from oob.time.sec/oob.time.usec, or NaN when they are absent or not numbers. */
export function epochFromOob(sec: unknown, usec: unknown): number {
  if (typeof sec !== 'number' || !Number.isFinite(sec) || sec <= 0) return NaN;
  const micros = typeof usec === 'number' && Number.isFinite(usec) ? usec : 0;
  return sec * 1000 + Math.floor(micros / 1000);
}
