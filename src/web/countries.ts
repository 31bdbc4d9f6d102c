// Countries as the pages' maps need them: ISO 3166 alpha-2 codes (what GeoIP gives a source) and
// the numeric codes world-atlas gives its shapes ("840" is the US), both from i18n-iso-countries'
// codes.json, and the live tracker's figures per country for the scan-watch page's map.
//
// The table is read from the package, not written here. The one supplement: world-atlas draws
// Kosovo without a numeric id (ISO has none; "983" in codes.json is user-assigned), so its shape is
// matched by name. Its other shapes without an id (N. Cyprus, Somaliland, Indian Ocean Ter.,
// Siachen Glacier) are regions GeoIP does not answer with, and stay unshaded.
import { createRequire } from 'node:module';

export interface CountryCode {
  /** ISO 3166-1 alpha-2, e.g. "US". */
  alpha2: string;
  /** ISO 3166-1 numeric as world-atlas writes feature ids: three digits, e.g. "840", "004". */
  numeric: string;
  /** English short name (i18n-iso-countries' first), e.g. "United States of America". */
  name: string;
}

/** world-atlas shapes without a numeric id, by their `name` property, to the code GeoIP gives. */
export const SHAPES_BY_NAME: Readonly<Record<string, string>> = Object.freeze({ Kosovo: 'XK' });

const require = createRequire(import.meta.url);

function load(): CountryCode[] {
  // codes.json: [alpha2, alpha3, numeric, "ISO 3166-2:XX"]; langs/en.json: alpha2 → name or names.
  const codes = require('i18n-iso-countries/codes.json') as Array<[string, string, string, string]>;
  const en = require('i18n-iso-countries/langs/en.json') as { countries: Record<string, string | string[]> };
  return codes.map(([alpha2, , numeric]) => {
    const names = en.countries[alpha2];
    return { alpha2, numeric, name: (Array.isArray(names) ? names[0] : names) ?? alpha2 };
  });
}

export const COUNTRY_CODES: readonly CountryCode[] = Object.freeze(load());
const byAlpha2 = new Map(COUNTRY_CODES.map((c) => [c.alpha2, c]));
const byNumeric = new Map(COUNTRY_CODES.map((c) => [c.numeric, c]));

/** "US" → "840"; null for what is not an assigned alpha-2 code ("private", "", "ZZ"). */
export function numericOf(alpha2: string): string | null {
  return byAlpha2.get(alpha2.toUpperCase())?.numeric ?? null;
}

/** "840" (or 840) → "US"; null for an unknown number. */
export function alpha2Of(numeric: string | number): string | null {
  const key = typeof numeric === 'number' ? String(numeric).padStart(3, '0') : numeric;
  return byNumeric.get(key)?.alpha2 ?? null;
}

export function countryName(alpha2: string): string | null {
  return byAlpha2.get(alpha2.toUpperCase())?.name ?? null;
}

/**
 * The table as the pages fetch it (/vendor/country-codes.json): `countries` as
 * [alpha2, numeric, name] triples, and `shapesByName` for shapes without an id.
 */
export function countryCodesJson(): string {
  return JSON.stringify({ countries: COUNTRY_CODES.map((c) => [c.alpha2, c.numeric, c.name]), shapesByName: SHAPES_BY_NAME });
}
