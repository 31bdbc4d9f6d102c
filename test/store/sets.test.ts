import { describe, expect, it } from 'vitest';
import { addressRange, sourceAddr } from '../../src/store/address.js';
import { SetUnion, mergeSetText, numberMembers, numberSetText, setMembers, setNeedle, setOverflows, stringSetText } from '../../src/store/sets.js';

describe('stored sets', () => {
  it('writes numbers and strings with delimiters at both ends, so one member is found by instr', () => {
    expect(numberSetText([22, 80, 443], 0, 3)).toBe(',22,80,443,');
    expect(numberSetText([22, 80, 443], 1, 2)).toBe(',80,');
    expect(numberSetText([], 0, 0)).toBe('');
    expect(stringSetText(['ittl=64,win=5840', 'x'], 0, 2)).toBe('\x1fittl=64,win=5840\x1fx\x1f');
    expect(stringSetText(['bad\x1fvalue', 'ok'], 0, 2)).toBe('\x1fok\x1f');
    expect(setNeedle(22)).toBe(',22,');
    expect(setNeedle('x')).toBe('\x1fx\x1f');
    expect(numberMembers(',22,80,')).toEqual([22, 80]);
    expect(setMembers('\x1fa,b\x1fc\x1f')).toEqual(['a,b', 'c']);
    expect(setMembers('')).toEqual([]);
  });

  it('merges two sets keeping the first-seen order and the cap', () => {
    expect(mergeSetText(',1,2,', ',2,3,', 10)).toBe(',1,2,3,');
    expect(mergeSetText('', ',2,3,', 10)).toBe(',2,3,');
    expect(mergeSetText(',1,', '', 10)).toBe(',1,');
    expect(mergeSetText(',1,2,', ',3,4,5,', 3)).toBe(',1,2,3,');
    expect(mergeSetText(',1,2,3,', ',4,', 3)).toBe(',1,2,3,');
    expect(setOverflows(',1,2,', ',3,4,5,', 3)).toBe(true);
    expect(setOverflows(',1,2,', ',2,3,', 3)).toBe(false);
    expect(setOverflows(',1,2,3,', ',3,', 3)).toBe(false);
  });

  it('unions many sets up to a cap and says when some did not fit', () => {
    const u = new SetUnion(3);
    u.add(',1,2,');
    u.add(',2,3,');
    expect(u.over).toBe(false);
    u.add(',4,');
    expect(u.members).toEqual(['1', '2', '3']);
    expect(u.over).toBe(true);
  });
});

describe('stored addresses', () => {
  const scratch = new Uint16Array(8);

  it('keeps IPv4 as an integer and an IPv6 network as 16 bytes', () => {
    expect(sourceAddr('203.0.113.7', scratch)).toBe(0xcb007107);
    expect(sourceAddr('2001:db8::/64', scratch)).toEqual(Buffer.from('20010db8000000000000000000000000', 'hex'));
    expect(sourceAddr('not an address', scratch)).toBeNull();
  });

  it('turns an address or CIDR into the range of values it covers', () => {
    expect(addressRange('203.0.113.0/24', 64)).toEqual({ low: 0xcb007100, high: 0xcb0071ff });
    expect(addressRange('203.0.113.7', 64)).toEqual({ low: 0xcb007107, high: 0xcb007107 });
    expect(addressRange('0.0.0.0/0', 64)).toEqual({ low: 0, high: 0xffffffff });
    expect(addressRange('::ffff:203.0.113.7', 64)).toEqual({ low: 0xcb007107, high: 0xcb007107 });
    expect(addressRange('2001:db8::/32', 64)).toEqual({ low: Buffer.from('20010db8000000000000000000000000', 'hex'), high: Buffer.from('20010db8ffffffffffffffffffffffff', 'hex') });
    // Narrower than the stored networks: the network holding it.
    expect(addressRange('2001:db8:1:2::9', 64)).toEqual({ low: Buffer.from('20010db8000100020000000000000000', 'hex'), high: Buffer.from('20010db800010002ffffffffffffffff', 'hex') });
    expect(addressRange('2001:db8::/33', 48)!.high).toEqual(Buffer.from('20010db87fffffffffffffffffffffff', 'hex'));
    expect(addressRange('nope', 64)).toBeNull();
  });
});
