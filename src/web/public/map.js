// nfwatch world map: figures per country, shaded, for the scan-watch page (live, /api/countries)
// and the investigate page (history, /api/history/countries). One module for both.
//
// The shapes are world-atlas's Natural Earth countries (TopoJSON, feature ids are ISO 3166
// numeric codes such as "840"), projected with d3-geo's Natural Earth projection into an SVG as
// large as its container. d3-geo, d3-array and topojson-client are loaded by the page as classic
// scripts before this module (the CSP allows no import map, and their ES builds import each other
// by bare name): they define the globals `d3` and `topojson`.
//
// Rules as in app.js: every name and figure goes in through textContent or an attribute, never
// markup; the colours are SVG presentation attributes (the CSP forbids inline styles). What has no
// shape on the map — private and reserved addresses, sources no database placed, countries too
// small for the atlas — is listed in a note under it instead, clickable as the shapes are.
//
// Where a City database is configured, the places it located sources at are drawn over the
// countries as circles (area by value) from their latitude and longitude: updatePlaces(). A click
// on one chooses that place (onSelectPlace), a second clears it.

const NS = 'http://www.w3.org/2000/svg';
const CODES_URL = '/vendor/country-codes.json';
/** Antarctica: drawn it takes a fifth of the height for what is never a source; it goes in the note. */
const LEFT_OUT = new Set(['010']);
/** Shades from a small value to the largest, per palette; countries without any get NONE. */
const PALETTES = {
  red: ['#4a2323', '#ff6b5e'],
  blue: ['#1d3552', '#6cb6ff'],
};
const NONE = '#222b36';
/** How many places the note names before "+N more". */
const NOTE_ITEMS = 8;
/** Located places are amber, apart from the countries under them whichever palette shades those. */
const PLACE_PALETTE = ['#8a6d1f', '#f2cc60'];
/** Circles of located places: radius of the smallest and the largest value, px. */
const PLACE_RADIUS = [2, 9];
/** Places drawn at most (the busiest); the rest would be dots under dots. */
const MAX_PLACES = 400;

/** Fetched once per page, whichever maps ask. */
const loads = new Map();
function loadOnce(url, fetchJson) {
  if (!loads.has(url)) loads.set(url, fetchJson(url));
  return loads.get(url);
}

/**
 * The country table the server makes from i18n-iso-countries (/vendor/country-codes.json): alpha-2
 * → { numeric, name }, and numeric → alpha-2.
 * @param {(url: string) => Promise<any>} fetchJson
 */
export async function countryTable(fetchJson) {
  const body = await loadOnce(CODES_URL, fetchJson);
  const byAlpha2 = new Map();
  const byNumeric = new Map();
  for (const [alpha2, numeric, name] of Array.isArray(body?.countries) ? body.countries : []) {
    byAlpha2.set(alpha2, { numeric, name });
    byNumeric.set(numeric, alpha2);
  }
  const shapesByName = body && typeof body.shapesByName === 'object' ? body.shapesByName : {};
  return { byAlpha2, byNumeric, shapesByName };
}

/** How a country code is said where no name fits: private → LAN, reserved, '' → unknown. */
export function placeLabel(code) {
  if (code === 'private') return 'LAN';
  if (code === 'reserved') return 'reserved';
  if (!code) return 'unknown';
  return code;
}

function compact(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

function svg(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) node.setAttribute(k, String(v));
  return node;
}

/** An SVG shape that acts as a button: a click, or Enter or Space while it has the focus. */
function pressable(node, action) {
  node.addEventListener('click', action);
  node.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      action();
    }
  });
}

function html(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** The colour between `a` and `b` (#rrggbb) at t in [0, 1]. */
function mix(a, b, t) {
  const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
  const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
  return `#${pa.map((x, i) => Math.round(x + (pb[i] - x) * t).toString(16).padStart(2, '0')).join('')}`;
}

let instances = 0;

/**
 * A world map in `container` (emptied). It draws as soon as the shapes are loaded; update() and
 * select() may be called before that and take effect then.
 *
 * @param {HTMLElement} container
 * @param {{
 *   atlas: string,
 *   label: string,
 *   fetchJson: (url: string) => Promise<any>,
 *   onSelect?: (code: string | null) => void,
 *   onSelectPlace?: (place: { country: string, city: string } | null) => void,
 * }} options `atlas`: URL of a world-atlas countries file; `label`: what the map shows, for
 *   assistive technology; `onSelect`: a country (or a place in the note) was chosen — its code, or
 *   null when it was the selected one (a second click clears); `onSelectPlace`: the same for a
 *   located place's circle.
 */
export function createWorldMap(container, options) {
  const id = `wm${++instances}`;
  container.classList.add('wmap');
  const box = html('div', 'wmap-box');
  const root = svg('svg', { class: 'wmap-svg', role: 'group', 'aria-label': options.label });
  const shapesGroup = svg('g', { class: 'wm-shapes' });
  const selectedGroup = svg('g', { class: 'wm-selected', 'aria-hidden': 'true' });
  const placesGroup = svg('g', { class: 'wm-places' });
  root.append(shapesGroup, selectedGroup, placesGroup);
  box.append(root);
  const foot = html('div', 'wmap-foot');
  const legend = html('div', 'wmap-legend');
  const note = html('div', 'wmap-note');
  foot.append(legend, note);
  container.replaceChildren(box, foot);

  /** @type {Array<{ code: string | null, name: string, feature: any, path: SVGPathElement }>} */
  let shapes = [];
  /** Codes with a shape. */
  const drawn = new Set();
  const names = new Map();
  let projection = null;
  let size = { w: 0, h: 0 };
  let data = { rows: [], value: () => 0, describe: () => '', metric: '', palette: 'blue' };
  let selected = null;
  let places = { rows: [], value: () => 0, describe: () => '' };
  /** The chosen place: "country\u0000city", or null. */
  let selectedPlace = null;
  let ready = false;

  const choose = (code) => options.onSelect?.(code === selected ? null : code);
  const placeKey = (p) => `${p.country ?? ''}\u0000${p.city ?? ''}`;
  const choosePlace = (p) => options.onSelectPlace?.(placeKey(p) === selectedPlace ? null : { country: p.country ?? '', city: p.city ?? '' });

  (async () => {
    try {
      const [topology, table] = await Promise.all([loadOnce(options.atlas, options.fetchJson), countryTable(options.fetchJson)]);
      const topojson = globalThis.topojson;
      const d3 = globalThis.d3;
      if (!topojson || !d3?.geoPath) throw new Error('the map scripts (d3-geo, topojson-client) did not load');
      for (const [alpha2, { name }] of table.byAlpha2) names.set(alpha2, name);
      const features = topojson.feature(topology, topology.objects.countries).features.filter((f) => !LEFT_OUT.has(f.id));
      shapes = features.map((feature) => {
        const shapeName = typeof feature.properties?.name === 'string' ? feature.properties.name : '';
        const code = (feature.id !== undefined ? table.byNumeric.get(feature.id) : table.shapesByName[shapeName]) ?? null;
        if (code) {
          drawn.add(code);
          if (shapeName) names.set(code, shapeName);
        }
        const path = svg('path', { class: 'wm-c' });
        path.append(svg('title'));
        if (code) {
          path.dataset.code = code;
          pressable(path, () => choose(code));
        }
        shapesGroup.append(path);
        return { code, name: shapeName || (code ?? ''), feature, path };
      });
      projection = d3.geoNaturalEarth1();
      ready = true;
      new ResizeObserver(layout).observe(box);
      layout();
      paint();
    } catch (err) {
      note.textContent = `the map could not be drawn: ${err instanceof Error ? err.message : String(err)}`;
    }
  })();

  /** Projects the shapes into the box's size (again when it changes). */
  function layout() {
    const w = Math.floor(box.clientWidth);
    const h = Math.floor(box.clientHeight);
    if (!ready || w < 10 || h < 10 || (w === size.w && h === size.h)) return;
    size = { w, h };
    root.setAttribute('width', String(w));
    root.setAttribute('height', String(h));
    root.setAttribute('viewBox', `0 0 ${w} ${h}`);
    projection.fitExtent([[2, 2], [w - 2, h - 2]], { type: 'FeatureCollection', features: shapes.map((s) => s.feature) });
    const path = globalThis.d3.geoPath(projection);
    for (const s of shapes) s.path.setAttribute('d', path(s.feature) ?? '');
    paintSelection();
    paintPlaces();
  }

  /** The located places as circles, largest first so the small ones stay clickable on top. */
  function paintPlaces() {
    placesGroup.replaceChildren();
    if (!ready || size.w === 0) return;
    const rows = places.rows.filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon) && places.value(p) > 0);
    rows.sort((a, b) => places.value(b) - places.value(a));
    const shown = rows.slice(0, MAX_PLACES);
    const max = shown.length ? places.value(shown[0]) : 0;
    const [low, high] = PLACE_PALETTE;
    for (const p of shown) {
      const xy = projection([p.lon, p.lat]);
      if (!xy || !Number.isFinite(xy[0]) || !Number.isFinite(xy[1])) continue;
      const v = places.value(p);
      const t = max > 0 ? Math.sqrt(v / max) : 0;
      const on = placeKey(p) === selectedPlace;
      const c = svg('circle', {
        class: `wm-p${on ? ' sel' : ''}`,
        cx: xy[0].toFixed(1),
        cy: xy[1].toFixed(1),
        r: (PLACE_RADIUS[0] + t * (PLACE_RADIUS[1] - PLACE_RADIUS[0])).toFixed(1),
        fill: mix(low, high, 0.35 + 0.65 * t),
        tabindex: '0',
        role: 'button',
        'aria-pressed': String(on),
      });
      const name = p.city || names.get(p.country) || placeLabel(p.country);
      const text = `${name}${p.city ? ` (${p.country})` : ''}: ${places.describe(p)}`;
      c.setAttribute('aria-label', text);
      c.dataset.country = p.country ?? '';
      c.dataset.city = p.city ?? '';
      const title = svg('title');
      title.textContent = text;
      c.append(title);
      pressable(c, () => choosePlace(p));
      placesGroup.prepend(c);
    }
  }

  /** Colours, titles, focus and the note from the data; the selection outline. */
  function paint() {
    if (!ready) return;
    const byCode = new Map();
    for (const row of data.rows) byCode.set(row.country ?? '', row);
    let max = 0;
    for (const [code, row] of byCode) if (drawn.has(code)) max = Math.max(max, data.value(row));
    const [low, high] = PALETTES[data.palette] ?? PALETTES.blue;
    const shade = (v) => (v > 0 && max > 0 ? mix(low, high, Math.log1p(v) / Math.log1p(max)) : NONE);
    for (const s of shapes) {
      const row = s.code ? byCode.get(s.code) : undefined;
      const v = row ? data.value(row) : 0;
      s.path.setAttribute('fill', shade(v));
      const label = s.code ? `${s.name} (${s.code})` : s.name;
      const text = row ? `${label}: ${data.describe(row)}` : `${label}: none`;
      s.path.firstChild.textContent = text;
      if (!s.code) continue;
      s.path.classList.toggle('has', v > 0);
      // Countries with figures are in the tab order; the others can still be clicked.
      if (v > 0) {
        s.path.setAttribute('tabindex', '0');
        s.path.setAttribute('role', 'button');
        s.path.setAttribute('aria-label', text);
        s.path.setAttribute('aria-pressed', String(s.code === selected));
      } else {
        for (const a of ['tabindex', 'role', 'aria-label', 'aria-pressed']) s.path.removeAttribute(a);
      }
    }
    paintLegend(max, low, high);
    paintNote(byCode);
    paintSelection();
    paintPlaces();
  }

  function paintLegend(max, low, high) {
    legend.replaceChildren();
    if (max <= 0) {
      legend.append(html('span', 'dim', data.rows.length ? `no ${data.metric} on the map` : 'no data'));
      return;
    }
    const w = 72;
    const bar = svg('svg', { class: 'wmap-ramp', width: w, height: 8, viewBox: `0 0 ${w} 8`, 'aria-hidden': 'true' });
    const grad = svg('linearGradient', { id: `${id}-ramp` });
    for (const t of [0, 0.5, 1]) grad.append(svg('stop', { offset: t, 'stop-color': mix(low, high, t) }));
    bar.append(svg('defs'), svg('rect', { x: 0, y: 0, width: w, height: 8, rx: 2, fill: `url(#${id}-ramp)` }));
    bar.firstChild.append(grad);
    legend.append(html('span', 'wmap-metric', data.metric), html('span', 'dim', '1'), bar, html('span', 'dim', compact(max)));
    legend.title = `${data.metric}: shaded on a log scale from 1 to ${max}`;
  }

  /** What has no shape: listed by value, each a button (but "unknown", which no filter names). */
  function paintNote(byCode) {
    const off = [...byCode].filter(([code, row]) => !drawn.has(code) && data.value(row) > 0).sort((a, b) => data.value(b[1]) - data.value(a[1]));
    note.replaceChildren();
    note.title = '';
    if (off.length === 0) return;
    note.append(html('span', 'dim', 'not on the map: '));
    off.slice(0, NOTE_ITEMS).forEach(([code, row], i) => {
      if (i) note.append(' ');
      const name = names.get(code);
      const text = `${placeLabel(code)} ${compact(data.value(row))}`;
      const title = `${name ? `${name} (${code})` : placeLabel(code)}: ${data.describe(row)}`;
      if (!code) {
        const span = html('span', 'wm-place', text);
        span.title = title;
        note.append(span);
        return;
      }
      const b = html('button', 'wm-place', text);
      b.type = 'button';
      b.title = title;
      b.setAttribute('aria-pressed', String(code === selected));
      b.classList.toggle('sel', code === selected);
      b.addEventListener('click', () => choose(code));
      note.append(b);
    });
    if (off.length > NOTE_ITEMS) note.append(html('span', 'dim', ` +${off.length - NOTE_ITEMS} more`));
    note.title = off.map(([code, row]) => `${placeLabel(code)} ${compact(data.value(row))}`).join(', ');
  }

  /** The selected country's outline, drawn over its neighbours (a copy: moving the shape would lose its focus). */
  function paintSelection() {
    selectedGroup.replaceChildren();
    for (const s of shapes) {
      const on = s.code !== null && s.code === selected;
      s.path.classList.toggle('sel', on);
      if (on) selectedGroup.append(svg('path', { class: 'wm-sel', d: s.path.getAttribute('d') ?? '' }));
    }
  }

  return {
    /**
     * Shows `rows` ({ country, ...figures }): `value(row)` shades, `describe(row)` is the tooltip's
     * text, `metric` names the value in the legend, `palette` is 'red' or 'blue'.
     */
    update(rows, { value, describe, metric, palette }) {
      data = { rows: Array.isArray(rows) ? rows : [], value: (r) => Number(value(r)) || 0, describe, metric, palette };
      paint();
    },
    /** Marks `code` as the chosen country (null: none). */
    select(code) {
      selected = code || null;
      paint();
    },
    /**
     * Draws `rows` ({ country, city, lat, lon, ...figures }) as circles over the countries:
     * `value(row)` sizes them, `describe(row)` is the tooltip's text.
     * An empty list (no City database) draws none.
     */
    updatePlaces(rows, { value, describe }) {
      places = { rows: Array.isArray(rows) ? rows : [], value: (r) => Number(value(r)) || 0, describe };
      paintPlaces();
    },
    /** Marks a place ({ country, city }) as chosen (null: none). */
    selectPlace(place) {
      selectedPlace = place ? placeKey(place) : null;
      paintPlaces();
    },
    /** The name of `code` (the atlas's short name where it has a shape), or undefined before the map loaded. */
    nameOf(code) {
      return names.get(code);
    },
    /** Whether `code` has a shape on this map. */
    hasShape(code) {
      return drawn.has(code);
    },
  };
}
