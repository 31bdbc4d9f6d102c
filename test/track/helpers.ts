// Synthetic PacketEvents for the tracker specs: every PacketEvent field present, as the decoder makes them.
import { shapeCode } from '../../src/enrich/fingerprint.js';
import { NONE, TCP_SYN, type GeoLocation, type PacketEvent, type SynFingerprint, type Verdict } from '../../src/pipeline/types.js';
import { defaultTrack } from '../../src/track/options.js';
import { Tracker } from '../../src/track/query.js';
import type { Config } from '../../src/config/schema.js';

export const T0 = Date.UTC(2026, 10, 24, 6, 0, 0);
export const FIREWALL = '198.51.100.1';

export interface PacketSpec {
  time?: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  verdict?: Verdict;
  protocol?: number;
  flags?: number;
  seq?: number;
  window?: number;
  ttl?: number;
  df?: number;
  /** TCP options length; the fingerprint key is built from it. */
  olen?: number;
  country?: string;
  /** With `country`: the city and where a City database places it. */
  city?: string;
  location?: GeoLocation;
  tool?: string;
  os?: string;
  icmpType?: number;
  inIf?: string;
  outIf?: string;
}

function initialTtl(ttl: number): number {
  return ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
}

/** One packet; a TCP SYN without ACK gets a fingerprint as the enricher would give it. */
export function packet(spec: PacketSpec = {}): PacketEvent {
  const protocol = spec.protocol ?? 6;
  const flags = protocol === 6 ? (spec.flags ?? TCP_SYN) : NONE;
  const window = protocol === 6 ? (spec.window ?? 64240) : NONE;
  const ttl = spec.ttl ?? 52;
  const df = spec.df ?? 1;
  const olen = spec.olen ?? 20;
  const sport = spec.sport ?? (protocol === 1 ? NONE : 40000);
  const isSyn = protocol === 6 && (flags & 0x12) === TCP_SYN;
  const ittl = initialTtl(ttl);
  const fingerprint: SynFingerprint | null = isSyn
    ? {
        key: `ittl=${ittl},win=${window},olen=${olen},df=${df}`,
        code: shapeCode(ittl, window, olen, df),
        window, ttl, initialTtl: ittl, hops: ittl - ttl, df, ipId: 256, optionsLength: olen, srcPort: sport,
        extraFlags: 0, probe: false,
      }
    : null;
  return {
    kind: 'packet', source: 0, time: spec.time ?? T0, device: 'fw', prefix: '', verdict: spec.verdict ?? 'blocked',
    family: (spec.src ?? '').includes(':') ? 6 : 4, protocol, srcIp: spec.src ?? '203.0.113.7', dstIp: spec.dst ?? FIREWALL, srcPort: sport,
    dstPort: protocol === 1 ? NONE : (spec.dport ?? 22), tcpFlags: flags, tcpWindow: window,
    tcpSeq: protocol === 6 ? (spec.seq ?? 1000) : NONE, ttl, ipId: 256, df, ipTotalLength: 40 + olen,
    ipHeaderLength: 20, icmpType: protocol === 1 ? (spec.icmpType ?? 8) : NONE, icmpCode: protocol === 1 ? 0 : NONE,
    inIf: spec.inIf ?? 'eth0', outIf: spec.outIf ?? '', mac: '', nflogGroup: NONE,
    fingerprint, os: spec.os ?? '', tool: spec.tool ?? '', classification: null,
    geo: spec.country === undefined ? null : { country: spec.country, city: spec.city ?? '', location: spec.location ?? null, asn: NONE, asOrg: '' },
    owner: null, listed: [],
  };
}

export function tracker(overrides: Partial<Config['track']> = {}): Tracker {
  return Tracker.fromConfig(defaultTrack(overrides));
}

/** A deterministic pseudo-random 32-bit sequence (no Math.random in specs). */
export function seqs(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}
