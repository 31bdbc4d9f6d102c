// nfwatch investigate page: searches the history store through /api/history/search, /countries
// and /timeline, and shows the sources found, a map of them by country and one source's story.
//
// Served as is (no build step) under the strict CSP, with app.js's rules: every string from the
// API reaches the DOM through textContent or a property, never innerHTML (`el()` builds all
// markup); the form is never submitted (form-action 'none').
//
// The state is the URL's query (shareable, and the back button walks it): the form's filters, the
// time range (a preset such as 24h, relative to when the page asks, or custom from/to as ISO
// times), sort, rows and the source whose timeline is open. Every change pushes a new URL and
// asks again; going back restores the form from the URL.
import { countryTable, createWorldMap, placeLabel } from '/map.js';
import { $, TOKEN, el } from '/page.js';

/** Rows drawn at most: more (up to 10 000) go into the exports, not the DOM. */
const SHOWN_ROWS = 2_000;
const HOUR_MS = 3_600_000;
const RANGES = { '1h': HOUR_MS, '24h': 24 * HOUR_MS, '7d': 7 * 24 * HOUR_MS, '30d': 30 * 24 * HOUR_MS };
/** The filters, as named in the URL, the form and the API. */
const FILTERS = ['address', 'window', 'fingerprint', 'tool', 'os', 'country', 'city', 'asn', 'list', 'port', 'verdict'];
/** What an absent parameter means (left out of the URL). */
const DEFAULTS = { range: '24h', sort: 'packets', limit: '100' };
const STATE_KEYS = [...FILTERS, 'range', 'from', 'to', 'sort', 'limit', 'source'];

// ---------------------------------------------------------------------------------------------
// DOM and formatting helpers (the token, $ and el() are page.js's, shared with app.js)

const form = /** @type {HTMLFormElement} */ ($('search'));
const field = (name) => /** @type {HTMLInputElement | HTMLSelectElement} */ (form.elements.namedItem(name));

function td(cls, text, children) {
  return el('td', cls, text, children);
}

/** Gives a cell its text as title: a column too narrow shows an ellipsis, the title the rest. */
function titled(node, title) {
  node.title = title ?? node.textContent ?? '';
  return node;
}

function compact(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

const pad = (n) => String(n).padStart(2, '0');
/** Epoch ms → "2026-11-24 06:00" (local time). */
function when(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '–';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
/** Epoch ms → "11-24 06:00" (local time), for narrow columns. */
const short = (t) => when(t).slice(5);
/** ISO (or epoch ms) → the value of a datetime-local input (local time), or ''. */
function toLocalInput(text) {
  const t = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(t) ? when(t).replace(' ', 'T') : '';
}
/** A datetime-local value (local time) → ISO, or ''. */
function fromLocalInput(value) {
  const t = value ? new Date(value).getTime() : NaN;
  return Number.isFinite(t) ? new Date(t).toISOString() : '';
}

/** Ports as ranges: [20, 21, 22, 53] → "20-22,53". */
function portRanges(ports) {
  const sorted = [...new Set(Array.isArray(ports) ? ports : [])].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

const osLabel = (os) => (os === 'crafted' ? 'unknown (crafted)' : os);
const list = (x) => (Array.isArray(x) ? x : []);

/**
 * A value that narrows the search when clicked (country, ASN, list, window, tool): a button, so
 * the keyboard reaches it too.
 */
function pivot(name, value, text, cls) {
  const b = el('button', `pv${cls ? ` ${cls}` : ''}`, text ?? value);
  b.type = 'button';
  b.dataset.f = name;
  b.dataset.v = String(value);
  b.title = `search ${name} = ${value}`;
  return b;
}

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function getJson(url) {
  const headers = { accept: 'application/json' };
  if (TOKEN) headers.authorization = `Bearer ${TOKEN}`;
  const res = await fetch(url, { headers, cache: 'no-store', credentials: 'same-origin' });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: the status says enough
  }
  if (!res.ok) throw new ApiError(res.status, typeof body?.code === 'string' ? body.code : '', typeof body?.message === 'string' ? body.message : `HTTP ${res.status}`);
  return body;
}

const notices = new Map();
/** Shows (or replaces) the notice `key`; null parts remove it. */
function notice(key, level, parts) {
  const box = $('notices');
  notices.get(key)?.remove();
  notices.delete(key);
  if (!parts) return;
  const n = el('div', `notice ${level}`, null, parts);
  const close = el('button', 'notice-x', '×');
  close.type = 'button';
  close.title = 'dismiss';
  close.addEventListener('click', () => n.remove());
  n.append(close);
  box.append(n);
  notices.set(key, n);
}

/** Says why an API call failed: not authorised, history off, a bad query (the server's words). */
function explain(err, what) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    notice('auth', 'error', [el('b', null, 'Not authorised: '), 'open this page once as /investigate?token=<your token> (see [web] token in the config).']);
  } else if (err instanceof ApiError && err.code === 'history_off') {
    notice('history', 'warn', [el('b', null, 'No history: '), err.message]);
  } else {
    notice(what, 'error', [el('b', null, `${what}: `), err instanceof Error ? err.message : String(err)]);
  }
}

// ---------------------------------------------------------------------------------------------
// State: URL ⇄ form

/** The state in the URL's query (absent parameters: their defaults). */
function stateFromUrl() {
  const q = new URLSearchParams(location.search);
  const s = {};
  for (const k of STATE_KEYS) s[k] = q.get(k) ?? DEFAULTS[k] ?? '';
  if (!(s.range in RANGES) && s.range !== 'custom') s.range = DEFAULTS.range;
  // from/to without a range: a custom range.
  if (!q.has('range') && (q.has('from') || q.has('to'))) s.range = 'custom';
  return s;
}

/** The URL of a state: only what differs from the defaults; from/to only for a custom range. */
function urlOf(s) {
  const q = new URLSearchParams();
  for (const k of STATE_KEYS) {
    const v = s[k] ?? '';
    if (v === '' || v === DEFAULTS[k]) continue;
    if ((k === 'from' || k === 'to') && s.range !== 'custom') continue;
    q.set(k, v);
  }
  const text = q.toString();
  return `${location.pathname}${text ? `?${text}` : ''}`;
}

function fillForm(s) {
  for (const k of [...FILTERS, 'range', 'sort', 'limit']) field(k).value = s[k] ?? '';
  field('from').value = s.range === 'custom' ? toLocalInput(s.from) : '';
  field('to').value = s.range === 'custom' ? toLocalInput(s.to) : '';
  customInputs();
}

function stateFromForm() {
  const s = { source: '' };
  for (const k of [...FILTERS, 'range', 'sort', 'limit']) s[k] = String(field(k).value ?? '').trim();
  if (/^[a-z]{2}$/i.test(s.country)) s.country = s.country.toUpperCase();
  s.from = s.range === 'custom' ? fromLocalInput(field('from').value) : '';
  s.to = s.range === 'custom' ? fromLocalInput(field('to').value) : '';
  return s;
}

/** from/to are asked for only with a custom range; choosing it starts from the range shown. */
function customInputs() {
  const custom = field('range').value === 'custom';
  for (const name of ['from', 'to']) {
    const input = field(name);
    input.disabled = !custom;
    input.closest('.f-time')?.classList.toggle('off', !custom);
  }
}

/** [from, to) in epoch ms for a state, now. */
function rangeOf(s, now) {
  if (s.range !== 'custom') return { from: now - (RANGES[s.range] ?? RANGES['24h']), to: now };
  const to = s.to ? Date.parse(s.to) : now;
  const from = s.from ? Date.parse(s.from) : to - RANGES['24h'];
  return { from: Number.isFinite(from) ? from : now - RANGES['24h'], to: Number.isFinite(to) ? to : now };
}

/** The API's query for a state: the filters and the range in epoch ms. */
function apiQuery(s, range) {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (s[k]) q.set(k, s[k]);
  q.set('from', String(range.from));
  q.set('to', String(range.to));
  return q;
}

let state = stateFromUrl();

/** Makes `next` the state: a new history entry, then asks again (`what`: all, or only the timeline). */
function commit(next, what = 'all') {
  state = next;
  const url = urlOf(state);
  if (url !== `${location.pathname}${location.search}`) history.pushState(null, '', url);
  if (what === 'timeline') showTimeline();
  else load();
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  commit(stateFromForm());
});

// Sort and rows (beside the results) ask again at once.
for (const name of ['sort', 'limit']) field(name).addEventListener('change', () => commit(stateFromForm()));

field('range').addEventListener('change', () => {
  if (field('range').value === 'custom' && !field('from').value) {
    const r = rangeOf(state.range === 'custom' ? state : { range: state.range }, Date.now());
    field('from').value = toLocalInput(String(r.from));
    field('to').value = toLocalInput(String(r.to));
  }
  customInputs();
});

$('clear-filters').addEventListener('click', () => {
  const s = stateFromForm();
  for (const k of FILTERS) s[k] = '';
  fillForm(s);
  commit(s);
});

window.addEventListener('popstate', () => {
  state = stateFromUrl();
  fillForm(state);
  load();
});

/** Narrows the search by one value (a click on the map, a country badge, an ASN, …). */
function narrow(name, value) {
  const s = { ...stateFromForm(), [name]: value ?? '' };
  fillForm(s);
  commit(s);
}

// ---------------------------------------------------------------------------------------------
// Search: figures, map, results

let generation = 0;
/** The range of the search shown (the timeline asks over the same). */
let shownRange = rangeOf(state, Date.now());

async function load() {
  const gen = ++generation;
  const range = rangeOf(state, Date.now());
  shownRange = range;
  const query = apiQuery(state, range);
  const search = `/api/history/search?${query}&sort=${encodeURIComponent(state.sort || DEFAULTS.sort)}&limit=${encodeURIComponent(state.limit || DEFAULTS.limit)}`;
  $('export-csv').setAttribute('href', `${search}&format=csv`);
  $('export-json').setAttribute('href', `${search}&format=json`);
  setText('fig-range', `${short(range.from)} → ${short(range.to)}`);
  $('fig-range').title = `${when(range.from)} to ${when(range.to)} (local time)`;
  setStatus('searching…', 'busy');
  const [result, countries, cities] = await Promise.allSettled([getJson(search), getJson(`/api/history/countries?${query}`), getJson(`/api/history/cities?${query}`)]);
  if (gen !== generation) return;
  if (result.status === 'fulfilled') {
    for (const k of ['auth', 'history', 'search']) notice(k, '', null);
    renderResults(result.value);
    setStatus(`${compact(result.value?.totals?.sources ?? 0)} sources found`, '');
  } else {
    renderResults(null);
    const e = result.reason;
    setStatus(e instanceof ApiError && e.status === 400 ? e.message : 'no answer', 'error');
    if (!(e instanceof ApiError && e.status === 400)) explain(e, 'search');
  }
  cityRows = cities.status === 'fulfilled' && Array.isArray(cities.value) ? cities.value : [];
  renderCountries(countries.status === 'fulfilled' && Array.isArray(countries.value) ? countries.value : []);
  showTimeline();
}

function setText(id, text) {
  const n = $(id);
  if (n.textContent !== text) n.textContent = text;
}

function setStatus(text, level) {
  const s = $('status');
  s.textContent = text;
  s.dataset.level = level;
  s.title = text;
}

/** HistorySearchResult → the figures, the hint and the table. */
function renderResults(body) {
  const rows = list(body?.sources);
  const totals = body?.totals ?? null;
  setText('fig-sources', totals ? compact(totals.sources) : '–');
  setText('fig-packets', totals ? compact(totals.packets) : '–');
  setText('fig-blocked', totals ? compact(totals.blocked) : '–');
  const shown = Math.min(rows.length, SHOWN_ROWS);
  const hint = !totals
    ? ''
    : `${shown} of ${compact(totals.sources)} by ${(state.sort || DEFAULTS.sort).replace('_', ' ')}${rows.length > shown ? ` (all ${rows.length} in the exports)` : body.truncated ? ` (raise "rows" or export for more)` : ''}`;
  setText('results-hint', hint);
  $('results-hint').title = hint;
  const tbody = /** @type {HTMLTableSectionElement} */ ($('results').tBodies[0]);
  const frag = document.createDocumentFragment();
  for (const r of rows.slice(0, SHOWN_ROWS)) frag.append(resultRow(r));
  if (rows.length === 0) {
    const c = td('empty', totals ? 'no source matches' : 'no answer');
    c.colSpan = 14;
    frag.append(el('tr', null, null, [c]));
  }
  tbody.replaceChildren(frag);
  markSelected();
}

/** One HistorySource as a table row. */
function resultRow(r) {
  const tr = el('tr');
  tr.dataset.source = r.source;
  const open = el('button', 'src-btn mono', r.source);
  open.type = 'button';
  open.dataset.source = r.source;
  open.title = `timeline of ${r.source}`;
  const src = td('src', null, [open]);
  // A network's row: sources seen once in an hour of a flood, kept together (history.fold_after_sources).
  if (r.folded > 0) src.append(' ', el('span', 'folded', `${compact(r.folded)} seen once`));
  tr.append(titled(src, r.folded > 0 ? `${r.source}: ${r.folded} sources seen once each, kept in their network's row (an hour with more than history.fold_after_sources sources)` : r.source));

  tr.append(titled(td(null, null, r.country ? [pivot('country', r.country, placeLabel(r.country), 'cc')] : []), [r.city, r.country].filter(Boolean).join(', ')));

  const as = td('as');
  if (r.asn !== null && r.asn !== undefined) as.append(pivot('asn', r.asn, `AS${r.asn}`, 'mono'), ' ');
  if (r.org) as.append(el('span', null, r.org));
  tr.append(titled(as));

  tr.append(titled(td('dim', r.cloud || '')));

  const lists = td();
  for (const l of list(r.lists)) lists.append(pivot('list', l, l, 'tag'));
  tr.append(titled(lists, list(r.lists).join(', ')));

  const p = r.packets ?? {};
  const pkts = td('num mono', null, [compact(p.allowed ?? 0), el('span', 'dim', ' / '), el('span', 'blocked-n', compact(p.blocked ?? 0))]);
  tr.append(titled(pkts, `${p.total ?? 0} packets: ${p.allowed ?? 0} allowed, ${p.blocked ?? 0} blocked, ${p.unknown ?? 0} unknown`));
  tr.append(td('num mono', compact(r.syns ?? 0)));

  const ports = `${portRanges(r.ports)}${r.portsCapped ? ' …' : ''}`;
  tr.append(titled(td('mono', ports), `${list(r.ports).length}${r.portsCapped ? '+' : ''} ports: ${ports}\n${r.hosts ?? 0}${r.hostsCapped ? '+' : ''} hosts`));

  const wins = td('mono');
  list(r.windows).forEach((w, i) => {
    if (i) wins.append(' ');
    wins.append(pivot('window', w, String(w), 'win'));
  });
  tr.append(titled(wins, [list(r.windows).join(' '), ...list(r.fingerprints)].join('\n')));

  const tools = td();
  list(r.tools).forEach((t, i) => {
    if (i) tools.append(' ');
    tools.append(pivot('tool', t, t, 'toolname'));
  });
  tr.append(titled(tools, list(r.tools).join(', ')));
  tr.append(titled(td('dim', list(r.os).map(osLabel).join(', '))));

  const det = td('num');
  if (r.detections > 0) {
    det.append(el('span', `scan detected sev-${r.maxSeverity ?? 0}`, null, [el('span', 'sev', r.maxSeverity ?? 0), el('span', null, compact(r.detections))]));
    det.title = `${r.detections} detection${r.detections === 1 ? '' : 's'}, highest severity ${r.maxSeverity}`;
  } else det.append(el('span', 'dim', '—'));
  tr.append(det);

  tr.append(titled(td('mono dim', short(r.firstSeen)), `first seen ${when(r.firstSeen)}`));
  tr.append(titled(td('mono dim', short(r.lastSeen)), `last seen ${when(r.lastSeen)} · ${r.hours ?? 0} hours with sightings`));
  return tr;
}

$('results').addEventListener('click', (ev) => {
  const target = ev.target instanceof Element ? ev.target.closest('button') : null;
  if (!(target instanceof HTMLButtonElement)) return;
  if (target.dataset.source) commit({ ...state, source: target.dataset.source }, 'timeline');
  else if (target.dataset.f) narrow(target.dataset.f, target.dataset.v);
});

function markSelected() {
  for (const tr of $('results').tBodies[0].rows) tr.classList.toggle('sel', tr.dataset.source === state.source && state.source !== '');
}

// ---------------------------------------------------------------------------------------------
// The map and the top countries

/** What the map shades by: sources (blue) or blocked packets (red). */
let mapBy = 'sources';
/** Country names (for the top list and the country field's suggestions), once loaded. */
let names = new Map();
/** A country's name: the map's (short: "China"), else ISO's, else ''. */
const nameOf = (code) => worldMap.nameOf(code) ?? names.get(code) ?? '';
let countryRows = [];
/** Places a City database located the sources at (/api/history/cities): empty without one. */
let cityRows = [];
const describe = (c) => `${compact(c.sources)} source${c.sources === 1 ? '' : 's'}, ${compact(c.packets)} packets, ${compact(c.blocked)} blocked`;

const worldMap = createWorldMap($('inv-map'), {
  atlas: '/vendor/countries-50m.json',
  label: 'Sources by country over the range searched',
  fetchJson: getJson,
  onSelect: (code) => narrowPlace(code ?? '', ''),
  onSelectPlace: (place) => narrowPlace(place?.country ?? '', place?.city ?? ''),
});

// A city chosen on the map is of its country: typing another country lets it go.
field('country').addEventListener('input', () => {
  field('city').value = '';
});

/** Narrows the search to a country, or a city in it ('' for none), as one step back in history. */
function narrowPlace(country, city) {
  const s = { ...stateFromForm(), country, city };
  fillForm(s);
  commit(s);
}

/** The map's hint while no city is chosen. */
const MAP_HINT = $('map-hint').textContent ?? '';

function renderCountries(rows) {
  countryRows = rows;
  worldMap.update(rows, {
    value: (c) => (mapBy === 'blocked' ? c.blocked : c.sources),
    describe,
    metric: mapBy === 'blocked' ? 'blocked packets' : 'sources',
    palette: mapBy === 'blocked' ? 'red' : 'blue',
  });
  const value = (c) => (mapBy === 'blocked' ? c.blocked : c.sources);
  worldMap.updatePlaces(cityRows, { value, describe });
  worldMap.select(state.city ? null : state.country || null);
  worldMap.selectPlace(state.city ? { country: state.country, city: state.city } : null);
  setText('map-hint', state.city ? `${state.city} (${state.country}) chosen: click it again to clear` : MAP_HINT);
  const top = [...rows].sort((a, b) => (mapBy === 'blocked' ? b.blocked - a.blocked : b.sources - a.sources)).slice(0, 12);
  const ol = $('country-top');
  ol.replaceChildren();
  for (const c of top) {
    const b = el('button', 'top-c', null, [
      el('span', 'cc', placeLabel(c.country)),
      el('span', 'top-name', nameOf(c.country)),
      el('span', 'top-n mono', compact(mapBy === 'blocked' ? c.blocked : c.sources)),
    ]);
    b.type = 'button';
    b.title = `${nameOf(c.country) || placeLabel(c.country)}: ${describe(c)}`;
    b.setAttribute('aria-pressed', String(c.country !== '' && c.country === state.country));
    b.disabled = c.country === '';
    b.addEventListener('click', () => narrowPlace(c.country === state.country ? '' : c.country, ''));
    ol.append(el('li', null, null, [b]));
  }
  if (top.length === 0) ol.append(el('li', 'dim', 'no sources in the range'));
}

for (const [by, id] of [['sources', 'map-by-sources'], ['blocked', 'map-by-blocked']]) {
  $(id).addEventListener('click', () => {
    mapBy = by;
    $('map-by-sources').setAttribute('aria-pressed', String(by === 'sources'));
    $('map-by-blocked').setAttribute('aria-pressed', String(by === 'blocked'));
    renderCountries(countryRows);
  });
}

countryTable(getJson)
  .then((table) => {
    names = new Map([...table.byAlpha2].map(([code, { name }]) => [code, name]));
    const options = document.createDocumentFragment();
    for (const [code, name] of [['private', 'private addresses'], ['reserved', 'reserved addresses'], ...names]) {
      const o = el('option');
      o.value = code;
      o.label = name;
      options.append(o);
    }
    $('country-options').replaceChildren(options);
    renderCountries(countryRows);
  })
  .catch(() => {
    // names are a nicety; the codes are shown anyway
  });

// ---------------------------------------------------------------------------------------------
// One source's timeline

let timelineGen = 0;

/** Opens the timeline of state.source (or closes it when there is none). */
async function showTimeline() {
  markSelected();
  const panel = $('timeline');
  const source = state.source;
  if (!source) {
    panel.hidden = true;
    return;
  }
  const gen = ++timelineGen;
  const range = shownRange;
  const wasHidden = panel.hidden;
  panel.hidden = false;
  setText('tl-source', source);
  setText('tl-who', 'loading…');
  try {
    const t = await getJson(`/api/history/timeline?source=${encodeURIComponent(source)}&from=${range.from}&to=${range.to}`);
    if (gen !== timelineGen) return;
    notice('timeline', '', null);
    renderTimeline(t, range);
  } catch (err) {
    if (gen !== timelineGen) return;
    setText('tl-who', '');
    renderTimeline(null, range);
    explain(err, 'timeline');
  }
  if (wasHidden) {
    panel.scrollIntoView({ block: 'nearest' });
    $('tl-title').focus({ preventScroll: true });
  }
}

$('tl-close').addEventListener('click', () => commit({ ...state, source: '' }, 'timeline'));

/** Fingerprint keys "ittl=128,win=16384,…" → the fields that changed: "win 16384 → 65535". */
function fingerprintChange(from, to) {
  const parse = (key) => new Map(String(key).split(',').map((kv) => kv.split('=')).filter((p) => p.length === 2).map(([k, v]) => [k, v]));
  if (from.length === 1 && to.length === 1) {
    const a = parse(from[0]);
    const b = parse(to[0]);
    const changed = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k} ${a.get(k) ?? '–'} → ${b.get(k) ?? '–'}`);
    if (changed.length) return changed.join(', ');
  }
  return `${from.join(' ') || '–'} → ${to.join(' ') || '–'}`;
}

function renderTimeline(t, range) {
  const hours = list(t?.hours);
  const changes = list(t?.fingerprintChanges);
  const incidents = list(t?.incidents);
  if (t) {
    const folded = hours.reduce((n, h) => n + (h.folded ?? 0), 0);
    const who = [
      folded > 0 ? `${compact(folded)} sources seen once, kept in their network's row` : '',
      t.city ?? '',
      t.country ? placeLabel(t.country) : '',
      t.asn != null ? `AS${t.asn}` : '',
      t.org ?? '',
      t.cloud ?? '',
    ].filter(Boolean).join(' · ');
    setText('tl-who', `${who}${who ? ' · ' : ''}${hours.length} hour${hours.length === 1 ? '' : 's'} with sightings, ${incidents.length} incident${incidents.length === 1 ? '' : 's'}`);
  }
  timelineChart.set(hours, changes, range);

  const ul = $('tl-changes');
  ul.replaceChildren();
  for (const c of changes) {
    ul.append(el('li', 'fp-change', null, [el('span', 'mono dim', `${when(c.time)} `), el('b', 'mono', fingerprintChange(list(c.from), list(c.to)))]));
    ul.lastElementChild.title = `${list(c.from).join(' ')} → ${list(c.to).join(' ')}`;
  }
  if (changes.length === 0) ul.append(el('li', 'dim', 'the SYN fingerprint did not change'));

  const ol = $('tl-incidents');
  ol.replaceChildren();
  for (const i of incidents) {
    const sev = i.severity > 0 ? el('span', `scan detected sev-${i.severity}`, null, [el('span', 'sev', i.severity)]) : null;
    ol.append(el('li', `inc inc-${i.kind}`, null, [el('span', 'mono dim', `${when(i.time)} `), el('span', 'tag', i.kind), sev, ' ', el('span', null, i.text ?? '')]));
  }
  if (incidents.length === 0) ol.append(el('li', 'dim', 'no detection, alert or block in the range'));

  const changedHours = new Set(changes.map((c) => Math.floor(c.time / HOUR_MS)));
  const tbody = /** @type {HTMLTableSectionElement} */ ($('tl-hours').tBodies[0]);
  const frag = document.createDocumentFragment();
  for (const h of hours) {
    const p = h.packets ?? {};
    const tr = el('tr');
    if (changedHours.has(Math.floor(h.hour / HOUR_MS))) {
      tr.classList.add('fp-changed');
      tr.title = 'the SYN fingerprint changed in this hour';
    }
    tr.append(
      td('mono', when(h.hour)),
      titled(td('num mono', null, [compact(p.allowed ?? 0), el('span', 'dim', ' / '), el('span', 'blocked-n', compact(p.blocked ?? 0))]), `${p.total ?? 0} packets, ${p.unknown ?? 0} unknown`),
      td('num mono', compact(h.syns ?? 0)),
      titled(td('mono', `${portRanges(h.ports)}${h.portsCapped ? ' …' : ''}`)),
      td('num mono', `${h.hosts ?? 0}${h.hostsCapped ? '+' : ''}`),
      titled(td('mono win', list(h.windows).join(' '))),
      titled(td('mono', list(h.fingerprints).join(' '))),
      titled(td('toolname', list(h.tools).join(' '))),
      titled(td('dim', list(h.os).map(osLabel).join(', '))),
      titled(td(null, list(h.lists).join(', '))),
    );
    frag.append(tr);
  }
  if (hours.length === 0) {
    const c = td('empty', t ? 'no sightings of this source in the range' : 'no answer');
    c.colSpan = 10;
    frag.append(el('tr', null, null, [c]));
  }
  tbody.replaceChildren(frag);
}

/** Packets per hour over the range as stacked bars (blocked, allowed, unknown), fingerprint changes marked. */
const timelineChart = (() => {
  const NS = 'http://www.w3.org/2000/svg';
  const box = $('tl-chart');
  const svg = (tag, attrs) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    return n;
  };
  let last = { hours: [], changes: [], range: { from: 0, to: 1 } };
  let width = 0;

  function draw() {
    const { hours, changes, range } = last;
    const w = Math.max(100, Math.floor(box.clientWidth));
    const h = 110;
    width = w;
    const top = 14;
    const bottom = 16;
    const plotH = h - top - bottom;
    const root = svg('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, class: 'tl-svg' });
    const span = Math.max(1, range.to - range.from);
    const x = (t) => ((t - range.from) / span) * (w - 2) + 1;
    const barW = Math.max(1, (HOUR_MS / span) * (w - 2) - 1);
    const max = Math.max(1, ...hours.map((hr) => hr.packets?.total ?? 0));
    const y = (v) => (v / max) * plotH;
    root.append(svg('line', { x1: 0, x2: w, y1: top + plotH + 0.5, y2: top + plotH + 0.5, class: 'tl-axis' }));
    for (const hr of hours) {
      // An hour overlapping the range counts (sightings are per hour): drawn from the range's edge.
      if (hr.hour + HOUR_MS <= range.from || hr.hour >= range.to) continue;
      const left = x(Math.max(hr.hour, range.from));
      const p = hr.packets ?? {};
      let base = top + plotH;
      const g = svg('g', { class: 'tl-bar' });
      for (const [k, cls] of [['blocked', 'b'], ['allowed', 'a'], ['unknown', 'u']]) {
        const v = p[k] ?? 0;
        if (v <= 0) continue;
        const hh = Math.max(1, y(v));
        base -= hh;
        g.append(svg('rect', { x: left, y: base, width: Math.max(1, Math.min(barW, w - 1 - left)), height: hh, class: `tl-${cls}` }));
      }
      const title = svg('title', {});
      title.textContent = `${when(hr.hour)}: ${p.total ?? 0} packets (${p.allowed ?? 0} allowed, ${p.blocked ?? 0} blocked), ${hr.syns ?? 0} SYNs, windows ${list(hr.windows).join(' ') || '–'}`;
      g.append(title);
      root.append(g);
    }
    for (const c of changes) {
      if (c.time < range.from || c.time >= range.to) continue;
      const cx = Math.round(x(c.time)) + 0.5;
      const mark = svg('line', { x1: cx, x2: cx, y1: top - 2, y2: top + plotH, class: 'tl-change' });
      const title = svg('title', {});
      title.textContent = `${when(c.time)}: ${fingerprintChange(list(c.from), list(c.to))}`;
      mark.append(title);
      root.append(mark);
    }
    const label = (text, tx, ty, anchor) => {
      const n = svg('text', { x: tx, y: ty, 'text-anchor': anchor, class: 'tl-label' });
      n.textContent = text;
      root.append(n);
    };
    label(`max ${compact(max)} packets/h`, 2, 10, 'start');
    label(when(range.from), 2, h - 3, 'start');
    label(when(range.to), w - 2, h - 3, 'end');
    box.replaceChildren(root);
  }

  new ResizeObserver(() => {
    if (!$('timeline').hidden && Math.floor(box.clientWidth) !== width) draw();
  }).observe(box);

  return {
    set(hours, changes, range) {
      last = { hours, changes, range };
      draw();
    },
  };
})();

// ---------------------------------------------------------------------------------------------
// Footer: the credits the GeoIP and ASN databases ask for (/api/summary), and the map's source

async function credits() {
  const box = $('attribution');
  const parts = [];
  try {
    const s = await getJson('/api/summary');
    for (const c of list(s?.geoCredits)) {
      if (typeof c?.text !== 'string') continue;
      if (typeof c.url === 'string' && /^https?:\/\//.test(c.url)) {
        const a = el('a', null, c.text);
        a.href = c.url;
        a.rel = 'noopener noreferrer';
        a.target = '_blank';
        parts.push(a);
      } else parts.push(c.text);
    }
  } catch {
    // no summary: the map's credit still goes in
  }
  parts.push('Map: Natural Earth');
  box.replaceChildren();
  parts.forEach((p, i) => box.append(...(i ? [' · ', p] : [p])));
  box.title = box.textContent ?? '';
}

// ---------------------------------------------------------------------------------------------
// Start

fillForm(state);
load();
credits();
