// The test databases under test/fixtures/geoip are what test/fixtures/geoip/fixtures.ts describes,
// written by the test MMDB writer, and maxmind's reader reads them as MaxMind DB files.
import { readFileSync, writeFileSync } from 'node:fs';
import { Reader, type Response } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { FIXTURES, fixturePath } from '../fixtures/geoip/fixtures.js';
import { writeMmdb } from '../fixtures/geoip/mmdb-writer.js';

describe('GeoIP test databases', () => {
  for (const [name, spec] of Object.entries(FIXTURES)) {
    it(`${name} is up to date (UPDATE_GEOIP_FIXTURES=1 rewrites it)`, () => {
      const bytes = writeMmdb(spec);
      if (process.env.UPDATE_GEOIP_FIXTURES === '1') writeFileSync(fixturePath(name), bytes);
      expect(readFileSync(fixturePath(name)).equals(bytes)).toBe(true);
    });

    it(`${name} reads back record for record`, () => {
      const reader = new Reader<Response>(readFileSync(fixturePath(name)));
      expect(reader.metadata.databaseType).toBe(spec.databaseType);
      expect(reader.metadata.ipVersion).toBe(spec.ipVersion);
      expect(reader.metadata.recordSize).toBe(24);
      for (const [cidr, record] of spec.networks) {
        const [address = '', length = ''] = cidr.split('/');
        const [found, prefix] = reader.getWithPrefixLength(address);
        expect(found).toEqual(record);
        // mmdb-lib counts an IPv4 address's prefix from the ::/96 node, as an IPv4 prefix.
        expect(prefix).toBe(Number(length));
      }
      expect(reader.get(spec.ipVersion === 6 ? '2001:4860:4860::8888' : '9.9.9.9')).toBeNull();
    });
  }
});
