import { describe, expect, it } from 'vitest';
import { Allowlist } from '../../src/respond/allowlist.js';

describe('the allowlist', () => {
  const list = new Allowlist({ allow: ['192.0.2.0/24', '2001:db8:aa::/48', '203.0.113.77'], blockPrivate: false, ownAddresses: ['198.51.100.1', '2001:db8:1:2::1', '127.0.0.1', '::1'] });
  it('never lets loopback or this host\'s own addresses be blocked, nor a network holding one', () => {
    expect(list.reason('127.0.0.1')).toBe('loopback');
    expect(list.reason('127.8.9.10')).toBe('loopback');
    expect(list.reason('::1')).toBe('loopback');
    expect(list.reason('198.51.100.1')).toBe('own address');
    expect(list.reason('2001:db8:1:2::/64')).toBe('own address');
  });
  it('protects the configured addresses and CIDRs', () => {
    expect(list.reason('192.0.2.200')).toBe('allowlisted');
    expect(list.reason('203.0.113.77')).toBe('allowlisted');
    expect(list.reason('2001:db8:aa:5::/64')).toBe('allowlisted');
  });
  it('protects private and special ranges unless block_private', () => {
    for (const a of ['10.1.2.3', '172.16.0.9', '192.168.1.1', '100.64.0.1', '169.254.1.1', 'fd00::5', 'fe80::1', '198.18.0.30']) expect(list.reason(a), a).toBe('private');
    const open = new Allowlist({ allow: [], blockPrivate: true, ownAddresses: [] });
    expect(open.reason('10.1.2.3')).toBeNull();
    expect(open.reason('198.18.0.30')).toBeNull();
    expect(open.reason('127.0.0.1')).toBe('loopback');
  });
  it('lets a global address be blocked', () => {
    expect(list.reason('45.33.32.156')).toBeNull();
    expect(list.reason('2a00:1450:4001::/64')).toBeNull();
  });
});
