// Cloud providers' published address ranges → labelled ranges, "provider/region/service". Pure.
//
//   AWS    ip-ranges.json (https://ip-ranges.amazonaws.com/ip-ranges.json):
//          prefixes[].{ip_prefix, region, service}, ipv6_prefixes[].{ipv6_prefix, region, service}
//   GCP    cloud.json (https://www.gstatic.com/ipranges/cloud.json):
//          prefixes[].{ipv4Prefix | ipv6Prefix, service, scope}
//   Azure  Service Tags JSON (ServiceTags_Public_<date>.json):
//          values[].{name, properties.{region, systemService, addressPrefixes[]}}
//
// The files list one prefix several times: AWS under its specific service and under the catch-all
// AMAZON, Azure under a regional tag (AzureCloud.eastus, Storage.EastUS) and the global one
// (AzureCloud). Of identical prefixes the most specific label is kept (a named service over the
// catch-all, a region over "global"); of nested ones the table's narrowest-wins rule decides.
import { AddressRangesBuilder, type AddressRange, type AddressRanges } from './address-ranges.js';
import { parseRangeText } from './list-formats.js';

export type CloudProvider = 'aws' | 'gcp' | 'azure';
export const CLOUD_PROVIDERS: readonly CloudProvider[] = ['aws', 'gcp', 'azure'];

export interface CloudRange {
  readonly range: AddressRange;
  /** "provider/region/service", e.g. "aws/us-east-1/EC2"; region "global" where the file gives none. */
  readonly label: string;
}

/** An entry that was not understood, e.g. { entry: 'prefixes[12]', reason: 'not a network' }. */
export interface BadEntry {
  entry: string;
  excerpt: string;
  reason: string;
}

export interface ParsedCloudRanges {
  provider: CloudProvider;
  ranges: CloudRange[];
  bad: BadEntry[];
}

/** Each provider's name for "all of our addresses", the least specific label a prefix can have. */
const CATCH_ALL: Record<CloudProvider, string> = { aws: 'AMAZON', gcp: '', azure: 'AzureCloud' };

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Which provider's file a parsed JSON document is, from its shape; null when none. */
export function detectCloudProvider(doc: unknown): CloudProvider | null {
  const prefixes = array(field(doc, 'prefixes'));
  if (prefixes.some((p) => field(p, 'ip_prefix') !== undefined) || array(field(doc, 'ipv6_prefixes')).length > 0) return 'aws';
  if (prefixes.some((p) => field(p, 'ipv4Prefix') !== undefined || field(p, 'ipv6Prefix') !== undefined)) return 'gcp';
  if (array(field(doc, 'values')).some((v) => Array.isArray(field(field(v, 'properties'), 'addressPrefixes')))) return 'azure';
  return null;
}

/**
 * The labelled ranges of one provider's file. Throws an Error saying why when the file is not
 * JSON or not one of the known formats; single entries that are not understood are in `bad`.
 */
export function parseCloudRanges(json: string, provider: CloudProvider | 'auto' = 'auto'): ParsedCloudRanges {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (error) {
    throw new Error(`it is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const found = detectCloudProvider(doc);
  const which = provider === 'auto' ? found : provider;
  if (which === null) throw new Error('it is none of the range files nfwatch reads (AWS ip-ranges.json, Google Cloud cloud.json, Azure Service Tags JSON)');
  const collected = new Collected(which);
  if (which === 'aws') {
    array(field(doc, 'prefixes')).forEach((p, i) => collected.add(`prefixes[${i}]`, field(p, 'ip_prefix'), field(p, 'region'), field(p, 'service')));
    array(field(doc, 'ipv6_prefixes')).forEach((p, i) => collected.add(`ipv6_prefixes[${i}]`, field(p, 'ipv6_prefix'), field(p, 'region'), field(p, 'service')));
  } else if (which === 'gcp') {
    array(field(doc, 'prefixes')).forEach((p, i) => {
      // goog.json (all of Google's addresses) has neither service nor scope.
      collected.add(`prefixes[${i}]`, field(p, 'ipv4Prefix') ?? field(p, 'ipv6Prefix'), field(p, 'scope'), field(p, 'service') ?? 'Google');
    });
  } else {
    array(field(doc, 'values')).forEach((v, i) => {
      const props = field(v, 'properties');
      const name = text(field(v, 'name'));
      // Regional tags are named "<service>.<region>" and leave systemService empty for AzureCloud.
      const service = text(field(props, 'systemService')) || name.split('.')[0] || name;
      array(field(props, 'addressPrefixes')).forEach((prefix, j) => collected.add(`values[${i}] (${name}) addressPrefixes[${j}]`, prefix, field(props, 'region'), service));
    });
  }
  return { provider: which, ranges: collected.ranges(), bad: collected.bad };
}

/** Ranges by identical prefix, keeping the most specific label of each. */
class Collected {
  readonly bad: BadEntry[] = [];
  private readonly byPrefix = new Map<string, { range: AddressRange; label: string; rank: number }>();
  constructor(private readonly provider: CloudProvider) {}

  add(entry: string, prefix: unknown, region: unknown, service: unknown): void {
    if (typeof prefix !== 'string') {
      this.bad.push({ entry, excerpt: JSON.stringify(prefix) ?? 'undefined', reason: 'no prefix string' });
      return;
    }
    const range = parseRangeText(prefix);
    if (typeof range === 'string' || prefix.includes('-')) {
      this.bad.push({ entry, excerpt: prefix, reason: typeof range === 'string' ? range : 'a range, not a network' });
      return;
    }
    const regionName = text(region);
    const place = regionName === '' || regionName === 'GLOBAL' ? 'global' : regionName; // AWS writes GLOBAL
    const serviceName = text(service) || 'unknown';
    const rank = (serviceName !== CATCH_ALL[this.provider] ? 2 : 0) + (place !== 'global' ? 1 : 0);
    const key = `${range.family}:${range.start}-${range.end}`;
    const held = this.byPrefix.get(key);
    if (held === undefined || rank > held.rank) this.byPrefix.set(key, { range, label: `${this.provider}/${place}/${serviceName}`, rank });
  }

  ranges(): CloudRange[] {
    return [...this.byPrefix.values()].map(({ range, label }) => ({ range, label }));
  }
}

/** One table of several files' ranges: the narrowest range's label wins, of identical ones the first file's. */
export function cloudRangesTable(files: readonly ParsedCloudRanges[]): AddressRanges<string> {
  const builder = new AddressRangesBuilder<string>();
  for (const file of files) for (const { range, label } of file.ranges) builder.add(range, label);
  return builder.build();
}
