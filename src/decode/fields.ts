// The ulogd keys the decoder reads, as small integers, so a record is an array of values by key
// rather than an object looked up by name: the line scanner (scan.ts) fills it without building an
// object per line, and JSON.parse's object is copied into it on the slow path.

/** Every key a decoder reads; the index is the key's id. Others in a record are ignored. */
export const FIELD_NAMES = [
  'timestamp',
  '@timestamp',
  'dvc',
  'action',
  'oob.prefix',
  'oob.time.sec',
  'oob.time.usec',
  'oob.family',
  'oob.group',
  'oob.in',
  'oob.out',
  'raw.pktlen',
  'raw.label',
  'ip.protocol',
  'ip.ttl',
  'ip.totlen',
  'ip.ihl',
  'ip.id',
  'ip.fragoff',
  'ip6.payloadlen',
  'ip6.hoplimit',
  'src_port',
  'dest_port',
  'tcp.seq',
  'tcp.window',
  'tcp.urg',
  'tcp.ack',
  'tcp.psh',
  'tcp.rst',
  'tcp.syn',
  'tcp.fin',
  'tcp.res2',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.code',
  'src_ip',
  'dest_ip',
  'mac.str',
  'sum.name',
  'sum.pkts',
  'sum.bytes',
] as const;

export type FieldName = (typeof FIELD_NAMES)[number];

/** A key's id by name. */
export const F = Object.freeze(Object.fromEntries(FIELD_NAMES.map((name, id) => [name, id]))) as { readonly [K in FieldName]: number };

/** Field values by id: a JSON value (string, number, boolean, null) or undefined where absent. */
export type Fields = unknown[];

export function newFields(): Fields {
  return new Array<unknown>(FIELD_NAMES.length).fill(undefined);
}

/** Copies a parsed JSON object's values into `into` (the slow path, for lines the scanner left). */
export function fieldsFromObject(record: { readonly [key: string]: unknown }, into: Fields): Fields {
  for (let id = 0; id < FIELD_NAMES.length; id++) {
    // Own keys only: a record has no inherited fields (JSON.parse never sets a prototype, but be plain).
    const name = FIELD_NAMES[id]!;
    into[id] = Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
  }
  return into;
}

/**
 * An address as IP2STR writes it, IPv4 dotted quad or IPv6 text, is at most this long and made
 * only of these characters (hex digits, dots, colons): the scanner checks an address's bytes when
 * it first meets them, the packet decoder a parsed line's string.
 */
export const MAX_ADDRESS_LENGTH = 45;
export const ADDRESS_CHARS = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF.:') ADDRESS_CHARS[c.charCodeAt(0)] = 1;
