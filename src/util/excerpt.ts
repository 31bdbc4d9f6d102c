// How text read from a source may appear in nfwatch's own log. A line that does not decode is
// foreign input: whatever a source was made to read (another file, a hostile client) must not be
// copied into the log, and its bytes must not act on the terminal or the log viewer that shows it
// (escape sequences, bidi overrides, fake line breaks). So a sample is short, quoted and escaped.

/** Characters of an undecodable line quoted in the log: enough to recognise it, too few to copy a file. */
export const EXCERPT_CHARS = 64;

/**
 * Code points written as \uXXXX: C0 controls, DEL, C1 controls, line/paragraph separators, bidi
 * marks, embeddings, overrides and isolates, zero-width characters and the byte order mark.
 */
const ESCAPED = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/;

function escapeChar(ch: string, quoted: boolean): string {
  switch (ch) {
    case '\\':
      return quoted ? '\\\\' : ch;
    case '"':
      return quoted ? '\\"' : ch;
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return ESCAPED.test(ch) ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : ch;
  }
}

/**
 * `text` with every character in ESCAPED escaped as in JSON, and for text going between double
 * quotes (`quoted`) backslash and double quote too; at most `maxChars` characters of it.
 */
export function escapeText(text: string, maxChars = Infinity, quoted = true): { text: string; chars: number; cut: boolean } {
  let out = '';
  let chars = 0;
  for (const ch of text) {
    if (chars >= maxChars) return { text: out, chars, cut: true };
    out += escapeChar(ch, quoted);
    chars++;
  }
  return { text: out, chars, cut: false };
}

/**
 * A line as quoted in the log: its first `maxChars` characters (code points) in double quotes,
 * escaped, and when it is longer an ellipsis and its full length.
 * `"garbage \u001b[2J…" (312 characters)`.
 */
export function quoteExcerpt(text: string, maxChars = EXCERPT_CHARS): string {
  const { text: escaped, cut } = escapeText(text, maxChars);
  return cut ? `"${escaped}…" (${codePoints(text)} characters)` : `"${escaped}"`;
}

/** Code points in `text`, without materialising them (a sampled line may be megabytes long). */
function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A low surrogate that follows a high one completes a pair already counted.
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = text.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) continue;
    }
    n++;
  }
  return n;
}

/** A message built from foreign text (a decoder's detail naming a key or a value): escaped and capped. */
export function sanitizeDetail(text: string, maxChars = 200): string {
  const { text: escaped, cut } = escapeText(text, maxChars, false);
  return cut ? `${escaped}…` : escaped;
}
