// `npm start`'s prestart: runs tsc only when dist/ is older than the sources, so a start with
// nothing changed costs a directory walk (~0.1 s) instead of a full build.
// Stale means: no dist/.build-stamp, or a file under src/, tsconfig.json or package-lock.json
// newer than it. The stamp is written only after tsc succeeded.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');

function newest(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs; // a deleted or renamed file changes its directory
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const sources = Math.max(...['src', 'tsconfig.json', 'package-lock.json'].map((p) => newest(join(root, p))));
if (built > 0 && sources <= built) process.exit(0);
process.stderr.write('nfwatch: sources changed since the last build, building\n');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// What `npm run build` does after tsc: the daemon bundled (bundle.mjs), the AS table beside the code
// (ship-asn-table.mjs).
for (const script of ['bundle.mjs', 'ship-asn-table.mjs']) {
  const step = spawnSync(process.execPath, [join(root, 'scripts', script)], { stdio: 'inherit' });
  if (step.status !== 0) process.exit(step.status ?? 1);
}
writeFileSync(stamp, `${new Date().toISOString()}\n`);
