// `npm start`'s prestart (scripts/build-if-stale.mjs) on a copy of src/: it builds when dist/ is
// missing or older than a source, and does nothing, fast, when nothing changed.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'nfw-prestart-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function prestart(): { ms: number; built: boolean; status: number | null; output: string } {
  const t = Date.now();
  const r = spawnSync(process.execPath, [join(tmp, 'scripts', 'build-if-stale.mjs')], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
  return { ms: Date.now() - t, built: /sources changed since the last build, building/.test(r.stderr), status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('npm start does not rebuild a current dist/', () => {
  it('builds once, then starts without tsc until a source changes', () => {
    for (const p of ['src', 'scripts', 'tsconfig.json', 'package.json', 'package-lock.json']) cpSync(join(REPO, p), join(tmp, p), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(tmp, 'node_modules'));
    mkdirSync(join(tmp, 'dist'), { recursive: true });

    const first = prestart();
    expect(first.status, first.output).toBe(0);
    expect(first.built).toBe(true);
    expect(existsSync(join(tmp, 'dist', 'cli.js'))).toBe(true);
    expect(existsSync(join(tmp, 'dist', '.build-stamp'))).toBe(true);
    // The bundled AS data parsed once by the build, for the daemon's first start (ship-asn-table.mjs).
    expect(existsSync(join(tmp, 'dist', 'asn-bundled.table'))).toBe(true);
    // The daemon bundled, as the command line starts it (scripts/bundle.mjs).
    for (const bundle of ['deps.js', 'daemon/main.js', 'daemon/worker.js']) expect(existsSync(join(tmp, 'dist', bundle)), bundle).toBe(true);

    const again = prestart();
    expect(again.status, again.output).toBe(0);
    expect(again.built).toBe(false);
    expect(again.ms).toBeLessThan(3000);

    // A source newer than the stamp: built again.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(tmp, 'src', 'cli.ts'), later, later);
    const changed = prestart();
    expect(changed.status, changed.output).toBe(0);
    expect(changed.built).toBe(true);
    console.log(`prestart: first build ${first.ms} ms, unchanged ${again.ms} ms, after a change ${changed.ms} ms`);
  }, 150_000);
});
