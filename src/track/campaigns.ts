// Campaigns: sources that send SYNs with the same fingerprint to the same set of target ports within
// a window — many scanning hosts running one tool, like the win=16384, sport 6000 SSH scanner seen
// from hundreds of addresses. A campaign is keyed by "<fingerprint key>|<sorted ports>"; a source
// joins one campaign per fingerprint it shows and moves when its port set grows.
// Bounded: at most maxCampaigns groups (LRU), campaignMaxListed addresses listed per campaign (the
// total goes on), 16 source ports counted per campaign.
import { LRUCache } from 'lru-cache';
import type { PacketEvent } from '../pipeline/types.js';
import type { TrackOptions } from './options.js';
import type { SourceState } from './sources.js';

/** Distinct source ports counted per campaign; more are summed as "other". */
const MAX_SPORTS = 16;

/** A source's membership for one fingerprint (kept on the SourceState). */
export interface CampaignLink {
  fingerprint: string;
  /** Sorted target ports this source sent SYNs with this fingerprint to; more than campaignMaxPorts + 1 are not kept. */
  ports: readonly number[];
  /** Campaign key and the id of the campaign instance joined (0: none). */
  key: string;
  campaignId: number;
  /** What this source contributed, to take it back when it moves. */
  country: string;
  sport: number;
  lastSeen: number;
}

/**
 * A group of sources. Most groups of a flood of random fingerprints never get a second source, so
 * the first member is held in plain fields and the maps are made only when a second one joins.
 */
export class Campaign {
  readonly id: number;
  readonly key: string;
  readonly fingerprint: string;
  /** Target ports (sorted); empty when `manyPorts`. */
  readonly ports: readonly number[];
  readonly manyPorts: boolean;
  firstSeen: number;
  lastSeen: number;
  /** Sources that joined and did not move on (total, listed or not). */
  sources = 0;
  /** The sole member while there is at most one ('' none) and the maps are not made. */
  private soleAddress = '';
  private soleTime = 0;
  private soleCountry = '';
  private soleSport = 0;
  /** Up to campaignMaxListed addresses → last SYN time; sources by country and by source port (null while one member). */
  private listed: Map<string, number> | null = null;
  private countries: Map<string, number> | null = null;
  private sourcePorts: Map<number, number> | null = null;
  otherSourcePorts = 0;
  /** SYNs seen from members. */
  syns = 0;
  os = '';
  tool = '';

  constructor(id: number, key: string, fingerprint: string, ports: readonly number[], manyPorts: boolean, time: number) {
    this.id = id;
    this.key = key;
    this.fingerprint = fingerprint;
    this.ports = ports;
    this.manyPorts = manyPorts;
    this.firstSeen = time;
    this.lastSeen = time;
  }

  /** Counts a source in; lists it while fewer than `maxListed` are. */
  join(address: string, time: number, country: string, sport: number, maxListed: number): void {
    this.sources++;
    if (this.listed === null && this.sources === 1) {
      this.soleAddress = address;
      this.soleTime = time;
      this.soleCountry = country;
      this.soleSport = sport;
      return;
    }
    const listed = this.maps();
    if (listed.size < maxListed) listed.set(address, time);
    bump(this.countries!, country, 1);
    const sourcePorts = this.sourcePorts!;
    if (sourcePorts.has(sport) || sourcePorts.size < MAX_SPORTS) bump(sourcePorts, sport, 1);
    else this.otherSourcePorts++;
  }

  /** Takes a member's contribution back. */
  leave(address: string, country: string, sport: number): void {
    this.sources--;
    if (this.listed === null) {
      if (this.soleAddress === address) this.soleAddress = '';
      return;
    }
    this.listed.delete(address);
    bump(this.countries!, country, -1);
    if (this.sourcePorts!.has(sport)) bump(this.sourcePorts!, sport, -1);
    else if (this.otherSourcePorts > 0) this.otherSourcePorts--;
  }

  /** A listed member's newest SYN time. */
  seen(address: string, time: number): void {
    if (this.listed === null) {
      if (this.soleAddress === address) this.soleTime = time;
    } else if (this.listed.has(address)) this.listed.set(address, time);
  }

  /** Listed addresses, first joined first. */
  addresses(): string[] {
    if (this.listed === null) return this.soleAddress === '' ? [] : [this.soleAddress];
    return [...this.listed.keys()];
  }

  countryCounts(): Array<[string, number]> {
    if (this.countries === null) return this.soleAddress === '' ? [] : [[this.soleCountry, 1]];
    return [...this.countries];
  }

  sourcePortCounts(): Array<[number, number]> {
    if (this.sourcePorts === null) return this.soleAddress === '' ? [] : [[this.soleSport, 1]];
    return [...this.sourcePorts];
  }

  /** The maps, made on the second member with the sole one moved in. */
  private maps(): Map<string, number> {
    if (this.listed !== null) return this.listed;
    const listed = (this.listed = new Map<string, number>());
    this.countries = new Map<string, number>();
    this.sourcePorts = new Map<number, number>();
    if (this.soleAddress !== '') {
      listed.set(this.soleAddress, this.soleTime);
      this.countries.set(this.soleCountry, 1);
      this.sourcePorts.set(this.soleSport, 1);
      this.soleAddress = '';
    }
    return listed;
  }
}

function bump<K>(map: Map<K, number>, key: K, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

/** A link's ports before its first SYN: shared, never written (a link's ports are replaced, not changed). */
export const NO_PORTS: readonly number[] = Object.freeze([]);

/**
 * The sorted list with `port` inserted, as a new array of exactly the needed length (a list that
 * grows in place takes 17 slots for one port, and a flood's sources each keep one); null when the
 * port is present or the list is already past `max`.
 */
function withPort(ports: readonly number[], port: number, max: number): number[] | null {
  let i = 0;
  while (i < ports.length && (ports[i] ?? 0) < port) i++;
  if (ports[i] === port || ports.length > max) return null;
  const out = new Array<number>(ports.length + 1);
  for (let j = 0; j < i; j++) out[j] = ports[j]!;
  out[i] = port;
  for (let j = i; j < ports.length; j++) out[j + 1] = ports[j]!;
  return out;
}

export class CampaignTable {
  readonly options: TrackOptions;
  /** Campaigns dropped to stay under maxCampaigns (cumulative). */
  evicted = 0;
  private readonly cache: LRUCache<string, Campaign>;
  private nextId = 1;

  constructor(options: TrackOptions) {
    this.options = options;
    this.cache = new LRUCache<string, Campaign>({
      max: options.maxCampaigns,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.evicted++;
      },
    });
  }

  /** Groups held, reported or not. */
  get size(): number {
    return this.cache.size;
  }

  /** Most recently active first. */
  values(): IterableIterator<Campaign> {
    return this.cache.values();
  }

  /** Whether a group has enough sources to be reported. */
  active(c: Campaign): boolean {
    return c.sources >= this.options.campaignMinSources;
  }

  /** Counts one fingerprinted SYN (event.fingerprint set) of source `s`. */
  observe(s: SourceState, e: PacketEvent): void {
    const fp = e.fingerprint;
    if (fp === null || e.dstPort < 0) return;
    const o = this.options;
    const time = e.time;
    const first = s.firstLink;
    let link: CampaignLink | undefined;
    if (first.fingerprint === fp.key) link = first;
    else if (s.links !== null) {
      const links = s.links;
      for (let i = 0; i < links.length; i++) {
        if (links[i]!.fingerprint === fp.key) {
          link = links[i];
          break;
        }
      }
    }
    if (link === undefined) {
      if (first.fingerprint === '') {
        // The source's first fingerprint: its own link object, nothing allocated.
        link = first;
        link.fingerprint = fp.key;
        link.ports = NO_PORTS;
        link.key = '';
        link.campaignId = 0;
        link.country = '';
        link.sport = e.srcPort;
        link.lastSeen = time;
      } else {
        if (1 + (s.links?.length ?? 0) >= o.maxLabels) return;
        link = { fingerprint: fp.key, ports: NO_PORTS, key: '', campaignId: 0, country: '', sport: e.srcPort, lastSeen: time };
        (s.links ??= []).push(link);
      }
    } else if (link.lastSeen < time - o.campaignWindowMs) {
      // Silent for a whole campaign window: start over (its old campaign has ended or moved on).
      this.leave(link, s.address);
      link.ports = NO_PORTS;
    }
    if (time > link.lastSeen) link.lastSeen = time;

    let campaign = link.key === '' ? undefined : this.cache.get(link.key);
    const ports = withPort(link.ports, e.dstPort, o.campaignMaxPorts);
    const moved = ports !== null;
    if (ports !== null) link.ports = ports;
    if (moved || campaign === undefined || campaign.id !== link.campaignId) {
      const many = link.ports.length > o.campaignMaxPorts;
      // One flat string (join), not a concatenation tree that a campaign would keep alive.
      const key = many ? [fp.key, '|*'].join('') : [fp.key, '|', link.ports.join(',')].join('');
      if (key !== link.key || campaign === undefined || campaign.id !== link.campaignId) {
        if (campaign !== undefined && campaign.id === link.campaignId) this.leave(link, s.address);
        campaign = this.cache.get(key);
        if (campaign === undefined) {
          // The link's list is never changed in place (withPort makes a new one), so it can be shared.
          campaign = new Campaign(this.nextId++, key, fp.key, many ? NO_PORTS : link.ports, many, time);
          this.cache.set(key, campaign);
        }
        this.join(campaign, link, s, e);
      }
    }
    campaign.syns++;
    if (time > campaign.lastSeen) campaign.lastSeen = time;
    campaign.seen(s.address, time);
    if (e.os !== '') campaign.os = e.os;
    if (e.tool !== '') campaign.tool = e.tool;
  }

  private join(c: Campaign, link: CampaignLink, s: SourceState, e: PacketEvent): void {
    link.key = c.key;
    link.campaignId = c.id;
    link.country = s.country;
    link.sport = e.srcPort;
    c.join(s.address, e.time, s.country, e.srcPort, this.options.campaignMaxListed);
  }

  /** Takes a source's contribution back from the campaign it joined, if that campaign still exists. */
  private leave(link: CampaignLink, address: string): void {
    const c = link.key === '' ? undefined : this.cache.peek(link.key);
    if (c !== undefined && c.id === link.campaignId) {
      c.leave(address, link.country, link.sport);
      if (c.sources <= 0) this.cache.delete(c.key);
    }
    link.key = '';
    link.campaignId = 0;
  }

  /** Ends campaigns silent for a campaign window before `now`. O(ended): the table is in recency order. */
  prune(now: number): number {
    const cutoff = now - this.options.campaignWindowMs;
    const stale: string[] = [];
    for (const c of this.cache.rvalues()) {
      if (c === undefined) continue;
      if (c.lastSeen >= cutoff) break;
      stale.push(c.key);
    }
    for (const key of stale) this.cache.delete(key);
    return stale.length;
  }
}
