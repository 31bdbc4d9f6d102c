// The build's bundles (scripts/bundle.mjs): dist/deps.js, the npm packages the daemon runs with,
// dist/daemon/main.js, the daemon's own modules, which the command line starts it from, and
// dist/daemon/worker.js, its history's writer thread.
import { readFileSync, readdirSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as depsFromSource from '../src/deps.js';
import * as mainFromSource from '../src/main.js';
import { REPO_ROOT } from './e2e/lab.js';
import { freePort, startNfwatch, tempDir, webOnlyConfig } from './faults/harness.js';

const DIST = join(REPO_ROOT, 'dist');

function built(name: string): string {
  try {
    return readFileSync(join(DIST, name), 'utf8');
  } catch {
    throw new Error(`${join(DIST, name)} is missing: npm run build (npm test builds first)`);
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

/** Export names and what kind of value each is. */
function kinds(m: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, typeof m[k]]));
}

describe('dist/deps.js', () => {
  it('holds its packages in itself: it imports only modules of Node', () => {
    const imports = importsOf(built('deps.js'));
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((s) => !isBuiltin(s))).toEqual([]);
  });

  it('exports what src/deps.ts exports, each the same kind of value', async () => {
    const bundle = (await import(join(DIST, 'deps.js'))) as Record<string, unknown>;
    expect(kinds(bundle)).toEqual(kinds(depsFromSource as Record<string, unknown>));
    expect(Object.keys(bundle).length).toBeGreaterThan(10);
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

describe('dist/daemon/main.js', () => {
  const scratch = tempDir('nfw-bundle-');
  afterAll(() => scratch.remove());

  it('holds the daemon’s modules in itself: it imports only modules of Node and ../deps.js', () => {
    const imports = importsOf(built('daemon/main.js'));
    expect(imports).toContain('../deps.js');
    expect(imports.filter((s) => !isBuiltin(s) && s !== '../deps.js')).toEqual([]);
    // The command line starts the daemon from it.
    expect(built('cli.js')).toContain("'./daemon/main.js'");
  });

  it('has the history’s writer thread beside it, dist/daemon/worker.js, which loads only Node’s modules and better-sqlite3', () => {
    const imports = importsOf(built('daemon/worker.js'));
    expect(imports).toContain('better-sqlite3');
    expect(imports.filter((s) => !isBuiltin(s) && s !== 'better-sqlite3')).toEqual([]);
  });

  it('exports what src/main.ts exports, each the same kind of value', async () => {
    const bundle = (await import(join(DIST, 'daemon', 'main.js'))) as Record<string, unknown>;
    expect(kinds(bundle)).toEqual(kinds(mainFromSource as Record<string, unknown>));
    expect(bundle['runDaemon']).toBeTypeOf('function');
  });

  it('finds what its modules read beside them: the pages, conf/signatures.toml, the build’s AS table, the history’s writer thread', async () => {
    const port = await freePort();
    // It does not start without the signatures; the rest it says it found, or warns.
    const daemon = await startNfwatch(scratch.dir, webOnlyConfig(scratch.dir, port));
    try {
      for (const path of ['/', '/app.js', '/vendor/country-codes.json']) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).toBe(200);
      const log = daemon.log();
      expect(log).toContain(`kept parsed in ${join(DIST, 'asn-bundled.table')}`);
      expect(log).toMatch(/history in .*history\.sqlite/);
      expect(log).not.toMatch(/ (warn|error) /);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });
});
