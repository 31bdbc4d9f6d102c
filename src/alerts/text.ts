// A detection → the alert a person reads, and its facts as JSON. Pure: no clock, no I/O.
import type { Alert } from '../pipeline/types.js';
import type { CampaignRow, Detection, SourceRow } from '../track/query.js';

/** An OS family as a person reads it ("crafted": a tool's own packets say nothing of the sender's OS). */
function osText(os: string): string {
  return os === 'crafted' ? 'unknown (crafted)' : os;
}

function where(country: string, asn: number | null, asOrg: string): string {
  const parts: string[] = [];
  if (country !== '') parts.push(country);
  if (asn !== null) parts.push(asOrg !== '' ? `AS${asn} ${asOrg}` : `AS${asn}`);
  return parts.join(', ');
}

function scanAlert(r: SourceRow, host: string, time: number): Alert {
  const scan = r.scan;
  const from = where(r.country, r.asn, r.asOrg);
  const who = from === '' ? r.address : `${r.address} (${from})`;
  const what = scan.label !== '' ? scan.label : scan.types.join(', ');
  const title = `${who}: ${what}, severity ${scan.severity}`;
  const lines = [
    `nfwatch on ${host}: ${title}`,
    `scan: ${scan.state} ${scan.types.join(', ')}${scan.since !== null ? ` since ${scan.since}` : ''}`,
  ];
  if (r.tools.length > 0 || r.os.length > 0) lines.push(`tool: ${r.tools.length > 0 ? r.tools.join(', ') : 'none recognised'}; OS: ${r.os.length > 0 ? r.os.map(osText).join(', ') : 'unknown'}`);
  if (r.ports.ranges !== '') lines.push(`ports: ${r.ports.ranges}${r.ports.atLeast ? ' (and more)' : ''}`);
  if (r.hosts.ranges.length > 0) lines.push(`hosts: ${r.hosts.ranges.join(', ')}${r.hosts.atLeast ? ' (and more)' : ''}`);
  if (scan.techniques.length > 0) lines.push(`probes: ${scan.techniques.map((t) => `${t.probes} ${t.technique}`).join(', ')}`);
  const evidence = [`${r.packets.blocked} blocked and ${r.packets.allowed} allowed packets since ${r.firstSeen}`];
  if (r.sourcePortReuse !== null) evidence.push(`one source port (${r.sourcePortReuse.port}) to ${r.sourcePortReuse.targets} targets`);
  if (r.seqReuse !== null) evidence.push(`one sequence number in ${r.seqReuse.syns} SYNs`);
  const shown = r.fingerprints.slice(0, 3).join(' / ');
  if (r.fingerprints.length > 0) evidence.push(`SYN fingerprint ${shown}${r.fingerprints.length > 3 ? ` / … (${r.fingerprints.length} in all)` : ''}`);
  lines.push(`evidence: ${evidence.join('; ')}`);
  return {
    key: `scan ${r.address}`,
    kind: 'scan',
    severity: scan.severity,
    title,
    text: lines.join('\n'),
    facts: {
      kind: 'scan',
      host,
      time: new Date(time).toISOString(),
      source: r.address,
      severity: scan.severity,
      state: scan.state,
      types: scan.types,
      label: scan.label,
      since: scan.since,
      techniques: scan.techniques,
      tools: r.tools,
      os: r.os,
      country: r.country,
      asn: r.asn,
      asOrg: r.asOrg,
      ports: r.ports.ranges,
      hosts: r.hosts.ranges,
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
      packets: r.packets,
      sourcePortReuse: r.sourcePortReuse,
      seqReuse: r.seqReuse,
      fingerprints: r.fingerprints,
      evidence: scan.evidence,
    },
  };
}

function campaignAlert(c: CampaignRow, host: string, time: number, severity: number): Alert {
  const ports = c.manyPorts ? 'many ports' : `port${c.ports.length === 1 ? '' : 's'} ${c.ports.join(',')}`;
  const tool = c.tool !== '' ? ` (${c.tool})` : '';
  const title = `campaign of ${c.sources} sources${tool} to ${ports}, SYN fingerprint ${c.fingerprint}`;
  const lines = [`nfwatch on ${host}: ${title}`, `since ${c.firstSeen}, ${c.syns} SYNs`];
  if (c.countries.length > 0) lines.push(`countries: ${c.countries.slice(0, 10).map((x) => `${x.country || '?'} ${x.sources}`).join(', ')}`);
  if (c.sharedSourcePort !== null) lines.push(`shared source port: ${c.sharedSourcePort}`);
  if (c.os !== '') lines.push(`OS: ${osText(c.os)}`);
  if (c.addresses.length > 0) lines.push(`sources: ${c.addresses.slice(0, 20).join(', ')}${c.addresses.length > 20 || c.sources > c.addresses.length ? ', …' : ''}`);
  return {
    key: `campaign ${c.key}`,
    kind: 'campaign',
    severity,
    title,
    text: lines.join('\n'),
    facts: {
      kind: 'campaign',
      host,
      time: new Date(time).toISOString(),
      campaign: c.key,
      fingerprint: c.fingerprint,
      ports: c.ports,
      manyPorts: c.manyPorts,
      sources: c.sources,
      addresses: c.addresses,
      countries: c.countries,
      sharedSourcePort: c.sharedSourcePort,
      syns: c.syns,
      tool: c.tool,
      os: c.os,
      firstSeen: c.firstSeen,
      lastSeen: c.lastSeen,
    },
  };
}

/** The alert for a detection on `host`; a campaign is given `campaignSeverity`. */
export function alertOf(d: Detection, host: string, campaignSeverity: number): Alert {
  return d.kind === 'scan' ? scanAlert(d.source, host, d.time) : campaignAlert(d.campaign, host, d.time, campaignSeverity);
}
