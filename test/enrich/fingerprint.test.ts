// SYN fingerprints from what ulogd2 logs. The fixtures are real ulogd2 2.0.8 lines from the lab
// (test/fixtures/ulogd/README.md); synthetic events only where a case has no capture.
import { describe, expect, it } from 'vitest';
import {
  fingerprintKey,
  initialTtl,
  internedKey,
  internedKeyCount,
  KEY_CACHE_SLOTS,
  optionsLength,
  shapeCode,
  synFingerprint,
} from '../../src/enrich/fingerprint.js';
import { NONE, TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../../src/pipeline/types.js';
import { fixturePackets, synEvent } from './fixtures.js';

const fp1 = (name: string) => {
  const [event] = fixturePackets(name);
  const fp = event ? synFingerprint(event) : null;
  if (!fp) throw new Error(`${name}: no fingerprint`);
  return fp;
};

describe('initial TTL: the next of 32/64/128/255 at or above the TTL seen', () => {
  it.each([
    [1, 32], [32, 32], [33, 64], [64, 64], [65, 128], [103, 128], [128, 128], [129, 255], [255, 255],
  ])('ttl %i → %i', (ttl, ittl) => expect(initialTtl(ttl)).toBe(ittl));
  it('is NONE when the TTL is unknown', () => expect(initialTtl(NONE)).toBe(NONE));
});

describe('options length from the IP lengths (ulogd gives no option keys, tcp.offset is 0)', () => {
  it('IPv4: ip.totlen − 4·ip.ihl − 20', () => {
    expect(optionsLength(synEvent({ ipTotalLength: 60, ipHeaderLength: 20 }))).toBe(20);
    expect(optionsLength(synEvent({ ipTotalLength: 40, ipHeaderLength: 20 }))).toBe(0);
    expect(optionsLength(synEvent({ ipTotalLength: 64, ipHeaderLength: 24 }))).toBe(20); // IP options
  });
  it('IPv6: ip6.payloadlen − 20 (the decoder adds the 40-byte header to ipTotalLength)', () => {
    expect(optionsLength(synEvent({ family: 6, ipTotalLength: 80, ipHeaderLength: 40, df: NONE }))).toBe(20);
  });
  it('is NONE when it cannot be a TCP header: unknown lengths, negative, over 40, not a multiple of 4', () => {
    expect(optionsLength(synEvent({ ipTotalLength: NONE }))).toBe(NONE);
    expect(optionsLength(synEvent({ ipHeaderLength: NONE }))).toBe(NONE);
    expect(optionsLength(synEvent({ ipTotalLength: 30 }))).toBe(NONE);
    expect(optionsLength(synEvent({ ipTotalLength: 84 }))).toBe(NONE); // 44 > 40: payload
    expect(optionsLength(synEvent({ ipTotalLength: 47 }))).toBe(NONE);
  });
});

describe('which packets get a fingerprint', () => {
  it('a TCP SYN without ACK', () => expect(synFingerprint(synEvent())).not.toBeNull());
  it('not a SYN-ACK, an ACK, a RST, UDP, ICMP or a line without TCP flags', () => {
    expect(synFingerprint(synEvent({ tcpFlags: TCP_SYN | TCP_ACK }))).toBeNull();
    expect(synFingerprint(synEvent({ tcpFlags: TCP_ACK }))).toBeNull();
    expect(synFingerprint(synEvent({ tcpFlags: TCP_RST }))).toBeNull();
    expect(synFingerprint(synEvent({ protocol: 17, tcpFlags: NONE }))).toBeNull();
    expect(synFingerprint(synEvent({ protocol: 1, tcpFlags: NONE }))).toBeNull();
    expect(synFingerprint(synEvent({ tcpFlags: NONE }))).toBeNull();
  });
  it('none in the real UDP, ICMP and ICMPv6 captures', () => {
    for (const f of ['ipv4-udp.jsonl', 'ipv4-icmp.jsonl', 'ipv6-icmp.jsonl']) {
      for (const e of fixturePackets(f)) expect(synFingerprint(e)).toBeNull();
    }
  });
});

describe('fingerprints of real SYNs through ulogd2', () => {
  it('Linux 6.x curl: ittl 64, window 64240, 20 bytes of options, DF', () => {
    const fp = fp1('syn-linux-curl.jsonl');
    expect(fp).toMatchObject({ window: 64240, ttl: 64, initialTtl: 64, hops: 0, df: 1, optionsLength: 20, extraFlags: 0, probe: false });
    expect(fp.key).toBe('ittl=64,win=64240,olen=20,df=1');
  });
  it('Linux curl over IPv6: no DF bit (df unknown), options from ip6.payloadlen', () => {
    const fp = fp1('ipv6-tcp.jsonl');
    expect(fp).toMatchObject({ window: 64800, initialTtl: 64, df: NONE, optionsLength: 20, ipId: NONE });
    expect(fp.key).toBe('ittl=64,win=64800,olen=20,df=?');
  });
  it('the port-6000 scanner shape: "ittl=128,win=16384,olen=0,df=0", 25 hops from 128', () => {
    const fp = fp1('syn-port6000.jsonl');
    expect(fp).toMatchObject({ window: 16384, ttl: 103, initialTtl: 128, hops: 25, df: 0, optionsLength: 0, srcPort: 6000, probe: false });
    expect(fp.key).toBe('ittl=128,win=16384,olen=0,df=0');
  });
  it('nmap -sS: window 1024, MSS only (4 bytes), no DF, random TTL below 64', () => {
    for (const e of fixturePackets('syn-nmap.jsonl')) {
      const fp = synFingerprint(e)!;
      expect(fp).toMatchObject({ window: 1024, initialTtl: 64, optionsLength: 4, df: 0 });
      expect(fp.ttl).toBeGreaterThanOrEqual(37);
      expect(fp.ttl).toBeLessThanOrEqual(59);
    }
  });
  it('masscan 1.3.2: TTL 255, window 1024, no options, no DF', () => {
    expect(fp1('syn-masscan.jsonl').key).toBe('ittl=255,win=1024,olen=0,df=0');
  });
  it('zmap: TTL 255, window 65535, IP ID 54321', () => {
    const fp = fp1('syn-zmap.jsonl');
    expect(fp.key).toBe('ittl=255,win=65535,olen=0,df=0');
    expect(fp.ipId).toBe(54321);
  });
  it('hping3 defaults: TTL 64, window 512, no options, no DF', () => {
    expect(fp1('syn-hping3-default.jsonl').key).toBe('ittl=64,win=512,olen=0,df=0');
  });
});

describe('extra flags: probes versus ECN', () => {
  it('SYN+FIN and SYN+URG+PSH (real hping3 captures) are probes', () => {
    const fps = fixturePackets('syn-probe-flags.jsonl').map((e) => synFingerprint(e)!);
    expect(fps.map((f) => f.extraFlags)).toEqual([TCP_FIN, TCP_FIN, TCP_URG | TCP_PSH, TCP_URG | TCP_PSH]);
    expect(fps.every((f) => f.probe)).toBe(true);
  });
  it('SYN+RST is a probe', () => expect(synFingerprint(synEvent({ tcpFlags: TCP_SYN | TCP_RST }))!.probe).toBe(true));
  it('SYN+ECE+CWR is ECN negotiation by a normal client, not a probe', () => {
    const fp = synFingerprint(synEvent({ tcpFlags: TCP_SYN | TCP_ECE | TCP_CWR }))!;
    expect(fp.extraFlags).toBe(TCP_ECE | TCP_CWR);
    expect(fp.probe).toBe(false);
  });
});

describe('printable keys are interned', () => {
  it('equal shapes share one string instance; the key format is documented', () => {
    const a = synFingerprint(synEvent())!;
    const b = synFingerprint(synEvent({ srcPort: 1, ipId: 999, tcpSeq: 7, ttl: 50 }))!;
    expect(a.key).toBe(b.key);
    expect(Object.is(a.key, b.key)).toBe(true);
    expect(fingerprintKey(64, 64240, 20, 1)).toBe('ittl=64,win=64240,olen=20,df=1');
    expect(fingerprintKey(NONE, NONE, NONE, NONE)).toBe('ittl=?,win=?,olen=?,df=?');
  });
  it('different shapes get different codes', () => {
    const codes = new Set<number>();
    for (const ittl of [32, 64, 128, 255, NONE]) {
      for (const win of [0, 1, 1024, 65535, NONE]) {
        for (const olen of [0, 4, 20, 40, NONE]) for (const df of [0, 1, NONE]) codes.add(shapeCode(ittl, win, olen, df));
      }
    }
    expect(codes.size).toBe(5 * 5 * 5 * 3);
  });
  it('the cache stays bounded under a flood of random windows (Mirai randomises the window)', () => {
    for (let w = 0; w < 65536; w++) internedKey(64, w, 0, 0);
    for (let w = 0; w < 65536; w++) internedKey(255, w, 4, 0);
    // Still correct after shapes replaced each other in the cache's slots.
    expect(internedKeyCount()).toBeLessThanOrEqual(KEY_CACHE_SLOTS);
    expect(internedKey(64, 12345, 0, 0)).toBe('ittl=64,win=12345,olen=0,df=0');
    expect(internedKey(255, 12345, 4, 0)).toBe('ittl=255,win=12345,olen=4,df=0');
    expect(internedKey(64, 12345, 0, 0)).toBe('ittl=64,win=12345,olen=0,df=0');
  });
});
