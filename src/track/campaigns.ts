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
  ports: number[];
  /** Campaign key and the id of the campaign instance joined (0: none). */
  key: string;
  campaignId: number;
  /** What this source contributed, to take it back when it moves. */
  country: string;
  sport: number;
  lastSeen: number;
}

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
  /** Up to campaignMaxListed addresses → last SYN time. */
  readonly listed = new Map<string, number>();
  readonly countries = new Map<string, number>();
  readonly sourcePorts = new Map<number, number>();
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
}

function bump<K>(map: Map<K, number>, key: K, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

/** Inserts `port` into the sorted list unless present or the list is already past `max`; returns whether it changed. */
function addPort(ports: number[], port: number, max: number): boolean {
  let i = 0;
  while (i < ports.length && (ports[i] ?? 0) < port) i++;
  if (ports[i] === port || ports.length > max) return false;
  ports.splice(i, 0, port);
  return true;
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
        link.ports.length = 0;
        link.key = '';
        link.campaignId = 0;
        link.country = '';
        link.sport = e.srcPort;
        link.lastSeen = time;
      } else {
        if (1 + (s.links?.length ?? 0) >= o.maxLabels) return;
        link = { fingerprint: fp.key, ports: [], key: '', campaignId: 0, country: '', sport: e.srcPort, lastSeen: time };
        (s.links ??= []).push(link);
      }
    } else if (link.lastSeen < time - o.campaignWindowMs) {
      // Silent for a whole campaign window: start over (its old campaign has ended or moved on).
      this.leave(link, s.address);
      link.ports.length = 0;
    }
    if (time > link.lastSeen) link.lastSeen = time;

    let campaign = link.key === '' ? undefined : this.cache.get(link.key);
    const moved = addPort(link.ports, e.dstPort, o.campaignMaxPorts);
    if (moved || campaign === undefined || campaign.id !== link.campaignId) {
      const many = link.ports.length > o.campaignMaxPorts;
      // One flat string (join), not a concatenation tree that a campaign would keep alive.
      const key = many ? [fp.key, '|*'].join('') : [fp.key, '|', link.ports.join(',')].join('');
      if (key !== link.key || campaign === undefined || campaign.id !== link.campaignId) {
        if (campaign !== undefined && campaign.id === link.campaignId) this.leave(link, s.address);
        campaign = this.cache.get(key);
        if (campaign === undefined) {
          campaign = new Campaign(this.nextId++, key, fp.key, many ? [] : link.ports.slice(), many, time);
          this.cache.set(key, campaign);
        }
        this.join(campaign, link, s, e);
      }
    }
    campaign.syns++;
    if (time > campaign.lastSeen) campaign.lastSeen = time;
    if (campaign.listed.has(s.address)) campaign.listed.set(s.address, time);
    if (e.os !== '') campaign.os = e.os;
    if (e.tool !== '') campaign.tool = e.tool;
  }

  private join(c: Campaign, link: CampaignLink, s: SourceState, e: PacketEvent): void {
    link.key = c.key;
    link.campaignId = c.id;
    link.country = s.country;
    link.sport = e.srcPort;
    c.sources++;
    if (c.listed.size < this.options.campaignMaxListed) c.listed.set(s.address, e.time);
    bump(c.countries, s.country, 1);
    if (c.sourcePorts.has(e.srcPort) || c.sourcePorts.size < MAX_SPORTS) bump(c.sourcePorts, e.srcPort, 1);
    else c.otherSourcePorts++;
  }

  /** Takes a source's contribution back from the campaign it joined, if that campaign still exists. */
  private leave(link: CampaignLink, address: string): void {
    const c = link.key === '' ? undefined : this.cache.peek(link.key);
    if (c !== undefined && c.id === link.campaignId) {
      c.sources--;
      c.listed.delete(address);
      bump(c.countries, link.country, -1);
      if (c.sourcePorts.has(link.sport)) bump(c.sourcePorts, link.sport, -1);
      else if (c.otherSourcePorts > 0) c.otherSourcePorts--;
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
