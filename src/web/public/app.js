// nfwatch scan-watch page: the reference client of the WebSocket stream (docs/stream-protocol.md)
// and of the JSON API (/api/summary, /api/sources, /api/fingerprints, /api/campaigns, /api/blocks,
// /api/counters, /api/rates, /api/countries and /api/cities for the map).
//
// Sources and events carry who holds the address (AS number and organisation, cloud range) and the
// threat lists it is on; a list badge filters the live view by that list (the stream's `list`
// filter) and the top sources by it (/api/sources?list=). The header's "threat lists" figure shows
// each list's state from /api/summary.
//
// Served as is (no build step) under a strict CSP: no inline script or style, no eval. Rules kept
// throughout this file:
//   - Every string that comes from the log or the API (prefixes, device and interface names,
//     addresses, tools, countries, reasons, counter names) reaches the DOM through textContent or
//     a property (title, dataset) — never through innerHTML. `el()` below is the only DOM builder.
//   - Everything is bounded: the event buffer (BUFFER_ROWS) and the rows drawn (SHOWN_ROWS), the rate chart (RATE_POINTS), the pending
//     render queue, the reconnect delay.
//   - Filters the server understands are sent with `subscribe`; every filter is also applied here,
//     so rows already in the table follow a new filter at once (and `window`/`ittl`, which the
//     stream filter does not know, are filtered here only).
import uPlot from '/vendor/uPlot.esm.js';
import { createWorldMap } from '/map.js';
import { $, TOKEN, el } from '/page.js';

// ---------------------------------------------------------------------------------------------
// Settings

/** Events kept for the live table: a new filter is applied to all of them at once. */
const BUFFER_ROWS = 5_000;
/** Rows in the live table's DOM: about what a tall screen shows; more only cost the renderer. */
const SHOWN_ROWS = 100;
/** The live table is updated at most this often (events in between are batched). */
const TABLE_UPDATE_MS = 250;
/** Rate chart points (one per second live; older interval points from /api/rates). */
const RATE_POINTS = 600;
/** Reconnect backoff: first delay, cap, and how long a connection must live to reset it. */
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const BACKOFF_RESET_AFTER_MS = 10_000;
/** The server sends `stats` every second: silence this long means a dead connection. */
const STALE_PING_MS = 5_000;
const STALE_CLOSE_MS = 12_000;
/** The "sampled" / "skipping" notes go away this long after the last sampled second or skipped update. */
const SAMPLED_NOTE_MS = 5_000;
/** Polling periods of the JSON API. */
const POLL = { summary: 3_000, fingerprints: 3_000, sources: 3_000, campaigns: 5_000, counters: 10_000, rates: 10_000, blocks: 5_000, countries: 10_000 };

const COLORS = {
  allowed: '#3fb950',
  blocked: '#f85149',
  unknown: '#8b949e',
  bar: '#58a6ff',
  barActive: '#f2cc60',
  axis: '#8b95a5',
  grid: '#232a35',
  label: '#c9d1d9',
};

// ---------------------------------------------------------------------------------------------
// DOM helpers (the token, $ and el(), the only way this file builds markup, are page.js's)

/**
 * An OS family as shown: "crafted" is a tool's own packet, whose TTL and window say nothing of the
 * sender's OS.
 * @param {string} os
 */
function osLabel(os) {
  return os === 'crafted' ? 'unknown (crafted)' : os;
}

/** Marks an element as a filter target: clicking it adds `field = value` to the filter. */
function filterable(node, field, value) {
  if (value === null || value === undefined || value === '') return node;
  node.classList.add('fv');
  node.dataset.f = field;
  node.dataset.v = String(value);
  node.title = `filter: ${FIELDS[field]?.label ?? field} = ${value}`;
  return node;
}

// ---------------------------------------------------------------------------------------------
// Formatting

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** "07:15:41.306" in local time. */
function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Epoch seconds → "08:10:40" in local time (rate chart ticks). */
function hhmmss(sec) {
  const d = new Date(sec * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 1234567 → "1.23M"; small numbers as they are. */
function compact(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (Number.isInteger(n)) return String(n);
  return a >= 100 ? n.toFixed(0) : a >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** As compact(), but thousands too in k ("1.7k"): for narrow columns. */
function terse(n) {
  return typeof n === 'number' && n >= 1000 && n < 1e4 ? `${(n / 1e3).toFixed(1)}k` : compact(n);
}

function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

/** How long before `ref` (both ISO) — "4s", "12m", "3h". Event time, so replays read right. */
function ago(iso, refMs) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '–';
  const s = Math.max(0, Math.round(((refMs ?? Date.now()) - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Country codes as shown (the filter keeps the raw value). */
function countryLabel(c) {
  if (!c) return '';
  if (c === 'private') return 'LAN';
  if (c === 'reserved') return 'RSV';
  return c;
}

function countryBadge(c) {
  if (!c) return null;
  const b = el('span', 'cc', countryLabel(c));
  return filterable(b, 'country', c);
}

/** Characters of an AS organisation shown in a row (the full name is in the title). */
const ORG_CHARS = 20;

/** An AS organisation as shown: the part before the first comma, at most ORG_CHARS characters. */
function shortOrg(org) {
  const head = org.split(',')[0].trim() || org;
  return head.length > ORG_CHARS ? `${head.slice(0, ORG_CHARS - 1).trimEnd()}…` : head;
}

/** The strings of a `listed` array (events and source rows), or []. */
function listsOf(listed) {
  return Array.isArray(listed) ? listed.filter((l) => typeof l === 'string' && l !== '') : [];
}

/**
 * Who holds a source address, for a row: a badge per threat list it is on (a click filters the live
 * view by that list), "AS16509 AMAZON-02" (the organisation shortened, in full in the title), and the
 * cloud range ("aws/us-east-1/EC2") when it is in one. Each part is separated by a space.
 * @param {{ asn?: unknown, org?: unknown, cloud?: unknown, listed?: unknown }} o
 */
function ownerNodes(o) {
  const out = [];
  for (const l of listsOf(o.listed)) out.push(filterable(el('span', 'lb', l), 'list', l), ' ');
  const as = asLabel(o.asn);
  const org = typeof o.org === 'string' ? o.org.trim() : '';
  if (as || org) {
    const owner = el('span', 'owner', null, [as ? el('span', 'asn', as) : null, as && org ? ' ' : null, org ? shortOrg(org) : null]);
    owner.title = [as, org].filter(Boolean).join(' ');
    out.push(owner, ' ');
  }
  if (typeof o.cloud === 'string' && o.cloud !== '') {
    const cloud = el('span', 'cloud', o.cloud);
    cloud.title = `cloud range ${o.cloud}`;
    out.push(cloud);
  }
  if (out.at(-1) === ' ') out.pop();
  return out;
}

/** "AS16509", or '' when the number is unknown. */
function asLabel(asn) {
  return typeof asn === 'number' && Number.isInteger(asn) && asn >= 0 ? `AS${asn}` : '';
}

/** The whole of ownerNodes() as one line of text (a cell's title): nothing shortened. */
function ownerTitle(o) {
  const lists = listsOf(o.listed);
  return [
    [asLabel(o.asn), typeof o.org === 'string' ? o.org.trim() : ''].filter(Boolean).join(' '),
    typeof o.cloud === 'string' && o.cloud ? `cloud ${o.cloud}` : '',
    lists.length ? `on ${lists.join(', ')}` : '',
  ].filter(Boolean).join(' · ');
}

/** The initial TTL out of a fingerprint key ("ittl=128,win=..."), or null. */
function ittlOf(fingerprint) {
  const m = typeof fingerprint === 'string' ? /(?:^|,)ittl=(\d+)/.exec(fingerprint) : null;
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Filters

/** IPv4 dotted quad → unsigned 32-bit integer, or null. */
function v4(addr) {
  const p = addr.split('.');
  if (p.length !== 4) return null;
  let n = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255) return null;
    n = n * 256 + Number(x);
  }
  return n;
}

/** Whether `addr` is `spec` (an address, or an IPv4 CIDR; IPv6 CIDRs are left to the server). */
function addrMatches(addr, spec) {
  if (typeof addr !== 'string') return false;
  const slash = spec.indexOf('/');
  if (slash < 0) return addr.toLowerCase() === spec.toLowerCase();
  const base = v4(spec.slice(0, slash));
  const a = v4(addr);
  const bits = Number(spec.slice(slash + 1));
  if (base === null || a === null || !(bits >= 0 && bits <= 32)) return true;
  const div = 2 ** (32 - bits);
  return Math.floor(a / div) === Math.floor(base / div);
}

/** Protocol names the stream filter accepts (others are filtered on here only). */
const SERVER_PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'icmpv6']);

/** A TCP SYN without ACK (flag letters as the stream sends them). */
const isSyn = (e) => e.protocol === 'tcp' && typeof e.flags === 'string' && e.flags.includes('S') && !e.flags.includes('A');

/**
 * The filter fields: how a chip is labelled, how the value is read from an Event (for filtering
 * rows already shown), and whether the stream's `subscribe` filter knows the field and value
 * (`server`; src/web/filter.ts has no window or initial-TTL field).
 */
const FIELDS = {
  verdict: { label: 'verdict', server: true, num: false, get: (e) => e.verdict },
  protocol: {
    label: 'proto',
    server: (v) => typeof v === 'number' || SERVER_PROTOCOLS.has(v),
    num: false,
    parse: (v) => (/^\d+$/.test(v) ? Number(v) : v),
    get: (e) => e.protocol,
  },
  synOnly: { label: 'SYNs only', server: true, num: false, parse: () => true, match: (e) => isSyn(e) },
  port: { label: 'port', server: true, num: true, get: (e) => e.dport },
  src: { label: 'src', server: true, num: false, match: (e, v) => addrMatches(e.src, v) },
  country: { label: 'country', server: true, num: false, get: (e) => e.country },
  city: { label: 'city', server: true, num: false, get: (e) => e.city },
  tool: { label: 'tool', server: true, num: false, get: (e) => e.tool },
  fingerprint: { label: 'fp', server: true, num: false, get: (e) => e.fingerprint },
  list: { label: 'list', server: true, num: false, match: (e, v) => Array.isArray(e.listed) && e.listed.includes(v) },
  window: { label: 'window', server: false, num: true, get: (e) => e.window },
  ittl: { label: 'initial ttl', server: false, num: true, get: (e) => ittlOf(e.fingerprint) },
};

/** The filter in force: field → value. */
const filter = new Map();

function matches(e) {
  for (const [field, value] of filter) {
    const def = FIELDS[field];
    if (!def) continue;
    if (def.match ? !def.match(e, value) : def.get(e) !== value) return false;
  }
  return true;
}

/** Whether the stream filter takes `field = value` (else it is applied in this page only). */
function serverSide(field, value) {
  const s = FIELDS[field]?.server;
  return typeof s === 'function' ? s(value) : s === true;
}

/** The part of the filter the server understands, as a subscribe frame. */
function subscribeFrame() {
  const f = {};
  for (const [field, value] of filter) if (serverSide(field, value)) f[field] = value;
  return { type: 'subscribe', filter: f };
}

/** Adds (or replaces) `field = value`; `value` may be the text of a data-v attribute. */
function setFilter(field, value) {
  const def = FIELDS[field];
  if (!def) return;
  const v = def.parse ? def.parse(String(value)) : def.num ? Number(value) : String(value);
  if (def.num && !Number.isFinite(v)) return;
  if (filter.get(field) === v) return;
  const before = filter.has(field) && serverSide(field, filter.get(field));
  filter.set(field, v);
  filterChanged(before || serverSide(field, v));
}

function removeFilter(field) {
  if (!filter.has(field)) return;
  const server = serverSide(field, filter.get(field));
  filter.delete(field);
  filterChanged(server);
}

/** Asks /api/sources again at once (set when polling starts). */
let refreshSources = () => {};
/** The list filter the top sources were last asked for. */
let sourcesListShown;

function filterChanged(resubscribe) {
  if (resubscribe) send(subscribeFrame());
  if (filter.get('list') !== sourcesListShown) {
    sourcesListShown = filter.get('list');
    refreshSources();
  }
  liveMap.showFilter();
  renderChips();
  renderTable();
  histograms.redraw();
  const syn = $('syn-only');
  syn.classList.toggle('on', filter.has('synOnly'));
  syn.setAttribute('aria-pressed', String(filter.has('synOnly')));
}

function renderChips() {
  const box = $('chips');
  box.replaceChildren();
  if (filter.size === 0) {
    box.append(el('span', 'chips-empty', 'click a value to filter'));
    return;
  }
  for (const [field, value] of filter) {
    const def = FIELDS[field];
    const chip = el('span', 'chip', null, [
      el('span', 'chip-k', def?.label ?? field),
      field === 'synOnly' ? null : el('span', 'chip-v', field === 'country' ? countryLabel(String(value)) : String(value)),
    ]);
    chip.dataset.field = field;
    if (!serverSide(field, value)) chip.title = 'filtered in this page (the stream filter has no such field)';
    const history = chipInvestigateLink(field, value);
    if (history) chip.append(history);
    const x = el('button', 'chip-x', '×');
    x.type = 'button';
    x.title = 'remove this filter';
    x.setAttribute('aria-label', `remove filter ${def?.label ?? field}`);
    x.addEventListener('click', () => removeFilter(field));
    chip.append(x);
    box.append(chip);
  }
  if (filter.size > 1) {
    const all = el('button', 'chip-clear', 'clear all');
    all.type = 'button';
    all.addEventListener('click', () => {
      const server = [...filter].some(([f, v]) => serverSide(f, v));
      filter.clear();
      filterChanged(server);
    });
    box.append(all);
  }
}

// Any element marked by filterable() anywhere in the page adds its filter when clicked.
document.addEventListener('click', (ev) => {
  const target = ev.target instanceof Element ? ev.target.closest('.fv') : null;
  if (!(target instanceof HTMLElement) || !target.dataset.f) return;
  ev.preventDefault();
  setFilter(target.dataset.f, target.dataset.v ?? '');
});

// ---------------------------------------------------------------------------------------------
// Live event table
//
// What keeps the page responsive when a scan fills the stream (two-core firewall, 200 events/s
// and more): events are kept in a buffer (BUFFER_ROWS, for re-filtering) but only the newest
// SHOWN_ROWS matching rows are in the DOM; the table is touched at most every TABLE_UPDATE_MS,
// with the rows of one update built in one fragment; the newest rows carry a static `new` mark
// (no per-cell animation: hundreds of running animations froze the renderer); the table has a
// fixed layout and its scroll box contains layout and paint, so an update never re-lays out the
// page. While the pointer is over the table, updates are held so a row does not move away under
// the click (the status line says so and counts what is waiting).

/** Newest first; events as received (already filtered by the server's part of the filter). */
let buffer = [];
/** Events received since the last table update, oldest first. */
let queue = [];
let updateTimer = 0;
let lastUpdateAt = 0;
let paused = false;
let missedWhilePaused = 0;
/** Whether the pointer is over the live table (updates held, see above). */
let hovering = false;
/** Matching events of the last update that did not fit into the shown rows. */
let skippedInLastUpdate = 0;
let skippedAt = 0;
/** The `rate` frame of the last second in which the server sampled the stream, or null. */
let sampled = null;
let sampledAt = 0;

function receiveEvents(events) {
  if (!Array.isArray(events)) return;
  for (const e of events) if (e && typeof e === 'object') queue.push(e);
  // More than the buffer holds: only the newest matter.
  if (queue.length > BUFFER_ROWS) queue = queue.slice(-BUFFER_ROWS);
  scheduleUpdate();
}

function scheduleUpdate() {
  if (updateTimer) return;
  const wait = Math.max(0, lastUpdateAt + TABLE_UPDATE_MS - performance.now());
  updateTimer = setTimeout(updateTable, wait);
}

/** Moves the queue into the buffer and, unless paused or held, the newest matching rows into the table. */
function updateTable() {
  updateTimer = 0;
  lastUpdateAt = performance.now();
  if (queue.length > 0) {
    // queue is oldest first; the buffer is newest first.
    const batch = queue.reverse();
    queue = [];
    buffer = batch.concat(buffer);
    if (buffer.length > BUFFER_ROWS) buffer.length = BUFFER_ROWS;
    if (paused || hovering) missedWhilePaused += batch.length;
    else prependRows(batch);
  }
  updateStatus();
}

const eventsBody = () => /** @type {HTMLTableSectionElement} */ ($('events').tBodies[0]);
/** Rows marked `new` by the last update. */
let newRows = [];

/** Puts the matching events of `batch` (newest first) on top of the table, keeping SHOWN_ROWS. */
function prependRows(batch) {
  const tbody = eventsBody();
  const frag = document.createDocumentFragment();
  const fresh = [];
  let matching = 0;
  for (const e of batch) {
    if (!matches(e)) continue;
    matching++;
    if (fresh.length < SHOWN_ROWS) fresh.push(eventRow(e));
  }
  skippedInLastUpdate = matching - fresh.length;
  if (skippedInLastUpdate > 0) skippedAt = performance.now();
  if (fresh.length === 0) return;
  for (const tr of newRows) tr.classList.remove('new');
  for (const tr of fresh) {
    tr.classList.add('new');
    frag.append(tr);
  }
  newRows = fresh;
  if (fresh.length >= SHOWN_ROWS) tbody.replaceChildren(frag);
  else {
    tbody.prepend(frag);
    while (tbody.rows.length > SHOWN_ROWS) tbody.deleteRow(-1);
  }
}

/** Renders the table from the buffer (after a filter change, a resume or a clear). */
function renderTable() {
  const frag = document.createDocumentFragment();
  let n = 0;
  for (const e of buffer) {
    if (n >= SHOWN_ROWS) break;
    if (!matches(e)) continue;
    frag.append(eventRow(e));
    n++;
  }
  newRows = [];
  eventsBody().replaceChildren(frag);
  missedWhilePaused = 0;
  updateStatus();
}

/** The panel's status: rows shown of those buffered, and whether rows are sampled, skipped or held. */
function updateStatus() {
  const shown = eventsBody().rows.length;
  let inBuffer = 0;
  if (filter.size === 0) inBuffer = buffer.length;
  else for (const e of buffer) if (matches(e)) inBuffer++;
  setText('ev-count', `${shown}${inBuffer > shown ? ` of ${compact(inBuffer)}` : ''} row${inBuffer === 1 ? '' : 's'}${filter.size ? ' matching' : ''}`);

  const now = performance.now();
  const parts = [];
  let level = '';
  if (paused) {
    parts.push(`paused${missedWhilePaused ? ` · +${compact(missedWhilePaused)} new` : ''}`);
    level = 'held';
  } else if (hovering) {
    parts.push(`held under the pointer${missedWhilePaused ? ` · +${compact(missedWhilePaused)} new` : ''}`);
    level = 'held';
  }
  if (sampled && now - sampledAt < SAMPLED_NOTE_MS) {
    parts.push(`sampled: ${compact(sampled.sent)} of ${compact(sampled.matched)}/s`);
    level ||= 'sampled';
  }
  if (skippedInLastUpdate > 0 && now - skippedAt < SAMPLED_NOTE_MS) {
    parts.push(`skipping: ${compact(skippedInLastUpdate)} rows per update not drawn`);
    level ||= 'sampled';
  }
  const status = $('ev-status');
  setText('ev-status', parts.join(' · '));
  status.dataset.level = level;
  status.title = sampledTitle();
  updatePauseButton();
}

/** The full story of a sampled stream, for the status line's tooltip. */
function sampledTitle() {
  if (!sampled || performance.now() - sampledAt >= SAMPLED_NOTE_MS) {
    return `the table shows the newest ${SHOWN_ROWS} matching rows and is redrawn at most ${Math.round(1000 / TABLE_UPDATE_MS)}× a second; ${BUFFER_ROWS} events are kept for filtering`;
  }
  const f = sampled;
  const tops = [];
  if (Array.isArray(f.topPorts) && f.topPorts.length) tops.push(`ports ${f.topPorts.slice(0, 3).map(([p, n]) => `${p} (${compact(n)})`).join(', ')}`);
  if (Array.isArray(f.topSources) && f.topSources.length) tops.push(`sources ${f.topSources.slice(0, 3).map(([s, n]) => `${s} (${compact(n)})`).join(', ')}`);
  return `Stream sampled: ${compact(f.sent)} of ${compact(f.matched)} matching events sent in the last second${tops.length ? ` — top ${tops.join('; ')}` : ''}. Counts and charts are complete; narrow the filter to see every event.`;
}

function td(cls, text, children) {
  return el('td', cls, text, children);
}

/** Gives a cell its own text as title: a column too narrow for it shows an ellipsis, the title the rest. */
function titled(node) {
  node.title = node.textContent ?? '';
  return node;
}

/** One table row for an Event (docs/stream-protocol.md). */
function eventRow(e) {
  const tr = el('tr', `v-${e.verdict}`);
  // The log prefix and interfaces in the time's title too: narrow screens have no column for them.
  const time = td('t mono', clock(e.time));
  const logged = [e.prefix ? `prefix ${e.prefix}` : '', e.in ? `in ${e.in}` : '', e.out ? `out ${e.out}` : ''].filter(Boolean).join(' · ');
  if (logged) time.title = logged;
  tr.append(time);

  tr.append(td(null, null, [filterable(el('span', `verdict ${e.verdict}`, e.verdict === 'allowed' ? 'accept' : e.verdict === 'blocked' ? 'block' : '?'), 'verdict', e.verdict)]));

  const src = td('addr mono', null, [filterable(el('span', null, e.src ?? ''), 'src', e.src)]);
  if (e.sport !== null && e.sport !== undefined) src.append(el('span', 'dim', `:${e.sport}`));
  const cc = countryBadge(e.country);
  if (cc) src.append(cc);
  tr.append(src);

  const dst = td('addr mono', null, [el('span', null, e.family === 6 && e.dport != null ? `[${e.dst ?? ''}]` : e.dst ?? '')]);
  if (e.dport !== null && e.dport !== undefined) dst.append(el('span', 'dim', ':'), filterable(el('span', 'port', e.dport), 'port', e.dport));
  tr.append(titled(dst));

  const proto = td('mono', null, [filterable(el('span', null, e.protocol ?? ''), 'protocol', e.protocol)]);
  if (e.flags) proto.append(el('span', 'flags', e.flags));
  tr.append(proto);

  tr.append(td('num mono', null, e.window != null ? [filterable(el('span', 'win', e.window), 'window', e.window)] : []));
  tr.append(td('num mono', e.ttl ?? ''));

  const tool = td('tool');
  if (e.tool) tool.append(filterable(el('span', 'toolname', e.tool), 'tool', e.tool));
  if (e.os) tool.append(el('span', 'dim', e.tool ? ` ${osLabel(e.os)}` : osLabel(e.os)));
  titled(tool);
  if (Array.isArray(e.reasons) && e.reasons.length) {
    tool.title += ` (${e.confidence != null ? `confidence ${e.confidence}: ` : ''}${e.reasons.join(', ')})`;
  }
  // The fingerprint too: narrower screens have no column for it.
  if (e.fingerprint) tool.title = [tool.title, e.fingerprint].filter(Boolean).join('\n');
  tr.append(tool);

  // Who holds the source and the threat lists it is on (the list badges filter by list).
  const owner = td('own', null, ownerNodes(e));
  owner.title = ownerTitle(e);
  tr.append(owner);

  tr.append(titled(td('fp mono', null, e.fingerprint ? [filterable(el('span', null, e.fingerprint), 'fingerprint', e.fingerprint)] : [])));

  const where = td('prefix');
  where.append(el('span', null, e.prefix ?? ''));
  if (e.in) where.append(el('span', 'dim', ` ${e.in}`));
  if (e.out) where.append(el('span', 'dim', `→${e.out}`));
  tr.append(titled(where));
  return tr;
}

function updatePauseButton() {
  const b = $('pause');
  b.textContent = paused ? (missedWhilePaused ? `Resume (+${compact(missedWhilePaused)})` : 'Resume') : 'Pause';
  b.setAttribute('aria-pressed', String(paused));
  b.classList.toggle('on', paused);
}

$('pause').addEventListener('click', () => {
  paused = !paused;
  if (paused) updateStatus();
  else renderTable();
});

// Rows stay where they are while the pointer is over them; what arrived meanwhile is shown on leave.
const eventsScroll = /** @type {HTMLElement} */ ($('events').closest('.scroll'));
eventsScroll.addEventListener('pointerenter', () => {
  hovering = true;
  updateStatus();
});
eventsScroll.addEventListener('pointerleave', () => {
  hovering = false;
  if (!paused && missedWhilePaused > 0) renderTable();
  else updateStatus();
});

$('syn-only').addEventListener('click', () => {
  if (filter.has('synOnly')) removeFilter('synOnly');
  else setFilter('synOnly', true);
});

$('clear').addEventListener('click', () => {
  buffer = [];
  queue = [];
  renderTable();
});

// The status line's notes (sampled, skipping) expire even when no event arrives.
setInterval(updateStatus, 1_000);

// ---------------------------------------------------------------------------------------------
// Notices (sampled stream, slow client, errors)

const noticeTimers = new Map();

/** Shows (or replaces) the notice `key`; `ttlMs` hides it again unless renewed. */
function notice(key, level, parts, ttlMs) {
  const box = $('notices');
  let n = box.querySelector(`[data-key="${key}"]`);
  if (!n) {
    n = el('div', 'notice');
    n.dataset.key = key;
    box.append(n);
  }
  n.className = `notice ${level}`;
  const close = el('button', 'notice-x', '×');
  close.type = 'button';
  close.title = 'dismiss';
  close.addEventListener('click', () => n?.remove());
  n.replaceChildren(...parts.map((p) => (typeof p === 'string' ? document.createTextNode(p) : p)), close);
  clearTimeout(noticeTimers.get(key));
  if (ttlMs) noticeTimers.set(key, setTimeout(() => n?.remove(), ttlMs));
}

function clearNotice(key) {
  $('notices').querySelector(`[data-key="${key}"]`)?.remove();
}

function onRate(f) {
  if (!f.sampled) return;
  sampled = f;
  sampledAt = performance.now();
  updateStatus();
}

// ---------------------------------------------------------------------------------------------
// Header figures

function setText(id, text) {
  const n = $(id);
  if (n.textContent !== text) n.textContent = text;
}

let lastStats = null;

function onStats(f) {
  setText('fig-rate', compact(f.eventsPerSecond));
  if (f.events) {
    setText('fig-allowed', compact(f.events.allowed));
    setText('fig-blocked', compact(f.events.blocked));
  }
  // Per-second rates from the cumulative counters, for the rate chart.
  const t = Date.parse(f.time) / 1000 || Date.now() / 1000;
  if (lastStats && f.events && lastStats.events && t > lastStats.t) {
    const dt = t - lastStats.t;
    const d = (k) => Math.max(0, (f.events[k] ?? 0) - (lastStats.events[k] ?? 0)) / dt;
    rateChart.live(Math.round(t), d('allowed'), d('blocked'), d('unknown'));
  }
  lastStats = { t, events: f.events };
}

function onSummary(s) {
  if (!s || typeof s !== 'object') return;
  setText('fig-sources', s.sources ? `${compact(s.sources.tracked)}` : '–');
  setText('fig-scans', s.scans ? `${compact(s.scans.detected)} / ${compact(s.scans.suspected)}` : '–');
  setText('fig-campaigns', s.campaigns ? compact(s.campaigns.active) : '–');
  setText('fig-syns', s.fingerprints ? compact(s.fingerprints.syns) : '–');
  setText('fig-time', s.time ? clock(s.time).slice(0, 8) : '–');
  if (s.time) eventNow = Date.parse(s.time);
  if (s.windowSeconds) $('hist-hint').textContent = `last ${s.windowSeconds}s`;
  renderCredits(Array.isArray(s.geoCredits) ? s.geoCredits : []);
  renderLists(Array.isArray(s.lists) ? s.lists : [], Date.parse(s.serverTime) || Date.now());
}

/**
 * The header's "threat lists" figure, shown when lists are configured: per list its name (a click
 * filters the live view by it), packets from sources on it since start, its entries and how long
 * ago it was loaded. A list whose newest file could not be read (`error`) or that was never loaded
 * is marked ⚠ in the warning colour, with the error; problems come first. Full figures in titles.
 */
let listsShown = '';
function renderLists(lists, nowMs) {
  const rows = lists.filter((l) => l && typeof l === 'object' && typeof l.name === 'string');
  const box = $('lists-fig');
  box.hidden = rows.length === 0;
  if (rows.length === 0) return;
  // Rebuilt only when something shown changed (a title being read stays up).
  const key = JSON.stringify([rows, rows.map((l) => (l.loadedAt ? ago(l.loadedAt, nowMs) : ''))]);
  if (key === listsShown) return;
  listsShown = key;
  const trouble = (l) => (typeof l.error === 'string' && l.error !== '') || !l.loadedAt;
  const items = [...rows].sort((a, b) => Number(trouble(b)) - Number(trouble(a))).map((l) => {
    const error = typeof l.error === 'string' ? l.error : '';
    const loaded = l.loadedAt ? `${ago(l.loadedAt, nowMs)} ago` : 'not loaded';
    const item = el('div', `lf-i${trouble(l) ? ' warn' : ''}`, null, [
      trouble(l) ? el('span', 'lf-warn', '⚠ ') : null,
      filterable(el('span', 'lf-name', l.name), 'list', l.name),
      ' ',
      el('b', 'lf-pkts', compact(l.packets)),
      el('span', 'dim', ` pkts · ${compact(l.entries)} entries · `),
      el('span', l.loadedAt ? 'dim lf-at' : 'lf-at', loaded),
      error ? el('span', 'lf-err', ` · ${error}`) : null,
    ]);
    item.dataset.list = l.name;
    const lines = [
      `threat list ${l.name}: ${l.entries ?? 0} entries covering ${l.addresses ?? 0} addresses`,
      `${l.packets ?? 0} packets from sources on it since start`,
      l.loadedAt ? `loaded ${new Date(l.loadedAt).toLocaleString()} (${loaded})` : 'not loaded yet',
    ];
    if (l.badLines) lines.push(`${l.badLines} lines not understood`);
    if (error) lines.push(`${l.loadedAt ? 'its newest file is not in use' : 'cannot be read'}: ${error}`);
    item.title = lines.join('\n');
    return item;
  });
  $('lists-fig-items').replaceChildren(...items);
  box.title = `threat lists: ${rows.map((l) => `${l.name} ${l.packets ?? 0} packets${trouble(l) ? ' (⚠)' : ''}`).join(', ')}`;
}

/** The credits the GeoIP databases ask for, beside the countries they give (footer). */
let creditsShown = '';
function renderCredits(credits) {
  const key = JSON.stringify(credits);
  if (key === creditsShown) return;
  creditsShown = key;
  const box = $('attribution');
  box.replaceChildren();
  box.title = credits.map((c) => (typeof c?.text === 'string' ? c.text : '')).filter(Boolean).join('\n');
  for (const c of credits) {
    if (typeof c?.text !== 'string') continue;
    if (box.childNodes.length) box.append(' · ');
    // Only http(s) links; the text is from the server but still goes in as text.
    if (typeof c.url === 'string' && /^https?:\/\//.test(c.url)) {
      const a = el('a', null, c.text);
      a.href = c.url;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      box.append(a);
    } else box.append(c.text);
  }
}

/** The tracker's event time (ms): "last seen" columns are relative to it, so replays read right. */
let eventNow = 0;

// ---------------------------------------------------------------------------------------------
// Charts (uPlot)

/** Keeps a uPlot instance as wide and high as its container. */
function fit(u, container, onResize) {
  const resize = () => {
    const w = Math.floor(container.clientWidth);
    const h = Math.floor(container.clientHeight);
    if (w > 0 && h > 0 && (w !== u.width || h !== u.height)) {
      u.setSize({ width: w, height: h });
      onResize?.();
    }
  };
  new ResizeObserver(resize).observe(container);
  resize();
}

/** The font of the counts written above bars (CSS px; scaled to the canvas when drawn). */
const BAR_COUNT_FONT = '10px "DejaVu Sans", sans-serif';

const axisBase = {
  stroke: COLORS.axis,
  font: '11px "DejaVu Sans", system-ui, sans-serif',
  grid: { stroke: COLORS.grid, width: 1 },
  ticks: { stroke: COLORS.grid, width: 1, size: 4 },
};

/** Accepted / blocked / unknown packets per second over time. */
const rateChart = (() => {
  const container = $('rate-chart');
  /** second → [allowed, blocked, unknown]; `live` seconds come from stats frames. */
  const points = new Map();
  let firstLive = Infinity;
  const legendNodes = { allowed: $('rate-allowed'), blocked: $('rate-blocked'), unknown: $('rate-unknown'), at: $('rate-at') };
  const u = new uPlot(
    {
      width: Math.max(100, container.clientWidth),
      height: Math.max(80, container.clientHeight),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        // Whole seconds only: sub-second ticks would repeat the same hh:mm:ss label.
        { ...axisBase, space: 70, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600], values: (_u, splits) => splits.map((v) => hhmmss(v)) },
        { ...axisBase, size: 44, values: (_u, splits) => splits.map((v) => compact(v)) },
      ],
      series: [
        {},
        { label: 'accepted', stroke: COLORS.allowed, width: 1.5, fill: 'rgba(63,185,80,0.10)', points: { show: false } },
        { label: 'blocked', stroke: COLORS.blocked, width: 1.5, fill: 'rgba(248,81,73,0.12)', points: { show: false } },
        { label: 'unknown', stroke: COLORS.unknown, width: 1, points: { show: false } },
      ],
      hooks: { setCursor: [(self) => legend(self.cursor.idx)] },
    },
    [[], [], [], []],
    container,
  );
  fit(u, container);

  /** Shows the values at `idx` (hovered) or the newest point in the panel title. */
  function legend(idx) {
    const d = u.data;
    const i = idx ?? d[0].length - 1;
    if (i < 0 || d[0][i] === undefined) return;
    legendNodes.allowed.textContent = `${compact(d[1][i])}/s`;
    legendNodes.blocked.textContent = `${compact(d[2][i])}/s`;
    legendNodes.unknown.textContent = `${compact(d[3][i])}/s`;
    legendNodes.at.textContent = idx == null ? 'now' : hhmmss(d[0][i]);
  }

  function redraw() {
    const xs = [...points.keys()].sort((a, b) => a - b);
    while (xs.length > RATE_POINTS) points.delete(xs.shift());
    const data = [xs, [], [], []];
    for (const x of xs) {
      const p = points.get(x);
      data[1].push(p[0]);
      data[2].push(p[1]);
      data[3].push(p[2]);
    }
    u.setData(data);
    legend(u.cursor.idx ?? null);
  }

  return {
    /** One second of live rates from `stats`. */
    live(second, allowed, blocked, unknown) {
      if (second < firstLive) firstLive = second;
      points.set(second, [allowed, blocked, unknown]);
      redraw();
    },
    /** Interval rates from /api/rates (VerdictPoint: time in epoch seconds, per-second rates). */
    history(list) {
      let changed = false;
      for (const p of list) {
        if (!p || typeof p.time !== 'number' || p.time >= firstLive) continue;
        points.set(p.time, [p.allowed ?? 0, p.blocked ?? 0, p.unknown ?? 0]);
        changed = true;
      }
      if (changed) redraw();
    },
  };
})();

/**
 * A bar chart over categories (SYN windows, initial TTLs). Clicking a bar adds `field = label`
 * to the filter; the bar of the value filtered on is highlighted; counts are written above bars.
 */
function barChart(container, field, hintNode, idleHint) {
  /** All bars, most important first; as many as fit are shown, in label order. */
  let rows = [];
  /** The labels of the bars shown, by x index. */
  let labels = [];
  const u = new uPlot(
    {
      width: Math.max(100, container.clientWidth),
      height: Math.max(80, container.clientHeight),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false }, y: false },
      padding: [16, 4, 0, 0],
      scales: {
        x: { time: false, range: (self) => [-0.5, Math.max(0.5, self.data[0].length - 0.5)] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
      },
      axes: [
        {
          ...axisBase,
          grid: { show: false },
          splits: () => labels.map((_, i) => i),
          values: (_u, splits) => splits.map((i) => labels[i] ?? ''),
          rotate: 0,
          gap: 3,
          size: 22,
        },
        { ...axisBase, size: 36, values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? compact(v) : '')) },
      ],
      series: [
        {},
        {
          label: 'SYNs',
          stroke: COLORS.bar,
          fill: COLORS.bar,
          width: 0,
          points: { show: false },
          paths: uPlot.paths.bars({ size: [0.72, 48], gap: 1 }),
        },
      ],
      hooks: {
        draw: [drawCounts],
        setCursor: [
          (self) => {
            const i = self.cursor.idx;
            hintNode.textContent = i == null || labels[i] === undefined ? idleHint : `${labels[i]}: ${self.data[1][i]} SYNs — click to filter`;
          },
        ],
      },
    },
    [[], []],
    container,
  );
  fit(u, container, () => show());

  // Writes each bar's count above it; the bar of the value filtered on is drawn again on top in
  // the accent colour.
  function drawCounts(self) {
    const ctx = self.ctx;
    const active = filter.get(field);
    ctx.save();
    ctx.font = BAR_COUNT_FONT.replace(/^\d+px/, `${Math.round(10 * devicePixelRatio)}px`);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    const [xs, ys] = self.data;
    const barW = Math.min(48 * devicePixelRatio, ((self.bbox.width / Math.max(1, xs.length)) * 0.72));
    for (let i = 0; i < xs.length; i++) {
      const y = ys[i];
      if (y == null) continue;
      const cx = self.valToPos(xs[i], 'x', true);
      const top = self.valToPos(y, 'y', true);
      if (active !== undefined && labels[i] === active) {
        ctx.fillStyle = COLORS.barActive;
        ctx.fillRect(cx - barW / 2, top, barW, self.valToPos(0, 'y', true) - top);
      }
      ctx.fillStyle = COLORS.label;
      ctx.fillText(compact(y), cx, top - 2 * devicePixelRatio);
    }
    ctx.restore();
  }

  u.over.addEventListener('click', () => {
    const i = u.cursor.idx;
    if (i != null && labels[i] !== undefined) setFilter(field, labels[i]);
  });
  u.over.classList.add('clickable');

  function show() {
    const shown = fitting(rows, container.clientWidth - BAR_CHART_AXIS_PX).sort((a, b) => a.label - b.label);
    labels = shown.map((r) => r.label);
    u.setData([shown.map((_, i) => i), shown.map((r) => r.count)]);
    const more = shown.length < rows.length ? `top ${shown.length} of ${rows.length}` : '';
    hintNode.textContent = [more, idleHint].filter(Boolean).join(' · ');
    const title = hintNode.closest('h3');
    if (title) titled(title);
  }

  return {
    /** rows: [{label: number, count: number}], most important first. */
    set(next) {
      rows = next;
      show();
    },
    redraw() {
      u.redraw(false, false);
    },
  };
}

/** The y axis and padding of a bar chart, CSS px. */
const BAR_CHART_AXIS_PX = 40;
const textMeasure = document.createElement('canvas').getContext('2d');

function textWidth(text, font) {
  if (!textMeasure) return text.length * 7;
  textMeasure.font = font;
  return textMeasure.measureText(text).width;
}

/**
 * The first rows of `rows` whose bars fit into `width` px: each bar's slot must hold its label (axis
 * font) and its count (drawn above the bar) with a gap, so no two texts overlap on a narrow screen.
 */
function fitting(rows, width) {
  for (let n = rows.length; n > 1; n--) {
    const slot = width / n;
    let widest = 0;
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      widest = Math.max(widest, textWidth(String(r.label), axisBase.font), textWidth(compact(r.count), BAR_COUNT_FONT));
    }
    if (widest + 6 <= slot) return rows.slice(0, n);
  }
  return rows.slice(0, 1);
}

const histograms = (() => {
  const win = barChart($('win-chart'), 'window', $('win-hint'), 'click a bar to filter');
  const ttl = barChart($('ttl-chart'), 'ittl', $('ttl-hint'), '');
  return {
    /** From /api/fingerprints (FingerprintHistogram). */
    set(h) {
      // Up to the 12 most frequent windows (as many as the width allows), shown in window order so
      // bars keep their place.
      win.set((Array.isArray(h.byWindow) ? h.byWindow : []).slice(0, 12).map((r) => ({ label: r.window, count: r.count })));
      // The usual initial TTLs have a bar even at 0, so a new one stands out; frequent ones first.
      const byTtl = new Map([[64, 0], [128, 0], [255, 0], [32, 0]]);
      for (const r of Array.isArray(h.byInitialTtl) ? h.byInitialTtl : []) byTtl.set(r.initialTtl, r.count);
      ttl.set([...byTtl].map(([label, count]) => ({ label, count })).sort((a, b) => b.count - a.count));
      renderFingerprintTable(h);
    },
    redraw() {
      win.redraw();
      ttl.redraw();
    },
  };
})();

function renderFingerprintTable(h) {
  const tbody = /** @type {HTMLTableSectionElement} */ ($('fp-table').tBodies[0]);
  const rows = (Array.isArray(h.byKey) ? h.byKey : []).slice(0, 4);
  const frag = document.createDocumentFragment();
  for (const r of rows) {
    const share = h.total > 0 ? ` ${Math.round((r.count / h.total) * 100)}%` : '';
    const tool = td('tool');
    if (r.tool) tool.append(filterable(el('span', 'toolname', r.tool), 'tool', r.tool));
    if (r.os) tool.append(el('span', 'dim', r.tool ? ` ${osLabel(r.os)}` : osLabel(r.os)));
    frag.append(
      el('tr', null, null, [
        titled(td('fp mono', null, [investigateLink({ fingerprint: r.key }, r.key), filterable(el('span', null, r.key), 'fingerprint', r.key)])),
        td('num mono', null, [compact(r.count), el('span', 'dim', share)]),
        titled(tool),
      ]),
    );
  }
  if (rows.length === 0) frag.append(emptyRow(3, h.tracking === false ? 'tracking is off' : 'no SYNs in the window'));
  tbody.replaceChildren(frag);
}

// ---------------------------------------------------------------------------------------------
// Panels from the JSON API

function emptyRow(cols, text) {
  const c = td('empty', text);
  c.colSpan = cols;
  return el('tr', null, null, [c]);
}

/** The list `key` of an API answer (`{ sources: [...] }`), or [] when it is missing. */
function listOf(body, key) {
  return body && typeof body === 'object' && Array.isArray(body[key]) ? body[key] : [];
}

function scanBadge(scan) {
  if (!scan || scan.state === 'none' || !scan.state) return el('span', 'dim', '—');
  const types = Array.isArray(scan.types) ? scan.types.map((t) => (t === 'ssh_bruteforce' ? 'ssh' : t === 'vertical' ? 'vert' : t === 'horizontal' ? 'horiz' : t)) : [];
  const b = el('span', `scan ${scan.state} sev-${scan.severity ?? 0}`, null, [
    el('span', 'sev', scan.severity ?? 0),
    el('span', null, `${scan.state === 'detected' ? 'det' : 'susp'}${types.length ? ` ${types.join('+')}` : ''}`),
  ]);
  const e = scan.evidence;
  const how = Array.isArray(scan.techniques) && scan.techniques.length ? ` (${scan.techniques.map((t) => `${t.technique} ${t.probes}`).join(', ')})` : '';
  if (e) b.title = `${scan.label ? `${scan.label}\n` : ''}${scan.state}: ${e.ports} ports, ${e.hosts} hosts, ${e.probes} probes${how}, ${e.sshSyns} SSH SYNs (bucket ${e.sshBucket})${e.crafted ? ', crafted packets' : ''}${scan.since ? `, since ${scan.since}` : ''}`;
  return b;
}

/** A threat list name as /api/sources?list= takes it (the [[lists]] names). */
const LIST_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** The top sources' URL: only sources on the list of the live filter, when it has one. */
function sourcesUrl() {
  const list = filter.get('list');
  const on = typeof list === 'string' && LIST_NAME.test(list) ? `&list=${encodeURIComponent(list)}` : '';
  return `/api/sources?limit=25&sort=severity${on}`;
}

/** The list an /api/sources answer was asked for ('' for all sources). */
function sourcesList(url) {
  return typeof url === 'string' ? (new URLSearchParams(url.split('?')[1] ?? '').get('list') ?? '') : '';
}

/** SourceRow[] from /api/sources?sort=severity (`url`: what was asked). */
function renderSources(body, url) {
  const rows = listOf(body, 'sources');
  const tbody = /** @type {HTMLTableSectionElement} */ ($('sources').tBodies[0]);
  const frag = document.createDocumentFragment();
  const ref = eventNow || Math.max(0, ...rows.map((r) => Date.parse(r.lastSeen) || 0));
  for (const r of rows) {
    const w = r.window ?? {};
    const pkts = (w.allowed ?? 0) + (w.blocked ?? 0) + (w.unknown ?? 0);
    // The address; who holds it and the threat lists it is on (when known); what it is (tools, OS,
    // reused source port or sequence), as campaigns.
    const tool = el('div', 'sub-line');
    for (const t of r.tools ?? []) tool.append(filterable(el('span', 'toolname', t), 'tool', t), ' ');
    if (r.os?.length) tool.append(el('span', 'dim', r.os.map(osLabel).join(',')));
    if (r.sourcePortReuse) tool.append(el('span', 'tag', `sport ${r.sourcePortReuse.port}`));
    if (r.seqReuse) tool.append(el('span', 'tag', 'seq reuse'));
    const addr = el('div', 'mono addr-line', null, [filterable(el('span', null, r.address), 'src', r.address), countryBadge(r.country), investigateLink({ address: r.address }, r.address)]);
    const who = { asn: r.asn, org: r.asOrg, cloud: r.cloud, listed: r.listed };
    const owned = ownerNodes(who);
    const owner = owned.length ? el('div', 'sub-line owner-line', null, owned) : null;
    const head = td('stack', null, [addr, owner, tool.childNodes.length ? tool : null]);
    // The cell's title has it all, the organisation's full name too.
    head.title = [`${r.address}${r.country ? ` ${countryLabel(r.country)}` : ''}`, ownerTitle(who), tool.textContent?.trim() ?? ''].filter(Boolean).join('\n');
    const ports = `${r.ports?.distinct ?? 0}${r.ports?.atLeast ? '+' : ''}`;
    const hosts = `${r.hosts?.distinct ?? 0}${r.hosts?.atLeast ? '+' : ''}`;
    const portsCell = td('num mono', null, [ports, el('span', 'dim', ' / '), hosts]);
    const ranges = [r.ports?.ranges ? `ports ${r.ports.ranges}` : '', Array.isArray(r.hosts?.ranges) && r.hosts.ranges.length ? `hosts ${r.hosts.ranges.join(', ')}` : ''].filter(Boolean);
    if (Array.isArray(r.lastPorts) && r.lastPorts.length) ranges.push(`last ports: ${r.lastPorts.join(', ')}`);
    if (ranges.length) portsCell.title = ranges.join('\n');
    frag.append(
      el('tr', null, null, [
        head,
        td(null, null, [scanBadge(r.scan)]),
        td('num mono', null, [terse(pkts), el('span', 'dim', ' / '), el('span', 'blocked-n', terse(w.blocked ?? 0))]),
        portsCell,
        td('num mono dim', ago(r.lastSeen, ref)),
      ]),
    );
  }
  const list = sourcesList(url);
  if (rows.length === 0) frag.append(emptyRow(5, body?.tracking === false ? 'tracking is off' : list ? `no source on ${list} in the window` : 'no sources tracked yet'));
  tbody.replaceChildren(frag);
  setText('sources-hint', list ? `by scan severity · on ${list}` : 'by scan severity');
}

/** CampaignRow[] from /api/campaigns. */
function renderCampaigns(body) {
  const rows = listOf(body, 'campaigns');
  const tbody = /** @type {HTMLTableSectionElement} */ ($('campaigns').tBodies[0]);
  const frag = document.createDocumentFragment();
  const ref = eventNow || Date.now();
  for (const c of rows) {
    // Two lines: the fingerprint, then what it is (tool, OS, a source port shared by the members).
    const what = el('div', 'sub-line');
    if (c.tool) what.append(filterable(el('span', 'toolname', c.tool), 'tool', c.tool));
    if (c.os) what.append(el('span', 'dim', c.tool ? ` ${osLabel(c.os)}` : osLabel(c.os)));
    if (c.sharedSourcePort != null) what.append(el('span', 'tag', `sport ${c.sharedSourcePort}`));
    const head = titled(td('stack', null, [el('div', 'fp mono', null, [filterable(el('span', null, c.fingerprint), 'fingerprint', c.fingerprint)]), what]));
    const ports = td('mono');
    const list = Array.isArray(c.ports) ? c.ports : [];
    if (c.manyPorts) ports.append(el('span', 'tag', `many (${list.length})`));
    else {
      list.slice(0, 6).forEach((p, i) => {
        if (i) ports.append(' ');
        ports.append(filterable(el('span', 'port', p), 'port', p));
      });
      if (list.length > 6) ports.append(el('span', 'dim', ` +${list.length - 6}`));
    }
    ports.title = list.join(', ');
    const countries = td('countries');
    countries.title = (c.countries ?? []).map((x) => `${x.country || '?'} ${x.sources}`).join(', ');
    for (const { country, sources } of (c.countries ?? []).slice(0, 2)) {
      const b = countryBadge(country);
      if (b) countries.append(b, el('span', 'dim', `${sources} `));
    }
    const addrs = td('num mono', compact(c.sources));
    if (Array.isArray(c.addresses) && c.addresses.length) addrs.title = c.addresses.slice(0, 50).join('\n');
    frag.append(
      el('tr', null, null, [head, addrs, ports, countries, td('num mono', compact(c.syns)), td('num mono dim', ago(c.lastSeen, ref))]),
    );
  }
  if (rows.length === 0) frag.append(emptyRow(6, body?.tracking === false ? 'tracking is off' : 'no campaign (sources sharing a fingerprint) yet'));
  tbody.replaceChildren(frag);
}

/**
 * BlocksReply from /api/blocks: when blocking is on, how many sources the block set holds (hover:
 * which, for how long more, why, and nfwatch's decisions); hidden when it is off.
 */
function renderBlocks(body) {
  const box = $('fig-blocks-box');
  const on = Boolean(body && typeof body === 'object' && body.enabled);
  box.hidden = !on;
  if (!on) return;
  const blocks = listOf(body, 'blocks');
  const st = body.stats ?? {};
  setText('fig-blocks', body.error ? '?' : `${compact(blocks.length)}${body.dryRun ? ' (dry run)' : ''}`);
  const lines = blocks.slice(0, 30).map((b) => `${b.target}  ${b.expiresSeconds >= 0 ? `${b.expiresSeconds} s left` : ''}  ${b.comment ?? ''}`);
  if (blocks.length > 30) lines.push(`… ${blocks.length - 30} more`);
  lines.push(`decisions: ${st.blocked ?? 0} blocked, ${st.dryRun ?? 0} dry run, ${st.allowlisted ?? 0} spared by the allowlist, ${st.full ?? 0} over max_entries, ${st.failed ?? 0} failed, ${st.unblocked ?? 0} unblocked`);
  if (body.error) lines.unshift(`cannot read the set: ${body.error}`);
  $('fig-blocks').title = lines.join('\n');
}

/** CounterSeries[] from /api/counters. */
function renderCounters(body) {
  const rows = listOf(body, 'counters');
  const tbody = /** @type {HTMLTableSectionElement} */ ($('counters').tBodies[0]);
  const frag = document.createDocumentFragment();
  for (const c of rows) {
    frag.append(
      el('tr', null, null, [
        titled(td('mono', c.name)),
        td('num mono', compact(c.pktsPerSecond)),
        td('num mono', bytes(c.bytesPerSecond)),
        td('num mono dim', compact(c.pkts)),
        td('num mono dim', bytes(c.bytes)),
      ]),
    );
  }
  if (rows.length === 0) frag.append(emptyRow(5, 'no NFACCT counters (no NFACCT stack in ulogd?)'));
  tbody.replaceChildren(frag);
}

/**
 * Polls `url` (or the URL `url()` gives at each request) every `ms`, never two requests at once,
 * and hands the JSON and the URL asked to `render`. Returns a function that asks again now (after
 * the request under way, if any).
 */
function poll(url, ms, render) {
  const key = `api:${(typeof url === 'function' ? url() : url).split('?')[0]}`;
  let timer = 0;
  let busy = false;
  let again = false;
  const run = async () => {
    clearTimeout(timer);
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    const asked = typeof url === 'function' ? url() : url;
    try {
      const headers = { accept: 'application/json' };
      if (TOKEN) headers.authorization = `Bearer ${TOKEN}`;
      const res = await fetch(asked, { headers, cache: 'no-store', credentials: 'same-origin' });
      if (res.status === 401 || res.status === 403) {
        notice('auth', 'error', [el('b', null, 'Not authorised: '), 'open this page once as /?token=<your token> (see [web] token in the config).']);
      } else if (res.ok) {
        clearNotice('auth');
        clearNotice(key);
        const body = await res.json();
        // An answer overtaken by a newer question (the filter changed meanwhile) is not shown.
        if (!again) render(body, asked);
      } else if (res.status !== 404) {
        notice(key, 'warn', [`${asked}: HTTP ${res.status}`], ms * 2);
      }
    } catch (err) {
      notice(key, 'warn', [`${asked}: ${err instanceof Error ? err.message : String(err)}`], ms * 2);
    }
    busy = false;
    if (again) {
      again = false;
      run();
    } else timer = setTimeout(run, ms);
  };
  run();
  return run;
}

// ---------------------------------------------------------------------------------------------
// Links to the investigate page (the history of what the live view shows)

/** Live filter fields → the investigate page's parameter of the same meaning. */
const INVESTIGATE_PARAMS = { src: 'address', window: 'window', fingerprint: 'fingerprint', tool: 'tool', country: 'country', city: 'city', list: 'list', port: 'port', verdict: 'verdict' };

/** A small link to /investigate?<params>: the history of `what`. */
function investigateLink(params, what) {
  const a = el('a', 'inv-link', '↗');
  a.href = `/investigate?${new URLSearchParams(params)}`;
  a.title = `investigate ${what} in the history`;
  a.setAttribute('aria-label', a.title);
  return a;
}

/** The link for a filter chip, or null when the history has no such filter (protocol, TTL, …). */
function chipInvestigateLink(field, value) {
  const param = INVESTIGATE_PARAMS[field];
  if (!param || (field === 'verdict' && value === 'unknown')) return null;
  return investigateLink({ [param]: String(value) }, `${FIELDS[field]?.label ?? field} ${value}`);
}

// ---------------------------------------------------------------------------------------------
// Live map: sources by country in the tracker's window (/api/countries), and where a City database
// is configured the places it located them at (/api/cities). A click filters the live view by that
// country, or by that place (country and city: the stream filter has both); a second click clears it.

const liveMap = (() => {
  let by = 'blocked';
  let rows = [];
  let places = [];
  const fetchJson = async (url) => {
    const headers = TOKEN ? { authorization: `Bearer ${TOKEN}` } : {};
    const res = await fetch(url, { headers, credentials: 'same-origin' });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  };
  const map = createWorldMap($('live-map'), {
    atlas: '/vendor/countries-110m.json',
    label: 'Sources by country in the window',
    fetchJson,
    onSelect: (code) => {
      removeFilter('city');
      if (code === null) removeFilter('country');
      else setFilter('country', code);
    },
    onSelectPlace: (place) => {
      if (place === null) {
        removeFilter('city');
        removeFilter('country');
        return;
      }
      setFilter('country', place.country);
      if (place.city) setFilter('city', place.city);
      else removeFilter('city');
    },
  });
  const buttons = { blocked: $('map-by-blocked'), sources: $('map-by-sources') };
  for (const [key, b] of Object.entries(buttons)) {
    b.addEventListener('click', () => {
      by = key;
      for (const [k, other] of Object.entries(buttons)) other.setAttribute('aria-pressed', String(k === by));
      show();
    });
  }
  function show() {
    const value = (c) => (by === 'blocked' ? c.blocked : c.sources);
    const describe = (c) => `${compact(c.sources)} source${c.sources === 1 ? '' : 's'} (${compact(c.scanning)} scanning), ${compact(c.packets)} packets, ${compact(c.blocked)} blocked`;
    map.update(rows, { value, describe, metric: by === 'blocked' ? 'blocked packets' : 'sources', palette: by === 'blocked' ? 'red' : 'blue' });
    map.updatePlaces(places, { value, describe });
  }
  return {
    /** From /api/countries (LiveCountriesReply). */
    set(body) {
      rows = listOf(body, 'countries');
      if (body?.windowSeconds) setText('map-hint', `last ${body.windowSeconds}s`);
      show();
    },
    /** From /api/cities (LiveCitiesReply): empty without a City database. */
    setPlaces(body) {
      places = listOf(body, 'cities');
      show();
    },
    /** The country (or place) filter in force is the map's selection. */
    showFilter() {
      const city = filter.get('city');
      map.select(city ? null : (filter.get('country') ?? null));
      map.selectPlace(city ? { country: filter.get('country') ?? '', city } : null);
    },
  };
})();

// ---------------------------------------------------------------------------------------------
// The stream: connect, reconnect with exponential backoff, watchdog

/** @type {WebSocket | null} */
let ws = null;
let attempt = 0;
let openedAt = 0;
let lastFrameAt = 0;
let reconnectTimer = 0;
let countdownTimer = 0;
/** Whether the current connection has had its first hello. */
let helloSeen = false;

function streamUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/stream${TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : ''}`;
}

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  setText('conn-text', text);
}

function send(frame) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}

function connect() {
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  setConn('connecting', attempt ? `connecting… (attempt ${attempt + 1})` : 'connecting…');
  const sock = new WebSocket(streamUrl());
  ws = sock;
  helloSeen = false;
  sock.addEventListener('open', () => {
    openedAt = Date.now();
    lastFrameAt = openedAt;
    setConn('live', 'live');
    // Re-apply the filter in force (after a reconnect the server starts with none).
    const f = subscribeFrame();
    if (Object.keys(f.filter).length) send(f);
  });
  sock.addEventListener('message', (m) => {
    lastFrameAt = Date.now();
    let f;
    try {
      f = JSON.parse(typeof m.data === 'string' ? m.data : '');
    } catch {
      return;
    }
    if (f && typeof f === 'object') onFrame(f);
  });
  sock.addEventListener('close', (ev) => {
    if (ws !== sock) return;
    ws = null;
    lastStats = null;
    if (ev.code === 4008) notice('slow_client', 'warn', [el('b', null, 'Disconnected as a slow client: '), ev.reason || 'the page did not keep up with the stream', '. Reconnecting; a narrower filter sends less.']);
    if (Date.now() - openedAt > BACKOFF_RESET_AFTER_MS) attempt = 0;
    scheduleReconnect(ev.code);
  });
}

function scheduleReconnect(code) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  const delay = Math.round(base / 2 + Math.random() * (base / 2)); // jitter: many pages, one daemon
  attempt++;
  const until = Date.now() + delay;
  const show = () => {
    const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    setConn('down', `disconnected${code && code !== 1006 ? ` (${code})` : ''} — retry in ${s}s`);
  };
  show();
  countdownTimer = setInterval(show, 1000);
  reconnectTimer = setTimeout(connect, delay);
}

// stats arrive every second; a silent connection is pinged, then dropped and reconnected.
setInterval(() => {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const quiet = Date.now() - lastFrameAt;
  if (quiet > STALE_CLOSE_MS) {
    setConn('down', 'no data — reconnecting');
    ws.close(4000, 'stale');
  } else if (quiet > STALE_PING_MS) send({ type: 'ping' });
}, 2_000);

function onFrame(f) {
  switch (f.type) {
    case 'hello':
      setConn('live', 'live');
      setText('foot-version', `nfwatch ${typeof f.version === 'string' ? f.version : ''}`.trim());
      // The first hello of a connection: a slow-client state of an earlier one is over.
      if (!helloSeen) {
        helloSeen = true;
        clearNotice('slow_client');
        clearNotice('notice:slow_client');
      }
      break;
    case 'events':
      receiveEvents(f.events);
      break;
    case 'rate':
      onRate(f);
      break;
    case 'stats':
      onStats(f);
      break;
    case 'notice':
      notice(`notice:${f.code ?? 'server'}`, f.level === 'warn' || f.level === 'error' ? f.level : 'info', [
        el('b', null, f.code === 'slow_client' ? 'Slow client: ' : 'Server: '),
        typeof f.message === 'string' ? f.message : '',
        f.code === 'slow_client' ? ' — only rates and counts are sent now; reload or narrow the filter.' : '',
      ]);
      break;
    case 'error':
      notice('stream-error', 'error', [el('b', null, 'Stream: '), typeof f.message === 'string' ? f.message : 'error'], 10_000);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Start

renderChips();
updateStatus();
connect();
poll('/api/summary', POLL.summary, onSummary);
poll('/api/fingerprints', POLL.fingerprints, (h) => h && typeof h === 'object' && histograms.set(h));
refreshSources = poll(sourcesUrl, POLL.sources, renderSources);
poll('/api/campaigns', POLL.campaigns, renderCampaigns);
poll('/api/counters', POLL.counters, renderCounters);
poll('/api/rates', POLL.rates, (body) => rateChart.history(listOf(body, 'points')));
poll('/api/blocks', POLL.blocks, renderBlocks);
poll('/api/countries', POLL.countries, (body) => liveMap.set(body));
poll('/api/cities', POLL.countries, (body) => liveMap.setPlaces(body));
