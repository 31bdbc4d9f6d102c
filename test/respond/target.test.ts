import { describe, expect, it } from 'vitest';
import { blockTarget, parseDuration } from '../../src/respond/target.js';

describe('what may be blocked', () => {
  it('takes IPv4 addresses, IPv6 addresses and IPv6 networks of /16 or longer, with host bits cleared', () => {
    expect(blockTarget('203.0.113.9')).toBe('203.0.113.9');
    expect(blockTarget(' 2001:DB8::7 ')).toBe('2001:db8::7');
    expect(blockTarget('2001:db8:1:2:a:b:c:d/64')).toBe('2001:db8:1:2::/64');
    expect(blockTarget('2001:db8::/32')).toBe('2001:db8::/32');
  });
  it('refuses IPv4 networks, short IPv6 prefixes, and anything else', () => {
    for (const bad of ['203.0.113.0/24', '2001::/8', '', 'example.org', '203.0.113.256', '1.2.3', 'x'.repeat(100), '2001:db8::1; drop table']) expect(blockTarget(bad), bad).toBeNull();
  });
});

describe('durations', () => {
  it('reads seconds and s/m/h/d, from 1 s to 365 days', () => {
    expect([parseDuration('90'), parseDuration('90s'), parseDuration('10m'), parseDuration('2h'), parseDuration('1d'), parseDuration('365d')]).toEqual([90, 90, 600, 7200, 86_400, 31_536_000]);
    for (const bad of ['0', '366d', '1w', '-5', '1.5h', '', 'h']) expect(parseDuration(bad), bad).toBeNull();
  });
});
