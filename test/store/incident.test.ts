import { describe, expect, it } from 'vitest';
import { alertOf } from '../../src/alerts/text.js';
import { incidentOfAlert, incidentOfBlock, incidentOfDetection } from '../../src/store/incident.js';
import type { Detection } from '../../src/track/query.js';
import { detectionsOf } from '../alerts/helpers.js';
import { T0, packet, tracker } from '../track/helpers.js';

/** What the tracker announces while `send` feeds it. */
function detections(send: (observe: (e: ReturnType<typeof packet>) => void) => void): Detection[] {
  const t = tracker();
  const seen: Detection[] = [];
  t.onDetection((d) => seen.push(d));
  send((e) => t.observe(e));
  return seen;
}

describe('incident of a detection', () => {
  it('says what was detected, how severe, and the scan in one line', () => {
    const seen = detections((observe) => {
      for (let p = 1; p <= 200; p++) observe(packet({ time: T0 + p * 10, dport: p, sport: 40000, window: 1024, ttl: 40, olen: 4, tool: 'nmap-syn', os: 'crafted', country: 'NL' }));
    });
    const last = seen.filter((d) => d.kind === 'scan').at(-1)!;
    const i = incidentOfDetection(last);
    expect(i.kind).toBe('detection');
    expect(i.subject).toBe('203.0.113.7');
    expect(i.time).toBe(last.time);
    expect(i.text).toMatch(/^detected vertical scan \(severity \d\): SYN port scan of \d+ ports \(1-\d+\)$/);
    expect(i.severity).toBe(last.kind === 'scan' ? last.source.scan.severity : -1);
    expect(i.detail).toMatchObject({ source: '203.0.113.7', types: ['vertical'], tools: ['nmap-syn'], os: ['crafted'], country: 'NL', fingerprints: ['ittl=64,win=1024,olen=4,df=1'], portsAtLeast: false });
    expect(i.detail.ports).toMatch(/^1-\d+$/);
    expect(i.detail).not.toHaveProperty('host');
    expect(i.detail).not.toHaveProperty('kind');
  });

  it('keeps the facts the alert carries for a lab capture (nmap -O): tools, ports, source port reuse', () => {
    const d = detectionsOf('scan-nmap-os.jsonl').filter((x) => x.kind === 'scan').at(-1)!;
    const i = incidentOfDetection(d);
    expect(i.text).toBe('detected vertical scan (severity 4): SYN port scan of 103 ports (1-79,81-100,32334,36539,39961,44445)');
    expect(i.detail).toMatchObject({ tools: ['nmap-syn', 'nmap-os-detection'], ports: '1-79,81-100,32334,36539,39961,44445', severity: 4 });
    expect(i.detail.sourcePortReuse).not.toBeNull();
  });

  it('names SSH brute force in words', () => {
    const [d] = detections((observe) => {
      // A new connection every 2 s for a minute: the SSH bucket overflows.
      for (let i = 0; i < 30; i++) observe(packet({ time: T0 + i * 2000, src: '192.0.2.22', dport: 22, sport: 41000 + i * 3, seq: i * 99991, verdict: 'allowed' }));
    });
    expect(incidentOfDetection(d!).text).toMatch(/^detected SSH brute force \(severity 2\): SSH brute force \(\d+ SYNs in the window\)$/);
  });

  it('stores a campaign under its key, with the severity given for campaigns', () => {
    const seen = detections((observe) => {
      for (let n = 1; n <= 8; n++) observe(packet({ time: T0 + n * 1000, src: `203.0.113.${n}`, sport: 6000, window: 16384, ttl: 103, olen: 0, df: 0, tool: 'port6000-ssh-scanner', country: 'CN' }));
    });
    const campaign = seen.find((d) => d.kind === 'campaign')!;
    const i = incidentOfDetection(campaign, 3);
    expect(i.subject).toBe('ittl=128,win=16384,olen=0,df=0|22');
    expect(i.severity).toBe(3);
    expect(i.text).toMatch(/^detected campaign of \d+ sources \(port6000-ssh-scanner\) to port 22, SYN fingerprint ittl=128,win=16384,olen=0,df=0$/);
    expect(i.detail).toMatchObject({ campaign: i.subject, fingerprint: 'ittl=128,win=16384,olen=0,df=0', sharedSourcePort: 6000 });
    expect(incidentOfDetection(campaign).severity).toBe(0);
  });
});

describe('incidents of alerts and blocks', () => {
  it('keeps an alert under the detection\'s subject, with its title', () => {
    const d = detectionsOf('scan-nmap-os.jsonl').filter((x) => x.kind === 'scan').at(-1)!;
    const i = incidentOfAlert(alertOf(d, 'fw1', 3), d.time);
    expect(i).toMatchObject({ time: d.time, kind: 'alert', subject: '198.18.0.21', severity: 4, detail: { key: 'scan 198.18.0.21', kind: 'scan' } });
    expect(i.text).toBe('alerted: 198.18.0.21: SYN port scan of 103 ports (1-79,81-100,32334,36539,39961,44445), severity 4');
  });

  it('says how long a block is and why, and when it ends; an unblock why', () => {
    expect(incidentOfBlock({ kind: 'block', target: '203.0.113.7', time: T0, seconds: 3600, severity: 4, why: 'severity 4: SYN port scan of 200 ports (1-200)' })).toEqual({
      time: T0,
      kind: 'block',
      subject: '203.0.113.7',
      severity: 4,
      text: 'blocked for 3600 s (severity 4: SYN port scan of 200 ports (1-200))',
      detail: { seconds: 3600, until: T0 + 3_600_000, why: 'severity 4: SYN port scan of 200 ports (1-200)' },
    });
    expect(incidentOfBlock({ kind: 'unblock', target: '2001:db8::/64', time: T0, seconds: 0, severity: 0, why: 'by hand (api)' })).toEqual({
      time: T0,
      kind: 'unblock',
      subject: '2001:db8::/64',
      severity: 0,
      text: 'unblocked (by hand (api))',
      detail: { why: 'by hand (api)' },
    });
  });
});
