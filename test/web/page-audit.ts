// In-page checks of the scan-watch page's layout, run in chromium by browser.test.ts. Plain
// JavaScript strings: the test program is compiled without DOM types.

/**
 * Installed before the page's own scripts: records every text drawn on a canvas (uPlot's axis
 * labels, the counts above histogram bars) with its box in canvas pixels, from measureText and
 * the current transform. A clearRect of the whole canvas (uPlot's redraw) starts a new list.
 */
export const RECORD_CANVAS_TEXT = `(() => {
  const texts = new WeakMap();
  globalThis.__canvasTexts = (canvas) => texts.get(canvas) ?? [];
  const P = CanvasRenderingContext2D.prototype;
  const fillText = P.fillText;
  const clearRect = P.clearRect;
  P.clearRect = function (x, y, w, h) {
    if (x <= 0 && y <= 0 && w >= this.canvas.width && h >= this.canvas.height) texts.set(this.canvas, []);
    return clearRect.call(this, x, y, w, h);
  };
  P.fillText = function (text, x, y, maxWidth) {
    const m = this.measureText(String(text));
    const t = this.getTransform();
    let list = texts.get(this.canvas);
    if (!list) texts.set(this.canvas, (list = []));
    list.push({
      text: String(text),
      left: t.a * (x - m.actualBoundingBoxLeft) + t.e,
      right: t.a * (x + m.actualBoundingBoxRight) + t.e,
      top: t.d * (y - m.actualBoundingBoxAscent) + t.f,
      bottom: t.d * (y + m.actualBoundingBoxDescent) + t.f,
    });
    return fillText.call(this, text, x, y, maxWidth);
  };
})()`;

/**
 * What overflows, as a list of sentences (empty: the layout holds). Checked:
 * - no scroll box, and not the page, scrolls sideways (no column is cut off at a panel's edge);
 * - text of the header, panel titles, histogram titles, table cells and the footer either fits its
 *   box or is cut with an ellipsis and has its full text in a title;
 * - the live table's time, verdict, protocol, window and TTL, and an IPv4 source, are never cut;
 * - the header's parts lie inside the header and do not overlap;
 * - texts drawn on the charts' canvases stay inside the canvas and do not overlap each other.
 */
export const AUDIT_LAYOUT = `(() => {
  const out = [];
  const name = (n) => n.id ? '#' + n.id : n.tagName.toLowerCase() + (n.className && typeof n.className === 'string' ? '.' + n.className.trim().split(/\\s+/).join('.') : '');
  const where = (n) => { const p = n.closest('[id]'); return (p && p !== n ? name(p) + ' ' : '') + name(n); };
  const snippet = (n) => JSON.stringify((n.textContent || '').trim().slice(0, 40));

  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) out.push('the page scrolls sideways: ' + doc.scrollWidth + ' > ' + doc.clientWidth);
  for (const box of document.querySelectorAll('.scroll')) {
    if (box.scrollWidth > box.clientWidth + 1) out.push(where(box.querySelector('table') || box) + ' is wider than its panel: ' + box.scrollWidth + ' > ' + box.clientWidth);
  }

  const texts = document.querySelectorAll('header.top *, .panel-head > *, .panel > h2, .hist h3, table.data th, table.data td, table.data td > div, footer.foot *');
  for (const n of texts) {
    if (n.scrollWidth <= n.clientWidth + 1 || getComputedStyle(n).display === 'inline') continue;
    const s = getComputedStyle(n);
    const cut = s.textOverflow === 'ellipsis' && s.overflowX === 'hidden';
    const titled = !!n.closest('[title]') && (n.closest('[title]').title || '').trim() !== '';
    if (!cut || !titled) out.push(where(n) + ' ' + snippet(n) + ' overflows (' + n.scrollWidth + ' > ' + n.clientWidth + ')' + (cut ? ' without a title' : ''));
  }

  for (const row of document.querySelectorAll('#events tbody tr')) {
    const cells = row.cells;
    if (cells.length < 7) continue;
    for (const i of [0, 1, 4, 5, 6]) {
      const c = cells[i];
      if (c.scrollWidth > c.clientWidth + 1) out.push('live table column ' + (i + 1) + ' ' + snippet(c) + ' is cut');
    }
    const src = cells[2];
    if (/^\\d+\\.\\d+\\.\\d+\\.\\d+/.test(src.textContent || '') && src.scrollWidth > src.clientWidth + 1) out.push('live table source ' + snippet(src) + ' is cut');
  }

  const header = document.querySelector('header.top').getBoundingClientRect();
  const parts = [...document.querySelectorAll('header.top > *, #figures > div')].map((n) => ({ n, r: n.getBoundingClientRect() }));
  for (const { n, r } of parts) {
    if (r.left < header.left - 1 || r.right > header.right + 1 || r.top < header.top - 1 || r.bottom > header.bottom + 1) out.push('header part ' + where(n) + ' lies outside the header');
  }
  const figures = parts.filter((p) => p.n.parentElement && p.n.parentElement.id === 'figures');
  for (let i = 0; i < figures.length; i++) for (let j = i + 1; j < figures.length; j++) {
    const a = figures[i].r, b = figures[j].r;
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) out.push('header figures ' + snippet(figures[i].n) + ' and ' + snippet(figures[j].n) + ' overlap');
  }

  for (const id of ['rate-chart', 'win-chart', 'ttl-chart']) {
    for (const canvas of document.querySelectorAll('#' + id + ' canvas')) {
      const list = globalThis.__canvasTexts(canvas).filter((t) => t.text.trim() !== '');
      if (list.length === 0) out.push('#' + id + ' has no text drawn');
      for (const t of list) {
        if (t.left < -1 || t.top < -1 || t.right > canvas.width + 1 || t.bottom > canvas.height + 1) out.push('#' + id + ' text ' + JSON.stringify(t.text) + ' is drawn outside the canvas');
      }
      for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) {
        const a = list[i], b = list[j];
        if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) out.push('#' + id + ' texts ' + JSON.stringify(a.text) + ' and ' + JSON.stringify(b.text) + ' overlap');
      }
    }
  }
  return out;
})()`;
