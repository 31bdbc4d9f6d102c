// The AS table (src/enrich/asn-table.ts): ip-location-db's CSV ranges `start,end,asn,"org"` (the
// bundled @ip-location-db/asn files, or the admin's own) answer who holds an address.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ASN_CREDIT, AsnTable, BUNDLED_ASN_CSV, bundledAsnCsvPath } from '../../src/enrich/asn-table.js';

const csv = (text: string, file = 'test.csv'): AsnTable => AsnTable.fromCsv([{ file, data: Buffer.from(text) }]);

describe('the bundled AS data', () => {
  const bundled = AsnTable.fromCsv(
    (['ipv4', 'ipv6'] as const).map((family) => {
      const file = bundledAsnCsvPath(family);
      return { file, data: readFileSync(file) };
    }),
  );

  it('is installed with nfwatch (no download)', () => {
    expect(bundledAsnCsvPath('ipv4')).toMatch(/@ip-location-db\/asn\/asn-ipv4-num\.csv$/);
    expect(bundledAsnCsvPath('ipv6')).toMatch(/@ip-location-db\/asn\/asn-ipv6\.csv$/);
    expect(BUNDLED_ASN_CSV.ipv4).toBe('@ip-location-db/asn/asn-ipv4-num.csv');
  });

  it('reads every line of both files', () => {
    expect(bundled.badLines).toBe(0);
    expect(bundled.ranges).toBeGreaterThan(400_000);
  });

  // Long-lived infrastructure; each answer read from the CSV files first.
  it.each([
    ['1.1.1.1', 13335, 'Cloudflare, Inc.'], // 16843008,16843263,13335,"Cloudflare, Inc."
    ['1.0.0.1', 13335, 'Cloudflare, Inc.'], // 16777216,16777471,13335,"Cloudflare, Inc."
    ['8.8.8.8', 15169, 'Google LLC'], // 134744064,134744319,15169,Google LLC
    ['9.9.9.9', 19281, 'Quad9'], // 151587072,151587327,19281,Quad9
    ['193.0.6.139', 3333, 'Reseaux IP Europeens Network Coordination Centre (RIPE NCC)'],
    ['2.26.200.1', 201907, 'LLC "SPUTNIK"'], // 35309568,35313663,201907,"LLC ""SPUTNIK"""
    ['2001:4860:4860::8888', 15169, 'Google LLC'], // 2001:4860::,2001:4860:4804:ffff:…,15169,Google LLC
    ['2606:4700:4700::1111', 13335, 'Cloudflare, Inc.'],
    ['::ffff:1.1.1.1', 13335, 'Cloudflare, Inc.'], // IPv4-mapped: looked up as 1.1.1.1
  ])('%s is AS%i, %s', (ip, asn, org) => {
    expect(bundled.lookup(ip)).toEqual({ asn, org });
  });

  it('lets the narrower of two overlapping rows answer (the data has one such pair)', () => {
    // 3596550144,3607166975,749 and, overlapping its end, 3607101440,3607167999,721.
    expect(bundled.lookup('214.147.164.0')?.asn).toBe(749);
    expect(bundled.lookup('215.0.252.48')?.asn).toBe(721); // 3607166000: in both
    expect(bundled.lookup('215.1.2.12')?.asn).toBe(721); // 3607167500: in the second only
  });

  it('answers null where no AS announces the address, and for text that is no address', () => {
    expect(bundled.lookup('10.0.0.1')).toBeNull();
    expect(bundled.lookup('fd00::1')).toBeNull();
    expect(bundled.lookup('not an address')).toBeNull();
  });

  it('shares one frozen answer between the addresses of an AS', () => {
    const a = bundled.lookup('1.1.1.1');
    expect(Object.isFrozen(a)).toBe(true);
    expect(bundled.lookup('1.0.0.1')).toBe(a);
    expect(bundled.lookup('2606:4700:4700::1111')).toBe(a);
  });

  it('asks for credit to RouteViews, DB-IP and NRO (CC BY 4.0), with a link to DB-IP', () => {
    expect(ASN_CREDIT).toEqual({ text: 'AS data by RouteViews, DB-IP and NRO (CC BY 4.0)', url: 'https://db-ip.com' });
  });
});

describe('AS ranges from CSV', () => {
  it('reads decimal IPv4, textual IPv4 and IPv6, quoted organisations with commas and doubled quotes, CRLF', () => {
    const t = csv(
      [
        '3221225984,3221226239,64496,"Example, Inc."', // 192.0.2.0/24
        '198.51.100.0,198.51.100.255,64497,"The ""Quoted"" Network"',
        '2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64498,Plain Name Ltd',
        '203.0.113.0,203.0.113.127,64499,',
        '203.0.113.128,203.0.113.255,64500,""',
      ].join('\r\n'),
    );
    expect(t.badLines).toBe(0);
    expect(t.ranges).toBe(5);
    expect(t.lookup('192.0.2.55')).toEqual({ asn: 64496, org: 'Example, Inc.' });
    expect(t.lookup('198.51.100.1')).toEqual({ asn: 64497, org: 'The "Quoted" Network' });
    expect(t.lookup('2001:db8:1::1')).toEqual({ asn: 64498, org: 'Plain Name Ltd' });
    expect(t.lookup('203.0.113.1')).toEqual({ asn: 64499, org: '' });
    expect(t.lookup('203.0.113.200')).toEqual({ asn: 64500, org: '' });
    expect(t.lookup('192.0.3.0')).toBeNull();
  });

  it('reads the IPv4 edges', () => {
    const t = csv('0,0,64496,Zero\n4294967295,4294967295,64497,Last\n');
    expect(t.lookup('0.0.0.0')?.org).toBe('Zero');
    expect(t.lookup('255.255.255.255')?.org).toBe('Last');
    expect(t.lookup('0.0.0.1')).toBeNull();
  });

  it('counts the lines it does not understand, shows the first ones with their line numbers, and reads the rest', () => {
    const t = csv(
      [
        '3221225984,3221226239,64496,Good', // 1
        'garbage', // 2
        '3221225984,3221226239,AS64496,Bad AS', // 3
        '3221226239,3221225984,64496,Backwards', // 4
        '4294967296,4294967297,64496,Too big', // 5
        '198.51.100.0,2001:db8::,64496,Mixed', // 6
        '3221225984,3221226239,64496,"Unclosed', // 7
        '3221225984,3221226239,64496,"Quoted" then text', // 8
        '', // 9: blank, skipped
        '2001:db8::2,2001:db8::1,64496,Backwards6', // 10
        '198.51.100.0,198.51.100.255,64497,Also good', // 11
      ].join('\n'),
      '/srv/asn.csv',
    );
    expect(t.ranges).toBe(2);
    expect(t.badLines).toBe(8);
    expect(t.bad).toEqual([
      { file: '/srv/asn.csv', line: 2, excerpt: 'garbage', reason: 'fewer than four fields' },
      { file: '/srv/asn.csv', line: 3, excerpt: '3221225984,3221226239,AS64496,Bad AS', reason: 'the AS number is not a number from 0 to 4294967295' },
      { file: '/srv/asn.csv', line: 4, excerpt: '3221226239,3221225984,64496,Backwards', reason: 'the end is not a number from the start to 4294967295' },
      { file: '/srv/asn.csv', line: 5, excerpt: '4294967296,4294967297,64496,Too big', reason: 'the start or end is not an address' },
      { file: '/srv/asn.csv', line: 6, excerpt: '198.51.100.0,2001:db8::,64496,Mixed', reason: 'the range goes from IPv4 to IPv6' },
      { file: '/srv/asn.csv', line: 7, excerpt: '3221225984,3221226239,64496,"Unclosed', reason: 'the organisation is not a CSV field (a quote is not closed, or text follows it)' },
      { file: '/srv/asn.csv', line: 8, excerpt: '3221225984,3221226239,64496,"Quoted" then text', reason: 'the organisation is not a CSV field (a quote is not closed, or text follows it)' },
      { file: '/srv/asn.csv', line: 10, excerpt: '2001:db8::2,2001:db8::1,64496,Backwards6', reason: 'the range ends before it starts' },
    ]);
    expect(t.lookup('192.0.2.1')).toEqual({ asn: 64496, org: 'Good' });
    expect(t.lookup('198.51.100.1')).toEqual({ asn: 64497, org: 'Also good' });
  });

  it('keeps the names of an AS that the data gives two names apart', () => {
    const t = csv('3221225984,3221226239,64496,First Name\n3325256704,3325256959,64496,Second Name\n3405803776,3405804031,64496,First Name\n');
    expect(t.lookup('192.0.2.1')).toEqual({ asn: 64496, org: 'First Name' });
    expect(t.lookup('198.51.100.1')).toEqual({ asn: 64496, org: 'Second Name' });
    expect(t.lookup('203.0.113.1')).toBe(t.lookup('192.0.2.1'));
    expect(t.answers).toBe(2);
  });

  it('is empty when made from nothing', () => {
    expect(AsnTable.empty().lookup('1.1.1.1')).toBeNull();
    expect(csv('').ranges).toBe(0);
  });
});
