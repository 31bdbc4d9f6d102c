import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { noDecodeErrors } from '../../src/pipeline/types.js';
import { formatBytes, formatDuration, formatSummary, inspectFiles, progressBar, progressLine, replayConfig, replayOrder, type ReplayFile } from '../../src/replay/replay.js';
import { packetLineAt, tempDir } from '../faults/harness.js';

const CONFIG = `
[[sources.socket]]
name = "sock"
unix_path = "/run/nfwatch/ulogd.sock"
nfacct = "totals"
[[sources.file]]
name = "ulogd"
path = "/var/log/ulog/ulogd.json"
[[sources.file]]
name = "other"
path = "/var/log/ulog/other.json"
[web]
enabled = true
`;

const file = (path: string, firstTime: number | null): ReplayFile => ({ path, size: 1, gzip: false, firstTime });

describe('replay order', () => {
  it('by first event time, files without one last, the given order among equals', () => {
    const order = replayOrder([file('c', null), file('ulogd.json', 300), file('ulogd.json.2.gz', 100), file('x', 300), file('ulogd.json.1', 200)]);
    expect(order.map((f) => f.path)).toEqual(['ulogd.json.2.gz', 'ulogd.json.1', 'ulogd.json', 'x', 'c']);
  });
});

describe('replay configuration', () => {
  const config = parseConfigText(CONFIG);
  it('keeps only the first file source (its name and nfacct mode count the events) and turns the web view off', () => {
    const r = replayConfig(config);
    expect(r.name).toBe('ulogd');
    expect(r.config.sources.file.map((s) => s.name)).toEqual(['ulogd']);
    expect(r.config.sources.socket).toEqual([]);
    expect(r.config.web.enabled).toBe(false);
    expect(config.web.enabled).toBe(true); // the loaded configuration is not changed
  });
  it('--source picks any configured source by name; an unknown name is an error naming the known ones', () => {
    const r = replayConfig(config, 'sock');
    expect(r.name).toBe('sock');
    expect(r.config.sources.socket).toMatchObject([{ name: 'sock', nfacct: 'totals' }]);
    expect(r.config.sources.file).toEqual([]);
    expect(replayConfig(config, 'other').config.sources.file.map((s) => s.name)).toEqual(['other']);
    expect(() => replayConfig(config, 'nope')).toThrow('--source nope: no source of that name in the configuration (configured: ulogd, other, sock)');
  });
  it('without any configured source the events are counted as "replay"', () => {
    const none = parseConfigText('');
    expect(replayConfig({ ...none, sources: { ...none.sources, file: [], socket: [] } }).name).toBe('replay');
  });
});

describe('inspectFiles', () => {
  const tmp = tempDir('nfw-replay-units-');
  afterAll(() => tmp.remove());
  it('tells gzip by its magic bytes, not its name, and finds the first decodable event time', async () => {
    const t = Date.UTC(2026, 10, 1, 12, 0, 0);
    writeFileSync(join(tmp.dir, 'plain.gz'), `garbage\n${packetLineAt(t + 5000)}\n`);
    writeFileSync(join(tmp.dir, 'rotated.1'), gzipSync(`${packetLineAt(t)}\n`));
    writeFileSync(join(tmp.dir, 'empty.json'), '');
    const files = await inspectFiles([join(tmp.dir, 'plain.gz'), join(tmp.dir, 'rotated.1'), join(tmp.dir, 'empty.json')], parseConfigText(''));
    expect(files.map((f) => [f.gzip, f.firstTime])).toEqual([[false, t + 5000], [true, t], [false, null]]);
    await expect(inspectFiles([tmp.dir], parseConfigText(''))).rejects.toThrow('is not a regular file');
  });
});

describe('replay text', () => {
  it('formats bytes and durations', () => {
    expect([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(3 * 1024 ** 3)]).toEqual(['0 B', '1023 B', '1.5 KiB', '3.0 GiB']);
    expect([formatDuration(12_345), formatDuration(125_000), formatDuration(3_723_000)]).toEqual(['12.3s', '2m05s', '1h02m03s']);
  });

  const p = { fileIndex: 2, files: 3, file: 'ulogd.json.2.gz', bytesRead: 512 * 1024, bytesTotal: 1024 * 1024, lines: 1000, linesPerSecond: 81234.4 };
  it('a progress bar for a terminal: bytes read of total, lines/s, which file', () => {
    expect(progressBar(p, 10)).toBe('[#####.....]  50%  512.0 KiB / 1.0 MiB  81234 lines/s  file 2/3 ulogd.json.2.gz');
    expect(progressBar({ ...p, waitingFor: 'graphite' }, 10)).toMatch(/ waiting for graphite$/);
  });
  it('a plain progress line otherwise', () => {
    expect(progressLine(p)).toBe('replay: 50% (512.0 KiB of 1.0 MiB), 1000 lines, 81234 lines/s, file 2/3 ulogd.json.2.gz');
  });
  it('the summary lists decode errors by reason and says when it is not complete', () => {
    const text = formatSummary({
      files: 2, bytes: 2048, lines: 10, events: 7, oversizedLines: 0, decodeErrors: { ...noDecodeErrors(), not_json: 2, no_timestamp: 1 }, lateEvents: 0, intervals: 3,
      firstInterval: Date.UTC(2026, 0, 1), lastIntervalEnd: Date.UTC(2026, 0, 1, 0, 3), elapsedMs: 1500,
      sinks: { graphite: { sent: 40, dropped: 2, undelivered: 0 } }, complete: false,
    });
    expect(text).toContain('  decode errors:  3 (not_json 2, no_timestamp 1)\n');
    expect(text).toContain('  time range:     2026-01-01T00:00:00.000Z .. 2026-01-01T00:03:00.000Z\n');
    expect(text).toContain('  graphite:       40 sent, 2 dropped, 0 undelivered\n');
    expect(text).toContain('NOT COMPLETE');
  });
});
