// The scan-watch page's static files: a fixed list of routes, each bound to one file read once at
// registration. Nothing from the request is ever used to open a file (no wildcard route, no
// directory listing), so there is nothing to traverse.
//
// The page lives in src/web/public/ and is served from there both when running from src (vitest)
// and from dist/ (the daemon): this module is src/web/static.ts or dist/web/static.js, two levels
// below the package root either way. uPlot is served from its npm package.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The page's directory: <package root>/src/web/public/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../src/web/public/', import.meta.url));

interface StaticFile {
  route: string;
  /** Absolute path of the file. */
  path: string;
  type: string;
}

function staticFiles(): StaticFile[] {
  const require = createRequire(import.meta.url);
  return [
    { route: '/', path: `${PUBLIC_DIR}index.html`, type: 'text/html; charset=utf-8' },
    { route: '/app.js', path: `${PUBLIC_DIR}app.js`, type: 'text/javascript; charset=utf-8' },
    { route: '/style.css', path: `${PUBLIC_DIR}style.css`, type: 'text/css; charset=utf-8' },
    { route: '/favicon.svg', path: `${PUBLIC_DIR}favicon.svg`, type: 'image/svg+xml' },
    { route: '/vendor/uPlot.esm.js', path: require.resolve('uplot/dist/uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
    { route: '/vendor/uPlot.min.css', path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  ];
}

/**
 * Registers GET (and HEAD) routes for the page's files, read now: a missing file fails here, at
 * start, not on the first request. Security headers (CSP, token) are the app's hooks' business.
 */
export function registerStatic(app: FastifyInstance): void {
  for (const file of staticFiles()) {
    const body = readFileSync(file.path);
    app.get(file.route, (_request, reply) => {
      // The page changes only with an upgrade; revalidate so an upgrade is seen at once.
      void reply.header('content-type', file.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body);
    });
  }
}
