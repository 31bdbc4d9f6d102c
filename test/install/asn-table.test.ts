// The AS table the build leaves beside the code (scripts/ship-asn-table.mjs, dist/asn-bundled.table):
// signed with the installed @ip-location-db/asn's version, so a daemon's first start takes it, and
// answering exactly as the CSV it was made from.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { asnCacheSignature, decodeAsnCache } from '../../src/enrich/asn-cache.js';
import { AsnTable, bundledAsnCsvPaths, bundledAsnVersion, readAsnCsv } from '../../src/enrich/asn-table.js';

const SHIPPED = fileURLToPath(new URL('../../dist/asn-bundled.table', import.meta.url));

describe("the build's AS table", () => {
  it('is signed with the installed package and answers as its CSV does', async () => {
    expect(existsSync(SHIPPED), `${SHIPPED} is missing: npm run build makes it (npm test builds first)`).toBe(true);
    const paths = bundledAsnCsvPaths();
    expect(paths, 'the bundled AS data is installed (npm ci)').toHaveLength(2);
    const shipped = decodeAsnCache(readFileSync(SHIPPED), await asnCacheSignature(paths, bundledAsnVersion()));
    if (typeof shipped === 'string') throw new Error(`the build's table is not used: ${shipped}`);
    const parsed = AsnTable.fromCsv(await readAsnCsv(paths));
    expect(shipped.ranges).toBe(parsed.ranges);
    // Addresses spread over the whole IPv4 space and a few IPv6 networks, the same every run.
    let x = 0x9e3779b9;
    const probes: string[] = ['1.1.1.1', '8.8.8.8', '2001:4860:4860::8888', '2606:4700:4700::1111', '2a00:1450:4001::1'];
    for (let i = 0; i < 5000; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      probes.push(`${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`);
    }
    const answered = probes.filter((ip) => parsed.lookup(ip) !== null).length;
    expect(answered).toBeGreaterThan(1000);
    for (const ip of probes) expect(shipped.lookup(ip), ip).toEqual(parsed.lookup(ip));
  }, 60_000);
});
