// What happened to a source, as a stored incident: a tracker detection, an alert sent, a block
// or unblock. One line for people and the facts as detail; a detection's are the facts its alert
// carries (alerts/text.ts words both, so the history and the alert say the same). Pure.
import { alertOf } from '../alerts/text.js';
import type { Alert, ScanType } from '../pipeline/types.js';
import type { BlockChange } from '../respond/responder.js';
import type { Detection } from '../track/query.js';
import type { HistoryIncident } from './types.js';

const TYPE_TEXT: Record<ScanType, string> = {
  vertical: 'vertical scan',
  horizontal: 'horizontal scan',
  ssh_bruteforce: 'SSH brute force',
};

/** "vertical scan", "vertical and horizontal scan", "horizontal scan and SSH brute force". */
function typesText(types: readonly ScanType[]): string {
  const scans = types.filter((t) => t !== 'ssh_bruteforce');
  const parts: string[] = [];
  if (scans.length > 0) parts.push(`${scans.join(' and ')} scan`);
  if (types.includes('ssh_bruteforce')) parts.push(TYPE_TEXT.ssh_bruteforce);
  return parts.length > 0 ? parts.join(' and ') : 'scan';
}

/**
 * The incident of a detection: "detected vertical scan (severity 4): SYN port scan of 200 ports
 * (1-200)", or for a campaign "detected campaign of 12 sources to port 23, SYN fingerprint ...".
 * A campaign has no severity of its own: `campaignSeverity` (0 by default) is stored for it.
 */
export function incidentOfDetection(d: Detection, campaignSeverity = 0): HistoryIncident {
  const alert = alertOf(d, '', campaignSeverity);
  // The alert's facts, less what the incident has in its own fields (and the host, '' here).
  const { host: _host, time: _time, kind: _kind, ...facts } = alert.facts;
  if (d.kind === 'campaign') {
    return { time: d.time, kind: 'detection', subject: d.campaign.key, severity: campaignSeverity, text: `detected ${alert.title}`, detail: facts };
  }
  const r = d.source;
  const scan = r.scan;
  const what = scan.label !== '' ? scan.label : scan.types.join(', ');
  return {
    time: d.time,
    kind: 'detection',
    subject: r.address,
    severity: scan.severity,
    text: `${scan.state} ${typesText(scan.types)} (severity ${scan.severity}): ${what}`,
    detail: { ...facts, portsAtLeast: r.ports.atLeast, hostsAtLeast: r.hosts.atLeast },
  };
}

/**
 * An alert queued for delivery, at the event time of the detection it is about. Its facts are
 * the detection incident's already: the detail only names the alert.
 */
export function incidentOfAlert(alert: Alert, time: number): HistoryIncident {
  // The key is "scan <source>" or "campaign <key>": its subject is the detection's.
  const subject = alert.key.slice(alert.key.indexOf(' ') + 1);
  return { time, kind: 'alert', subject, severity: alert.severity, text: `alerted: ${alert.title}`, detail: { key: alert.key, kind: alert.kind } };
}

/** A change of the block set: "blocked for 3600 s (severity 4: SYN port scan of ...)", "unblocked (by hand (api))". */
export function incidentOfBlock(c: BlockChange): HistoryIncident {
  if (c.kind === 'unblock') return { time: c.time, kind: 'unblock', subject: c.target, severity: 0, text: `unblocked (${c.why})`, detail: { why: c.why } };
  return {
    time: c.time,
    kind: 'block',
    subject: c.target,
    severity: c.severity,
    text: `blocked for ${c.seconds} s (${c.why})`,
    detail: { seconds: c.seconds, until: c.time + c.seconds * 1000, why: c.why },
  };
}
