// Every npm package the daemon runs with, in one module. `npm run build` writes dist/deps.js as
// one file holding them all (scripts/bundle.mjs), so a start loads one module instead of
// ~1,000: Node 20 resolves, reads and links each ES module and CommonJS file on its own. Importing
// these packages (TypeBox alone is 266 files) took 0.63 s of CPU, 0.23 s from one file (the least
// of five runs; Node alone is 0.09). Under vitest this module is read as it is,
// straight from the packages.
//
// Left out: better-sqlite3, a native addon, imported where it is used (the history's writer
// thread must not load the rest); what fastify requires only when first needed, from the packages
// then (scripts/bundle.mjs). Types are imported from the packages directly.
export { Type } from '@sinclair/typebox';
export { Value, ValueErrorType } from '@sinclair/typebox/value';
export { parse as parseToml, stringify as stringifyToml, TomlError } from 'smol-toml';
export { default as Fastify } from 'fastify';
export { WebSocketServer, WebSocket } from 'ws';
export { Reader } from 'maxmind';
export { LRUCache } from 'lru-cache';
export { default as graphite } from 'graphite';
export { default as CarbonClient } from 'graphite/lib/CarbonClient.js';
export { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client';
