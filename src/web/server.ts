// Starts the web server: token and TLS files, the loopback-or-token rule, listen, and a close()
// that says goodbye to stream clients (1001) before closing the server.
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import { buildApp } from './app.js';
import type { WebDeps } from './deps.js';
import { parseIPv4, parseIPv6 } from './filter.js';
import type { LiveHub } from './stream.js';

export interface WebServer {
  /** Where it listens, e.g. "http://127.0.0.1:8080". */
  url: string;
  close(): Promise<void>;
}

/** Whether `host` only reaches this machine: 127.0.0.0/8, ::1 (also IPv4-mapped), localhost. */
export function isLoopback(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v4 = parseIPv4(h, 0, h.length);
  if (v4 >= 0) return v4 >>> 24 === 127;
  const g = new Uint16Array(8);
  if (h.includes('%') || !parseIPv6(h, g)) return false;
  const zeros = (n: number): boolean => g.subarray(0, n).every((x) => x === 0);
  if (zeros(7) && g[7] === 1) return true; // ::1
  return zeros(5) && g[5] === 0xffff && g[6]! >>> 8 === 127; // ::ffff:127.x.y.z
}

export async function startWeb(config: Config['web'], deps: WebDeps, hub: LiveHub): Promise<WebServer> {
  if (config.token !== '' && config.token_file !== '') throw new Error('web: set token or token_file, not both');
  let token = config.token;
  if (config.token_file !== '') {
    try {
      token = (await readFile(config.token_file, 'utf8')).trim();
    } catch (err) {
      throw new Error(`web: cannot read token_file ${config.token_file}: ${(err as Error).message}`);
    }
    if (token === '') throw new Error(`web: token_file ${config.token_file} is empty`);
  }
  if (token === '' && !isLoopback(config.host)) {
    throw new Error(
      `web: refusing to listen on ${config.host} without a token: the page shows firewall logs to anyone who can reach it. ` +
        'Set web.token or web.token_file (and preferably tls_cert/tls_key), or listen on 127.0.0.1.',
    );
  }
  if ((config.tls_cert === '') !== (config.tls_key === '')) throw new Error('web: tls_cert and tls_key go together: set both or neither');
  let https: { cert: Buffer; key: Buffer } | undefined;
  if (config.tls_cert !== '') {
    try {
      https = { cert: await readFile(config.tls_cert), key: await readFile(config.tls_key) };
    } catch (err) {
      throw new Error(`web: cannot read TLS files: ${(err as Error).message}`);
    }
  }

  const app = await buildApp({ ...deps, config }, hub, https === undefined ? { token } : { token, https });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `${https ? 'https' : 'http'}://${host}:${address.port}`;
  deps.logger.info(`web: listening on ${url}${token === '' ? '' : ' (token required)'}`);
  let closed: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closed ??= (async () => {
        await hub.close();
        await app.close();
      })()),
  };
}
