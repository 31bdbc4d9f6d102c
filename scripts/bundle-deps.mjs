// `npm run build`, after tsc: dist/deps.js becomes one file holding the npm packages src/deps.ts
// re-exports (why: the header of src/deps.ts). Bundled from the source, never from dist/deps.js,
// so running it twice gives the same file.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'deps.js');

await build({
  entryPoints: [join(root, 'src', 'deps.ts')],
  outfile,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // A native addon (and src/deps.ts does not export it); then what fastify requires only when
  // first needed, left where it is rather than parsed at every start (~0.7 MB of the 2 MB, and
  // ~0.03 s of CPU): the schema compilers (web/lazy-compilers.ts) and inject()'s light-my-request.
  external: ['better-sqlite3', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', 'light-my-request'],
  // The CommonJS packages require Node's own modules; an ES module has no `require` of its own.
  banner: { js: "import { createRequire as nfwatchCreateRequire } from 'node:module';\nconst require = nfwatchCreateRequire(import.meta.url);" },
  // The packages' licence comments stay, at the end of the file.
  legalComments: 'eof',
  logLevel: 'warning',
});
// tsc's map is of the two-line module it emitted, not of this file.
rmSync(`${outfile}.map`, { force: true });
