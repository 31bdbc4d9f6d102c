// Campaigns: sources that send SYNs with the same fingerprint to the same set of target ports within
// a window — many scanning hosts running one tool, like the win=16384, sport 6000 SSH scanner seen
// from hundreds of addresses. A campaign is keyed by "<fingerprint key>|<sorted ports>"; a source
// joins one campaign per fingerprint it shows and moves when its port set grows.
// Bounded: at most maxCampaigns groups (LRU), campaignMaxListed addresses listed per campaign (the
// total goes on), 16 source ports counted per campaign.
//
// A group of one is no campaign yet, and in a spoofed flood of random fingerprints nearly every
// SYN would start one. So a source alone with its fingerprint and one target port waits in a slot
// of a fixed table (direct-mapped by shape and port, 4 × maxCampaigns slots) instead: nothing is
// allocated for it, no key string is built, and the formed groups are not pushed out of their LRU
// by a flood's one-SYN sources. The second source with the same fingerprint and port forms the
// group with the one waiting; a waiting source another one's slot is needed for stops waiting
// (as a candidate group beyond max_campaigns was dropped before).
import { LRUCache } from '../deps.js';
import { GET_DEFAULTS } from '../util/lru.js';
import { NO_SHAPE } from '../enrich/fingerprint.js';
import type { PacketEvent, SynFingerprint } from '../pipeline/types.js';
import type { TrackOptions } from './options.js';
import type { SourceState } from './sources.js';

/** Distinct source ports counted per campaign; more are summed as "other". */
const MAX_SPORTS = 16;

/** A source's membership for one fingerprint (kept on the SourceState). */
export interface CampaignLink {
  /** The fingerprint's shape code (NO_SHAPE: an unused link). */
  shape: number;
  /** Sorted target ports this source sent SYNs with this fingerprint to; more than campaignMaxPorts + 1 are not kept. */
  ports: readonly number[];
  /** Campaign key and the id of the campaign instance joined (0: none). */
  key: string;
  campaignId: number;
  /** What this source contributed, to take it back when it moves. */
  joinedCountry: string;
  sport: number;
  /** Whether the campaign joined lists its address: leaving then looks it up in the list, else not (a full list is most members' case). */
  listedInCampaign: boolean;
  /** The newest SYN time with this fingerprint (epoch ms). */
  linkSeen: number;
  /** The slot it waits in alone (see CampaignTable) while that slot's link is this one; −1 when not waiting. */
  candidate: number;
}

/** A new link of a source: no fingerprint, no ports, in no group. */
export function newLink(shape: number, sport: number, lastSeen: number): CampaignLink {
  return { shape, ports: NO_PORTS, key: '', campaignId: 0, joinedCountry: '', sport, listedInCampaign: false, linkSeen: lastSeen, candidate: -1 };
}

/** Makes a link object a new link, as newLink() would (a source's first link is reused, not remade). */
export function restartLink(link: CampaignLink, shape: number, sport: number, lastSeen: number): void {
  link.shape = shape;
  link.ports = NO_PORTS;
  link.key = '';
  link.campaignId = 0;
  link.joinedCountry = '';
  link.sport = sport;
  link.listedInCampaign = false;
  link.linkSeen = lastSeen;
  link.candidate = -1;
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
  private soleCountry = '';
  private soleSport = 0;
  /** Up to campaignMaxListed addresses, first joined first; sources by country and by source port (null while one member). */
  private listed: Set<string> | null = null;
  private countries: Map<string, number> | null = null;
  private sourcePorts: Map<number, number> | null = null;
  otherSourcePorts = 0;
  /** SYNs seen from members. */
  syns = 0;
  os = '';
  tool = '';
  /** Whether its forming (reaching campaign_min_sources) was announced (see CampaignTable.formed). */
  announced = false;

  /** Shape and port of a one-port group (CampaignTable's index of them), −1 for others. */
  readonly portCode: number;

  constructor(id: number, key: string, fingerprint: string, ports: readonly number[], manyPorts: boolean, time: number, portCode = -1) {
    this.id = id;
    this.key = key;
    this.fingerprint = fingerprint;
    this.ports = ports;
    this.manyPorts = manyPorts;
    this.firstSeen = time;
    this.lastSeen = time;
    this.portCode = portCode;
  }

  /** Counts a source in; lists it while fewer than `maxListed` are. Returns whether it is listed. */
  join(address: string, country: string, sport: number, maxListed: number): boolean {
    this.sources++;
    if (this.listed === null && this.sources === 1) {
      this.soleAddress = address;
      this.soleCountry = country;
      this.soleSport = sport;
      return true;
    }
    const listed = this.maps();
    const listing = listed.size < maxListed;
    if (listing) listed.add(address);
    bump(this.countries!, country, 1);
    const sourcePorts = this.sourcePorts!;
    if (sourcePorts.has(sport) || sourcePorts.size < MAX_SPORTS) bump(sourcePorts, sport, 1);
    else this.otherSourcePorts++;
    return listing;
  }

  /** Takes a member's contribution back; `wasListed`: what join() answered for it. */
  leave(address: string, country: string, sport: number, wasListed: boolean): void {
    this.sources--;
    if (this.listed === null) {
      if (this.soleAddress === address) this.soleAddress = '';
      return;
    }
    if (wasListed) this.listed.delete(address);
    bump(this.countries!, country, -1);
    if (this.sourcePorts!.has(sport)) bump(this.sourcePorts!, sport, -1);
    else if (this.otherSourcePorts > 0) this.otherSourcePorts--;
  }

  /** Listed addresses, first joined first. */
  addresses(): string[] {
    if (this.listed === null) return this.soleAddress === '' ? [] : [this.soleAddress];
    return [...this.listed];
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
  private maps(): Set<string> {
    if (this.listed !== null) return this.listed;
    const listed = (this.listed = new Set<string>());
    this.countries = new Map<string, number>();
    this.sourcePorts = new Map<number, number>();
    if (this.soleAddress !== '') {
      listed.add(this.soleAddress);
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
function withPort(ports: readonly number[], port: number, max: number): readonly number[] | null {
  if (ports.length === 0) return onePort(port);
  // Past `max` (a scanner's link, where every SYN brings a new port) the list is not looked at.
  if (ports.length > max) return null;
  // The first index whose port is not below `port`.
  let low = 0;
  let high = ports.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (ports[mid]! < port) low = mid + 1;
    else high = mid;
  }
  const i = low;
  if (ports[i] === port) return null;
  const out = new Array<number>(ports.length + 1);
  for (let j = 0; j < i; j++) out[j] = ports[j]!;
  out[i] = port;
  for (let j = i; j < ports.length; j++) out[j + 1] = ports[j]!;
  return out;
}

/** Shared one-port lists by port, made when first needed: a flood's sources each have one. */
const ONE_PORT: Array<readonly number[] | undefined> = new Array<readonly number[] | undefined>(65_536).fill(undefined);

function onePort(port: number): readonly number[] {
  if (port < 0 || port > 0xffff) return Object.freeze([port]);
  return (ONE_PORT[port] ??= Object.freeze([port]));
}

/** A one-port group's index: its fingerprint's shape code and the port (< 2^42). */
function portCodeOf(fp: SynFingerprint, port: number): number {
  return fp.code * 65536 + port;
}

export class CampaignTable {
  readonly options: TrackOptions;
  /** Campaigns dropped to stay under maxCampaigns (cumulative). */
  evicted = 0;
  private readonly cache: LRUCache<string, Campaign>;
  /** The one-port groups by portCodeOf (found without building their key). */
  private readonly byPortCode = new Map<number, Campaign>();
  /**
   * By slot (slotOf), how many of byPortCode's codes fall there. A flood's SYNs have random
   * fingerprints, and nearly every one was a miss in byPortCode, a lookup by a number past 2^31
   * (2.6 % of a flood's CPU by profile); a 0 here answers it from one array read.
   */
  private readonly portCodesAt: Uint32Array;
  private nextId = 1;

  // Sources waiting alone, one per slot (see the header): what the group needs to take them in.
  private readonly slots: number;
  private readonly waitCode: Float64Array;
  private readonly waitSource: Array<SourceState | null>;
  private readonly waitLink: Array<CampaignLink | null>;
  private readonly waitAddress: string[];
  private readonly waitFirst: Float64Array;
  private readonly waitLast: Float64Array;
  private readonly waitSyns: Float64Array;

  /** Called once per campaign when it reaches campaign_min_sources sources (Tracker.onDetection). */
  formed: ((c: Campaign) => void) | null = null;

  constructor(options: TrackOptions) {
    this.options = options;
    this.cache = new LRUCache<string, Campaign>({
      max: options.maxCampaigns,
      dispose: (value, _key, reason) => {
        if (reason === 'evict') this.evicted++;
        if (value.portCode >= 0 && this.byPortCode.get(value.portCode) === value) {
          this.byPortCode.delete(value.portCode);
          this.portCodesAt[this.slotOf(value.portCode)]!--;
        }
      },
    });
    let slots = 1024;
    while (slots < 4 * options.maxCampaigns && slots < 1 << 20) slots *= 2;
    this.slots = slots;
    this.portCodesAt = new Uint32Array(slots);
    this.waitCode = new Float64Array(slots).fill(-1);
    this.waitSource = new Array<SourceState | null>(slots).fill(null);
    this.waitLink = new Array<CampaignLink | null>(slots).fill(null);
    this.waitAddress = new Array<string>(slots).fill('');
    this.waitFirst = new Float64Array(slots);
    this.waitLast = new Float64Array(slots);
    this.waitSyns = new Float64Array(slots);
  }

  /** Groups held, reported or not (sources waiting alone are not groups). */
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
    // A source is its own first link.
    const first: CampaignLink = s;
    let link: CampaignLink | undefined;
    if (first.shape === fp.code) link = first;
    else if (s.links !== null) {
      const links = s.links;
      for (let i = 0; i < links.length; i++) {
        if (links[i]!.shape === fp.code) {
          link = links[i];
          break;
        }
      }
    }
    if (link === undefined) {
      if (first.shape === NO_SHAPE) {
        // The source's first fingerprint: the source is the link, nothing allocated.
        link = first;
        restartLink(link, fp.code, e.srcPort, time);
      } else {
        if (1 + (s.links?.length ?? 0) >= o.maxLabels) return;
        link = newLink(fp.code, e.srcPort, time);
        (s.links ??= []).push(link);
      }
    } else if (link.linkSeen < time - o.campaignWindowMs) {
      // Silent for a whole campaign window: start over (its old campaign has ended or moved on).
      this.leave(link, s.address);
      link.ports = NO_PORTS;
    }
    if (time > link.linkSeen) link.linkSeen = time;

    let campaign = link.key === '' ? undefined : this.cache.get(link.key, GET_DEFAULTS);
    const ports = withPort(link.ports, e.dstPort, o.campaignMaxPorts);
    if (ports !== null) link.ports = ports;
    else if (campaign === undefined && link.candidate >= 0 && this.waitLink[link.candidate] === link) {
      // Still alone with its fingerprint and port: the SYN is counted for the group it may form.
      const slot = link.candidate;
      this.waitSyns[slot]!++;
      if (time > this.waitLast[slot]!) this.waitLast[slot] = time;
      return;
    }
    if (ports !== null || campaign === undefined || campaign.id !== link.campaignId) {
      campaign = this.place(link, s, e, fp, campaign);
      if (campaign === undefined) return;
    }
    campaign.syns++;
    if (time > campaign.lastSeen) campaign.lastSeen = time;
    if (e.os !== '') campaign.os = e.os;
    if (e.tool !== '') campaign.tool = e.tool;
  }

  /**
   * The group a link belongs in after its ports changed or its group went: joined (or formed with
   * the source waiting for it); undefined when the link now waits alone.
   */
  private place(link: CampaignLink, s: SourceState, e: PacketEvent, fp: SynFingerprint, current: Campaign | undefined): Campaign | undefined {
    const o = this.options;
    const inCurrent = current !== undefined && current.id === link.campaignId;
    const many = link.ports.length > o.campaignMaxPorts;
    if (!many && link.ports.length === 1) {
      const port = link.ports[0]!;
      const code = portCodeOf(fp, port);
      const slot = this.slotOf(code);
      let campaign = this.portCodesAt[slot] === 0 ? undefined : this.byPortCode.get(code);
      if (campaign !== undefined) this.cache.get(campaign.key, GET_DEFAULTS); // seen: most recently active
      else {
        if (inCurrent || link.candidate >= 0) this.leave(link, s.address);
        if (!this.waiting(slot, code, port, fp.code, e.time) || this.waitSource[slot] === s) {
          this.wait(slot, code, link, s, e);
          return undefined;
        }
        campaign = this.form(slot, fp.key, link.ports, code);
      }
      if (campaign !== current || !inCurrent) {
        if (inCurrent) this.leave(link, s.address);
        this.join(campaign, link, s, e);
      }
      return campaign;
    }
    // One flat string (join), not a concatenation tree that a campaign would keep alive.
    const key = many ? [fp.key, '|*'].join('') : [fp.key, '|', link.ports.join(',')].join('');
    if (key === link.key && inCurrent) return current;
    if (inCurrent || link.candidate >= 0) this.leave(link, s.address);
    let campaign = this.cache.get(key, GET_DEFAULTS);
    if (campaign === undefined) {
      // The link's list is never changed in place (withPort makes a new one), so it can be shared.
      campaign = new Campaign(this.nextId++, key, fp.key, many ? NO_PORTS : link.ports, many, e.time);
      this.cache.set(key, campaign);
    }
    this.join(campaign, link, s, e);
    return campaign;
  }

  private slotOf(code: number): number {
    // The port and the window (bits 2.. of the shape code's high part) vary most: mix both in.
    const high = Math.floor(code / 65536);
    return ((code & 0xffff) ^ Math.imul(high, 0x9e3779b1) ^ (high >>> 7)) & (this.slots - 1);
  }

  /** Whether a source still waits in `slot` for this group (not moved on, not reused, not stale). */
  private waiting(slot: number, code: number, port: number, shape: number, time: number): boolean {
    if (this.waitCode[slot] !== code) return false;
    const source = this.waitSource[slot] ?? null;
    const link = this.waitLink[slot] ?? null;
    if (source === null || link === null || link.candidate !== slot) return false;
    if (source.address !== this.waitAddress[slot] || link.shape !== shape || link.ports.length !== 1 || link.ports[0] !== port) return false;
    return this.waitLast[slot]! >= time - this.options.campaignWindowMs;
  }

  /**
   * Puts a link in `slot` to wait alone; a link waiting there before stops waiting. That link keeps
   * its `candidate`: every reader checks waitLink[candidate] is the link itself, and in a spoofed
   * flood the link pushed out is a source long gone from the cache (reading it cost a miss a SYN).
   */
  private wait(slot: number, code: number, link: CampaignLink, s: SourceState, e: PacketEvent): void {
    this.waitCode[slot] = code;
    this.waitSource[slot] = s;
    this.waitLink[slot] = link;
    this.waitAddress[slot] = s.address;
    this.waitFirst[slot] = e.time;
    this.waitLast[slot] = e.time;
    this.waitSyns[slot] = 1;
    link.key = '';
    link.campaignId = 0;
    link.candidate = slot;
    link.joinedCountry = s.country;
    link.sport = e.srcPort;
  }

  /** Forms a one-port group with the source waiting in `slot`, which joins it first. */
  private form(slot: number, fingerprint: string, ports: readonly number[], code: number): Campaign {
    const key = [fingerprint, '|', String(ports[0])].join('');
    const campaign = new Campaign(this.nextId++, key, fingerprint, ports, false, this.waitFirst[slot]!, code);
    this.cache.set(key, campaign);
    this.byPortCode.set(code, campaign);
    this.portCodesAt[slot]!++;
    const link = this.waitLink[slot]!;
    const last = this.waitLast[slot]!;
    link.key = key;
    link.campaignId = campaign.id;
    link.candidate = -1;
    link.listedInCampaign = campaign.join(this.waitAddress[slot]!, link.joinedCountry, link.sport, this.options.campaignMaxListed);
    campaign.syns += this.waitSyns[slot]!;
    campaign.lastSeen = last;
    this.clearSlot(slot);
    return campaign;
  }

  private clearSlot(slot: number): void {
    this.waitCode[slot] = -1;
    this.waitSource[slot] = null;
    this.waitLink[slot] = null;
    this.waitAddress[slot] = '';
  }

  private join(c: Campaign, link: CampaignLink, s: SourceState, e: PacketEvent): void {
    link.key = c.key;
    link.campaignId = c.id;
    link.candidate = -1;
    link.joinedCountry = s.country;
    link.sport = e.srcPort;
    link.listedInCampaign = c.join(s.address, s.country, e.srcPort, this.options.campaignMaxListed);
    if (!c.announced && c.sources >= this.options.campaignMinSources) {
      c.announced = true;
      this.formed?.(c);
    }
  }

  /** Takes a source's contribution back from the campaign it joined (if it still exists), or stops it waiting. */
  private leave(link: CampaignLink, address: string): void {
    if (link.candidate >= 0) {
      if (this.waitLink[link.candidate] === link) this.clearSlot(link.candidate);
      link.candidate = -1;
    }
    const c = link.key === '' ? undefined : this.cache.peek(link.key);
    if (c !== undefined && c.id === link.campaignId) {
      c.leave(address, link.joinedCountry, link.sport, link.listedInCampaign);
      if (c.sources <= 0) this.cache.delete(c.key);
    }
    link.key = '';
    link.campaignId = 0;
    link.listedInCampaign = false;
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
