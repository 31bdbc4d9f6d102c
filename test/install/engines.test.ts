// Every package `npm ci` installs (each of the lockfile's) admits the Node versions package.json
// says nfwatch runs on. npm only warns about a dependency's `engines` ("EBADENGINE") and installs
// it anyway; such a package may then use what that Node lacks.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

type Version = readonly [number, number, number];

/** A version or partial version ("20", "20.19", "20.x", "20.19.0") → its parts (missing ones 0) and how many were given. */
function versionOf(text: string): { v: Version; given: number } | null {
  const parts = text.split('.');
  const numbers: number[] = [];
  for (const part of parts) {
    if (part === 'x' || part === '*') break;
    if (!/^\d+$/.test(part)) return null;
    numbers.push(Number(part));
  }
  if (numbers.length === 0 || numbers.length > 3) return null;
  return { v: [numbers[0]!, numbers[1] ?? 0, numbers[2] ?? 0], given: numbers.length };
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** The version just past a partial one's range ("20" → 21.0.0, "20.19" → 20.20.0). */
function pastPartial(v: Version, given: number): Version {
  return given === 1 ? [v[0] + 1, 0, 0] : [v[0], v[1] + 1, 0];
}

/** Whether `version` satisfies one comparator of an engines range; throws on a form not read here. */
function satisfiesComparator(version: Version, comparator: string): boolean {
  if (comparator === '*' || comparator === 'x' || comparator === '') return true;
  const match = /^(>=|<=|>|<|\^|~|=)?(.+)$/.exec(comparator)!;
  const op = match[1] ?? '=';
  const parsed = versionOf(match[2]!);
  if (parsed === null) throw new Error(`an engines comparator this spec does not read: "${comparator}"`);
  const { v, given } = parsed;
  const c = compare(version, v);
  switch (op) {
    case '>=':
      return c >= 0;
    case '>':
      return given === 3 ? c > 0 : compare(version, pastPartial(v, given)) >= 0;
    case '<=':
      return given === 3 ? c <= 0 : compare(version, pastPartial(v, given)) < 0;
    case '<':
      return c < 0;
    case '^':
      return c >= 0 && compare(version, v[0] > 0 ? [v[0] + 1, 0, 0] : [0, v[1] + 1, 0]) < 0;
    case '~':
      return c >= 0 && compare(version, given === 1 ? [v[0] + 1, 0, 0] : [v[0], v[1] + 1, 0]) < 0;
    default:
      return given === 3 ? c === 0 : c >= 0 && compare(version, pastPartial(v, given)) < 0;
  }
}

/** Whether `version` satisfies an engines range ("^20.19.0 || >=22.12.0", ">= 10.x", "20 || >=22"). */
function satisfies(version: Version, range: string): boolean {
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1')
      .split(/\s+/)
      .every((comparator) => satisfiesComparator(version, comparator)),
  );
}

const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('the Node versions of the installed packages', () => {
  it('reads engines ranges as npm does', () => {
    expect(satisfies([20, 19, 0], '>=20.19')).toBe(true);
    expect(satisfies([20, 18, 3], '>=20.19')).toBe(false);
    expect(satisfies([20, 19, 0], '>=22')).toBe(false);
    expect(satisfies([20, 19, 0], '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies([21, 0, 0], '^20.19.0 || >=22.12.0')).toBe(false);
    expect(satisfies([20, 20, 2], '20.x || 22.x')).toBe(true);
    expect(satisfies([23, 1, 0], '20 || >=22')).toBe(true);
    expect(satisfies([21, 1, 0], '20 || >=22')).toBe(false);
    expect(satisfies([20, 19, 0], '>= 10.x')).toBe(true);
    expect(satisfies([20, 19, 0], '*')).toBe(true);
    expect(satisfies([20, 19, 0], '>=18 <20')).toBe(false);
    expect(() => satisfies([20, 19, 0], '>=lts')).toThrow(/does not read/);
  });

  it('admit the oldest Node package.json names, and the Node running the tests', () => {
    const oldest = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(manifest.engines.node);
    expect(oldest, `package.json engines.node "${manifest.engines.node}" is ">=version"`).not.toBeNull();
    const running = versionOf(process.versions.node)!.v;
    const refusing: string[] = [];
    let ranges = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (path === '' || range === undefined) continue;
      ranges++;
      for (const node of [versionOf(oldest![1]!)!.v, running]) {
        if (!satisfies(node, range)) refusing.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} needs node ${range}, not ${node.join('.')}`);
      }
    }
    expect(ranges).toBeGreaterThan(50);
    expect(refusing).toEqual([]);
  });
});
