// The threat-list enricher (src/enrich/threat-lists.ts): named list files merged into one table;
// each packet gets the names of the lists its source is on, one shared frozen array per set of
// lists; files are reloaded when they change and on SIGHUP, and a bad new version never replaces
// a good one.
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ThreatListEnricher, createThreatLists, type ThreatListConfig } from '../../src/enrich/threat-lists.js';
import type { WatchOptions } from '../../src/enrich/watched-files.js';
import { NOT_LISTED } from '../../src/pipeline/types.js';
import { memoryLogger } from '../../src/util/log.js';
import { fixturePackets, synEvent } from './fixtures.js';

const listFixture = (name: string): string => new URL(`../fixtures/lists/${name}`, import.meta.url).pathname;

const FIXTURE_LISTS: ThreatListConfig[] = [
  { name: 'plain', path: listFixture('plain.txt') },
  { name: 'firehol', path: listFixture('firehol.netset'), format: 'netset' },
  { name: 'spamhaus', path: listFixture('spamhaus-drop.txt') },
  { name: 'spamhaus_v4', path: listFixture('spamhaus-drop_v4.json'), format: 'auto' },
  { name: 'et', path: listFixture('et-compromised-ips.txt'), format: 'et' },
];

const open: ThreatListEnricher[] = [];
async function lists(config: ThreatListConfig[], options: WatchOptions = { watch: false, pollMs: 0 }, logger = memoryLogger()): Promise<ThreatListEnricher> {
  const enricher = await createThreatLists(config, logger, options);
  if (enricher === null) throw new Error('no lists');
  open.push(enricher);
  return enricher;
}

function listedOf(enricher: ThreatListEnricher, srcIp: string): readonly string[] {
  const event = synEvent({ srcIp });
  enricher.enrich(event);
  return event.listed;
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'nfwatch-lists-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Replaces `target` with `text` the way a download timer does: write beside it, rename over it. */
function replaceByRename(target: string, text: string): void {
  writeFileSync(`${target}.tmp`, text);
  renameSync(`${target}.tmp`, target);
}

const fast: WatchOptions = { debounceMs: 20, pollMs: 0 };

describe('threat lists over the lab captures', () => {
  it('flags the scanners each fixture list names, with one shared array per set of lists', async () => {
    const enricher = await lists(FIXTURE_LISTS);
    const listed = (capture: string): Array<readonly string[]> =>
      fixturePackets(capture).map((event) => {
        enricher.enrich(event);
        return event.listed;
      });

    const port6000 = listed('syn-port6000.jsonl'); // 198.18.0.12
    expect(port6000[0]).toEqual(['plain', 'spamhaus_v4']);
    for (const l of port6000) expect(l).toBe(port6000[0]);
    const sweep = listed('scan-port6000-sweep.jsonl'); // 198.18.0.15
    expect(new Set(sweep)).toEqual(new Set([sweep[0]]));
    expect(sweep[0]).toEqual(['plain', 'et']);
    for (const capture of ['syn-nmap.jsonl', 'scan-nmap-os.jsonl', 'scan-nmap-xmas.jsonl', 'scan-nmap-null.jsonl', 'scan-nmap-fin.jsonl', 'scan-nmap-ack.jsonl', 'scan-nmap-maimon.jsonl', 'scan-nmap-udp.jsonl']) {
      for (const l of listed(capture)) expect(l, capture).toEqual(['firehol']);
    }
    // Two addresses of one segment (198.18.0.20/30), two segments of one list: the same array.
    expect(listed('syn-nmap.jsonl')[0]).toBe(listed('scan-nmap-xmas.jsonl')[0]);
    expect(listed('syn-nmap.jsonl')[0]).toBe(listed('scan-nmap-udp.jsonl')[0]);
    expect(listed('syn-masscan.jsonl')[0]).toEqual(['spamhaus', 'spamhaus_v4']); // 198.18.0.30
    expect(listed('syn-zmap.jsonl')[0]).toEqual(['et']); // 198.18.0.40
    expect(listed('syn-mirai-like.jsonl')[0]).toEqual(['plain']); // 198.18.0.13, in the range 198.18.0.13-198.18.0.14
    // The lab client itself and the sources no list names.
    for (const capture of ['nmap-syn.jsonl', 'ipv6-tcp.jsonl', 'syn-linux-curl.jsonl', 'syn-hping3-default.jsonl', 'scan-icmp-sweep.jsonl']) {
      for (const l of listed(capture)) expect(l, capture).toBe(NOT_LISTED);
    }
    // One of the five addresses of the rotating IPv6 host.
    const rotation = fixturePackets('scan-ipv6-rotation.jsonl').map((event) => {
      enricher.enrich(event);
      return [event.srcIp, event.listed] as const;
    });
    for (const [ip, l] of rotation) expect(l, ip).toEqual(ip === 'fd00:6e66::a1' ? ['plain'] : []);
  });

  it('answers lookup(ip) with the names, NOT_LISTED for an address on no list', async () => {
    const enricher = await lists(FIXTURE_LISTS);
    expect(enricher.lookup('198.18.0.30')).toEqual(['spamhaus', 'spamhaus_v4']);
    expect(enricher.lookup('192.0.2.200')).toEqual(['plain', 'firehol', 'spamhaus_v4', 'et']);
    expect(enricher.lookup('192.0.2.1')).toEqual(['plain', 'firehol', 'spamhaus']);
    expect(enricher.lookup('::ffff:198.18.0.30')).toBe(enricher.lookup('198.18.0.30'));
    expect(enricher.lookup('2001:db8:bad::1')).toEqual(['plain']);
    expect(enricher.lookup('198.18.0.2')).toBe(NOT_LISTED);
    expect(enricher.lookup('garbage')).toBe(NOT_LISTED);
    expect(Object.isFrozen(enricher.lookup('198.18.0.30'))).toBe(true);
  });

  it('reports per list what it read', async () => {
    const logger = memoryLogger();
    const enricher = await lists(FIXTURE_LISTS, { watch: false, pollMs: 0 }, logger);
    const stats = enricher.stats();
    for (const s of stats) expect(s.loadedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(stats.map(({ loadedAt: _, ...s }) => s)).toEqual([
      // 2001:db8:bad::/48 alone is 2^80 addresses: capped.
      { name: 'plain', path: listFixture('plain.txt'), format: 'plain', entries: 7, addresses: Number.MAX_SAFE_INTEGER, badLines: 0, error: '' },
      { name: 'firehol', path: listFixture('firehol.netset'), format: 'netset', entries: 4, addresses: 272, badLines: 0, error: '' },
      { name: 'spamhaus', path: listFixture('spamhaus-drop.txt'), format: 'spamhaus', entries: 3, addresses: 128 + 2 + 256, badLines: 0, error: '' },
      { name: 'spamhaus_v4', path: listFixture('spamhaus-drop_v4.json'), format: 'spamhaus-json', entries: 3, addresses: 128 + 1 + 2, badLines: 0, error: '' },
      { name: 'et', path: listFixture('et-compromised-ips.txt'), format: 'et', entries: 5, addresses: 5, badLines: 0, error: '' },
    ]);
    expect(logger.lines.join('\n')).toMatch(/info \[lists\] list firehol: 4 entries, 272 addresses \(netset\) from .*firehol\.netset/);
  });
});

describe('threat list names', () => {
  it.each([
    ['Firehol', /lists\[0\]\.name: "Firehol" is not a list name/],
    ['fire.hol', /is not a list name/],
    ['', /is not a list name/],
    ['-leading-dash', /is not a list name/],
    ['a'.repeat(33), /is not a list name/],
  ])('refuses %j at construction', (name, message) => {
    expect(() => new ThreatListEnricher([{ name, path: '/x' }], memoryLogger())).toThrow(message);
  });

  it('refuses a name used twice, and takes 32-character names with _ and -', () => {
    expect(() => new ThreatListEnricher([{ name: 'a', path: '/x' }, { name: 'a', path: '/y' }], memoryLogger())).toThrow('lists[1].name: "a" is used by another list (names must be unique)');
    expect(() => new ThreatListEnricher([{ name: `0${'a_-'.repeat(10)}b`, path: '/x' }], memoryLogger())).not.toThrow();
  });

  it('makes no enricher without lists', async () => {
    expect(await createThreatLists([], memoryLogger())).toBeNull();
  });
});

describe('threat list reloading', () => {
  it('takes a new version of a list replaced by rename', async () => {
    const file = path.join(dir, 'blocklist.txt');
    writeFileSync(file, '192.0.2.1\n');
    const enricher = await lists([{ name: 'block', path: file }], fast);
    expect(listedOf(enricher, '192.0.2.1')).toEqual(['block']);
    const before = listedOf(enricher, '192.0.2.1');
    replaceByRename(file, '# refreshed\n198.51.100.0/24\n');
    await vi.waitFor(() => expect(listedOf(enricher, '198.51.100.9')).toEqual(['block']), { timeout: 5000, interval: 20 });
    expect(listedOf(enricher, '192.0.2.1')).toBe(NOT_LISTED);
    // The same set of lists answers with the same array after the reload.
    expect(listedOf(enricher, '198.51.100.9')).toBe(before);
    expect(enricher.stats()[0]).toMatchObject({ entries: 1, addresses: 256, error: '' });
  });

  it('keeps the version it has when the new one has nothing usable, says so once per version, and takes the next good one', async () => {
    const file = path.join(dir, 'drop.txt');
    writeFileSync(file, '192.0.2.0/24 ; SBL1\n');
    const logger = memoryLogger();
    const enricher = await lists([{ name: 'drop', path: file }], { debounceMs: 20, pollMs: 30 }, logger);
    replaceByRename(file, '<html>\n<body>503 Service Unavailable</body>\n</html>\n');
    await vi.waitFor(() => expect(enricher.stats()[0]!.error).not.toBe(''), { timeout: 5000, interval: 20 });
    expect(listedOf(enricher, '192.0.2.1')).toEqual(['drop']);
    expect(enricher.stats()[0]).toMatchObject({ entries: 1, addresses: 256, badLines: 0 });
    expect(enricher.stats()[0]!.error).toMatch(/^nothing in it is an address, network or range \(read as plain: 3 lines not understood, line 1 "<html>": not an IP address, network or range; line 2/);
    await new Promise((resolve) => setTimeout(resolve, 200)); // polled several times meanwhile
    const said = logger.lines.filter((l) => l.includes('cannot use'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/error \[lists\] list drop: cannot use .*drop\.txt: nothing in it is .*; still using the version read before \(1 entries\)/);
    replaceByRename(file, '198.51.100.0/24 ; SBL2\n');
    await vi.waitFor(() => expect(listedOf(enricher, '198.51.100.1')).toEqual(['drop']), { timeout: 5000, interval: 20 });
    expect(listedOf(enricher, '192.0.2.1')).toBe(NOT_LISTED);
    expect(enricher.stats()[0]!.error).toBe('');
  });

  it('keeps the version it has when the new one is empty', async () => {
    const file = path.join(dir, 'et.txt');
    writeFileSync(file, '192.0.2.7\n');
    const enricher = await lists([{ name: 'et', path: file }], fast);
    replaceByRename(file, '');
    await vi.waitFor(() => expect(enricher.stats()[0]!.error).toBe('the new version is empty'), { timeout: 5000, interval: 20 });
    expect(listedOf(enricher, '192.0.2.7')).toEqual(['et']);
    expect(enricher.stats()[0]).toMatchObject({ entries: 1 });
  });

  it('takes a version with some bad lines, counting them and saying which', async () => {
    const file = path.join(dir, 'mixed.txt');
    writeFileSync(file, '192.0.2.1\nnot-an-ip\n192.0.2.300\n198.51.100.1\n');
    const logger = memoryLogger();
    const enricher = await lists([{ name: 'mixed', path: file }], fast, logger);
    expect(enricher.stats()[0]).toMatchObject({ entries: 2, badLines: 2, error: '' });
    expect(listedOf(enricher, '198.51.100.1')).toEqual(['mixed']);
    expect(logger.lines.join('\n')).toMatch(/warn \[lists\] list mixed: skipped 2 lines of .*mixed\.txt that are not addresses: line 2 "not-an-ip": not an IP address, network or range; line 3 "192\.0\.2\.300": not an IPv4 address/);
  });

  it('starts with a missing list empty, and reads it once it appears', async () => {
    const file = path.join(dir, 'later.netset');
    const logger = memoryLogger();
    const enricher = await lists([{ name: 'later', path: file }, { name: 'now', path: listFixture('et-compromised-ips.txt') }], fast, logger);
    expect(logger.lines.join('\n')).toMatch(/error \[lists\] list later: cannot use .*later\.netset: it does not exist; the list is empty until it can be read/);
    expect(enricher.stats()[0]).toMatchObject({ name: 'later', entries: 0, loadedAt: 0, error: 'it does not exist' });
    expect(listedOf(enricher, '198.18.0.40')).toEqual(['now']);
    replaceByRename(file, '198.18.0.40\n');
    await vi.waitFor(() => expect(listedOf(enricher, '198.18.0.40')).toEqual(['later', 'now']), { timeout: 5000, interval: 20 });
  });

  it('keeps a list whose file is deleted', async () => {
    const file = path.join(dir, 'gone.txt');
    writeFileSync(file, '192.0.2.1\n');
    const logger = memoryLogger();
    const enricher = await lists([{ name: 'gone', path: file }], { debounceMs: 20, pollMs: 30 }, logger);
    rmSync(file);
    await vi.waitFor(() => expect(logger.lines.join('\n')).toMatch(/list gone: cannot use .*gone\.txt: it does not exist; still using the version read before \(1 entries\)/), { timeout: 5000, interval: 20 });
    expect(listedOf(enricher, '192.0.2.1')).toEqual(['gone']);
  });

  it('finds changes by polling when watching is off', async () => {
    const file = path.join(dir, 'polled.txt');
    writeFileSync(file, '192.0.2.1\n');
    const enricher = await lists([{ name: 'polled', path: file }], { watch: false, pollMs: 30 });
    replaceByRename(file, '192.0.2.2\n');
    await vi.waitFor(() => expect(listedOf(enricher, '192.0.2.2')).toEqual(['polled']), { timeout: 5000, interval: 20 });
  });

  it('reads every list again on reload() (SIGHUP)', async () => {
    const a = path.join(dir, 'a.txt');
    const b = path.join(dir, 'b.json');
    writeFileSync(a, '192.0.2.1\n');
    copyFileSync(listFixture('spamhaus-drop_v4.json'), b);
    const enricher = await lists([{ name: 'a', path: a }, { name: 'b', path: b }], { watch: false, pollMs: 0 });
    expect(listedOf(enricher, '198.18.0.12')).toEqual(['b']);
    replaceByRename(a, '198.18.0.12\n');
    replaceByRename(b, '{"cidr":"203.0.113.0/24","sblid":"SBL9"}\n');
    expect(listedOf(enricher, '198.18.0.12')).toEqual(['b']); // not watching: nothing changes by itself
    await enricher.reload();
    expect(listedOf(enricher, '198.18.0.12')).toEqual(['a']);
    expect(listedOf(enricher, '203.0.113.9')).toEqual(['b']);
  });

  it('stops watching on close()', async () => {
    const file = path.join(dir, 'closed.txt');
    writeFileSync(file, '192.0.2.1\n');
    const enricher = await lists([{ name: 'closed', path: file }], { debounceMs: 10, pollMs: 10 });
    await enricher.close();
    replaceByRename(file, '192.0.2.2\n');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(listedOf(enricher, '192.0.2.2')).toBe(NOT_LISTED);
    expect(listedOf(enricher, '192.0.2.1')).toEqual(['closed']);
  });
});
