import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/sources/lines.js';
import { NONE } from '../../src/pipeline/types.js';
import { RecordingReceiver } from '../support/recording-receiver.js';

function splitterFor(maxLineBytes = 1024, source = 3): { splitter: LineSplitter; receiver: RecordingReceiver } {
  const receiver = new RecordingReceiver();
  return { splitter: new LineSplitter(receiver, source, maxLineBytes), receiver };
}

/** Feeds `text` in chunks of `size` bytes, starting at position `base`. */
function feed(splitter: LineSplitter, text: string, size: number, base = 0): void {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) splitter.push(bytes.subarray(at, at + size), base + at);
}

describe('line splitter', () => {
  it('delivers each complete line with the byte positions before and after it', () => {
    const { splitter, receiver } = splitterFor();
    splitter.push(Buffer.from('ab\ncde\n\nf\n'), 100);
    expect(receiver.lines).toEqual([
      { source: 3, text: 'ab', start: 100, end: 103 },
      { source: 3, text: 'cde', start: 103, end: 107 },
      { source: 3, text: '', start: 107, end: 108 },
      { source: 3, text: 'f', start: 108, end: 110 },
    ]);
    expect(splitter.lines).toBe(4);
  });

  it('tells the receiver after each chunk that its lines are all handed over, once a chunk and after them', () => {
    const { splitter, receiver } = splitterFor();
    const seenAtFlush: number[] = [];
    const flush = receiver.flush.bind(receiver);
    receiver.flush = () => {
      seenAtFlush.push(receiver.lines.length);
      flush();
    };
    splitter.push(Buffer.from('a\nb\npar'), 0);
    splitter.push(Buffer.from('tial'), 7);
    splitter.push(Buffer.from('\nc\n'), 11);
    expect(receiver.texts).toEqual(['a', 'b', 'partial', 'c']);
    expect(seenAtFlush).toEqual([2, 2, 4]);
    expect(receiver.flushes).toBe(3);
  });

  it('strips a trailing carriage return', () => {
    const { splitter, receiver } = splitterFor();
    splitter.push(Buffer.from('one\r\ntwo\r'), 0);
    splitter.push(Buffer.from('\nthree\r\n'), 9);
    expect(receiver.texts).toEqual(['one', 'two', 'three']);
    expect(receiver.lines[1]).toMatchObject({ start: 5, end: 10 });
  });

  it('holds a partial line until its newline arrives, across any number of chunks', () => {
    const text = '{"a":1}\n{"b":"straddles several chunks"}\nlast\n';
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const { splitter, receiver } = splitterFor();
      feed(splitter, text, size, 1000);
      expect(receiver.texts, `chunk size ${size}`).toEqual(['{"a":1}', '{"b":"straddles several chunks"}', 'last']);
      expect(receiver.lines.map((l) => [l.start, l.end])).toEqual([
        [1000, 1008],
        [1008, 1041],
        [1041, 1046],
      ]);
    }
  });

  it('does not keep a reference to the chunk it was given (callers reuse their read buffer)', () => {
    const { splitter, receiver } = splitterFor();
    const buffer = Buffer.from('hello wo');
    splitter.push(buffer, 0);
    buffer.fill(0x78); // the caller overwrites its buffer with the next read
    splitter.push(Buffer.from('rld\n'), 8);
    expect(receiver.texts).toEqual(['hello world']);
  });

  it('decodes UTF-8 split across chunks', () => {
    const { splitter, receiver } = splitterFor();
    const bytes = Buffer.from('prefix “DROP” ü\n');
    const cut = bytes.indexOf(0xe2) + 1; // inside the three-byte quotation mark
    splitter.push(bytes.subarray(0, cut), 0);
    splitter.push(bytes.subarray(cut), cut);
    expect(receiver.texts).toEqual(['prefix “DROP” ü']);
  });

  it('skips a line longer than the limit, reports its full length once, and keeps the lines around it', () => {
    const { splitter, receiver } = splitterFor(16);
    const long = 'x'.repeat(100);
    feed(splitter, `good1\n${long}\ngood2\n`, 7, 0);
    expect(receiver.texts).toEqual(['good1', 'good2']);
    expect(receiver.oversizedLines).toEqual([100]);
    expect(receiver.lines[1]).toMatchObject({ start: 107, end: 113 });
    expect(splitter.oversizedLines).toBe(1);
  });

  it('skips an oversize line contained in one chunk', () => {
    const { splitter, receiver } = splitterFor(16);
    splitter.push(Buffer.from(`a\n${'y'.repeat(17)}\nb\n`), 0);
    expect(receiver.texts).toEqual(['a', 'b']);
    expect(receiver.oversizedLines).toEqual([17]);
  });

  it('accepts a line of exactly the limit', () => {
    const { splitter, receiver } = splitterFor(16);
    feed(splitter, `${'z'.repeat(16)}\n`, 5);
    expect(receiver.texts).toEqual(['z'.repeat(16)]);
    expect(receiver.oversizedLines).toEqual([]);
  });

  it('never holds more than the limit of an unfinished oversize line', () => {
    const { splitter } = splitterFor(256);
    for (let i = 0; i < 10_000; i++) splitter.push(Buffer.alloc(100, 0x61), i * 100);
    expect(splitter.heldBytes).toBe(1_000_000);
    // The holding buffer is private, but it is the thing that must stay bounded.
    const held = (splitter as unknown as { held: Buffer }).held;
    expect(held.length).toBeLessThanOrEqual(256);
  });

  it('flushPartial returns and clears the held partial line with its positions', () => {
    const { splitter, receiver } = splitterFor();
    splitter.push(Buffer.from('done\nunfinished'), 50);
    expect(splitter.heldBytes).toBe(10);
    expect(splitter.flushPartial()).toEqual({ bytes: Buffer.from('unfinished'), start: 55, end: 65 });
    expect(splitter.heldBytes).toBe(0);
    expect(splitter.flushPartial()).toBeUndefined();
    splitter.push(Buffer.from('next\n'), 0);
    expect(receiver.texts).toEqual(['done', 'next']);
  });

  it('flushPartial reports an oversize partial line as oversized instead of returning it', () => {
    const { splitter, receiver } = splitterFor(8);
    splitter.push(Buffer.from('0123456789abc'), 0);
    expect(splitter.flushPartial()).toBeUndefined();
    expect(receiver.oversizedLines).toEqual([13]);
  });

  it('deliverPartial hands the held partial line over as a line with its positions, then flushes', () => {
    const { splitter, receiver } = splitterFor();
    splitter.push(Buffer.from('done\nunfinished\r'), 50);
    const flushesBefore = receiver.flushes;
    splitter.deliverPartial();
    expect(receiver.lines.at(-1)).toEqual({ source: 3, text: 'unfinished', start: 55, end: 66 });
    expect(receiver.flushes).toBe(flushesBefore + 1);
    splitter.deliverPartial();
    expect(receiver.texts).toEqual(['done', 'unfinished']);
    expect(receiver.flushes).toBe(flushesBefore + 1);
  });

  it('deliverPartial reports an oversize partial line as oversized, not as a line', () => {
    const { splitter, receiver } = splitterFor(8);
    splitter.push(Buffer.from('0123456789abc'), 0);
    splitter.deliverPartial();
    expect(receiver.texts).toEqual([]);
    expect(receiver.oversizedLines).toEqual([13]);
  });

  it('reset forgets a partial line', () => {
    const { splitter, receiver } = splitterFor();
    splitter.push(Buffer.from('partial'), 0);
    splitter.reset();
    splitter.push(Buffer.from('whole\n'), 0);
    expect(receiver.texts).toEqual(['whole']);
  });

  it('reports NONE positions for a stream without positions', () => {
    const { splitter, receiver } = splitterFor();
    splitter.push(Buffer.from('a\nb'), NONE);
    splitter.push(Buffer.from('c\n'), NONE);
    expect(receiver.lines).toEqual([
      { source: 3, text: 'a', start: NONE, end: NONE },
      { source: 3, text: 'bc', start: NONE, end: NONE },
    ]);
  });
});
