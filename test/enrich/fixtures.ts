// Real ulogd2 2.0.8 SYN lines (test/fixtures/ulogd/README.md says how each was captured), decoded
// by the real decoder: the enrichment tests start from exactly what nfwatch sees.
import { readFileSync } from 'node:fs';
import { decodeLine, type DecodeOptions } from '../../src/decode/line.js';
import { NONE, type PacketEvent } from '../../src/pipeline/types.js';

const options: DecodeOptions = {
  verdictRules: [{ prefix_contains: 'DROP', verdict: 'blocked' }],
  useRawLabel: true,
  naiveTimestamps: 'utc', maxFutureMs: 300_000
};

export function fixturePackets(name: string): PacketEvent[] {
  return readFileSync(new URL(`../fixtures/ulogd/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((raw) => {
      const r = decodeLine(raw, 0, options);
      if (r.kind !== 'packet') throw new Error(`${name}: expected a packet, got ${JSON.stringify(r)}`);
      return r;
    });
}

/** A synthetic IPv4 TCP event with every field set; override what a test is about. */
export function synEvent(over: Partial<PacketEvent> = {}): PacketEvent {
  return {
    kind: 'packet',
    source: 0,
    time: 0,
    device: 'Netfilter',
    prefix: '',
    verdict: 'allowed',
    family: 4,
    protocol: 6,
    srcIp: '198.18.0.2',
    dstIp: '198.18.0.1',
    srcPort: 40000,
    dstPort: 22,
    tcpFlags: 0x02,
    tcpWindow: 64240,
    tcpSeq: 12345,
    ttl: 64,
    ipId: 1,
    df: 1,
    ipTotalLength: 60,
    ipHeaderLength: 20,
    icmpType: NONE,
    icmpCode: NONE,
    inIf: 'veth-fw',
    outIf: '',
    mac: '',
    nflogGroup: 1,
    fingerprint: null,
    os: '',
    tool: '',
    classification: null,
    geo: null, owner: null, listed: [],
    ...over,
  };
}
