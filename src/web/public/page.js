// What the nfwatch pages (app.js, investigate.js) share: the token they were opened with, and the
// DOM helpers through which they build all markup. Served as is, under the same strict CSP.

/**
 * The token the page was opened with (`?token=...`). The server answered that request with an
 * HttpOnly cookie, which the API calls (and the WebSocket) carry from now on; the page keeps the
 * token in memory for the Authorization header (and the stream URL, where browsers cannot set
 * headers). It is taken out of the address bar so it is not left in the browser history or in a
 * screenshot of the second screen; a reload is authorised by the cookie.
 */
export const TOKEN = new URLSearchParams(location.search).get('token') ?? '';
if (TOKEN) {
  const rest = new URLSearchParams(location.search);
  rest.delete('token');
  const q = rest.toString();
  history.replaceState(null, '', `${location.pathname}${q ? `?${q}` : ''}${location.hash}`);
}

export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * Creates an element. `text` goes in with textContent; `children` are appended as nodes (strings
 * become text nodes). The only way the pages build markup: nothing from the API reaches innerHTML.
 * @param {string} tag
 * @param {string | null} [cls]
 * @param {string | number | null} [text]
 * @param {Array<Node | string | null | undefined>} [children]
 */
export function el(tag, cls, text, children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (children) for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}
