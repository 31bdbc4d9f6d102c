// Who is never blocked: loopback, this host's own addresses, the configured addresses and CIDRs,
// and (unless block_private) private and special ranges. Pure given its inputs.
import { classifyIp } from '../enrich/ip-ranges.js';
import { cidrMatcher, parseCidr } from '../util/ip.js';

export interface AllowlistOptions {
  /** Addresses and CIDRs from response.allow (validated by the config). */
  allow: readonly string[];
  blockPrivate: boolean;
  /** This host's own addresses (os.networkInterfaces()). */
  ownAddresses: readonly string[];
}

/** Why a target must not be blocked, or null when it may be. A target is an address or an IPv6 network "a::/64". */
export type AllowReason = 'loopback' | 'own address' | 'allowlisted' | 'private' | null;

/** Why a target is protected, as a log line or an error says it: "… is in response.allow". */
export function protectedText(reason: Exclude<AllowReason, null>): string {
  switch (reason) {
    case 'allowlisted':
      return 'in response.allow';
    case 'own address':
      return "this host's own address";
    case 'loopback':
      return 'a loopback address';
    case 'private':
      return 'a private address';
  }
}

export class Allowlist {
  private readonly matchers: Array<(address: string) => boolean>;
  private readonly own: Set<string>;

  constructor(private readonly options: AllowlistOptions) {
    this.matchers = options.allow.flatMap((text) => {
      const cidr = parseCidr(text);
      return cidr === null ? [] : [cidrMatcher(cidr)];
    });
    this.own = new Set(options.ownAddresses.map((a) => a.toLowerCase()));
  }

  /** Why `target` (an address, or an IPv6 network as the tracker names it) may not be blocked; null: it may. */
  reason(target: string): AllowReason {
    const slash = target.indexOf('/');
    const address = slash < 0 ? target : target.slice(0, slash);
    if (address === '::1' || /^127\./.test(address) || address === '::ffff:127.0.0.1') return 'loopback';
    if (this.own.has(address.toLowerCase())) return 'own address';
    // A network is allowed when any own address falls in it: blocking it would block this host.
    if (slash >= 0) {
      const net = parseCidr(target);
      if (net !== null) {
        const inNet = cidrMatcher(net);
        for (const own of this.own) if (inNet(own)) return 'own address';
      }
    }
    if (this.matchers.some((m) => m(address))) return 'allowlisted';
    if (!this.options.blockPrivate) {
      const label = classifyIp(address);
      if (label === 'private' || label === 'reserved') return 'private';
    }
    return null;
  }
}
