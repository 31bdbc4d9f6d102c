// Starts the web server: token and TLS files, the loopback-or-token rule, listen, and a close()
// that says goodbye to stream clients (1001) before closing the server.
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { errorCode, errorText, SettingError } from '../util/errors.js';
import { buildApp } from './app.js';
import type { WebDeps } from './deps.js';
import { parseIPv4, parseIPv6 } from '../util/ip.js';
import type { LiveHub } from './stream.js';

export interface WebServer {
  /** Where it listens, e.g. "http://127.0.0.1:8733". */
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

/** What the [web] settings come to once their files are read: the token in force and the TLS pair. */
export interface WebAccess {
  /** '' when none: then the server listens on loopback only. */
  token: string;
  https?: { cert: Buffer; key: Buffer };
}

/** An OpenSSL message without its numeric prefix ("error:1E08010C:DECODER routines::unsupported"). */
function opensslText(err: unknown): string {
  return errorText(err).replace(/^error:[0-9A-F]+:/, '');
}

/**
 * Checks what [web] refers to and allows, reading token_file and the TLS files: one token source,
 * a readable non-empty token_file, no listener beyond loopback without a token, tls_cert and
 * tls_key both or neither, readable, usable and belonging together. The daemon and
 * `--check-config` both call this, so the check passes exactly what the daemon runs. Throws a
 * ConfigError with every problem, each naming its key.
 */
export async function webAccess(config: Config['web']): Promise<WebAccess> {
  const problems: string[] = [];
  let token = config.token;
  if (config.token !== '' && config.token_file !== '') {
    problems.push('web.token_file: set token or token_file, not both');
  } else if (config.token_file !== '') {
    try {
      token = (await readFile(config.token_file, 'utf8')).trim();
      if (token === '') problems.push(`web.token_file: ${config.token_file} is empty`);
    } catch (err) {
      problems.push(`web.token_file: cannot read ${config.token_file}: ${errorText(err)}`);
    }
  }
  if (config.token === '' && config.token_file === '' && !isLoopback(config.host)) {
    problems.push(
      `web.host: refusing to listen on ${config.host} without a token: the page shows firewall logs to anyone who can reach it. ` +
        'Set web.token or web.token_file (and preferably tls_cert/tls_key), or listen on 127.0.0.1',
    );
  }

  let https: WebAccess['https'];
  if ((config.tls_cert === '') !== (config.tls_key === '')) {
    problems.push(`${config.tls_cert === '' ? 'web.tls_cert' : 'web.tls_key'}: tls_cert and tls_key go together: set both or neither`);
  } else if (config.tls_cert !== '') {
    const read = async (setting: string, path: string): Promise<Buffer | undefined> => {
      try {
        return await readFile(path);
      } catch (err) {
        problems.push(`${setting}: cannot read ${path}: ${errorText(err)}`);
        return undefined;
      }
    };
    const cert = await read('web.tls_cert', config.tls_cert);
    const key = await read('web.tls_key', config.tls_key);
    // Each alone first, so a problem names the file that has it; then whether they belong together.
    let usable = cert !== undefined && key !== undefined;
    if (cert !== undefined) {
      try {
        createSecureContext({ cert });
      } catch (err) {
        problems.push(`web.tls_cert: ${config.tls_cert} holds no usable PEM certificate (${opensslText(err)})`);
        usable = false;
      }
    }
    if (key !== undefined) {
      try {
        createSecureContext({ key });
      } catch (err) {
        problems.push(`web.tls_key: ${config.tls_key} holds no usable PEM private key (${opensslText(err)})`);
        usable = false;
      }
    }
    if (usable && cert !== undefined && key !== undefined) {
      try {
        createSecureContext({ cert, key });
        https = { cert, key };
      } catch (err) {
        problems.push(`web.tls_key: the key in ${config.tls_key} does not belong to the certificate in ${config.tls_cert} (${opensslText(err)})`);
      }
    }
  }
  if (problems.length) throw new ConfigError('invalid configuration', problems);
  return https === undefined ? { token } : { token, https };
}

/** A failed listen() as the setting to change: the port in use or forbidden, the host not ours. */
function listenError(err: unknown, host: string, port: number): SettingError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (errorCode(err)) {
    case 'EADDRINUSE':
      return new SettingError('web.port', `cannot listen on ${where}: the address is already in use (another nfwatch or another program listens there); choose another [web] port`);
    case 'EACCES':
      return new SettingError('web.port', `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose a port above 1023`);
    case 'EADDRNOTAVAIL':
      return new SettingError('web.host', `cannot listen on ${where}: ${host} is not an address of this machine`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new SettingError('web.host', `cannot listen on ${host}: the name does not resolve to an address`);
    default:
      return new SettingError('web.host', `cannot listen on ${where}: ${errorText(err)}`);
  }
}

/**
 * Listens with the checked access (`webAccess(config)` when not given) and answers from `deps`.
 * A failed listen() is a SettingError naming web.port or web.host.
 */
export async function startWeb(config: Config['web'], deps: WebDeps, hub: LiveHub, access?: WebAccess): Promise<WebServer> {
  const { token, https } = access ?? (await webAccess(config));
  const app = await buildApp({ ...deps, config }, hub, https === undefined ? { token } : { token, https });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenError(err, config.host, config.port);
  }
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
