// Generates the configuration reference (README) and the documented example (conf/nfwatch.toml)
// from the schema, so neither can drift from what the daemon accepts. `npm run docs:config`
// rewrites both; a test fails when either is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringifyToml } from '../deps.js';
import { ConfigSchema } from './schema.js';

interface Node {
  type?: string;
  description?: string;
  default?: unknown;
  examples?: unknown[];
  properties?: Record<string, Node>;
  items?: Node;
  anyOf?: Node[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
}

const root = ConfigSchema as unknown as Node;

function typeOf(node: Node): string {
  if (node.anyOf) return node.anyOf.map((n) => JSON.stringify(n.const)).join(' \\| ');
  if (node.type === 'array') return `array of ${node.items?.properties ? 'tables' : typeOf(node.items ?? {})}`;
  const range = node.minimum !== undefined && node.maximum !== undefined ? ` ${node.minimum}–${node.maximum}` : '';
  return `${node.type ?? 'value'}${range}`;
}

function tomlValue(value: unknown): string {
  // smol-toml stringifies tables; wrap and unwrap to format a single value.
  const text = stringifyToml({ v: value }).trim();
  return text.slice(text.indexOf('=') + 1).trim();
}

/** Rows of the reference: [key path, type, default, description]. */
function rows(node: Node, path: string, out: string[][]): string[][] {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const here = path ? `${path}.${key}` : key;
    if (child.type === 'object') {
      rows(child, here, out);
    } else if (child.type === 'array' && child.items?.properties) {
      out.push([here, 'array of tables', '`' + JSON.stringify(child.default) + '`', child.description ?? '']);
      rows(child.items, `${here}[]`, out);
    } else {
      const def = child.default === undefined ? '(required)' : '`' + tomlValue(child.default) + '`';
      out.push([here, typeOf(child), def, child.description ?? '']);
    }
  }
  return out;
}

export function referenceMarkdown(): string {
  const lines = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  for (const [key = '', type = '', def = '', description = ''] of rows(root, '', [])) {
    lines.push(`| \`${key}\` | ${type} | ${def.replace(/\|/g, '\\|')} | ${description.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n');
}

function wrap(text: string, prefix: string, width = 100): string[] {
  const out: string[] = [];
  let line = prefix;
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > width && line !== prefix) {
      out.push(line);
      line = prefix;
    }
    line += (line === prefix ? '' : ' ') + word;
  }
  if (line !== prefix) out.push(line);
  return out;
}

/** Writes one table's scalar keys: the example value where the schema gives one, else the default. */
function tableBody(node: Node, out: string[], element?: Record<string, unknown>): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (child.type === 'object' || (child.type === 'array' && child.items?.properties)) continue;
    out.push(...wrap(child.description ?? '', '# '));
    if (element && element[key] !== undefined) {
      out.push(`${key} = ${tomlValue(element[key])}`);
    } else if (child.examples?.length) {
      out.push(`# default: ${tomlValue(child.default)}`);
      out.push(`${key} = ${tomlValue(child.examples[0])}`);
    } else if (child.default !== undefined) {
      out.push(`${key} = ${tomlValue(child.default)}`);
    }
    out.push('');
  }
}

function tables(node: Node, path: string, out: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const here = path ? `${path}.${key}` : key;
    if (child.type === 'object') {
      const scalars = Object.values(child.properties ?? {}).some((c) => c.type !== 'object' && !(c.type === 'array' && c.items?.properties));
      if (scalars) {
        out.push(`[${here}]`);
        if (child.description) out.push(...wrap(child.description, '# '));
        tableBody(child, out);
      }
      tables(child, here, out);
    } else if (child.type === 'array' && child.items?.properties) {
      out.push(...wrap(child.description ?? '', '# '));
      const examples = (child.examples?.[0] ?? child.default) as Array<Record<string, unknown>>;
      if (!examples.length) {
        out.push(`# [[${here}]]  (none by default; keys:)`);
        const commented: string[] = [];
        tableBody(child.items, commented);
        out.push(...commented.map((l) => (l && !l.startsWith('#') ? `# ${l}` : l)));
      }
      for (const element of examples) {
        out.push(`[[${here}]]`);
        tableBody(child.items, out, element);
      }
    }
  }
}

export function exampleToml(): string {
  const out = [
    '# nfwatch configuration. Generated from src/config/schema.ts by `npm run docs:config`:',
    '# every key with its meaning and default. Values that differ from the default are marked.',
    '# Install it as /etc/nfwatch/nfwatch.toml (the path nfwatch reads without --config); every path',
    '# in it is absolute, for the systemd unit in conf/systemd/. From a checkout, `npm start` uses',
    '# conf/checkout.toml instead.',
    '',
  ];
  tables(root, '', out);
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}

const START = '<!-- config-reference:start (generated by npm run docs:config) -->';
const END = '<!-- config-reference:end -->';

export function spliceReference(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error('README.md has no config reference markers');
  return `${readme.slice(0, a + START.length)}\n${referenceMarkdown()}\n${readme.slice(b)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) {
  const readmePath = new URL('../../README.md', import.meta.url);
  writeFileSync(readmePath, spliceReference(readFileSync(readmePath, 'utf8')));
  writeFileSync(new URL('../../conf/nfwatch.toml', import.meta.url), exampleToml());
  process.stdout.write('README.md config reference and conf/nfwatch.toml regenerated\n');
}
