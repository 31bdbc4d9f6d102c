// The tracker's settings in the units the code uses (ms, counts), derived from config's `track:`.
import { validateConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface TrackOptions {
  maxSources: number;
  /** Sliding window over which a source's activity counts, ms. */
  windowMs: number;
  maxPortsPerSource: number;
  maxHostsPerSource: number;
  /** IPv6 sources are grouped by their network of this many bits (128: per address). */
  ipv6PrefixLength: number;
  reuseMinTargets: number;
  scanCountAllowed: boolean;
  verticalSuspectPorts: number;
  verticalPorts: number;
  horizontalSuspectHosts: number;
  horizontalHosts: number;
  sshPorts: readonly number[];
  sshCapacity: number;
  sshLeakMs: number;
  /** Five ascending thresholds each: the highest reached is the severity. */
  severityPackets: readonly number[];
  severityHosts: readonly number[];
  maxFingerprints: number;
  campaignWindowMs: number;
  campaignMinSources: number;
  campaignMaxPorts: number;
  maxCampaigns: number;
  campaignMaxListed: number;
  /** Per-source bounds that are not worth a config key. */
  maxLabels: number;
}

export function trackOptions(track: Config['track']): TrackOptions {
  return {
    maxSources: track.max_sources,
    windowMs: track.window_seconds * 1000,
    maxPortsPerSource: track.max_ports_per_source,
    maxHostsPerSource: track.max_hosts_per_source,
    ipv6PrefixLength: track.ipv6_prefix_length,
    reuseMinTargets: track.reuse_min_targets,
    scanCountAllowed: track.scan_count_allowed,
    verticalSuspectPorts: track.vertical_suspect_ports,
    verticalPorts: Math.max(track.vertical_ports, track.vertical_suspect_ports),
    horizontalSuspectHosts: track.horizontal_suspect_hosts,
    horizontalHosts: Math.max(track.horizontal_hosts, track.horizontal_suspect_hosts),
    sshPorts: [...track.ssh_ports],
    sshCapacity: track.ssh_capacity,
    sshLeakMs: track.ssh_leak_seconds * 1000,
    severityPackets: [...track.severity_packets].sort((a, b) => a - b),
    severityHosts: [...track.severity_hosts].sort((a, b) => a - b),
    maxFingerprints: track.max_fingerprints,
    campaignWindowMs: track.campaign_window_seconds * 1000,
    campaignMinSources: track.campaign_min_sources,
    campaignMaxPorts: track.campaign_max_ports,
    maxCampaigns: track.max_campaigns,
    campaignMaxListed: track.campaign_max_listed,
    maxLabels: 8,
  };
}

/** The schema's defaults (what an empty `[track]` gives), for tests and callers without a config file. */
export function defaultTrack(overrides: Partial<Config['track']> = {}): Config['track'] {
  return { ...validateConfig({}).track, ...overrides };
}
