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

describe('sweeps of one port over many hosts', () => {
  it('calls the port-6000 scanner and zmap, one accepted SYN to port 22 of each of 32 hosts, a horizontal sweep, not SSH brute force', () => {
    for (const [file, source, tool] of [
      ['scan-port6000-sweep.jsonl', '198.18.0.15', 'port6000-ssh-scanner'],
      ['scan-zmap-sweep.jsonl', '198.18.0.41', 'zmap'],
    ] as const) {
      const r = row(replayed(file), source);
      expect(r.tools, file).toEqual([tool]);
      expect(r.packets.allowed, file).toBe(32);
      expect(r.scan, file).toMatchObject({ state: 'detected', types: ['horizontal'] });
      expect(r.scan.levels.ssh_bruteforce, file).toBe('none');
      expect(r.scan.evidence, file).toMatchObject({ hosts: 32, ports: 1, probes: 32 });
    }
  });
});

describe('nmap OS detection', () => {
  it('is named, and its SYN scan shows one reused source port and sequence number', () => {
    const r = row(replayed('scan-nmap-os.jsonl'), '198.18.0.21');
    expect(r.tools).toEqual(expect.arrayContaining(['nmap-syn', 'nmap-os-detection']));
    expect(r.os).toEqual(['crafted']);
    expect(r.sourcePortReuse?.targets).toBeGreaterThanOrEqual(90);
    expect(r.seqReuse?.syns).toBeGreaterThanOrEqual(90);
  });
});
