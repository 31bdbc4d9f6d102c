// nfwatch's version (package.json), sent in the stream's `hello` frame.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// src/web/version.ts and dist/web/version.js both sit two levels below the package root.
export const NFWATCH_VERSION: string = (require('../../package.json') as { version: string }).version;
