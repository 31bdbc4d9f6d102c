import { describe, expect, it } from 'vitest';
import { TCP_ACK, TCP_SYN } from '../../src/pipeline/types.js';
import { parseFilter, type CompiledFilter } from '../../src/web/filter.js';
import { parseCidr } from '../../src/util/ip.js';
import { packet } from './helpers.js';

function compile(input: unknown): CompiledFilter {
  const r = parseFilter(input);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const matches = (input: unknown, e = packet()): boolean => {
  const f = compile(input);
  return f.match === null || f.match(e);
};
const error = (input: unknown): string => {
  const r = parseFilter(input);
  return r.ok ? 'accepted' : r.error;
};

describe('subscription filters', () => {
  it('treats no filter and {} as everything, with no matcher to call', () => {
    expect(compile(undefined).match).toBeNull();
    expect(compile({}).match).toBeNull();
    expect(compile({}).key).toBe(compile(undefined).key);
  });

  it('matches each field', () => {
    expect(matches({ verdict: 'blocked' }, packet({ verdict: 'blocked' }))).toBe(true);
    expect(matches({ verdict: 'allowed' }, packet({ verdict: 'blocked' }))).toBe(false);
    expect(matches({ protocol: 'udp' }, packet({ protocol: 17 }))).toBe(true);
    expect(matches({ protocol: 17 }, packet({ protocol: 6 }))).toBe(false);
    expect(matches({ protocol: 'icmp' }, packet({ protocol: 1 }))).toBe(true);
    expect(matches({ port: 22 }, packet({ dport: 22 }))).toBe(true);
    expect(matches({ port: 22 }, packet({ dport: 23, sport: 22 }))).toBe(false); // destination port only
    expect(matches({ fingerprint: 'ittl=64,win=1024,olen=4,df=0' }, packet({ ttl: 50, window: 1024, olen: 4, df: 0 }))).toBe(true);
    expect(matches({ fingerprint: 'ittl=64,win=1024,olen=4,df=0' }, packet({ protocol: 17 }))).toBe(false);
    expect(matches({ tool: 'nmap-syn' }, packet({ tool: 'nmap-syn' }))).toBe(true);
    expect(matches({ tool: 'nmap-syn' }, packet({ tool: 'masscan' }))).toBe(false);
    expect(matches({ country: 'CN' }, packet({ country: 'CN' }))).toBe(true);
    expect(matches({ country: 'CN' }, packet({ country: 'cn' }))).toBe(false);
    expect(matches({ country: 'CN' }, packet())).toBe(false); // no GeoIP
  });

  it('city keeps packets a City database placed there; with country, one place', () => {
    const london = packet({ country: 'GB', city: 'London', location: { lat: 51.5142, lon: -0.0931 } });
    const ontario = packet({ country: 'CA', city: 'London', location: { lat: 42.9834, lon: -81.233 } });
    expect(matches({ city: 'London' }, london)).toBe(true);
    expect(matches({ city: 'London' }, ontario)).toBe(true);
    expect(matches({ city: 'London', country: 'GB' }, ontario)).toBe(false);
    expect(matches({ city: 'London', country: 'GB' }, london)).toBe(true);
    expect(matches({ city: 'London' }, packet({ country: 'GB' }))).toBe(false); // no City database
    expect(error({ city: 'x'.repeat(65) })).toMatch(/city must be a string of at most 64 characters/);
    expect(compile({ city: 'London' }).key).not.toBe(compile({ country: 'London' }).key);
  });

  it('list keeps packets whose source is on that threat list', () => {
    const listed = packet();
    listed.listed = ['firehol_level1', 'spamhaus_drop'];
    expect(matches({ list: 'spamhaus_drop' }, listed)).toBe(true);
    expect(matches({ list: 'et_compromised' }, listed)).toBe(false);
    expect(matches({ list: 'spamhaus_drop' }, packet())).toBe(false); // on no list
    expect(error({ list: 7 })).toMatch(/list must be a string/);
  });

  it('synOnly keeps TCP SYNs without ACK', () => {
    expect(matches({ synOnly: true }, packet({ flags: TCP_SYN }))).toBe(true);
    expect(matches({ synOnly: true }, packet({ flags: TCP_SYN | TCP_ACK }))).toBe(false);
    expect(matches({ synOnly: true }, packet({ flags: TCP_ACK }))).toBe(false);
    expect(matches({ synOnly: true }, packet({ protocol: 17 }))).toBe(false);
    expect(matches({ synOnly: false }, packet({ protocol: 17 }))).toBe(true);
  });

  it('needs every given field to match (AND)', () => {
    const f = { verdict: 'blocked', port: 22, src: '203.0.113.0/24' };
    expect(matches(f, packet({ verdict: 'blocked', dport: 22, src: '203.0.113.9' }))).toBe(true);
    expect(matches(f, packet({ verdict: 'allowed', dport: 22, src: '203.0.113.9' }))).toBe(false);
    expect(matches(f, packet({ verdict: 'blocked', dport: 23, src: '203.0.113.9' }))).toBe(false);
    expect(matches(f, packet({ verdict: 'blocked', dport: 22, src: '203.0.114.9' }))).toBe(false);
  });

  it('matches IPv4 addresses and CIDRs, host bits masked, IPv4-mapped IPv6 included', () => {
    expect(matches({ src: '203.0.113.0/24' }, packet({ src: '203.0.113.255' }))).toBe(true);
    expect(matches({ src: '203.0.113.77/24' }, packet({ src: '203.0.113.1' }))).toBe(true);
    expect(matches({ src: '203.0.113.7' }, packet({ src: '203.0.113.7' }))).toBe(true);
    expect(matches({ src: '203.0.113.7' }, packet({ src: '203.0.113.70' }))).toBe(false);
    expect(matches({ src: '0.0.0.0/0' }, packet({ src: '8.8.8.8' }))).toBe(true);
    expect(matches({ src: '10.0.0.0/8' }, packet({ src: '11.0.0.1' }))).toBe(false);
    expect(matches({ src: '198.18.0.0/15' }, packet({ src: '198.19.255.1' }))).toBe(true);
    expect(matches({ src: '203.0.113.0/24' }, packet({ src: '::ffff:203.0.113.5' }))).toBe(true);
    expect(matches({ src: '203.0.113.0/24' }, packet({ src: '2001:db8::1' }))).toBe(false);
  });

  it('matches IPv6 addresses and CIDRs in any textual form', () => {
    expect(matches({ src: '2001:db8::/32' }, packet({ src: '2001:db8:ffff::1' }))).toBe(true);
    expect(matches({ src: '2001:db8::/32' }, packet({ src: '2001:db9::1' }))).toBe(false);
    expect(matches({ src: '2001:DB8:0:0::1' }, packet({ src: '2001:db8::1' }))).toBe(true);
    expect(matches({ src: '2001:db8:abcd:12::/60' }, packet({ src: '2001:db8:abcd:1f::5' }))).toBe(true);
    expect(matches({ src: '2001:db8:abcd:12::/60' }, packet({ src: '2001:db8:abcd:20::5' }))).toBe(false);
    expect(matches({ src: '::/0' }, packet({ src: 'fe80::1%eth0' }))).toBe(true);
    expect(matches({ src: '::/0' }, packet({ src: '203.0.113.9' }))).toBe(false);
    expect(matches({ src: '::ffff:0:0/96' }, packet({ src: '::ffff:198.51.100.1' }))).toBe(true);
    expect(parseCidr('2001:db8::7/64')?.text).toBe('2001:db8:0:0:0:0:0:0/64');
  });

  it('refuses unknown fields, wrong types and out-of-range values with a reason', () => {
    expect(error({ dport: 22 })).toBe('unknown filter field "dport"');
    expect(error([])).toBe('filter must be an object');
    expect(error('verdict == "blocked"')).toBe('filter must be an object');
    expect(error({ verdict: 'dropped' })).toMatch(/verdict must be/);
    expect(error({ protocol: 'sctp' })).toMatch(/protocol must be/);
    expect(error({ protocol: 256 })).toMatch(/protocol must be/);
    expect(error({ port: 65536 })).toBe('port must be an integer from 0 to 65535');
    expect(error({ port: 22.5 })).toBe('port must be an integer from 0 to 65535');
    expect(error({ port: '22' })).toBe('port must be an integer from 0 to 65535');
    expect(error({ tool: 'x'.repeat(65) })).toMatch(/at most 64/);
    expect(error({ country: 1 })).toMatch(/country must be a string/);
    expect(error({ synOnly: 'yes' })).toMatch(/synOnly/);
  });

  it('refuses malformed addresses and prefixes', () => {
    for (const src of ['203.0.113.0/33', '203.0.113/24', '203.0.113.256', '203.0.113.01', '1.2.3.4/', '1.2.3.4/08', '2001:db8::/129', '2001:db8:::1', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'fe80::1%eth0', ':1', '1:', '.*', '']) {
      expect(error({ src }), src).toBe('src must be an IPv4 or IPv6 address or CIDR');
    }
  });

  it('gives equal keys to filters that match the same events (clients share work)', () => {
    expect(compile({ src: '203.0.113.9/24', verdict: 'blocked' }).key).toBe(compile({ verdict: 'blocked', src: '203.0.113.0/24' }).key);
    expect(compile({ protocol: 'tcp' }).key).toBe(compile({ protocol: 6 }).key);
    expect(compile({ port: 22 }).key).not.toBe(compile({ port: 23 }).key);
  });
});
