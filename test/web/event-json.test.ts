import { describe, expect, it } from 'vitest';
import { NONE, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, TCP_URG } from '../../src/pipeline/types.js';
import { eventJson, flagLetters, protocolName } from '../../src/web/event-json.js';
import { packet } from './helpers.js';

describe('the Event JSON of the stream protocol', () => {
  it('turns a classified SYN into the documented Event', () => {
    const e = packet({ src: '198.18.0.2', dst: '198.18.0.1', sport: 6000, dport: 22, window: 16384, ttl: 103, df: 0, olen: 0, country: 'CN', verdict: 'allowed', tool: 'port6000-ssh-scanner', os: 'windows', inIf: 'veth-fw' });
    e.prefix = 'SSH Attempt';
    e.classification = { os: 'windows', tool: 'port6000-ssh-scanner', confidence: 0.97, reasons: ['sport=6000', 'win=16384'], signature: 'port6000-ssh-scanner' };
    expect(eventJson(e, ['ulogd'])).toEqual({
      time: '2026-11-24T06:00:00.000Z', source: 'ulogd', verdict: 'allowed', prefix: 'SSH Attempt', device: 'fw', family: 4,
      protocol: 'tcp', src: '198.18.0.2', dst: '198.18.0.1', sport: 6000, dport: 22, flags: 'S', window: 16384, ttl: 103,
      ipId: 256, df: 0, length: 40, in: 'veth-fw', out: '', fingerprint: 'ittl=128,win=16384,olen=0,df=0', os: 'windows',
      tool: 'port6000-ssh-scanner', confidence: 0.97, reasons: ['sport=6000', 'win=16384'], country: 'CN', city: '', asn: null,
      org: '', cloud: '', listed: [],
    });
  });

  it('says who holds the source and which threat lists it is on; the owner\'s ASN wins over GeoIP\'s', () => {
    const e = packet({ country: 'US' });
    e.geo = { country: 'US', city: '', location: null, asn: 64500, asOrg: 'FROM-GEOIP' };
    e.owner = { asn: 16509, org: 'AMAZON-02', cloud: 'aws/us-east-1/EC2' };
    e.listed = ['firehol_level1', 'et_compromised'];
    expect(eventJson(e, ['ulogd'])).toMatchObject({ asn: 16509, org: 'AMAZON-02', cloud: 'aws/us-east-1/EC2', listed: ['firehol_level1', 'et_compromised'] });
    e.owner = { asn: NONE, org: '', cloud: '' };
    expect(eventJson(e, ['ulogd'])).toMatchObject({ asn: 64500, org: 'FROM-GEOIP', cloud: '' });
  });

  it('gives absent numbers as null, no flags for non-TCP, and null/"" enrichment for non-SYNs', () => {
    const icmp = packet({ protocol: 1 });
    icmp.ttl = NONE;
    icmp.df = NONE;
    const j = eventJson(icmp, ['ulogd']);
    expect(j).toMatchObject({ protocol: 'icmp', sport: null, dport: null, flags: '', window: null, ttl: null, df: null, fingerprint: null, os: '', tool: '', confidence: null, reasons: [], country: '', asn: null });
  });

  it('writes TCP flags as letters in header bit order', () => {
    expect(flagLetters(TCP_SYN)).toBe('S');
    expect(flagLetters(TCP_SYN | TCP_ACK)).toBe('SA');
    expect(flagLetters(TCP_FIN | TCP_PSH | TCP_URG)).toBe('FPU');
    expect(flagLetters(0)).toBe('');
    expect(flagLetters(NONE)).toBe('');
  });

  it('names known protocols and keeps the number of others', () => {
    expect([6, 17, 1, 58, 47, 253, NONE].map(protocolName)).toEqual(['tcp', 'udp', 'icmp', 'icmpv6', 'gre', 253, null]);
  });

  it('leaves strings from the log as they are (JSON escapes them; clients must escape for display)', () => {
    const e = packet();
    e.prefix = '<script>"x"\n';
    expect(JSON.parse(JSON.stringify(eventJson(e, []))).prefix).toBe('<script>"x"\n');
    expect(eventJson(e, []).source).toBe('');
  });
});
