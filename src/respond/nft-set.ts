// The block sets in the kernel, changed and read through `nft -j`: nftables' JSON interface is
// libnftables' stable one, a batch is applied atomically, and nothing is parsed from or spliced
// into nft's text syntax (addresses are validated before they get here, and JSON carries them as
// values). There is no maintained netlink binding for nftables in Node; nft is the reference.
import { spawn } from 'node:child_process';

export interface NftSetOptions {
  /** The nft program and arguments before its own, e.g. ["nft"] or ["ip", "netns", "exec", "fw", "nft"]. */
  command: readonly string[];
  family: 'inet' | 'ip' | 'ip6';
  table: string;
  /** '' : that family is not blocked. */
  setV4: string;
  setV6: string;
  timeoutMs?: number;
}

/** One element of a block set: an IPv4 address or an IPv6 network ("2001:db8:1:2::/64") or address. */
export interface BlockEntry {
  target: string;
  /** Seconds left, as the kernel says. */
  expiresSeconds: number;
  comment: string;
}

type NftValue = string | { prefix: { addr: string; len: number } };

/** nft's JSON for a target: an address, or a prefix for a network. */
function nftValue(target: string): NftValue {
  const slash = target.indexOf('/');
  if (slash < 0) return target;
  return { prefix: { addr: target.slice(0, slash), len: Number(target.slice(slash + 1)) } };
}

function targetOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'prefix' in value) {
    const p = (value as { prefix: { addr?: unknown; len?: unknown } }).prefix;
    if (typeof p.addr === 'string' && typeof p.len === 'number') return `${p.addr}/${p.len}`;
  }
  return null;
}

export class NftBlockSet {
  constructor(private readonly options: NftSetOptions) {}

  /** The set a target goes in, or '' when its family is not blocked. */
  setFor(target: string): string {
    return target.includes(':') ? this.options.setV6 : this.options.setV4;
  }

  /** Adds (or renews: the timeout starts again) a block of `seconds`. */
  async add(target: string, seconds: number, comment: string): Promise<void> {
    const elem = { elem: { val: nftValue(target), timeout: Math.max(1, Math.round(seconds)), comment: comment.slice(0, 120) } };
    await this.batch([{ add: { element: this.set(target, [elem]) } }]);
  }

  /** Removes a block; false when it was not there. */
  async remove(target: string): Promise<boolean> {
    try {
      await this.batch([{ delete: { element: this.set(target, [nftValue(target)]) } }]);
      return true;
    } catch (err) {
      if (/No such file or directory|does not exist/i.test((err as Error).message)) return false;
      throw err;
    }
  }

  /** What the sets hold now. */
  async list(): Promise<BlockEntry[]> {
    const out: BlockEntry[] = [];
    for (const name of [this.options.setV4, this.options.setV6]) {
      if (name === '') continue;
      const text = await this.run(['-j', 'list', 'set', this.options.family, this.options.table, name]);
      const parsed = JSON.parse(text) as { nftables?: Array<{ set?: { elem?: unknown[] } }> };
      for (const item of parsed.nftables ?? []) {
        for (const e of item.set?.elem ?? []) {
          const inner = (typeof e === 'object' && e !== null && 'elem' in e ? (e as { elem: Record<string, unknown> }).elem : { val: e }) as Record<string, unknown>;
          const target = targetOf(inner['val']);
          if (target === null) continue;
          out.push({ target, expiresSeconds: typeof inner['expires'] === 'number' ? inner['expires'] : -1, comment: typeof inner['comment'] === 'string' ? inner['comment'] : '' });
        }
      }
    }
    return out;
  }

  private set(target: string, elem: unknown[]): Record<string, unknown> {
    const name = this.setFor(target);
    if (name === '') throw new Error(`${target.includes(':') ? 'IPv6' : 'IPv4'} sources are not blocked (response.set_v${target.includes(':') ? 6 : 4} is empty)`);
    return { family: this.options.family, table: this.options.table, name, elem };
  }

  /** One atomic batch, given to nft as its JSON argument (with `-f -` nft would open /dev/stdin, which a socket pair is not). */
  private async batch(commands: unknown[]): Promise<void> {
    await this.run(['-j', JSON.stringify({ nftables: commands })]);
  }

  private run(args: string[]): Promise<string> {
    const [program, ...before] = this.options.command;
    return new Promise((resolve, reject) => {
      const child = spawn(program!, [...before, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: this.options.timeoutMs ?? 10_000, killSignal: 'SIGKILL' });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 2000) stderr += d.toString();
      });
      child.on('error', (err) => reject(new Error(`${program}: ${err.message}`)));
      child.on('close', (code, signal) => {
        if (code === 0) resolve(stdout);
        else reject(new Error(`${this.options.command.join(' ')} ${args[1]?.startsWith('{') ? '-j <batch>' : args.join(' ')} exited ${signal ?? code}: ${stderr.trim().split('\n').filter((l) => l.trim() !== '' && !/^\s*\^+\s*$/.test(l)).slice(-2).join(' ')}`));
      });
    });
  }
}
