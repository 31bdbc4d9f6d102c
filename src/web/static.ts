// The pages' static files: a fixed list of routes, each bound to one file read once at
// registration. Nothing from the request is ever used to open a file (no wildcard route, no
// directory listing), so there is nothing to traverse.
//
// The pages live in src/web/public/ and are served from there both when running from src (vitest)
// and from dist/ (the daemon): this module is src/web/static.ts or dist/web/static.js, two levels
// below the package root either way. uPlot, d3-geo (with d3-array), topojson-client and the
// world-atlas shapes are served from their npm packages: nothing comes from a CDN.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { countryCodesJson } from './countries.js';

/** The page's directory: <package root>/src/web/public/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../src/web/public/', import.meta.url));

interface StaticFile {
  route: string;
  /** Absolute path of the file, or the body itself when it is made here. */
  path: string | { body: string };
  type: string;
}

const JS = 'text/javascript; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

function staticFiles(): StaticFile[] {
  const require = createRequire(import.meta.url);
  // d3's packages export only their ES modules ("umd" is a condition require() does not take):
  // the UMD builds sit beside them in dist/. d3-array is d3-geo's own, resolved from d3-geo.
  const d3geo = require.resolve('d3-geo');
  const d3array = createRequire(d3geo).resolve('d3-array');
  return [
    { route: '/', path: `${PUBLIC_DIR}index.html`, type: 'text/html; charset=utf-8' },
    { route: '/app.js', path: `${PUBLIC_DIR}app.js`, type: JS },
    { route: '/investigate', path: `${PUBLIC_DIR}investigate.html`, type: 'text/html; charset=utf-8' },
    { route: '/investigate.js', path: `${PUBLIC_DIR}investigate.js`, type: JS },
    { route: '/map.js', path: `${PUBLIC_DIR}map.js`, type: JS },
    { route: '/page.js', path: `${PUBLIC_DIR}page.js`, type: JS },
    { route: '/style.css', path: `${PUBLIC_DIR}style.css`, type: 'text/css; charset=utf-8' },
    { route: '/favicon.svg', path: `${PUBLIC_DIR}favicon.svg`, type: 'image/svg+xml' },
    { route: '/vendor/uPlot.esm.js', path: require.resolve('uplot/dist/uPlot.esm.js'), type: JS },
    { route: '/vendor/uPlot.min.css', path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
    // Classic scripts: they define the globals d3 and topojson that map.js uses (the CSP allows
    // no import map, so their ES modules, which import each other by bare name, cannot load).
    { route: '/vendor/d3-array.min.js', path: join(dirname(d3array), 'd3-array.min.js'), type: JS },
    { route: '/vendor/d3-geo.min.js', path: join(dirname(d3geo), 'd3-geo.min.js'), type: JS },
    { route: '/vendor/topojson-client.min.js', path: require.resolve('topojson-client/dist/topojson-client.min.js'), type: JS },
    // Natural Earth shapes: 110m (108 KB) for the live page's small map, 50m (740 KB, small
    // countries such as Singapore and Hong Kong included) for the investigate page's.
    { route: '/vendor/countries-110m.json', path: require.resolve('world-atlas/countries-110m.json'), type: JSON_TYPE },
    { route: '/vendor/countries-50m.json', path: require.resolve('world-atlas/countries-50m.json'), type: JSON_TYPE },
    { route: '/vendor/country-codes.json', path: { body: countryCodesJson() }, type: JSON_TYPE },
  ];
}

/**
 * Registers GET (and HEAD) routes for the page's files, read now: a missing file fails here, at
 * start, not on the first request. Security headers (CSP, token) are the app's hooks' business.
 */
export function registerStatic(app: FastifyInstance): void {
  for (const file of staticFiles()) {
    const body = typeof file.path === 'string' ? readFileSync(file.path) : Buffer.from(file.path.body, 'utf8');
    // The files change only with an upgrade; the page revalidates (no-cache) and the ETag makes
    // that a 304, so the map's shapes are not sent again on every load.
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    app.get(file.route, (request, reply) => {
      void reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').header('etag', etag);
      if (request.headers['if-none-match'] === etag) return void reply.code(304).send();
      void reply.header('content-type', file.type).send(body);
    });
  }
}
