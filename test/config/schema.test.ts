import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exampleToml, spliceReference } from '../../src/config/docs.js';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.length ? (err as ConfigError).problems : [(err as Error).message];
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration schema', () => {
  it('fills every default from the schema for an empty file', () => {
    const config = parseConfigText('');
    expect(config.aggregate.interval_seconds).toBe(60); // one write per slot of stock carbon's 60 s archive
    expect(config.outputs.graphite).toMatchObject({ enabled: true, host: '127.0.0.1', port: 2003, prefix: 'netfilter.{hostname}' });
    expect(config.sources.file).toEqual([{ name: 'ulogd', path: '/var/log/ulog/ulogd.json', from: 'end', poll_ms: 250, follow_symlinks: false, nfacct: 'deltas' }]);
    expect(config.sources.socket).toEqual([]);
    expect(config.general.hostname).not.toBe('');
  });

  it('adds the default file source only when no source at all is configured', () => {
    expect(parseConfigText('[[sources.socket]]\nunix_path = "/run/nfwatch/ulogd.sock"\n').sources.file).toEqual([]);
    expect(parseConfigText('[sources]\n').sources.file).toHaveLength(1);
  });

  it('refuses an unknown key with its path and the keys allowed there', () => {
    expect(problemsOf('[outputs.graphite]\nprot = 2003\n')).toEqual([
      expect.stringMatching(/^outputs\.graphite\.prot: unknown key \(allowed here: enabled, host, port, /),
    ]);
    expect(problemsOf('[[sources.file]]\npath = "/x"\nfrom_start = true\n')[0]).toMatch(/^sources\.file\[0\]\.from_start: unknown key/);
    expect(problemsOf('[grafite]\n')[0]).toMatch(/^grafite: unknown key/);
  });

  it('refuses a wrong type with what was expected', () => {
    expect(problemsOf('[outputs.graphite]\nport = "2003"\n')[0]).toMatch(/^outputs\.graphite\.port: .*expected an integer from 1 to 65535.*got "2003"/);
    expect(problemsOf('[[sources.file]]\nfrom = "start"\n')[0]).toMatch(/^sources\.file\[0\]\.from: .*expected "end" \| "beginning"/);
    expect(problemsOf('[aggregate]\ninterval_seconds = 0\n')[0]).toMatch(/^aggregate\.interval_seconds: /);
  });

  it('refuses what only makes sense across keys', () => {
    expect(problemsOf('[[sources.socket]]\nname = "s"\n')[0]).toMatch(/sources\.socket\[0\]: set unix_path and\/or tcp_port/);
    expect(problemsOf('[[sources.file]]\nname = "a"\n[[sources.socket]]\nname = "a"\ntcp_port = 5000\n')[0]).toMatch(/"a" is used by another source/);
  });

  it('reports nan and ±inf as not a finite number, naming the key, once per key', () => {
    expect(problemsOf('[aggregate]\ngrace_seconds = nan\n')).toEqual(['aggregate.grace_seconds: not a finite number (expected a number from 0 to 600), got nan']);
    expect(problemsOf('[aggregate]\ninterval_seconds = inf\n')).toEqual(['aggregate.interval_seconds: not a finite number (expected an integer from 1 to 3600), got inf']);
    expect(problemsOf('[track]\nseverity_packets = [5, 15, 150, 1500, -inf]\n')).toEqual(['track.severity_packets[4]: not a finite number (expected an integer), got -inf']);
    expect(problemsOf('[general]\nlog_level = nan\n')[0]).toMatch(/^general\.log_level: .*got nan$/);
  });

  it('refuses __proto__, constructor and prototype keys anywhere, naming them', () => {
    expect(problemsOf('[general]\n__proto__ = 1\n')).toEqual(['general.__proto__: reserved key: "__proto__" cannot be a setting (remove it)']);
    expect(problemsOf('__proto__ = { polluted = true }\n')).toEqual([expect.stringMatching(/^__proto__: reserved key/)]);
    expect(problemsOf('[web]\n"constructor" = 1\n[outputs.prototype]\nx = 1\n')).toEqual([
      expect.stringMatching(/^web\.constructor: reserved key/),
      expect.stringMatching(/^outputs\.prototype: reserved key/),
    ]);
    expect(problemsOf('[[sources.file]]\npath = "/x"\n[[sources.file]]\nname = "b"\nprototype = 1\n')).toEqual([expect.stringMatching(/^sources\.file\[1\]\.prototype: reserved key/)]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('says a single problem on one line, several under the summary', () => {
    expect(() => parseConfigText('[aggregate]\ninterval_seconds = 0\n', '/etc/nfwatch.toml')).toThrow(/^\/etc\/nfwatch\.toml: invalid configuration: aggregate\.interval_seconds: [^\n]*$/);
    expect(() => parseConfigText('[aggregate]\ninterval_seconds = 0\ngrace_seconds = -1\n', '/etc/nfwatch.toml')).toThrow(
      /^\/etc\/nfwatch\.toml: invalid configuration\n {2}aggregate\.interval_seconds: .*\n {2}aggregate\.grace_seconds: /,
    );
  });

  it('says where TOML itself is broken', () => {
    expect(problemsOf('[general\n')[0]).toMatch(/not valid TOML at line 1/);
  });

  it('ships conf/nfwatch.toml exactly as generated from the schema, and it is valid', () => {
    const shipped = readFileSync(new URL('../../conf/nfwatch.toml', import.meta.url), 'utf8');
    expect(shipped).toBe(exampleToml());
    expect(() => parseConfigText(shipped)).not.toThrow();
  });

  it("keeps README's configuration reference in step with the schema", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toBe(spliceReference(readme));
  });
});

describe('[alerts]', () => {
  it('is off with the defaults: no channel, severity 3, campaigns, an hour of de-duplication, 20 a minute', () => {
    expect(parseConfigText('').alerts).toMatchObject({ min_severity: 3, campaigns: true, dedupe_seconds: 3600, max_per_minute: 20, webhook: { url: '' }, syslog: { enabled: false }, command: { path: '' } });
  });
  it('takes a webhook over https anywhere, over http only on loopback', () => {
    for (const url of ['https://hooks.example.org/x', 'http://127.0.0.1:9000/hook', 'http://localhost/hook', 'http://[::1]:8080/']) {
      expect(parseConfigText(`[alerts.webhook]\nurl = "${url}"`).alerts.webhook.url).toBe(url);
    }
    expect(() => parseConfigText('[alerts.webhook]\nurl = "http://192.0.2.10/hook"')).toThrow(/alerts\.webhook\.url: plain http to 192\.0\.2\.10 .*use https:\/\//);
    expect(() => parseConfigText('[alerts.webhook]\nurl = "ftp://127.0.0.1/x"')).toThrow(/alerts\.webhook\.url: "ftp:" is not http: or https:/);
    expect(() => parseConfigText('[alerts.webhook]\nurl = "not a url"')).toThrow(/alerts\.webhook\.url: "not a url" is not a URL/);
  });
  it('refuses a syslog server that is no host, and a severity outside 1-5', () => {
    expect(() => parseConfigText('[alerts.syslog]\nserver = "a b;c"')).toThrow(/alerts\.syslog\.server/);
    expect(() => parseConfigText('[alerts]\nmin_severity = 6')).toThrow(/alerts\.min_severity/);
  });
});

describe('[response]', () => {
  it('is off, with a dry run off, severity 4, an hour, inet nfwatch_filter nfwatch_block4/6, 10,000 at most, private ranges spared', () => {
    expect(parseConfigText('').response).toMatchObject({ enabled: false, dry_run: false, min_severity: 4, block_seconds: 3600, family: 'inet', table: 'nfwatch_filter', set_v4: 'nfwatch_block4', set_v6: 'nfwatch_block6', max_entries: 10_000, allow: [], block_private: false, nft_command: ['nft'] });
  });
  it('refuses allow entries that are no address or CIDR, sets a table family cannot hold, and names that nft would not take', () => {
    expect(() => parseConfigText('[response]\nallow = ["10.0.0.0/33"]')).toThrow(/response\.allow\[0\]: "10\.0\.0\.0\/33" is not an address or CIDR/);
    expect(() => parseConfigText('[response]\nfamily = "ip"')).toThrow(/response\.set_v6: a table of family "ip" holds no IPv6 set/);
    expect(parseConfigText('[response]\nfamily = "ip"\nset_v6 = ""').response.family).toBe('ip');
    expect(() => parseConfigText('[response]\ntable = "x; flush ruleset"')).toThrow(/response\.table/);
  });
  it('refuses blocking or alerting with the tracker off, which would silently do nothing', () => {
    expect(() => parseConfigText('[track]\nenabled = false\n[response]\nenabled = true')).toThrow(/response\.enabled: blocking acts on detected scans, which need track\.enabled = true/);
    expect(() => parseConfigText('[track]\nenabled = false\n[alerts.syslog]\nenabled = true')).toThrow(/alerts: alerts are on detected scans and campaigns, which need track\.enabled = true/);
  });
});

