// `npm run build`, after tsc: the daemon as three modules instead of ~1,100 files. Node 20 resolves,
// reads, compiles and links each module on its own, and that was most of a start's CPU:
// - dist/deps.js: the npm packages src/deps.ts re-exports (why: its header);
// - dist/daemon/main.js: src/main.ts and every module of the daemon's below it, which import
//   dist/deps.js. The command line (dist/cli.js) starts the daemon from it. It sits two levels
//   below the package root, as every module it holds does in dist/, so the paths they make from
//   their own URL (the pages, conf/, package.json, the AS table) are the same in it;
// - dist/daemon/worker.js: the history's writer thread (src/store/worker.ts and its modules),
//   which the daemon's history finds beside its own module.
// All are bundled from the sources, never from dist/, so running this twice gives the same files.
// Everything else in dist/ (replay, block, bench, demo) stays as tsc wrote it.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
};

// The packages. Left where they are: a native addon, and what fastify requires only when first
// needed (rather than parsed at every start: ~0.7 MB of 2 MB, ~0.03 s of CPU): the schema
// compilers (web/lazy-compilers.ts) and inject()'s light-my-request.
await build({
  ...common,
  entryPoints: [join(root, 'src', 'deps.ts')],
  outfile: join(dist, 'deps.js'),
  allowOverwrite: true,
  external: ['better-sqlite3', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', 'light-my-request'],
  // The CommonJS packages require Node's own modules; an ES module has no `require` of its own.
  banner: { js: "import { createRequire as nfwatchCreateRequire } from 'node:module';\nconst require = nfwatchCreateRequire(import.meta.url);" },
  // The packages' licence comments stay, at the end of the file.
  legalComments: 'eof',
});
// tsc's map is of the module it emitted, not of this file.
rmSync(join(dist, 'deps.js.map'), { force: true });

// The daemon's own modules, and its writer thread's; the packages stay in dist/deps.js, one level up.
for (const [entry, out] of [['main.ts', 'main.js'], ['store/worker.ts', 'worker.js']]) await build({
  ...common,
  entryPoints: [join(root, 'src', entry)],
  outfile: join(dist, 'daemon', out),
  // Like tsc's maps: they point at src/, without a copy of it.
  sourcemap: true,
  sourcesContent: false,
  external: ['better-sqlite3'],
  plugins: [
    {
      name: 'deps-module',
      setup(b) {
        b.onResolve({ filter: /(^|\/)deps\.js$/ }, () => ({ path: '../deps.js', external: true }));
      },
    },
  ],
});
