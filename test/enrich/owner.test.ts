// The owner enricher (src/enrich/owner.ts): each packet's source address gets who holds it, its
// AS and organisation from the bundled data (or a configured CSV) and its cloud range from
// configured provider files; private and reserved addresses get null; answers are frozen and
// shared; configured files are reloaded when they change and on SIGHUP.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ASN_CACHE_FILE } from '../../src/enrich/asn-cache.js';
import { ASN_CREDIT } from '../../src/enrich/asn-table.js';
import { OWNER_UNKNOWN, OwnerEnricher, createOwner, type OwnerOptions } from '../../src/enrich/owner.js';
import { NONE, type OwnerInfo } from '../../src/pipeline/types.js';
import { memoryLogger } from '../../src/util/log.js';
import { fixturePackets, synEvent } from './fixtures.js';

const cloudFixture = (name: string): string => new URL(`../fixtures/cloud/${name}`, import.meta.url).pathname;
const CLOUD = ['aws-ip-ranges.json', 'gcp-cloud.json', 'azure-servicetags.json'].map(cloudFixture);

function ownerOf(enricher: OwnerEnricher, srcIp: string): OwnerInfo | null {
  const event = synEvent({ srcIp, family: srcIp.includes(':') ? 6 : 4 });
  enricher.enrich(event);
  return event.owner;
}

const open: OwnerEnricher[] = [];
async function owner(options: Partial<OwnerOptions>, logger = memoryLogger()): Promise<OwnerEnricher> {
  const enricher = await OwnerEnricher.open({ asnCsv: '', cloudFiles: [], ...options }, logger);
  open.push(enricher);
  return enricher;
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'nfwatch-owner-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Replaces `target` with `text` the way downloads do: write beside it, rename over it. */
function replaceByRename(target: string, text: string): void {
  writeFileSync(`${target}.new`, text);
  renameSync(`${target}.new`, target);
}

const fast = { debounceMs: 20, pollMs: 0 };

describe('owner with the bundled AS data and the three cloud fixtures', () => {
  let enricher: OwnerEnricher;
  const logger = memoryLogger();
  beforeAll(async () => {
    enricher = await OwnerEnricher.open({ asnCsv: '', cloudFiles: CLOUD, watch: false, pollMs: 0 }, logger);
  });
  afterAll(async () => {
    await enricher.close();
  });

  it('names the AS, organisation and cloud range of a source', () => {
    expect(ownerOf(enricher, '1.1.1.1')).toEqual({ asn: 13335, org: 'Cloudflare, Inc.', cloud: '' });
    expect(ownerOf(enricher, '2001:4860:4860::8888')).toEqual({ asn: 15169, org: 'Google LLC', cloud: '' });
    expect(ownerOf(enricher, '3.5.140.1')).toEqual({ asn: 16509, org: 'Amazon.com, Inc.', cloud: 'aws/ap-northeast-2/S3' });
    expect(ownerOf(enricher, '2600:1f14::1')).toEqual({ asn: 16509, org: 'Amazon.com, Inc.', cloud: 'aws/us-west-2/EC2' });
    expect(ownerOf(enricher, '34.73.0.1')).toEqual({ asn: 396982, org: 'Google LLC', cloud: 'gcp/us-east1/Google Cloud' });
    expect(ownerOf(enricher, '20.60.0.1')).toEqual({ asn: 8075, org: 'Microsoft Corporation', cloud: 'azure/eastus/AzureStorage' });
    expect(ownerOf(enricher, '::ffff:3.5.140.1')).toEqual({ asn: 16509, org: 'Amazon.com, Inc.', cloud: 'aws/ap-northeast-2/S3' });
  });

  it('shares one frozen answer between events and between addresses with the same owner', () => {
    const a = ownerOf(enricher, '3.5.140.1');
    expect(Object.isFrozen(a)).toBe(true);
    expect(ownerOf(enricher, '3.5.140.1')).toBe(a);
    expect(ownerOf(enricher, '3.5.143.254')).toBe(a);
    expect(ownerOf(enricher, '::ffff:3.5.140.9')).toBe(a);
    expect(ownerOf(enricher, '1.1.1.1')).toBe(ownerOf(enricher, '1.0.0.1'));
    expect(enricher.lookup('1.1.1.1')).toBe(ownerOf(enricher, '1.1.1.1'));
  });

  it('gives private and reserved addresses null, without a lookup', () => {
    for (const ip of ['10.0.0.1', '192.168.1.1', '172.16.0.1', '100.64.0.1', '127.0.0.1', '192.0.2.1', '198.51.100.64', '0.0.0.0', '255.255.255.255', 'fd00:6e66::2', 'fe80::1', '::1', '2001:db8::1', '::ffff:10.0.0.1']) {
      expect(ownerOf(enricher, ip), ip).toBeNull();
    }
    expect(ownerOf(enricher, 'not an address')).toBeNull();
  });

  it('gives the lab captures, all from the benchmarking network 198.18.0.0/15 and a ULA, null', () => {
    for (const name of ['syn-port6000.jsonl', 'syn-masscan.jsonl', 'scan-ipv6-rotation.jsonl']) {
      for (const event of fixturePackets(name)) {
        enricher.enrich(event);
        expect(event.owner, `${name} ${event.srcIp}`).toBeNull();
      }
    }
  });

  it('says what it loaded and credits the bundled data', () => {
    expect(enricher.stats()).toMatchObject({ cloudRanges: 15, reloads: 0, errors: 0 });
    expect(enricher.stats().asnRanges).toBeGreaterThan(400_000);
    expect(enricher.credits()).toEqual([ASN_CREDIT]);
    const log = logger.lines.join('\n');
    expect(log).toMatch(/info AS data: \d+ ranges from the bundled asn-ipv4-num\.csv and asn-ipv6\.csv \(RouteViews, DB-IP, NRO; CC BY 4\.0\), read in \d+ ms/);
    expect(log).toMatch(/info cloud ranges: 6 aws prefixes from .*aws-ip-ranges\.json/);
  });
});

describe('owner with a configured AS CSV', () => {
  const CSV_A = '3.5.140.0,3.5.143.255,64496,First Org\n2600:1f14::,2600:1f14:ffff:ffff:ffff:ffff:ffff:ffff,64496,First Org\n';
  const CSV_B = '3.5.140.0,3.5.143.255,64497,"Second, Org"\n';

  it('answers from it, and unknown (one shared answer) where neither it nor a cloud file knows the address', async () => {
    const csv = path.join(dir, 'asn.csv');
    writeFileSync(csv, CSV_A);
    const enricher = await owner({ asnCsv: csv, ...fast });
    expect(ownerOf(enricher, '3.5.140.1')).toEqual({ asn: 64496, org: 'First Org', cloud: '' });
    expect(ownerOf(enricher, '1.1.1.1')).toBe(OWNER_UNKNOWN);
    expect(OWNER_UNKNOWN).toEqual({ asn: NONE, org: '', cloud: '' });
    expect(enricher.credits()).toEqual([]); // the admin's own data
  });

  it('answers the cloud range alone where the AS data does not know the address', async () => {
    const csv = path.join(dir, 'asn.csv');
    writeFileSync(csv, CSV_A);
    const enricher = await owner({ asnCsv: csv, cloudFiles: [cloudFixture('gcp-cloud.json')], ...fast });
    expect(ownerOf(enricher, '34.73.0.1')).toEqual({ asn: NONE, org: '', cloud: 'gcp/us-east1/Google Cloud' });
  });

  it('reloads the CSV replaced by rename, and forgets the old answers', async () => {
    const csv = path.join(dir, 'asn.csv');
    writeFileSync(csv, CSV_A);
    const logger = memoryLogger();
    const enricher = await owner({ asnCsv: csv, ...fast }, logger);
    expect(ownerOf(enricher, '3.5.140.1')?.asn).toBe(64496);
    replaceByRename(csv, CSV_B);
    await vi.waitFor(() => expect(ownerOf(enricher, '3.5.140.1')).toEqual({ asn: 64497, org: 'Second, Org', cloud: '' }), { timeout: 5000, interval: 20 });
    expect(ownerOf(enricher, '2600:1f14::1')).toBe(OWNER_UNKNOWN);
    expect(enricher.stats()).toMatchObject({ asnRanges: 1, reloads: 1, errors: 0 });
  });

  it('keeps the data it has when the new version is unusable, says so once, and takes the next good one', async () => {
    const csv = path.join(dir, 'asn.csv');
    writeFileSync(csv, CSV_A);
    const logger = memoryLogger();
    const enricher = await owner({ asnCsv: csv, debounceMs: 20, pollMs: 30 }, logger);
    replaceByRename(csv, '<html>502 Bad Gateway</html>\n');
    await vi.waitFor(() => expect(logger.lines.join('\n')).toMatch(/error cannot reload .*asn\.csv: no line in it is an AS range \(1 lines not understood: asn\.csv line 1 "<html>502 Bad Gateway<\/html>": fewer than four fields\); still using the data read before/), { timeout: 5000, interval: 20 });
    expect(ownerOf(enricher, '3.5.140.1')?.asn).toBe(64496);
    // Polled again and again: still said once.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(logger.lines.filter((l) => l.includes('cannot reload'))).toHaveLength(1);
    expect(enricher.stats()).toMatchObject({ reloads: 0, errors: 1 });
    replaceByRename(csv, CSV_B);
    await vi.waitFor(() => expect(ownerOf(enricher, '3.5.140.1')?.asn).toBe(64497), { timeout: 5000, interval: 20 });
  });

  it('reads the files again on reload() (SIGHUP)', async () => {
    const csv = path.join(dir, 'asn.csv');
    const cloud = path.join(dir, 'ranges.json');
    writeFileSync(csv, CSV_A);
    copyFileSync(cloudFixture('aws-ip-ranges.json'), cloud);
    const enricher = await owner({ asnCsv: csv, cloudFiles: [cloud], watch: false, pollMs: 0 });
    expect(ownerOf(enricher, '3.5.140.1')).toEqual({ asn: 64496, org: 'First Org', cloud: 'aws/ap-northeast-2/S3' });
    replaceByRename(csv, CSV_B);
    copyFileSync(cloudFixture('gcp-cloud.json'), `${cloud}.new`);
    renameSync(`${cloud}.new`, cloud);
    expect(ownerOf(enricher, '3.5.140.1')?.asn).toBe(64496); // not watching: nothing changes by itself
    await enricher.reload();
    expect(ownerOf(enricher, '3.5.140.1')).toEqual({ asn: 64497, org: 'Second, Org', cloud: '' });
    expect(ownerOf(enricher, '34.73.0.1')?.cloud).toBe('gcp/us-east1/Google Cloud');
    expect(enricher.stats()).toMatchObject({ cloudRanges: 4, reloads: 2, errors: 0 });
  });
});

describe('owner cloud files', () => {
  it('reloads a cloud file replaced by rename', async () => {
    const csv = path.join(dir, 'asn.csv');
    writeFileSync(csv, '');
    const cloud = path.join(dir, 'ip-ranges.json');
    copyFileSync(cloudFixture('aws-ip-ranges.json'), cloud);
    const enricher = await owner({ asnCsv: csv, cloudFiles: [cloud], ...fast });
    expect(ownerOf(enricher, '3.5.140.1')?.cloud).toBe('aws/ap-northeast-2/S3');
    const moved = JSON.stringify({ prefixes: [{ ip_prefix: '3.5.140.0/22', region: 'eu-central-1', service: 'EC2' }], ipv6_prefixes: [] });
    replaceByRename(cloud, moved);
    await vi.waitFor(() => expect(ownerOf(enricher, '3.5.140.1')?.cloud).toBe('aws/eu-central-1/EC2'), { timeout: 5000, interval: 20 });
    expect(ownerOf(enricher, '34.73.0.1')).toBe(OWNER_UNKNOWN);
  });

  it('keeps a cloud file it has when the new version is not a range file', async () => {
    const csv = path.join(dir, 'asn.csv');
    writeFileSync(csv, '');
    const cloud = path.join(dir, 'ServiceTags_Public.json');
    copyFileSync(cloudFixture('azure-servicetags.json'), cloud);
    const logger = memoryLogger();
    const enricher = await owner({ asnCsv: csv, cloudFiles: [cloud], ...fast }, logger);
    replaceByRename(cloud, '{"truncated": ');
    await vi.waitFor(() => expect(logger.lines.join('\n')).toMatch(/error cannot reload .*ServiceTags_Public\.json: it is not JSON .*; still using the data read before/), { timeout: 5000, interval: 20 });
    expect(ownerOf(enricher, '20.60.0.1')?.cloud).toBe('azure/eastus/AzureStorage');
  });
});

describe('owner configuration', () => {
  it('refuses to start when a configured file is missing or unusable, naming the setting', async () => {
    const missing = path.join(dir, 'asn.csv');
    await expect(OwnerEnricher.open({ asnCsv: missing, cloudFiles: [] }, memoryLogger())).rejects.toThrow(`owner.asn_csv: cannot use ${missing}: it does not exist`);
    const garbage = path.join(dir, 'ranges.json');
    writeFileSync(garbage, 'not json');
    await expect(OwnerEnricher.open({ asnCsv: '', cloudFiles: [cloudFixture('gcp-cloud.json'), garbage], bundledAsnCsv: [] }, memoryLogger())).rejects.toThrow(
      /^owner\.cloud\[1\]: cannot use .*ranges\.json: it is not JSON/,
    );
  });

  it('warns and names cloud ranges only when the bundled AS data is absent', async () => {
    const logger = memoryLogger();
    const enricher = await owner({ cloudFiles: [cloudFixture('aws-ip-ranges.json')], bundledAsnCsv: [path.join(dir, 'absent.csv')], ...fast }, logger);
    expect(logger.lines.join('\n')).toMatch(/warn cannot read the bundled AS data: it does not exist; no AS numbers or organisations/);
    expect(ownerOf(enricher, '3.5.140.1')).toEqual({ asn: NONE, org: '', cloud: 'aws/ap-northeast-2/S3' });
    expect(enricher.credits()).toEqual([]);
  });

  it('is not created when owner.enabled is false', async () => {
    expect(await createOwner({ enabled: false, asn_csv: '', cloud: [] }, memoryLogger())).toBeNull();
  });

  it('is created from the configuration, its log lines scoped [owner]', async () => {
    const csv = path.join(dir, 'asn.csv');
    writeFileSync(csv, '3.5.140.0,3.5.143.255,64496,First Org\n');
    const logger = memoryLogger();
    const enricher = await createOwner({ enabled: true, asn_csv: csv, cloud: [] }, logger, { watch: false, pollMs: 0 });
    expect(enricher).not.toBeNull();
    open.push(enricher!);
    expect(ownerOf(enricher!, '3.5.140.1')?.org).toBe('First Org');
    expect(logger.lines.join('\n')).toMatch(/info \[owner\] AS data: 1 ranges from /);
  });
});

describe('owner keeps the bundled AS data parsed in state_dir', () => {
  const V4 = '16843008,16843263,13335,"Cloudflare, Inc."\n134744064,134744319,15169,Google LLC\n';
  const V6 = '2001:4860::,2001:4860:4804:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n';
  const bundled = (): string[] => {
    const files = [path.join(dir, 'asn-ipv4-num.csv'), path.join(dir, 'asn-ipv6.csv')];
    if (!existsSync(files[0]!)) {
      writeFileSync(files[0]!, V4);
      writeFileSync(files[1]!, V6);
    }
    return files;
  };
  const start = async (stateDir: string): Promise<{ enricher: OwnerEnricher; log: string }> => {
    const logger = memoryLogger();
    const enricher = await owner({ bundledAsnCsv: bundled(), stateDir, watch: false, pollMs: 0 }, logger);
    return { enricher, log: logger.lines.join('\n') };
  };

  it('parses the CSV at the first start and keeps the table; the next start reads it with the same answers', async () => {
    const state = path.join(dir, 'state');
    const first = await start(state);
    expect(first.log).toMatch(/info AS data: 3 ranges from the bundled asn-ipv4-num\.csv and asn-ipv6\.csv \(RouteViews, DB-IP, NRO; CC BY 4\.0\), read in \d+ ms$/m);
    expect(existsSync(path.join(state, ASN_CACHE_FILE))).toBe(true);
    const second = await start(state);
    expect(second.log).toContain(`, read in `);
    expect(second.log).toContain(`(kept parsed in ${path.join(state, ASN_CACHE_FILE)})`);
    for (const ip of ['1.1.1.1', '8.8.8.8', '2001:4860:4860::8888', '9.9.9.9']) expect(ownerOf(second.enricher, ip)).toEqual(ownerOf(first.enricher, ip));
    expect(ownerOf(second.enricher, '8.8.8.8')).toEqual({ asn: 15169, org: 'Google LLC', cloud: '' });
  });

  it('parses the CSV again when it changed, or when the kept table is damaged, and says why', async () => {
    const state = path.join(dir, 'state');
    await start(state);
    appendFileSync(bundled()[0]!, '151587072,151587327,19281,Quad9\n');
    const changed = await start(state);
    expect(changed.log).toMatch(/info not using the parsed AS data in .*asn-bundled\.table: it was made from other CSV files \(or other versions of them\)$/m);
    expect(ownerOf(changed.enricher, '9.9.9.9')).toEqual({ asn: 19281, org: 'Quad9', cloud: '' });
    const file = path.join(state, ASN_CACHE_FILE);
    writeFileSync(file, readFileSync(file).subarray(0, 100));
    const damaged = await start(state);
    expect(damaged.log).toMatch(/not using the parsed AS data in .*: it is damaged or cut short/);
    expect(ownerOf(damaged.enricher, '9.9.9.9')).toEqual({ asn: 19281, org: 'Quad9', cloud: '' });
    expect((await start(state)).log).toContain('(kept parsed in');
  });

  it('with keepParsed false (replay) reads a kept table but never writes one, nor its directory', async () => {
    const state = path.join(dir, 'state');
    const readOnly = async (): Promise<string> => {
      const logger = memoryLogger();
      await owner({ bundledAsnCsv: bundled(), stateDir: state, keepParsed: false, watch: false, pollMs: 0 }, logger);
      return logger.lines.join('\n');
    };
    expect(await readOnly()).not.toContain('kept parsed');
    expect(existsSync(state)).toBe(false);
    await start(state);
    expect(await readOnly()).toContain(`(kept parsed in ${path.join(state, ASN_CACHE_FILE)})`);
  });

  it("reads the build's table when state_dir has none, without parsing the CSV or writing state_dir", async () => {
    const shipped = path.join(dir, 'dist', ASN_CACHE_FILE);
    const made = await start(path.join(dir, 'made'));
    mkdirSync(path.join(dir, 'dist'));
    copyFileSync(path.join(dir, 'made', ASN_CACHE_FILE), shipped);
    const logger = memoryLogger();
    const state = path.join(dir, 'state');
    const enricher = await owner({ bundledAsnCsv: bundled(), stateDir: state, shippedAsnTable: shipped, watch: false, pollMs: 0 }, logger);
    expect(logger.lines.join('\n')).toContain(`(kept parsed in ${shipped})`);
    expect(existsSync(path.join(state, ASN_CACHE_FILE))).toBe(false);
    for (const ip of ['1.1.1.1', '8.8.8.8', '2001:4860:4860::8888', '9.9.9.9']) expect(ownerOf(enricher, ip)).toEqual(ownerOf(made.enricher, ip));
  });

  it("parses the CSV and keeps it in state_dir when the build's table was made from other data", async () => {
    const shipped = path.join(dir, 'dist', ASN_CACHE_FILE);
    await start(path.join(dir, 'made'));
    mkdirSync(path.join(dir, 'dist'));
    copyFileSync(path.join(dir, 'made', ASN_CACHE_FILE), shipped);
    appendFileSync(bundled()[0]!, '151587072,151587327,19281,Quad9\n');
    const logger = memoryLogger();
    const state = path.join(dir, 'state');
    const enricher = await owner({ bundledAsnCsv: bundled(), stateDir: state, shippedAsnTable: shipped, watch: false, pollMs: 0 }, logger);
    expect(logger.lines.join('\n')).not.toContain('kept parsed');
    expect(ownerOf(enricher, '9.9.9.9')).toEqual({ asn: 19281, org: 'Quad9', cloud: '' });
    expect(existsSync(path.join(state, ASN_CACHE_FILE))).toBe(true);
  });

  it('still answers when the table cannot be kept, and warns', async () => {
    const blocked = path.join(dir, 'a-file');
    writeFileSync(blocked, '');
    const { enricher, log } = await start(blocked);
    expect(log).toMatch(/warn cannot keep the parsed AS data in .*a-file\/asn-bundled\.table: .*; the next start reads the CSV again/);
    expect(ownerOf(enricher, '1.1.1.1')).toEqual({ asn: 13335, org: 'Cloudflare, Inc.', cloud: '' });
  });
});
