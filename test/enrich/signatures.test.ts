// Classifying real SYNs captured through nftables → NFLOG → ulogd2 in the lab
// (test/fixtures/ulogd/README.md) with the bundled conf/signatures.toml, and refusing bad files.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { synFingerprint } from '../../src/enrich/fingerprint.js';
import {
  bundledSignaturesPath,
  classify,
  FingerprintEnricher,
  loadSignatures,
  parseSignatures,
  resolveSignaturesPath,
  SignatureError,
  UNCLASSIFIED,
  SignatureSet,
} from '../../src/enrich/signatures.js';
import { NONE, TCP_CWR, TCP_ECE, TCP_SYN, type Classification, type PacketEvent } from '../../src/pipeline/types.js';
import { fixturePackets, synEvent } from './fixtures.js';

const bundled: SignatureSet = loadSignatures(bundledSignaturesPath());

function classified(event: PacketEvent, set: SignatureSet = bundled): Classification {
  const fp = synFingerprint(event);
  if (!fp) throw new Error('not a SYN');
  return classify(fp, event, set);
}
const all = (name: string): Classification[] => fixturePackets(name).map((e) => classified(e));

describe('the bundled signature file', () => {
  it('is conf/signatures.toml at the package root, used when config.fingerprint.signatures is ""', () => {
    expect(bundledSignaturesPath()).toMatch(/conf\/signatures\.toml$/);
    expect(existsSync(bundledSignaturesPath())).toBe(true);
    expect(resolveSignaturesPath('')).toBe(bundledSignaturesPath());
    expect(resolveSignaturesPath('/etc/nfwatch/sig.toml')).toBe('/etc/nfwatch/sig.toml');
  });
  it('loads, and every signature cites its sources', () => {
    expect(bundled.signatures.length).toBeGreaterThanOrEqual(10);
    for (const s of bundled.signatures) expect(s.references.length).toBeGreaterThan(0);
    expect(bundled.signatures.filter((s) => s.kind === 'tool').map((s) => s.id)).toEqual(
      expect.arrayContaining(['nmap-syn', 'masscan', 'zmap', 'hping3-default', 'mirai', 'port6000-ssh-scanner', 'syn-probe']),
    );
  });
});

describe('real SYNs from scanning tools are recognised', () => {
  it('the port-6000 raw-socket SSH scanner (hping3 -S -s 6000 -k -w 16384 -t 103 -p 22)', () => {
    for (const c of [...all('syn-port6000.jsonl'), ...all('ipv4-tcp-syn-port6000.jsonl')]) {
      expect(c.tool).toBe('port6000-ssh-scanner');
      expect(c.os).toBe('windows');
      expect(c.confidence).toBeGreaterThan(0.9);
      expect(c.reasons).toEqual(expect.arrayContaining(['win=16384', 'sport=6000', 'ttl 103 → ittl 128', 'olen=0', 'df=0']));
    }
  });
  it('nmap -sS (IPv4 from its own address, the older capture, and IPv6)', () => {
    const v6 = fixturePackets('ipv6-tcp.jsonl').filter((e) => e.tcpWindow === 1024);
    expect(v6).toHaveLength(1);
    for (const c of [...all('syn-nmap.jsonl'), ...all('nmap-syn.jsonl'), ...v6.map((e) => classified(e))]) {
      expect(c.tool).toBe('nmap-syn');
      expect(c.reasons).toEqual(expect.arrayContaining(['win=1024', 'olen=4']));
    }
  });
  it('masscan: the IP ID is dst ^ dport ^ seq on every SYN', () => {
    for (const c of all('syn-masscan.jsonl')) {
      expect(c.tool).toBe('masscan');
      expect(c.confidence).toBeGreaterThan(0.95);
      expect(c.reasons).toContain('ipid=(dst^dport^seq)&0xffff');
    }
  });
  it('masscan shape with an IP ID that does not verify (e.g. after DNAT) is still masscan-like', () => {
    const [e] = fixturePackets('syn-masscan.jsonl');
    expect(classified({ ...e!, ipId: (e!.ipId + 1) & 0xffff }).tool).toBe('masscan-like');
  });
  it('zmap: IP ID 54321, window 65535, TTL 255', () => {
    for (const c of all('syn-zmap.jsonl')) {
      expect(c.tool).toBe('zmap');
      expect(c.reasons).toEqual(expect.arrayContaining(['ipid=54321', 'win=65535', 'ttl 255 → ittl 255']));
    }
  });
  it('hping3 with its defaults (both captures)', () => {
    for (const c of [...all('syn-hping3-default.jsonl'), ...all('ipv4-tcp-dropped.jsonl')]) expect(c.tool).toBe('hping3-default');
  });
  it('Mirai-like: sequence number = destination address (crafted with hping3 -M)', () => {
    for (const c of all('syn-mirai-like.jsonl')) {
      expect(c.tool).toBe('mirai');
      expect(c.os).toBe('linux');
      expect(c.reasons).toContain('seq=dst ip');
    }
  });
  it('nmap OS detection: every SYN it sends for -O is named, the SYN scan before it stays nmap-syn', () => {
    const events = fixturePackets('scan-nmap-os.jsonl').filter((e) => e.protocol === 6 && (e.tcpFlags & TCP_SYN) !== 0);
    const named = events.map((e) => classified(e).tool);
    // The SYN scan of ports 1-100 (99 of its probes were logged), then the OS probes (SEQ x6, ECN,
    // T3, T5) sent twice, T3/T5 with retries.
    expect(named.filter((t) => t === 'nmap-syn')).toHaveLength(events.filter((e) => e.tcpWindow === 1024).length);
    expect(named.filter((t) => t === 'nmap-syn').length).toBeGreaterThanOrEqual(99);
    expect(named.filter((t) => t === 'nmap-os-detection').length).toBeGreaterThanOrEqual(18);
    expect(named.every((t) => t === 'nmap-syn' || t === 'nmap-os-detection')).toBe(true);
    for (const e of events) if (classified(e).tool === 'nmap-os-detection') expect([1, 63, 4, 16, 512, 3, 256, 31337]).toContain(e.tcpWindow);
  });
  it('tools that write TTL and window themselves say OS "crafted", not the OS those fields would suggest', () => {
    // masscan's and zmap's TTL 255 would read as a router; nmap's random TTL and hping3's 64 as Linux.
    for (const file of ['syn-masscan.jsonl', 'syn-zmap.jsonl', 'syn-nmap.jsonl', 'syn-hping3-default.jsonl', 'syn-probe-flags.jsonl', 'scan-zmap-sweep.jsonl']) {
      for (const c of all(file)) expect(c.os, file).toBe('crafted');
    }
    // A tool whose own shape names its host keeps that OS.
    for (const c of all('syn-port6000.jsonl')) expect(c.os).toBe('windows');
    for (const c of all('syn-mirai-like.jsonl')) expect(c.os).toBe('linux');
  });
  it('SYN+FIN and SYN+URG+PSH probes win over the hping3 shape they were sent with', () => {
    for (const c of all('syn-probe-flags.jsonl')) expect(c.tool).toBe('syn-probe');
  });
});

describe('plain clients are OSes, never scanners', () => {
  it('the real Linux curl SYN (IPv4) is Linux and no tool', () => {
    for (const c of [...all('syn-linux-curl.jsonl'), ...all('ipv4-curl-linux.jsonl')]) {
      expect(c).toMatchObject({ os: 'linux', tool: '', signature: 'linux' });
      expect(c.reasons).toEqual(['win=64240', 'ttl 64 → ittl 64', 'olen=20', 'df=1']);
    }
  });
  it('the real Linux curl SYN over IPv6 (no DF bit) is Linux and no tool', () => {
    const [curl6] = fixturePackets('ipv6-tcp.jsonl');
    expect(classified(curl6!)).toMatchObject({ os: 'linux', tool: '' });
  });
  it('a Linux client with ECN (SYN+ECE+CWR), a far one (ttl 40), or one from source port 6000 is still no scanner', () => {
    const [curl] = fixturePackets('syn-linux-curl.jsonl');
    expect(classified({ ...curl!, tcpFlags: TCP_SYN | TCP_ECE | TCP_CWR })).toMatchObject({ os: 'linux', tool: '' });
    expect(classified({ ...curl!, ttl: 40 })).toMatchObject({ os: 'linux', tool: '' });
    expect(classified({ ...curl!, srcPort: 6000 })).toMatchObject({ os: 'linux', tool: '' });
    expect(classified({ ...curl!, tcpWindow: 42340 })).toMatchObject({ os: 'linux', tool: '', signature: 'linux-generic' });
  });
  it('Windows, macOS and a router-like stack by their shape', () => {
    expect(classified(synEvent({ ttl: 117, tcpWindow: 64240, ipTotalLength: 52 }))).toMatchObject({ os: 'windows', tool: '', signature: 'windows' });
    expect(classified(synEvent({ ttl: 52, tcpWindow: 65535, ipTotalLength: 64 }))).toMatchObject({ os: 'bsd', tool: '' });
    expect(classified(synEvent({ ttl: 250, tcpWindow: 4128, ipTotalLength: 44, df: 0 }))).toMatchObject({ os: 'network-device', tool: '' });
  });
  it('an unknown shape is unclassified (os "unknown", no tool, confidence 0)', () => {
    expect(classified(synEvent({ ttl: 64, tcpWindow: 777, ipTotalLength: 48 }))).toBe(UNCLASSIFIED);
  });
});

describe('caching', () => {
  it('per-shape results are cached, per-packet signatures are still checked on every event', () => {
    const set = parseSignatures(`
[[signature]]
id = "shape"
kind = "os"
name = "shape"
os = "linux"
confidence = 0.5
references = ["test"]
[signature.match]
window = 1000

[[signature]]
id = "port"
kind = "tool"
name = "port"
os = "unknown"
confidence = 0.9
references = ["test"]
[signature.match]
window = 1000
src_port = 7
`);
    const a = classified(synEvent({ tcpWindow: 1000, srcPort: 7 }), set);
    const b = classified(synEvent({ tcpWindow: 1000, srcPort: 8 }), set);
    expect(a.tool).toBe('port');
    expect(b).toMatchObject({ tool: '', os: 'linux', signature: 'shape' });
    // The same result object is shared by equal packets (no allocation per event).
    expect(classified(synEvent({ tcpWindow: 1000, srcPort: 7 }), set)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(set.cacheSizes().shapes).toBe(1);
  });

  it('shares results between SYNs that differ only in values the reasons do not quote (a flood of random windows)', () => {
    const set = parseSignatures(`
[[signature]]
id = "ttl255"
name = "TTL 255"
kind = "os"
os = "network-device"
confidence = 0.5
references = ["test"]
[signature.match]
initial_ttl = 255
`);
    const seen = new Set<Classification>();
    for (let i = 0; i < 20_000; i++) {
      const ttl = 200 + (i % 50);
      const c = classified(synEvent({ tcpWindow: (i * 7919) & 0xffff, ttl, ipId: i & 0xffff }), set);
      expect(c.reasons).toEqual([`ttl ${ttl} → ittl 255`]);
      seen.add(c);
    }
    // One result per TTL quoted, not one per window.
    expect(seen.size).toBe(50);
    expect(set.cacheSizes().results).toBe(50);
  });
});

describe('shape classes', () => {
  it('answers every SYN as a list with empty caches would, named windows and others, v4 and v6 mixed', () => {
    // A small seeded generator: the same SYNs on every run.
    let state = 12345;
    const next = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    const named = [1, 3, 4, 16, 63, 256, 512, 1024, 2048, 4096, 5840, 8192, 14600, 16384, 29200, 31337, 64240, 65535];
    const warm = new SignatureSet(bundled.signatures);
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const v6 = next(8) === 0;
      const event = synEvent({
        family: v6 ? 6 : 4,
        srcIp: v6 ? '2001:db8::7' : '198.18.0.7',
        dstIp: v6 ? '2001:db8::1' : '198.18.0.1',
        tcpWindow: next(2) === 0 ? named[next(named.length)]! : next(65536),
        ttl: 1 + next(255),
        df: v6 ? NONE : next(2),
        ipTotalLength: (v6 ? 20 : 40) + 4 * next(11),
        srcPort: next(3) === 0 ? 6000 : 1024 + next(60000),
        dstPort: [22, 23, 80, 443][next(4)]!,
        ipId: next(3) === 0 ? 0 : next(65536),
        tcpFlags: next(10) === 0 ? TCP_SYN | 0x01 : TCP_SYN,
      });
      const answer = classified(event, warm);
      expect(answer).toEqual(classified(event, new SignatureSet(bundled.signatures)));
      seen.add(answer.signature);
    }
    // The mix reaches several signatures and none.
    expect(seen.size).toBeGreaterThan(5);
    expect(seen.has('')).toBe(true);
  });

  it('with more classes than the shape cache has slots (a list naming 16,384 windows), still answers each SYN by its own window', () => {
    const set = parseSignatures(`
[[signature]]
id = "low-windows"
name = "low windows"
kind = "os"
os = "network-device"
confidence = 0.5
references = ["test"]
[signature.match]
window_in = [${Array.from({ length: 16_384 }, (_, w) => w).join(', ')}]
`);
    for (let i = 0; i < 4_000; i++) {
      const window = (i * 7919) & 0x7fff;
      expect(classified(synEvent({ tcpWindow: window }), set).signature).toBe(window < 16_384 ? 'low-windows' : '');
    }
  });

  it('keeps one shape entry for a flood of windows no signature names', () => {
    const set = new SignatureSet(bundled.signatures);
    for (let i = 0; i < 20_000; i++) classified(synEvent({ tcpWindow: 40_000 + (i % 20_000), ttl: 50, df: 0, ipTotalLength: 40 }), set);
    expect(set.cacheSizes().shapes).toBe(1);
  });
});

describe('many per-packet signatures', () => {
  it('past the first 31 (whose shape conditions the shape cache answers), a later one is still found by its shape and packet conditions', () => {
    // 32 decoys with the winner's port but another window, then the winner; file order breaks no tie here.
    const signature = (id: string, window: number, confidence: number): string => `
[[signature]]
id = "${id}"
name = "${id}"
kind = "tool"
os = "crafted"
confidence = ${confidence}
references = ["test"]
[signature.match]
window = ${window}
src_port = 4444
`;
    const decoys = Array.from({ length: 32 }, (_, i) => signature(`decoy${i}`, 2000 + i, 0.9)).join('');
    const set = parseSignatures(decoys + signature('late', 1000, 0.5));
    expect(classified(synEvent({ tcpWindow: 1000, srcPort: 4444 }), set).tool).toBe('late');
    // Its packet condition still decides: another source port, no tool.
    expect(classified(synEvent({ tcpWindow: 1000, srcPort: 4445 }), set).tool).toBe('');
    // And a decoy of the first 31 wins on its own window, the same shape cache or not.
    expect(classified(synEvent({ tcpWindow: 2003, srcPort: 4444 }), set).tool).toBe('decoy3');
    expect(classified(synEvent({ tcpWindow: 2003, srcPort: 4445 }), set).tool).toBe('');
  });
});

describe('the enricher sets the event fields in place', () => {
  it('SYNs get fingerprint, os, tool and classification; other packets stay untouched', () => {
    const enricher = new FingerprintEnricher(bundled);
    expect(enricher.name).toBe('fingerprint');
    const [scan] = fixturePackets('syn-port6000.jsonl');
    enricher.enrich(scan!);
    expect(scan!.fingerprint?.key).toBe('ittl=128,win=16384,olen=0,df=0');
    expect(scan!.os).toBe('windows');
    expect(scan!.tool).toBe('port6000-ssh-scanner');
    expect(scan!.classification?.signature).toBe('port6000-ssh-scanner');

    const unknown = synEvent({ tcpWindow: 777, ipTotalLength: 48 });
    enricher.enrich(unknown);
    expect(unknown).toMatchObject({ os: 'unknown', tool: '', classification: null });
    expect(unknown.fingerprint).not.toBeNull();

    const [udp] = fixturePackets('ipv4-udp.jsonl');
    enricher.enrich(udp!);
    expect(udp).toMatchObject({ fingerprint: null, os: '', tool: '', classification: null });
  });
  it('fromConfig("") loads the bundled file', () => {
    expect(FingerprintEnricher.fromConfig('').signatures.signatures.length).toBe(bundled.signatures.length);
  });
});

describe('a bad signature file is refused, naming the signature and the key', () => {
  const base = (match: string, extra = ''): string => `
[[signature]]
id = "x1"
kind = "tool"
name = "X"
os = "unknown"
confidence = 0.5
references = ["somewhere"]
${extra}
[signature.match]
${match}
`;
  const problem = (text: string): string => {
    try {
      parseSignatures(text, 'test.toml');
    } catch (e) {
      expect(e).toBeInstanceOf(SignatureError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };
  it('unknown match key', () => expect(problem(base('windw = 5'))).toMatch(/signature "x1": match\.windw: unknown key/));
  it('wrong type or range', () => {
    expect(problem(base('window = "big"'))).toMatch(/signature "x1": match\.window: expected an integer 0\.\.65535, got "big"/);
    expect(problem(base('window = 70000'))).toMatch(/match\.window: expected an integer 0\.\.65535, got 70000/);
    expect(problem(base('initial_ttl = 100'))).toMatch(/match\.initial_ttl: expected 32, 64, 128 or 255/);
    expect(problem(base('options_length = 6'))).toMatch(/match\.options_length: expected a multiple of 4/);
    expect(problem(base('window_in = []'))).toMatch(/match\.window_in: expected a non-empty array/);
    expect(problem(base('df = 1'))).toMatch(/match\.df: expected true or false, got 1/);
    expect(problem(base('seq_equals_dst_ip = false'))).toMatch(/match\.seq_equals_dst_ip: expected true/);
  });
  it('contradictions and missing conditions', () => {
    expect(problem(base('window = 1\nwindow_in = [2]'))).toMatch(/use window or window_in, not both/);
    expect(problem(base('ttl_min = 100\nttl_max = 50'))).toMatch(/ttl_min 100 > ttl_max 50/);
    expect(problem(base(''))).toMatch(/signature "x1": match: expected a \[signature\.match\] table with at least one condition/);
  });
  it('bad top-level fields of a signature', () => {
    expect(problem(base('window = 1').replace('kind = "tool"', 'kind = "scanner"'))).toMatch(/signature "x1": kind: expected "tool" or "os", got "scanner"/);
    expect(problem(base('window = 1').replace('os = "unknown"', 'os = "amiga"'))).toMatch(/signature "x1": os: expected one of/);
    expect(problem(base('window = 1').replace('confidence = 0.5', 'confidence = 1.5'))).toMatch(/signature "x1": confidence: expected a number 0\.\.1, got 1\.5/);
    expect(problem(base('window = 1').replace('references = ["somewhere"]', 'references = []'))).toMatch(/signature "x1": references:/);
    expect(problem(base('window = 1', 'colour = "red"'))).toMatch(/signature "x1": unknown key "colour"/);
    expect(problem(base('window = 1').replace('id = "x1"', 'id = "Bad Id"'))).toMatch(/signature "Bad Id": id: expected a string/);
    expect(problem(base('window = 1').replace('id = "x1"\n', ''))).toMatch(/signature #1: id:/);
  });
  it('duplicate ids, unknown top-level keys, no signatures, broken TOML, missing file', () => {
    expect(problem(base('window = 1') + base('window = 2'))).toMatch(/signature "x1": id: duplicate/);
    expect(problem(`version = 2\n${base('window = 1')}`)).toMatch(/unknown top-level key "version"/);
    expect(problem('# nothing\n')).toMatch(/no \[\[signature\]\] tables/);
    expect(problem('[[signature]\nid = ')).toMatch(/test\.toml: not valid TOML \(line 1/);
    expect(() => loadSignatures('/nonexistent/sig.toml')).toThrow(/cannot read signature file \/nonexistent\/sig\.toml/);
  });
  it('every problem is listed at once', () => {
    const msg = problem(base('window = -1\nttl_max = 300'));
    expect(msg).toMatch(/match\.window/);
    expect(msg).toMatch(/match\.ttl_max/);
  });
});

describe('per-packet checks are exact', () => {
  it('Mirai needs seq == destination address exactly; IPv6 never matches', () => {
    const dst = 198 * 2 ** 24 + 18 * 2 ** 16 + 1;
    const mirai = { tcpWindow: 12345, ipTotalLength: 40, df: 0, tcpSeq: dst, dstPort: 23 };
    expect(classified(synEvent(mirai)).tool).toBe('mirai');
    expect(classified(synEvent({ ...mirai, tcpSeq: dst + 1 })).tool).toBe('');
    expect(classified(synEvent({ ...mirai, family: 6, dstIp: 'fd00:6e66::1', df: NONE, ipTotalLength: 60, ipHeaderLength: 40 })).tool).toBe('');
  });
});
