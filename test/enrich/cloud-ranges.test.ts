// Cloud range files (src/enrich/cloud-ranges.ts): AWS ip-ranges.json, Google Cloud cloud.json and
// Azure Service Tags become "provider/region/service" labelled ranges; of a prefix listed several
// times the most specific label is kept, of nested prefixes the narrowest answers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cloudRangesTable, detectCloudProvider, parseCloudRanges, type ParsedCloudRanges } from '../../src/enrich/cloud-ranges.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/cloud/${name}`, import.meta.url), 'utf8');
const labels = (parsed: ParsedCloudRanges): string[] => parsed.ranges.map((r) => r.label);

describe('AWS ip-ranges.json', () => {
  const aws = parseCloudRanges(fixture('aws-ip-ranges.json'));
  const t = cloudRangesTable([aws]);

  it('is recognised and labelled aws/region/service, IPv4 and IPv6', () => {
    expect(aws.provider).toBe('aws');
    expect(aws.bad).toEqual([]);
    expect(t.lookup('3.5.140.1')).toBe('aws/ap-northeast-2/S3');
    expect(t.lookup('52.94.77.255')).toBe('aws/us-west-2/AMAZON');
    expect(t.lookup('2600:1f14::1')).toBe('aws/us-west-2/EC2');
    expect(t.lookup('::ffff:3.5.140.1')).toBe('aws/ap-northeast-2/S3');
    expect(t.lookup('3.5.144.0')).toBeUndefined();
  });

  it('keeps the specific service of a prefix also listed under AMAZON, and lets a nested prefix answer for itself', () => {
    // 3.5.140.0/22 is listed twice (AMAZON, S3) and kept once.
    expect(labels(aws).filter((l) => l.startsWith('aws/ap-northeast-2/'))).toEqual(['aws/ap-northeast-2/S3']);
    // 198.51.100.64/26 (EC2) inside 198.51.100.0/24 (AMAZON).
    expect(t.lookup('198.51.100.1')).toBe('aws/us-east-1/AMAZON');
    expect(t.lookup('198.51.100.64')).toBe('aws/us-east-1/EC2');
    expect(t.lookup('198.51.100.127')).toBe('aws/us-east-1/EC2');
    expect(t.lookup('198.51.100.128')).toBe('aws/us-east-1/AMAZON');
  });

  it('calls AWS region GLOBAL "global"', () => {
    expect(t.lookup('54.239.128.1')).toBe('aws/global/CLOUDFRONT');
  });

  it('prefers the specific service whichever comes first', () => {
    const json = JSON.stringify({
      prefixes: [
        { ip_prefix: '192.0.2.0/24', region: 'eu-west-1', service: 'EC2' },
        { ip_prefix: '192.0.2.0/24', region: 'eu-west-1', service: 'AMAZON' },
      ],
      ipv6_prefixes: [],
    });
    expect(labels(parseCloudRanges(json))).toEqual(['aws/eu-west-1/EC2']);
  });
});

describe('Google Cloud cloud.json', () => {
  const gcp = parseCloudRanges(fixture('gcp-cloud.json'));
  const t = cloudRangesTable([gcp]);

  it('is recognised and labelled gcp/scope/service, IPv4 and IPv6', () => {
    expect(gcp.provider).toBe('gcp');
    expect(gcp.bad).toEqual([]);
    expect(t.lookup('34.73.12.34')).toBe('gcp/us-east1/Google Cloud');
    expect(t.lookup('34.1.208.1')).toBe('gcp/africa-south1/Google Cloud');
    expect(t.lookup('2600:1900:4000::1')).toBe('gcp/us-central1/Google Cloud');
    expect(t.lookup('203.0.113.200')).toBe('gcp/europe-west1/Google Cloud');
  });

  it("labels goog.json's prefixes, which have no service or scope, gcp/global/Google", () => {
    const json = JSON.stringify({ syncToken: '1', creationTime: '2026-01-05T10:00:00', prefixes: [{ ipv4Prefix: '8.8.4.0/24' }, { ipv6Prefix: '2001:4860::/32' }] });
    expect(labels(parseCloudRanges(json))).toEqual(['gcp/global/Google', 'gcp/global/Google']);
  });
});

describe('Azure Service Tags', () => {
  const azure = parseCloudRanges(fixture('azure-servicetags.json'));
  const t = cloudRangesTable([azure]);

  it('is recognised and labelled azure/region/service, the service of a regional AzureCloud tag from its name', () => {
    expect(azure.provider).toBe('azure');
    expect(azure.bad).toEqual([]);
    expect(t.lookup('20.42.0.1')).toBe('azure/eastus/AzureCloud');
    expect(t.lookup('2603:1030:210::1')).toBe('azure/eastus/AzureCloud');
    expect(t.lookup('4.145.74.53')).toBe('azure/global/ActionGroup');
    expect(t.lookup('13.64.0.1')).toBe('azure/global/AzureCloud');
  });

  it('keeps, of a prefix in several tags, a named service over AzureCloud and a region over the global tag', () => {
    // 20.60.0.0/24 is in AzureCloud.eastus, Storage.EastUS and AzureCloud; 20.42.0.0/17 in AzureCloud.eastus and AzureCloud.
    expect(t.lookup('20.60.0.1')).toBe('azure/eastus/AzureStorage');
    expect(labels(azure).filter((l) => l === 'azure/global/AzureCloud')).toHaveLength(1); // 13.64.0.0/16 only
  });
});

describe('cloud range files in general', () => {
  it('tells the provider from the content', () => {
    expect(detectCloudProvider(JSON.parse(fixture('aws-ip-ranges.json')))).toBe('aws');
    expect(detectCloudProvider(JSON.parse(fixture('gcp-cloud.json')))).toBe('gcp');
    expect(detectCloudProvider(JSON.parse(fixture('azure-servicetags.json')))).toBe('azure');
    expect(detectCloudProvider({ prefixes: [] })).toBeNull();
    expect(detectCloudProvider([1, 2])).toBeNull();
  });

  it('refuses a file that is not JSON or none of the three formats, saying so', () => {
    expect(() => parseCloudRanges('<html>404</html>')).toThrow(/^it is not JSON/);
    expect(() => parseCloudRanges('{"prefixes":[{"cidr":"192.0.2.0/24"}]}')).toThrow(/none of the range files nfwatch reads/);
  });

  it('reports the entries it does not understand and keeps the rest', () => {
    const json = JSON.stringify({
      prefixes: [
        { ip_prefix: '192.0.2.0/24', region: 'us-east-1', service: 'EC2' },
        { ip_prefix: '192.0.2.0/33', region: 'us-east-1', service: 'EC2' },
        { ip_prefix: 42, region: 'us-east-1', service: 'EC2' },
        { ip_prefix: '192.0.2.1-192.0.2.9', region: 'us-east-1', service: 'EC2' },
      ],
    });
    const parsed = parseCloudRanges(json);
    expect(labels(parsed)).toEqual(['aws/us-east-1/EC2']);
    expect(parsed.bad).toEqual([
      { entry: 'prefixes[1]', excerpt: '192.0.2.0/33', reason: 'prefix length /33 is out of range for IPv4 (0–32)' },
      { entry: 'prefixes[2]', excerpt: '42', reason: 'no prefix string' },
      { entry: 'prefixes[3]', excerpt: '192.0.2.1-192.0.2.9', reason: 'a range, not a network' },
    ]);
  });

  it('makes one table of several files', () => {
    const t = cloudRangesTable(['aws-ip-ranges.json', 'gcp-cloud.json', 'azure-servicetags.json'].map((f) => parseCloudRanges(fixture(f))));
    expect(t.lookup('3.5.140.1')).toBe('aws/ap-northeast-2/S3');
    expect(t.lookup('34.73.0.1')).toBe('gcp/us-east1/Google Cloud');
    expect(t.lookup('20.60.0.200')).toBe('azure/eastus/AzureStorage');
    expect(t.lookup('192.0.2.1')).toBeUndefined();
  });
});
