// `nfwatch block ADDR [--for DURATION] [--force]`, `nfwatch unblock ADDR`, `nfwatch blocked`: the
// block set by hand, straight through nft with [response]'s table and sets (the daemon need not
// run; the kernel's set is what both change). The allowlist applies unless --force.
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { protectedText } from './respond/allowlist.js';
import { blockTarget, parseDuration } from './respond/target.js';
import { errorText } from './util/errors.js';
import { responseParts } from './wire.js';

const USAGE = `Usage: nfwatch block ADDRESS [--for DURATION] [--force] [--config FILE]
       nfwatch unblock ADDRESS [--config FILE]
       nfwatch blocked [--json] [--config FILE]

ADDRESS is an IPv4 address, or an IPv6 address or network (2001:db8:1:2::/64). DURATION is
seconds or 90s, 10m, 2h, 1d (default: response.block_seconds). The table and sets are
[response]'s (family, table, set_v4, set_v6, nft_command); the allowlist (loopback, this host's
addresses, response.allow, private ranges unless response.block_private) applies unless --force.
Needs the rights nft needs (root or CAP_NET_ADMIN).
`;

export async function blockMain(command: 'block' | 'unblock' | 'blocked', argv: string[], defaultConfig: string): Promise<number> {
  let values: { config?: string; for?: string; force?: boolean; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, for: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    process.stderr.write(`nfwatch ${command}: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const wanted = command === 'blocked' ? 0 : 1;
  if (positionals.length !== wanted) {
    process.stderr.write(`nfwatch ${command}: ${wanted === 0 ? 'takes no address' : 'takes one address'}\n\n${USAGE}`);
    return 2;
  }
  try {
    const config = loadConfig(values.config ?? defaultConfig);
    const { set, allowlist } = responseParts(config.response);
    if (command === 'blocked') {
      const entries = await set.list();
      if (values.json) process.stdout.write(`${JSON.stringify(entries)}\n`);
      else if (entries.length === 0) process.stdout.write('nothing is blocked\n');
      else for (const e of entries) process.stdout.write(`${e.target}\t${e.expiresSeconds >= 0 ? `${e.expiresSeconds} s left` : 'no timeout'}\t${e.comment}\n`);
      return 0;
    }
    const target = blockTarget(positionals[0]!);
    if (target === null) {
      process.stderr.write(`nfwatch ${command}: "${positionals[0]}" is not an IPv4 address or an IPv6 address or network\n`);
      return 2;
    }
    if (command === 'unblock') {
      const removed = await set.remove(target);
      process.stdout.write(removed ? `unblocked ${target}\n` : `${target} was not blocked\n`);
      return 0;
    }
    const seconds = values.for === undefined ? config.response.block_seconds : parseDuration(values.for);
    if (seconds === null) {
      process.stderr.write(`nfwatch block: --for "${values.for}" is not a duration (seconds, or 90s, 10m, 2h, 1d; at most 365d)\n`);
      return 2;
    }
    const protectedBy = values.force ? null : allowlist.reason(target);
    if (protectedBy !== null) {
      process.stderr.write(`nfwatch block: ${target} is ${protectedText(protectedBy)}; not blocked (--force to override)\n`);
      return 1;
    }
    await set.add(target, seconds, 'nfwatch by hand');
    process.stdout.write(`blocked ${target} for ${seconds} s\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`nfwatch ${command}: ${errorText(err)}\n`);
    return 1;
  }
}
