// Part of the build (after tsc): parses the bundled AS data (@ip-location-db/asn) once and writes
// the table beside the code as dist/asn-bundled.table, so that a daemon's first start reads it in
// milliseconds instead of parsing 30 MB of CSV (src/enrich/asn-cache.ts). It is signed with the
// package's version, so it holds wherever the package is installed; when the installed version
// differs, the daemon parses the CSV at its first start and keeps the table in state_dir instead.
// Without the package installed it writes nothing and says so: the build does not fail for it.
import { stat } from 'node:fs/promises';

const dist = new URL('../dist/', import.meta.url);
const { asnCacheSignature, SHIPPED_ASN_TABLE, readAsnCache, writeAsnCache } = await import(new URL('enrich/asn-cache.js', dist).href);
const { AsnTable, bundledAsnCsvPaths, bundledAsnVersion, readAsnCsv } = await import(new URL('enrich/asn-table.js', dist).href);

const paths = bundledAsnCsvPaths();
const version = bundledAsnVersion();
if (paths.length === 0 || version === '') {
  process.stderr.write('ship-asn-table: the bundled AS data (@ip-location-db/asn) is not installed; dist/asn-bundled.table not made\n');
  process.exit(0);
}
const signature = await asnCacheSignature(paths, version);
// An up-to-date table from an earlier build is kept as it is (a build is often only tsc's).
if (typeof (await readAsnCache(SHIPPED_ASN_TABLE, signature)) !== 'string') process.exit(0);
const started = performance.now();
const table = AsnTable.fromCsv(await readAsnCsv(paths));
await writeAsnCache(SHIPPED_ASN_TABLE, table, signature);
const { size } = await stat(SHIPPED_ASN_TABLE);
process.stderr.write(`ship-asn-table: ${table.ranges} AS ranges of ${version} → dist/asn-bundled.table (${(size / 2 ** 20).toFixed(1)} MiB, ${Math.round(performance.now() - started)} ms)\n`);
