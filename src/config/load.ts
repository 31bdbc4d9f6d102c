// Reads a TOML file, fills defaults from the schema, and refuses anything the schema does not
// allow with the key's path and what was expected.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseToml, TomlError, Value, ValueErrorType } from '../deps.js';
import { isLoopbackName, parseCidr } from '../util/ip.js';
import { ConfigSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(
    /** What is wrong as a whole ("invalid configuration"), or the one problem there is. */
    readonly summary: string,
    /** Each problem on its own, starting with the key it is about. */
    readonly problems: string[] = [],
  ) {
    // One problem fits on one line; several are listed under the summary.
    super(problems.length === 1 ? `${summary}: ${problems[0]}` : problems.length ? `${summary}\n  ${problems.join('\n  ')}` : summary);
    this.name = 'ConfigError';
  }

  /** The same problems, said of `origin` (the file they are in). */
  in(origin: string): ConfigError {
    return new ConfigError(`${origin}: ${this.summary}`, this.problems);
  }
}

/** Object keys that can be no setting and that JavaScript gives a meaning of its own. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** "/a/b" pointer segment for `key` (RFC 6901 escaping, undone by keyPath). */
const pointerPart = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** Every reserved key in a parsed document, by key path, before anything copies or merges it. */
function reservedKeys(value: unknown, pointer: string, out: string[]): string[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => reservedKeys(v, `${pointer}/${i}`, out));
  } else if (typeof value === 'object' && value !== null) {
    for (const key of Object.getOwnPropertyNames(value)) {
      const here = `${pointer}/${pointerPart(key)}`;
      if (RESERVED_KEYS.has(key)) out.push(`${keyPath(here)}: reserved key: "${key}" cannot be a setting (remove it)`);
      else reservedKeys((value as Record<string, unknown>)[key], here, out);
    }
  }
  return out;
}

/** A value as the problem list shows it: TOML's spelling for nan and ±inf (JSON would say null). */
function shown(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  return JSON.stringify(value) ?? String(value);
}

/** "/outputs/graphite/port" → "outputs.graphite.port", "/sources/file/0/path" → "sources.file[0].path" */
export function keyPath(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const name = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(name) ? `[${name}]` : out ? `.${name}` : name;
  }
  return out || '(top level)';
}

/** Validates a parsed document; returns the config with every default filled in. */
export function validateConfig(document: unknown): Config {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ConfigError('configuration must be a table of sections');
  }
  const reserved = reservedKeys(document, '', []);
  if (reserved.length) throw new ConfigError('invalid configuration', reserved);
  const input = structuredClone(document) as { sources?: { file?: unknown; socket?: unknown } };
  // The default file source stands in only when no source is configured at all.
  if (input.sources && typeof input.sources === 'object' && input.sources.socket !== undefined && input.sources.file === undefined) {
    input.sources.file = [];
  }
  const withDefaults = Value.Default(ConfigSchema, input);
  const problems: string[] = [];
  const seen = new Set<string>();
  /** Keys holding nan or ±inf, reported once whatever else the schema says about them. */
  const nonFinite = new Set<string>();
  for (const error of Value.Errors(ConfigSchema, withDefaults)) {
    if (error.type === ValueErrorType.ObjectAdditionalProperties) {
      const allowed = Object.keys((error.schema as { properties?: object }).properties ?? {});
      const line = `${keyPath(error.path)}: unknown key (allowed here: ${allowed.join(', ')})`;
      if (!seen.has(line)) problems.push(line), seen.add(line);
      continue;
    }
    const expected = describeExpected(error.schema);
    const range = expected ? ` (expected ${expected})` : '';
    const value = error.value as unknown;
    const wantsNumber = /^(an integer|a number)/.test(expected);
    if (typeof value === 'number' && !Number.isFinite(value) && wantsNumber) {
      // One line per key: the type error and any range errors about the same nan/inf are one problem.
      const line = `${keyPath(error.path)}: not a finite number${range}, got ${shown(value)}`;
      if (!nonFinite.has(error.path)) problems.push(line), nonFinite.add(error.path);
      continue;
    }
    const line = `${keyPath(error.path)}: ${error.message}${range}, got ${shown(value)}`;
    if (!seen.has(line) && !nonFinite.has(error.path)) problems.push(line), seen.add(line);
  }
  if (problems.length) throw new ConfigError('invalid configuration', problems);
  return finish(withDefaults as Config);
}

function describeExpected(schema: unknown): string {
  const s = schema as { type?: string; anyOf?: Array<{ const?: unknown }>; minimum?: number; maximum?: number; const?: unknown };
  if (s.anyOf && s.anyOf.every((o) => o.const !== undefined)) return s.anyOf.map((o) => JSON.stringify(o.const)).join(' | ');
  if (s.type === 'integer' || s.type === 'number') {
    const range = s.minimum !== undefined && s.maximum !== undefined ? ` from ${s.minimum} to ${s.maximum}` : '';
    return `${s.type === 'integer' ? 'an integer' : 'a number'}${range}`;
  }
  if (s.type) return `a ${s.type}`;
  return '';
}

/** Cross-field checks and derived values the schema cannot express. */
/** Why an alert webhook URL cannot be used, or null: http(s) only, and https beyond loopback. */
function webhookProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `"${parsed.protocol}" is not http: or https:`;
  if (parsed.protocol === 'http:' && !isLoopbackName(parsed.hostname)) return `plain http to ${parsed.hostname} would send alerts naming attackers and your hosts in the clear: use https://`;
  return null;
}

function finish(config: Config): Config {
  const problems: string[] = [];
  if (!config.general.hostname) config.general.hostname = hostname().split('.')[0] ?? 'localhost';
  const names = new Set<string>();
  const all = [
    ...config.sources.file.map((s, i) => [`sources.file[${i}]`, s.name] as const),
    ...config.sources.socket.map((s, i) => [`sources.socket[${i}]`, s.name] as const),
  ];
  for (const [path, name] of all) {
    if (names.has(name)) problems.push(`${path}.name: "${name}" is used by another source (names must be unique)`);
    names.add(name);
  }
  config.sources.socket.forEach((s, i) => {
    if (!s.unix_path && !s.tcp_port) problems.push(`sources.socket[${i}]: set unix_path and/or tcp_port`);
  });
  const graphite = config.outputs.graphite;
  const webhook = config.alerts.webhook.url;
  if (webhook !== '') {
    const problem = webhookProblem(webhook);
    if (problem !== null) problems.push(`alerts.webhook.url: ${problem}`);
  }
  const server = config.alerts.syslog.server;
  if (server !== '' && !/^[A-Za-z0-9.:[\]_-]+$/.test(server)) problems.push(`alerts.syslog.server: "${server}" is not a host or host:port`);
  // Alerts and blocks act on the tracker's detections: without it they would silently do nothing.
  if (!config.track.enabled) {
    if (config.response.enabled || config.response.dry_run) problems.push('response.enabled: blocking acts on detected scans, which need track.enabled = true');
    if (config.alerts.webhook.url !== '' || config.alerts.syslog.enabled || config.alerts.command.path !== '') problems.push('alerts: alerts are on detected scans and campaigns, which need track.enabled = true');
  }
  const lists = new Set<string>();
  config.lists.forEach((list, i) => {
    if (lists.has(list.name)) problems.push(`lists[${i}].name: "${list.name}" is used by another list (names must be unique)`);
    lists.add(list.name);
  });
  config.response.allow.forEach((text, i) => {
    if (parseCidr(text) === null) problems.push(`response.allow[${i}]: "${text}" is not an address or CIDR`);
  });
  if (config.response.family === 'ip' && config.response.set_v6 !== '') problems.push('response.set_v6: a table of family "ip" holds no IPv6 set; set it to "" or use family "inet"');
  if (config.response.family === 'ip6' && config.response.set_v4 !== '') problems.push('response.set_v4: a table of family "ip6" holds no IPv4 set; set it to "" or use family "inet"');
  if (graphite.reconnect_max_ms < graphite.reconnect_min_ms) {
    problems.push('outputs.graphite.reconnect_max_ms: must not be below reconnect_min_ms');
  }
  if (problems.length) throw new ConfigError('invalid configuration', problems);
  return config;
}

export function parseConfigText(text: string, origin = 'configuration'): Config {
  let document: unknown;
  try {
    document = parseToml(text);
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    const first = (err as Error).message.split('\n')[0];
    throw new ConfigError(`${origin}: not valid TOML${where}: ${first}`);
  }
  try {
    return validateConfig(document);
  } catch (err) {
    if (err instanceof ConfigError) throw err.in(origin);
    throw err;
  }
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseConfigText(text, path);
}
