import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Reader, type Response } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { bundledCountryDbPath } from '../../src/enrich/geoip.js';
import { alpha2Of, COUNTRY_CODES, countryCodesJson, countryName, numericOf, SHAPES_BY_NAME } from '../../src/web/countries.js';

const require = createRequire(import.meta.url);

/**
 * Every country code the bundled DB-IP database can answer with: its search tree walked to each
 * distinct data record, and that record read through maxmind for an address that leads to it.
 */
function dbipCountries(): Set<string> {
  const db = readFileSync(bundledCountryDbPath());
  const reader = new Reader<Response>(db);
  const { nodeCount, recordSize } = reader.metadata;
  expect(recordSize).toBe(24); // the walk below reads 24-bit records
  const record = (node: number, bit: number): number => {
    const at = node * 6 + bit * 3;
    return (db[at]! << 16) | (db[at + 1]! << 8) | db[at + 2]!;
  };
  // Depth first, each node once (IPv4's aliases in the IPv6 tree point into the same subtree).
  const path = new Uint8Array(128);
  const seen = new Uint8Array(nodeCount);
  const firstPath = new Map<number, string>();
  const visit = (node: number, depth: number): void => {
    seen[node] = 1;
    for (const bit of [0, 1]) {
      path[depth] = bit;
      const next = record(node, bit);
      if (next < nodeCount) {
        if (!seen[next]) visit(next, depth + 1);
      } else if (next > nodeCount && !firstPath.has(next)) {
        // An address whose first depth + 1 bits are the path, written as IPv6 groups of 16 bits.
        const bits = Array.from(path, (b, i) => (i <= depth ? b : 0));
        const groups = Array.from({ length: 8 }, (_, g) => parseInt(bits.slice(g * 16, g * 16 + 16).join(''), 2).toString(16));
        firstPath.set(next, groups.join(':'));
      }
    }
  };
  visit(0, 0);
  const codes = new Set<string>();
  for (const address of firstPath.values()) {
    const r = reader.get(address) as { country_code?: string } | null;
    if (r?.country_code) codes.add(r.country_code);
  }
  return codes;
}

describe('ISO 3166 alpha-2 ↔ numeric (world-atlas feature ids)', () => {
  it('maps the codes both ways, three digits as world-atlas writes them', () => {
    expect(numericOf('US')).toBe('840');
    expect(numericOf('us')).toBe('840');
    expect(numericOf('DE')).toBe('276');
    expect(numericOf('AF')).toBe('004');
    expect(alpha2Of('840')).toBe('US');
    expect(alpha2Of(4)).toBe('AF');
    expect(alpha2Of('004')).toBe('AF');
    expect(countryName('US')).toBe('United States of America');
    for (const none of ['private', 'reserved', '', 'ZZ', 'EU']) expect(numericOf(none), none).toBe(null);
    expect(alpha2Of('999')).toBe(null);
  });

  it('reads the table from i18n-iso-countries (all of it, none written here)', () => {
    const codes = require('i18n-iso-countries/codes.json') as string[][];
    expect(COUNTRY_CODES).toHaveLength(codes.length);
    expect(COUNTRY_CODES.length).toBeGreaterThanOrEqual(249);
    for (const [alpha2, , numeric] of codes) expect(numericOf(alpha2!), alpha2).toBe(numeric);
  });

  it('has a numeric id for every country the bundled DB-IP data can give a source', () => {
    const codes = dbipCountries();
    // The database covers the world: far more than a handful of records were found.
    expect(codes.size).toBeGreaterThan(200);
    expect(codes).toContain('US');
    const missing = [...codes].filter((c) => numericOf(c) === null);
    expect(missing).toEqual([]);
  });

  it('matches every world-atlas shape to a code: by id, or Kosovo (no ISO number) by name; the other unnumbered shapes are regions GeoIP never answers with', () => {
    for (const file of ['countries-110m.json', 'countries-50m.json']) {
      const topology = require(`world-atlas/${file}`) as { objects: { countries: { geometries: Array<{ id?: string; properties: { name: string } }> } } };
      const unnumbered: string[] = [];
      for (const g of topology.objects.countries.geometries) {
        if (g.id === undefined) unnumbered.push(g.properties.name);
        else expect(alpha2Of(g.id), `${file} ${g.id} ${g.properties.name}`).not.toBe(null);
      }
      expect(unnumbered.filter((n) => !(n in SHAPES_BY_NAME)).sort(), file).toEqual(
        ['Indian Ocean Ter.', 'N. Cyprus', 'Siachen Glacier', 'Somaliland'].filter((n) => unnumbered.includes(n)),
      );
      expect(unnumbered, file).toContain('Kosovo');
    }
    expect(SHAPES_BY_NAME).toEqual({ Kosovo: 'XK' });
    expect(numericOf('XK')).toBe('983'); // user-assigned: world-atlas does not use it
  });

  it('gives the pages the table as /vendor/country-codes.json: [alpha2, numeric, name] and the shapes matched by name', () => {
    const body = JSON.parse(countryCodesJson()) as { countries: string[][]; shapesByName: Record<string, string> };
    expect(body.countries).toContainEqual(['US', '840', 'United States of America']);
    expect(body.countries).toHaveLength(COUNTRY_CODES.length);
    expect(body.shapesByName).toEqual({ Kosovo: 'XK' });
  });
});
