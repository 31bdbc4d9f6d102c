import { describe, expect, it } from 'vitest';
import { EXCERPT_CHARS, quoteExcerpt, sanitizeDetail } from '../../src/util/excerpt.js';

describe('quoting a line read from a source in the log', () => {
  it('quotes a short line whole, in double quotes', () => {
    expect(quoteExcerpt('not json')).toBe('"not json"');
    expect(quoteExcerpt('')).toBe('""');
  });

  it('quotes at most 64 characters and says how long the line was', () => {
    const line = `${'a'.repeat(EXCERPT_CHARS)}SECRET`;
    expect(EXCERPT_CHARS).toBe(64);
    expect(quoteExcerpt(line)).toBe(`"${'a'.repeat(64)}…" (70 characters)`);
    expect(quoteExcerpt('a'.repeat(64))).toBe(`"${'a'.repeat(64)}"`);
  });

  it('escapes control characters, DEL, C1 controls, line separators and bidi overrides', () => {
    expect(quoteExcerpt('a\u001b[31mred\u0007\u0000b')).toBe('"a\\u001b[31mred\\u0007\\u0000b"');
    expect(quoteExcerpt('x\ny\rz\tw')).toBe('"x\\ny\\rz\\tw"');
    expect(quoteExcerpt('\u007f\u0085\u009b')).toBe('"\\u007f\\u0085\\u009b"');
    expect(quoteExcerpt('\u2028\u2029\u202e\u2066\u200b\ufeff')).toBe('"\\u2028\\u2029\\u202e\\u2066\\u200b\\ufeff"');
    expect(quoteExcerpt('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
  });

  it('keeps ordinary non-ASCII text readable and counts characters, not UTF-16 units', () => {
    expect(quoteExcerpt('Grüße 🔥')).toBe('"Grüße 🔥"');
    const emoji = '🔥'.repeat(70);
    expect(quoteExcerpt(emoji)).toBe(`"${'🔥'.repeat(64)}…" (70 characters)`);
  });

  it('never lets the quoted text end a log line or reach the terminal raw', () => {
    const hostile = `\r\n2026-01-01T00:00:00.000Z info forged\u001b]0;title\u0007${'x'.repeat(500)}`;
    const quoted = quoteExcerpt(hostile);
    expect(quoted).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(quoted.length).toBeLessThan(120);
  });
});

describe('a decoder detail in the log', () => {
  it('is escaped and capped', () => {
    expect(sanitizeDetail('key "a\u001bb" is wrong')).toBe('key "a\\u001bb" is wrong');
    expect(sanitizeDetail('x'.repeat(300))).toBe(`${'x'.repeat(200)}…`);
  });
});
