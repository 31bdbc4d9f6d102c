import { describe, expect, it } from 'vitest';
import { AddressRows } from '../../src/store/address-rows.js';

describe("the recorder's rows by address", () => {
  it('keeps a row for IPv4, IPv6 and any other text alike, and tells them apart', () => {
    const rows = new AddressRows();
    rows.set('192.0.2.1', 0);
    rows.set('2001:db8::1', 1);
    rows.set('::ffff:192.0.2.1', 2);
    rows.set('192.0.2.01', 3); // not a dotted quad as IP2STR writes one: kept as text
    expect(rows.get('192.0.2.1')).toBe(0);
    expect(rows.get('2001:db8::1')).toBe(1);
    expect(rows.get('::ffff:192.0.2.1')).toBe(2);
    expect(rows.get('192.0.2.01')).toBe(3);
    expect(rows.get('192.0.2.2')).toBeUndefined();
    expect(rows.has('2001:db8::2')).toBe(false);
    expect(rows.size).toBe(4);
    rows.set('192.0.2.1', 7);
    expect(rows.get('192.0.2.1')).toBe(7);
    expect(rows.size).toBe(4);
  });

  it('forgets everything on clear()', () => {
    const rows = new AddressRows();
    for (let i = 0; i < 3000; i++) rows.set(`10.0.${i >> 8}.${i & 255}`, i);
    rows.set('2001:db8::1', 1);
    rows.clear();
    expect(rows.size).toBe(0);
    expect(rows.get('10.0.0.5')).toBeUndefined();
    expect(rows.get('2001:db8::1')).toBeUndefined();
  });
});
