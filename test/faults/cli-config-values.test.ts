// Values TOML allows but no setting can mean, as the real process (dist/cli.js) sees them: `nan`,
// `inf` and `-inf` are reported as what they are, naming the key (not as "got null", which is what
// JSON makes of them), and the keys `__proto__`, `constructor` and `prototype` are refused by name
// wherever they appear, by --check-config and by the daemon alike.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, requireBuild } from '../e2e/nfwatch.js';
import { tempDir } from './harness.js';

const tmp = tempDir('nfw-config-values-');
afterAll(() => tmp.remove());

let n = 0;
/**
 * A config in its own temp dir made of `lines` (verbatim, first) plus what keeps the daemon off the
 * system: state_dir and a file source in the temp dir, no Graphite, no web view. A table `lines`
 * already opens gets those keys added under its header instead of a second header.
 */
function configWith(lines: string[]): string {
  const dir = join(tmp.dir, `case-${++n}`);
  mkdirSync(dir);
  const out = lines.map((l) => l.replace('$DIR', dir));
  const ensure = (header: string, keys: string[]) => {
    const at = out.indexOf(header);
    if (at < 0) out.push(header, ...keys);
    else out.splice(at + 1, 0, ...keys);
  };
  ensure('[general]', [`state_dir = "${join(dir, 'state')}"`]);
  if (!out.includes('[[sources.file]]')) out.push('[[sources.file]]', `path = "${join(dir, 'ulogd.json')}"`);
  ensure('[outputs.graphite]', ['enabled = false']);
  ensure('[web]', ['enabled = false']);
  const path = join(dir, 'nfwatch.toml');
  writeFileSync(path, `${out.join('\n')}\n`);
  return path;
}

function both(path: string): Array<{ how: string; status: number | null; stderr: string }> {
  requireBuild();
  return ['--check-config', '--config'].map((how) => {
    const r = spawnSync(process.execPath, [CLI, how, path], { encoding: 'utf8', timeout: 20_000 });
    return { how, status: r.status, stderr: r.stderr };
  });
}

describe('a configuration value that is not a finite number', () => {
  for (const [value, shown] of [['nan', 'nan'], ['inf', 'inf'], ['-inf', '-inf'], ['+inf', 'inf']] as const) {
    it(`reports ${value} as not a finite number, naming the key and showing ${shown}`, () => {
      const path = configWith(['[aggregate]', `grace_seconds = ${value}`, 'interval_seconds = 10', '[track]', `severity_packets = [5, 15, 150, 1500, ${value}]`]);
      for (const r of both(path)) {
        expect(r.status, `${r.how}: ${r.stderr}`).toBe(1);
        expect(r.stderr, r.how).toMatch(new RegExp(`aggregate\\.grace_seconds: not a finite number.*got ${shown.replace('+', '\\+')}\\b`));
        expect(r.stderr, r.how).toMatch(/track\.severity_packets\[4\]: not a finite number/);
        expect(r.stderr, r.how).not.toMatch(/got null/);
      }
    });
  }

  it('shows nan as nan where a string was expected, too', () => {
    for (const r of both(configWith(['[general]', 'log_level = nan']))) {
      expect(r.status, r.how).toBe(1);
      expect(r.stderr, r.how).toMatch(/general\.log_level: .*got nan/);
      expect(r.stderr, r.how).not.toMatch(/got null/);
    }
  });
});

describe('reserved object keys in the configuration', () => {
  const placements: Array<[string, string[], string]> = [
    ['a table key', ['[general]', '__proto__ = 1'], 'general.__proto__'],
    ['a table key set to a table', ['[general]', '__proto__ = { hostname = "x" }'], 'general.__proto__'],
    ['a quoted key', ['[web]', '"constructor" = "x"'], 'web.constructor'],
    ['a table name', ['[outputs.prototype]', 'x = 1'], 'outputs.prototype'],
    ['a key inside an array of tables', ['[[sources.file]]', 'path = "$DIR/ulogd.json"', 'prototype = "y"'], 'sources.file[0].prototype'],
    ['a top-level key', ['__proto__ = { polluted = true }'], '__proto__'],
  ];
  for (const [where, lines, key] of placements) {
    it(`refuses ${key} as ${where}, naming it, in --check-config and the daemon`, () => {
      const path = configWith(lines);
      for (const r of both(path)) {
        expect(r.status, `${r.how}: ${r.stderr}`).toBe(1);
        const escaped = key.replace(/[.[\]]/g, '\\$&');
        expect(r.stderr, r.how).toMatch(new RegExp(`(^|\\s)${escaped}: reserved key`, 'm'));
        expect(r.stderr, r.how).not.toMatch(/nfwatch started/);
      }
    });
  }
});
