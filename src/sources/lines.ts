// Splits a byte stream into lines for the file and socket sources.
// This is the hot path (ulogd writes up to ~80 000 lines/s of ~900 bytes), so a chunk is scanned
// with indexOf and each line handed on as a range of it, never copied or made a string; bytes are
// copied only for the one line that straddles two chunks, into a holding buffer that is reused and
// never grows past the limit.
import { NONE, type LineReceiver } from '../pipeline/types.js';

const LF = 10;
const CR = 13;

/** A partial last line taken out of the splitter by flushPartial(). */
export interface PartialLine {
  /** Its bytes (a copy), without a trailing CR. */
  bytes: Buffer;
  /** Positions before and after its bytes (NONE when the splitter runs without positions). */
  start: number;
  end: number;
}

export class LineSplitter {
  /** Complete lines delivered (oversized ones not included). */
  lines = 0;
  /** Lines skipped because they were longer than the limit. */
  oversizedLines = 0;

  /** Bytes of the partial line held since the last newline (copied, the caller reuses chunks). */
  private held: Buffer = Buffer.alloc(0);
  private heldLength = 0;
  /** Position where the held (or skipped) partial line starts. */
  private heldStart = NONE;
  /** Bytes of the current partial line once it went past the limit; 0 while not skipping. */
  private skippedLength = 0;

  /**
   * @param maxLineBytes longest accepted line, in bytes without its newline.
   */
  constructor(
    private readonly receiver: LineReceiver,
    private readonly source: number,
    private readonly maxLineBytes: number,
  ) {}

  /** Bytes of the unfinished last line seen so far (including bytes skipped past the limit). */
  get heldBytes(): number {
    return this.skippedLength > 0 ? this.skippedLength : this.heldLength;
  }

  /**
   * Feeds the next chunk of the stream. `chunkStart` is the position of its first byte; positions
   * of lines are `chunkStart` plus byte offsets. Pass NONE for a stream without positions (then
   * every line is reported with NONE, NONE). The chunk may be reused by the caller afterwards. The
   * receiver is told (flush) once the chunk's lines are handed over.
   */
  push(chunk: Buffer, chunkStart: number): void {
    this.split(chunk, chunkStart);
    this.receiver.flush();
  }

  private split(chunk: Buffer, chunkStart: number): void {
    const positions = chunkStart >= 0;
    const length = chunk.length;
    let pos = 0;

    // Both read on every chunk (not `held > 0 || skipped > 0`): nearly every chunk ends inside a
    // line, and the first that did not would meet a read V8 compiled this loop without, and throw
    // the loop's compiled code (the whole packet path is inlined into it) away.
    if (this.heldLength + this.skippedLength > 0) {
      const newline = chunk.indexOf(LF);
      if (newline === -1) {
        this.hold(chunk, 0, length);
        return;
      }
      this.finishHeld(chunk, newline, positions ? chunkStart + newline + 1 : NONE);
      pos = newline + 1;
    }

    const receiver = this.receiver;
    const source = this.source;
    const max = this.maxLineBytes;
    let newline = chunk.indexOf(LF, pos);
    while (newline !== -1) {
      const lineLength = newline - pos;
      if (lineLength > max) {
        this.oversizedLines++;
        receiver.oversized(source, lineLength);
      } else {
        const textEnd = lineLength > 0 && chunk[newline - 1] === CR ? newline - 1 : newline;
        this.lines++;
        if (positions) receiver.line(source, chunk, pos, textEnd, chunkStart + pos, chunkStart + newline + 1);
        else receiver.line(source, chunk, pos, textEnd, NONE, NONE);
      }
      pos = newline + 1;
      newline = chunk.indexOf(LF, pos);
    }

    if (pos < length) {
      this.heldStart = positions ? chunkStart + pos : NONE;
      this.hold(chunk, pos, length);
    }
  }

  /**
   * Takes the held partial line out (for a rotated file that ended without a newline). A partial
   * line already past the limit is reported to the receiver as oversized and not returned.
   */
  flushPartial(): PartialLine | undefined {
    const start = this.heldStart;
    if (this.skippedLength > 0) {
      const bytes = this.skippedLength;
      this.reset();
      this.oversizedLines++;
      this.receiver.oversized(this.source, bytes);
      return undefined;
    }
    if (this.heldLength === 0) return undefined;
    const bytes = this.heldLength;
    const textEnd = this.held[bytes - 1] === CR ? bytes - 1 : bytes;
    const copy = Buffer.from(this.held.subarray(0, textEnd));
    this.reset();
    return { bytes: copy, start, end: start >= 0 ? start + bytes : NONE };
  }

  /**
   * Hands the held partial line to the receiver as a line, then flushes it, as push() does a
   * chunk's lines: for a stream that ended without a last newline (a rotated file, a replayed
   * one). A partial line past the limit is reported as oversized instead (flushPartial).
   */
  deliverPartial(): void {
    const partial = this.flushPartial();
    if (partial === undefined) return;
    this.receiver.line(this.source, partial.bytes, 0, partial.bytes.length, partial.start, partial.end);
    this.receiver.flush();
  }

  /** Forgets any held partial line (the holding buffer is kept for reuse). */
  reset(): void {
    this.heldLength = 0;
    this.skippedLength = 0;
    this.heldStart = NONE;
  }

  /** Adds chunk[from, to) to the partial line, switching to skipping once it passes the limit. */
  private hold(chunk: Buffer, from: number, to: number): void {
    const bytes = to - from;
    if (this.skippedLength > 0) {
      this.skippedLength += bytes;
      return;
    }
    const total = this.heldLength + bytes;
    if (total > this.maxLineBytes) {
      this.skippedLength = total;
      this.heldLength = 0;
      return;
    }
    if (total > this.held.length) {
      // Grow geometrically, capped at the limit: a few copies per connection at most.
      const grown = Buffer.allocUnsafe(Math.min(this.maxLineBytes, Math.max(total, this.held.length * 2, 4096)));
      this.held.copy(grown, 0, 0, this.heldLength);
      this.held = grown;
    }
    chunk.copy(this.held, this.heldLength, from, to);
    this.heldLength = total;
  }

  /** Completes the held partial line with chunk[0, newline) and delivers or skips it. */
  private finishHeld(chunk: Buffer, newline: number, end: number): void {
    const start = this.heldStart;
    this.hold(chunk, 0, newline);
    if (this.skippedLength > 0) {
      const bytes = this.skippedLength;
      this.reset();
      this.oversizedLines++;
      this.receiver.oversized(this.source, bytes);
      return;
    }
    const bytes = this.heldLength;
    const textEnd = bytes > 0 && this.held[bytes - 1] === CR ? bytes - 1 : bytes;
    this.reset();
    this.lines++;
    this.receiver.line(this.source, this.held, 0, textEnd, start, end);
  }
}
