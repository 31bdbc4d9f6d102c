// The build's dist/deps.js: the packages the daemon runs with, as one module (src/deps.ts says why).
import { readFileSync, readdirSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as fromSource from '../src/deps.js';

const DIST = new URL('../dist/', import.meta.url).pathname;

function builtDeps(): string {
  try {
    return readFileSync(join(DIST, 'deps.js'), 'utf8');
  } catch {
    throw new Error(`${DIST}deps.js is missing: npm run build (npm test builds first)`);
  }
}

/** The specifiers of a module's static imports and re-exports. */
function importsOf(code: string): string[] {
  return [...code.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm)].map((m) => (m[1] ?? m[2])!);
}

function modulesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => join(e.parentPath, e.name));
}

describe('dist/deps.js', () => {
  it('holds its packages in itself: it imports only modules of Node', () => {
    const imports = importsOf(builtDeps());
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((s) => !isBuiltin(s))).toEqual([]);
  });

  it('exports what src/deps.ts exports, each the same kind of value', async () => {
    const built = (await import(join(DIST, 'deps.js'))) as Record<string, unknown>;
    const kinds = (m: Record<string, unknown>) => Object.fromEntries(Object.keys(m).sort().map((k) => [k, typeof m[k]]));
    expect(kinds(built)).toEqual(kinds(fromSource as Record<string, unknown>));
    expect(Object.keys(built).length).toBeGreaterThan(10);
  });

  it('is how the daemon reaches its packages: no other module of it imports one, but better-sqlite3 (a native addon)', () => {
    const direct: string[] = [];
    for (const file of modulesUnder(DIST)) {
      const name = relative(DIST, file);
      // The bench and the demo are tools of the checkout, not the daemon.
      if (name === 'deps.js' || name.startsWith('bench/') || name.startsWith('demo/')) continue;
      for (const s of importsOf(readFileSync(file, 'utf8'))) {
        if (!s.startsWith('.') && !isBuiltin(s) && s !== 'better-sqlite3') direct.push(`${name}: ${s}`);
      }
    }
    expect(direct).toEqual([]);
  });
});
