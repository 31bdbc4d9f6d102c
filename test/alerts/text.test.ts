import { describe, expect, it } from 'vitest';
import { alertOf } from '../../src/alerts/text.js';
import type { Detection } from '../../src/track/query.js';
import { T0, packet, tracker } from '../track/helpers.js';
import { detectionsOf } from './helpers.js';

describe('alert text', () => {
  it('says who, what tool, which ports, since when, and the evidence, for nmap -O from the lab', () => {
    const scans = detectionsOf('scan-nmap-os.jsonl').filter((d) => d.kind === 'scan');
    // Announced once when detected, again as the severity rose.
    expect(scans.length).toBeGreaterThanOrEqual(1);
    const last = scans[scans.length - 1]!;
    const alert = alertOf(last, 'fw1', 3);
    expect(alert.key).toBe('scan 198.18.0.21');
    expect(alert.severity).toBe(4);
    expect(alert.title).toBe('198.18.0.21: SYN port scan of 103 ports (1-79,81-100,32334,36539,39961,44445), severity 4');
    expect(alert.text.split('\n')[0]).toBe(`nfwatch on fw1: ${alert.title}`);
    expect(alert.text).toContain('tool: nmap-syn, nmap-os-detection; OS: unknown (crafted)');
    expect(alert.text).toContain('ports: 1-79,81-100,');
    expect(alert.text).toMatch(/evidence: \d+ blocked and \d+ allowed packets since 20\d\d-/);
    expect(alert.text).toContain('one source port (');
    expect(alert.facts).toMatchObject({ kind: 'scan', host: 'fw1', source: '198.18.0.21', severity: 4, types: ['vertical'], tools: ['nmap-syn', 'nmap-os-detection'] });
  });

  it('names a sweep and its hosts as ranges', () => {
    // Announced when detected: at the 20th host.
    const [d] = detectionsOf('scan-icmp-sweep.jsonl');
    const alert = alertOf(d!, 'fw1', 3);
    expect(alert.title).toBe('198.18.0.28: ICMP sweep over 20 hosts, severity 2');
    expect(alert.text).toContain('hosts: 198.18.0.97-106, 198.18.0.109-118'); // nmap's order, not the addresses'
    expect(alert.text).toContain('probes: 20 icmp');
  });

  it('tells a campaign by its fingerprint, ports, size and countries', () => {
    const t = tracker();
    const campaigns: Detection[] = [];
    t.onDetection((d) => campaigns.push(d));
    for (let i = 1; i <= 8; i++) {
      const e = packet({ time: T0 + i * 1000, src: `203.0.113.${i}`, sport: 6000, window: 16384, ttl: 103, olen: 0, df: 0, tool: 'port6000-ssh-scanner', verdict: 'allowed', country: i <= 6 ? 'CN' : 'US' });
      t.observe(e);
    }
    // Announced once, when it formed.
    expect(campaigns).toHaveLength(1);
    const alert = alertOf(campaigns[0]!, 'fw1', 3);
    expect(alert.key).toMatch(/^campaign ittl=128,win=16384,olen=0,df=0\|22$/);
    expect(alert.title).toMatch(/^campaign of \d+ sources \(port6000-ssh-scanner\) to port 22, SYN fingerprint ittl=128,win=16384,olen=0,df=0$/);
    expect(alert.text).toContain('shared source port: 6000');
    expect(alert.text).toMatch(/countries: CN \d, US \d|countries: CN \d/);
  });
});
