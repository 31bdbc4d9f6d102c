// What the tracker makes of real tools' traffic, captured through nftables, NFLOG and ulogd2 in the
// lab (test/fixtures/ulogd/README.md says how), decoded and fingerprinted as the daemon does.
import { describe, expect, it } from 'vitest';
import { FingerprintEnricher } from '../../src/enrich/signatures.js';
import type { Tracker } from '../../src/track/query.js';
import { fixturePackets } from '../enrich/fixtures.js';
import { tracker } from './helpers.js';

const fingerprints = FingerprintEnricher.fromConfig('');

/** The capture's packets through the fingerprint enricher and a fresh tracker (shipped defaults). */
function replayed(...files: string[]): Tracker {
  const t = tracker();
  for (const file of files) {
    for (const e of fixturePackets(file)) {
      fingerprints.enrich(e);
      t.observe(e);
    }
  }
  return t;
}

function row(t: Tracker, address: string): ReturnType<Tracker['sources']>[number] {
  const found = t.sources({ limit: 1000 }).find((r) => r.address === address);
  if (found === undefined) throw new Error(`${address} is not tracked`);
  return found;
}

describe("the article's story: a port-6000 sweep, then a brute force in another shape", () => {
  it('announces the sweep when detected and the brute force as news of its own, each with the fingerprints seen so far', () => {
    const t = tracker();
    const announced: Array<{ types: string[]; fingerprints: string[] }> = [];
    t.onDetection((d) => {
      if (d.kind === 'scan') announced.push({ types: d.source.scan.types, fingerprints: d.source.fingerprints });
    });
    for (const e of fixturePackets('scan-port6000-then-bruteforce.jsonl')) {
      fingerprints.enrich(e);
      t.observe(e);
    }
    expect(announced).toEqual([
      { types: ['horizontal'], fingerprints: ['ittl=128,win=16384,olen=0,df=0'] },
      { types: ['horizontal', 'ssh_bruteforce'], fingerprints: ['ittl=128,win=16384,olen=0,df=0', 'ittl=128,win=65535,olen=0,df=0'] },
    ]);
  });
});

describe('sweeps of one port over many hosts', () => {
  it('calls the port-6000 scanner and zmap, one accepted SYN to port 22 of each of 32 hosts, a horizontal sweep, not SSH brute force', () => {
    for (const [file, source, tool] of [
      ['scan-port6000-sweep.jsonl', '198.18.0.15', 'port6000-ssh-scanner'],
      ['scan-zmap-sweep.jsonl', '198.18.0.41', 'zmap'],
    ] as const) {
      const r = row(replayed(file), source);
      expect(r.tools, file).toEqual([tool]);
      expect(r.packets.allowed, file).toBe(32);
      expect(r.scan, file).toMatchObject({ state: 'detected', types: ['horizontal'], label: 'SYN sweep of port 22 over 32 hosts' });
      expect(r.hosts.ranges, file).toEqual(['198.18.0.96-127']);
      expect(r.scan.levels.ssh_bruteforce, file).toBe('none');
      expect(r.scan.evidence, file).toMatchObject({ hosts: 32, ports: 1, probes: 32 });
    }
  });
});

describe('scan techniques', () => {
  it('tells nmap\'s XMAS, NULL, FIN, ACK and Maimon scans apart, with the ports as ranges', () => {
    for (const [file, source, technique, label] of [
      ['scan-nmap-xmas.jsonl', '198.18.0.22', 'xmas', 'XMAS port scan of 11 ports (20-30)'],
      ['scan-nmap-null.jsonl', '198.18.0.23', 'null', 'NULL port scan of 11 ports (20-30)'],
      ['scan-nmap-fin.jsonl', '198.18.0.24', 'fin', 'FIN port scan of 11 ports (20-30)'],
      ['scan-nmap-ack.jsonl', '198.18.0.25', 'ack', 'ACK port scan of 11 ports (20-30)'],
      ['scan-nmap-maimon.jsonl', '198.18.0.26', 'maimon', 'Maimon (FIN+ACK) port scan of 11 ports (20-30)'],
    ] as const) {
      const r = row(replayed(file), source);
      expect(r.scan.techniques, file).toEqual([{ technique, probes: 11 }]);
      expect(r.scan, file).toMatchObject({ state: 'suspected', types: ['vertical'], label });
      expect(r.ports, file).toEqual({ distinct: 11, atLeast: false, ranges: '20-30' });
      expect(r.hosts.ranges, file).toEqual(['198.18.0.1']);
    }
  });

  it('flags as crafted the flag mixes no TCP stack sends (XMAS, NULL, Maimon), not a FIN or ACK scan', () => {
    for (const [file, source, crafted] of [
      ['scan-nmap-xmas.jsonl', '198.18.0.22', true],
      ['scan-nmap-null.jsonl', '198.18.0.23', true],
      ['scan-nmap-maimon.jsonl', '198.18.0.26', true],
      ['scan-nmap-fin.jsonl', '198.18.0.24', false],
      ['scan-nmap-ack.jsonl', '198.18.0.25', false],
    ] as const) {
      const r = row(replayed(file), source);
      // nmap's one source port over 11 targets is reuse too, which alone makes any of them crafted.
      expect(r.scan.evidence.crafted, file).toBe(crafted || r.sourcePortReuse !== null);
      if (crafted) expect(r.scan.severity, file).toBe(2);
    }
  });

  it('calls a UDP scan a UDP port scan, counting only the dropped ports', () => {
    const r = row(replayed('scan-nmap-udp.jsonl'), '198.18.0.27');
    expect(r.scan.techniques).toEqual([{ technique: 'udp', probes: 12 }]);
    // Port 53 was accepted (DNS) and nmap's UDP probes carry no tool mark: 10 dropped ports count.
    expect(r.scan).toMatchObject({ state: 'suspected', types: ['vertical'], label: 'UDP port scan of 10 ports (50-60)' });
  });

  it('calls 32 accepted echo requests to 32 hosts an ICMP sweep', () => {
    const r = row(replayed('scan-icmp-sweep.jsonl'), '198.18.0.28');
    expect(r.scan).toMatchObject({ state: 'detected', types: ['horizontal'], label: 'ICMP sweep over 32 hosts' });
    expect(r.hosts).toEqual({ distinct: 32, atLeast: false, ranges: ['198.18.0.96-127'] });
  });
});

describe('nmap OS detection', () => {
  it('is named, and its SYN scan shows one reused source port and sequence number', () => {
    const r = row(replayed('scan-nmap-os.jsonl'), '198.18.0.21');
    expect(r.tools).toEqual(expect.arrayContaining(['nmap-syn', 'nmap-os-detection']));
    expect(r.os).toEqual(['crafted']);
    // Its probes to port 22 are a tool's, not logins: no SSH brute force.
    expect(r.scan.types).toEqual(['vertical']);
    expect(r.scan.techniques.map((t) => t.technique)).toEqual(['syn', 'null', 'xmas', 'ack', 'odd_flags', 'udp', 'icmp']);
    expect(r.sourcePortReuse?.targets).toBeGreaterThanOrEqual(90);
    expect(r.seqReuse?.syns).toBeGreaterThanOrEqual(90);
  });
});

describe('IPv6 sources', () => {
  it('tracks a host rotating through its /64 as one source: five addresses of ten ports each are one scan of 50 ports', () => {
    const t = replayed('scan-ipv6-rotation.jsonl');
    const rows = t.sources({ limit: 100 });
    expect(rows.map((r) => r.address)).toEqual(['fd00:6e66::/64']);
    expect(rows[0]!.scan).toMatchObject({ state: 'detected', types: ['vertical'] });
    expect(rows[0]!.ports).toMatchObject({ distinct: 50, ranges: '1-50' });
    // Per address (track.ipv6_prefix_length = 128), each is only suspected.
    const perAddress = tracker({ ipv6_prefix_length: 128 });
    for (const e of fixturePackets('scan-ipv6-rotation.jsonl')) {
      fingerprints.enrich(e);
      perAddress.observe(e);
    }
    const each = perAddress.sources({ limit: 100 });
    expect(each).toHaveLength(5);
    expect(each.every((r) => r.scan.state === 'suspected')).toBe(true);
  });
});

