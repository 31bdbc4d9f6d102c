// What may be put in a block set, as text an admin or the API gives: an IPv4 address, an IPv6
// address or network. And block durations as people write them. Pure.
import { ipv6Network, parseCidr, parseIPv4 } from '../util/ip.js';

/**
 * The block-set target for `text`, or null: an IPv4 address ("203.0.113.9"), an IPv6 address
 * ("2001:db8::7", kept as it is) or network ("2001:db8:1:2::/64", at least /16; host bits cleared).
 * IPv4 networks are not taken: the IPv4 set holds addresses.
 */
export function blockTarget(text: string): string | null {
  const t = text.trim();
  if (t.length === 0 || t.length > 64) return null;
  if (parseIPv4(t, 0, t.length) >= 0) return t;
  const cidr = parseCidr(t);
  if (cidr === null || cidr.family !== 6) return null;
  if (!t.includes('/')) return t.toLowerCase();
  if (cidr.bits < 16) return null;
  return ipv6Network(t.slice(0, t.indexOf('/')), cidr.bits, new Uint16Array(8));
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90", "90s", "10m", "2h", "1d" → seconds (1 s to 365 d), or null. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (m === null) return null;
  const seconds = Number(m[1]) * UNITS[m[2] || 's']!;
  return seconds >= 1 && seconds <= 31_536_000 ? seconds : null;
}
