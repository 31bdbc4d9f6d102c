// Event time from a ulogd record. ulogd's JSON plugin writes `timestamp` (or `@timestamp` with
// eventv1=1) from localtime_r(): 2.0.8 without a UTC offset ("2026-11-24T04:09:26.712651"),
// later versions with "+HHMM". Packet records also carry the exact epoch in oob.time.sec/usec
// (NFLOG) — NFACCT records only with its timestamp=1 option — and those are preferred.
//
// Every time that leaves this module is a whole number of milliseconds between MIN_EVENT_TIME and
// MAX_EVENT_TIME, so any later stage can format it (Date#toISOString throws beyond year 275760)
// and no 1970 or 1e20 reaches an interval. How far ahead of the wall clock a time may be is the
// pipeline's check: it needs the clock.

export type NaiveZone = 'local' | 'utc';

/** 2000-01-01T00:00:00Z: earlier times come from a clock that was never set, not from a packet. */
export const MIN_EVENT_TIME = 946_684_800_000;
/** 9999-12-31T23:59:59.999Z: the last time a four-digit-year timestamp can name. */
export const MAX_EVENT_TIME = 253_402_300_799_999;

/** Epoch ms, or why the record's time cannot be used. */
export type TimeResult = number | { reason: 'bad_timestamp' | 'out_of_range'; detail: string };

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Epoch ms of an ISO 8601 timestamp as ulogd writes it, or NaN when it is not one (or no real date). */
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
  if (month > 11 || day < 1 || hour > 23 || minute > 59 || second > 60) return NaN;
  // 2026-02-30 is no day (Date.UTC would roll it over into March).
  if (day > DAYS_IN_MONTH[month]! || (month === 1 && day === 29 && !isLeap(year))) return NaN;
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
  const offsetHours = +digits.slice(0, 2);
  const offsetMins = digits.length > 2 ? +digits.slice(2, 4) : 0;
  // Real UTC offsets lie within -12:00…+14:00; "+99:99" is no zone.
  if (offsetHours > 14 || offsetMins > 59) return NaN;
  return utc - sign * (offsetHours * 60 + offsetMins) * 60_000;
}

/**
 * Epoch ms from oob.time.sec/oob.time.usec, or null when the record has no such time (absent, or
 * 0: a packet the kernel did not stamp; the `timestamp` string is used then). ulogd writes the
 * kernel's timeval: whole seconds and microseconds 0–999 999; anything else is refused with a reason.
 */
export function epochFromOob(sec: unknown, usec: unknown): TimeResult | null {
  if (sec === undefined || sec === null || sec === 0) return null;
  if (typeof sec !== 'number') return { reason: 'bad_timestamp', detail: `oob.time.sec is ${describe(sec)}, not a number` };
  if (!Number.isInteger(sec) || sec < MIN_EVENT_TIME / 1000 || sec > Math.floor(MAX_EVENT_TIME / 1000)) {
    return { reason: 'out_of_range', detail: `oob.time.sec ${describe(sec)} is not a whole second between 2000 and 9999` };
  }
  let micros = 0;
  if (usec !== undefined && usec !== null) {
    if (typeof usec !== 'number' || !Number.isInteger(usec) || usec < 0 || usec > 999_999) {
      return { reason: 'out_of_range', detail: `oob.time.usec ${describe(usec)} is not a whole number 0–999999` };
    }
    micros = usec;
  }
  return sec * 1000 + Math.floor(micros / 1000);
}

/** A time from a `timestamp` string, within the same bounds as epochFromOob. */
export function epochFromTimestamp(stamp: string, naive: NaiveZone): TimeResult {
  const ms = parseTimestamp(stamp, naive);
  if (Number.isNaN(ms)) return { reason: 'bad_timestamp', detail: `${JSON.stringify(stamp.slice(0, 40))} is not an ISO 8601 time` };
  if (ms < MIN_EVENT_TIME || ms > MAX_EVENT_TIME) return { reason: 'out_of_range', detail: `${JSON.stringify(stamp.slice(0, 40))} is before 2000` };
  return ms;
}

/** A value as a short quote for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…` : v);
  if (typeof v === 'number') return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}
