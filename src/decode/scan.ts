// Reads the fields of one ulogd JSON line straight from the bytes it was read into, without making
// the line a string or an object: ~1.6x faster than JSON.parse on ulogd's lines, and it leaves no
// garbage but the few strings the decoder keeps.
//
// Safety comes from what it refuses, not from what it accepts: it takes only a plain subset of
// JSON (one flat object; keys of printable ASCII and strings of printable ASCII or UTF-8, without
// escapes; non-negative integers of at most 15 digits, true, false, null; each key the decoder reads
// at most once) and answers false for anything else — an escape, a nested value, a fraction, a
// duplicate key, a control character or DEL, a byte over 0x7e in a key, trailing garbage, an
// address that is not address text — so the caller parses that line with JSON.parse and decides
// exactly as before. On every line it accepts, the fields are those JSON.parse would give
// (test/decode/scan.test.ts checks this against JSON.parse on mutated lines), and its addresses
// are address text (the decoder does not check them again).
//
// ulogd writes its keys in the same order on every line of a kind, so each key is first compared
// with the one that followed the previous key last time (or the time before: lines of two kinds
// interleave), four or eight bytes at a time together with the `": ` ulogd writes after it (or
// the `":` of compact JSON, as `jq -c` writes it, once a line had it); only a miss looks the key up
// by name.
// A string value is first compared with the key's previous one, four bytes at a time: when it is
// that one again its bytes need no other look. Else they are checked four at a time, then looked up
// among the key's values seen before; only a value not seen lately becomes a new string (and only
// then are an address's bytes checked to be address text). A number's digits are read four at a
// time while a whole word of them follows.
import { ADDRESS_CHARS, FIELD_NAMES, MAX_ADDRESS_LENGTH, newFields, type Fields } from './fields.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const SPACE = 0x20;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;

/** 1 for a byte that may stand in a key as it is: printable ASCII but `"` and `\`. */
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b <= 0x7e; b++) PLAIN[b] = b === QUOTE || b === BACKSLASH ? 0 : 1;
/**
 * 1 for a byte that may stand in a string as it is: PLAIN, and the bytes of UTF-8 (a log prefix in
 * the admin's language). A string with any is made as JSON.parse makes it from the line's text
 * (textOf): a byte that is no valid UTF-8 becomes U+FFFD either way, as the quotes around a string
 * are ASCII and so end any sequence the same in the string alone as in the whole line.
 */
const TEXT = new Uint8Array(256);
for (let b = 0; b < 256; b++) TEXT[b] = PLAIN[b] === 1 || b >= 0x80 ? 1 : 0;

/** JSON's whitespace (a line has no LF; a CR may end it). */
function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

/**
 * Stands in `into` for a string value made only when asked for (LineScanner.deferred): ulogd's
 * time string, which oob.time.sec makes unneeded on nearly every line but differs on each.
 */
export const DEFERRED = Symbol('deferred string');
const DEFERRED_KEYS: readonly string[] = ['timestamp', '@timestamp'];

/**
 * A key's strings are kept in a table by their bytes, so that a value seen before is the same
 * string again: no new string per line (made by a call into Node's C++), and every Map keyed by
 * it downstream (the address facts, the tracker, the history's hosts, the prefix counts) finds it
 * by its cached hash and by identity. Addresses get a larger table (ADDRESS_KEYS); a log prefix,
 * a verdict or a MAC string has few values.
 */
const ADDRESS_KEYS: readonly string[] = ['src_ip', 'dest_ip'];
/** Strings a key's table holds (direct-mapped: a newer string takes its slot). */
const ADDRESS_INTERN_SLOTS = 4096;
const INTERN_SLOTS = 256;
/**
 * A flood of new addresses would find nothing there, and its strings, kept a while, would live
 * long enough to be moved to the old generation: over INTERN_WINDOW lookups with fewer than one in
 * eight found, the key's table stands aside for INTERN_ASIDE strings.
 */
const INTERN_WINDOW = 4096;
const INTERN_ASIDE = 65_536;

/** A key's last string is compared word by word when at most this long (a MAC string is 41 bytes), else by its characters. */
const LAST_BYTES = 64;

/** More digits than this may not be exact as a double: JSON.parse decides such numbers. */
const MAX_DIGITS = 15;

/** Keys remembered for prediction besides the decoder's own (ulogd writes ~50 kinds in all). */
const MAX_LEARNED_KEYS = 256;
const MAX_KEYS = FIELD_NAMES.length + MAX_LEARNED_KEYS;
// The decoder keys a line set are kept as the bits of two 32-bit numbers (LineScanner.heldLow).
if (FIELD_NAMES.length > 64) throw new Error('the line scanner holds at most 64 decoder keys');
/**
 * Bytes a remembered key spans with its closing quote, colon and space at most (the keys of ulogd's
 * own plugins are under 32 bytes); a longer one is looked up by name each time.
 */
const MAX_KEY_SPAN = 64;
const KEY_WORDS = MAX_KEY_SPAN / 8;
/** Buffers scan() refuses at their first byte, and how often it is called on them at construction (see the constructor). */
const PRIMING = [Buffer.from('x'), Buffer.from('x')];
const PRIMING_CALLS = 2048;
/** No key: the start of a line, or a key too many to remember. */
const NO_KEY = -1;

export class LineScanner {
  /** Keys known: the decoder's first (their id is their index in FIELD_NAMES), then learned ones. */
  private keys = 0;
  private readonly idByName = new Map<string, number>(FIELD_NAMES.map((name, id) => [name, id]));
  /**
   * The key that followed key `id` last time (index 0 is the start of a line), or NO_KEY; and the
   * one that followed it before that, different (lines of two kinds, TCP and UDP say, part after
   * the same key).
   */
  private readonly next = new Int32Array(FIELD_NAMES.length + MAX_LEARNED_KEYS + 1).fill(NO_KEY);
  private readonly nextBefore = new Int32Array(FIELD_NAMES.length + MAX_LEARNED_KEYS + 1).fill(NO_KEY);
  /** Per decoder key, the last string value read. */
  private readonly lastText: string[] = FIELD_NAMES.map(() => '\u0000');
  /**
   * Per decoder key, the last string's bytes (at id × LAST_BYTES, when not longer) and length
   * (−1: none), so a line's string is compared with it four bytes at a time.
   */
  private readonly lastView = new DataView(new ArrayBuffer(FIELD_NAMES.length * LAST_BYTES));
  private readonly lastLength = new Int32Array(FIELD_NAMES.length).fill(-1);
  /**
   * 1 for an address key: its bytes are checked to be address text when a string is made of them
   * (not when they are the last line's, or found in the key's table: checked when first met), and a
   * line with other bytes there is refused, so the decoder need not look at a scanned line's addresses.
   */
  private readonly addresses = Uint8Array.from(FIELD_NAMES, (name) => (ADDRESS_KEYS.includes(name) ? 1 : 0));
  /** Per decoder key, its table of strings by their bytes, made with its first string. */
  private readonly interned: Array<StringTable | null> = FIELD_NAMES.map(() => null);
  /** Per decoder key: lookups in its table this window, those that found the string, strings left to stand aside for. */
  private readonly internLookups = new Int32Array(FIELD_NAMES.length);
  private readonly internFound = new Int32Array(FIELD_NAMES.length);
  private readonly internAside = new Int32Array(FIELD_NAMES.length);
  /** 1 for a decoder key whose string is DEFERRED; where it is in the line's bytes. */
  private readonly defers = Uint8Array.from(FIELD_NAMES, (name) => (DEFERRED_KEYS.includes(name) ? 1 : 0));
  private readonly deferredFrom = new Int32Array(FIELD_NAMES.length);
  private readonly deferredTo = new Int32Array(FIELD_NAMES.length);
  private deferredBytes: Buffer = Buffer.alloc(0);
  /**
   * Per key id, the bytes that predict it as little-endian words (remember()), in two flat tables
   * rather than an array per key (one less object to reach for each key of a line): KEY_WORDS
   * doubles at id × KEY_WORDS when it spans 8 bytes or more, else two 32-bit words at id × 2.
   */
  private readonly keyWords = new Float64Array(MAX_KEYS * KEY_WORDS);
  private readonly keyShortWords = new Int32Array(MAX_KEYS * 2);
  /** Per key id, its length with its closing quote, the colon after it and the space after that, if any. */
  private readonly keySpans = new Int32Array(MAX_KEYS);
  /**
   * The decoder keys `into` holds from the last line read, as bits by id (FIELD_NAMES has at most
   * 64): the next line clears only those it does not set itself, rather than all of `into` first
   * (lines of one kind set the same keys). `tidy` is the array that holds no others; null after a
   * line left to JSON.parse, whose fields the caller copied in.
   */
  private heldLow = 0;
  private heldHigh = 0;
  private tidy: Fields | null = null;

  constructor() {
    for (const name of FIELD_NAMES) this.remember(Buffer.from(name, 'latin1'), true, this.keys++);
    // A line in another buffer than the last one's (the line that spans two reads is handed over
    // in a buffer of its own) takes the `viewed` branch of scan(). Its first call takes it before
    // V8 keeps feedback for the function, and V8 compiles scan() within the first read: the first
    // line across two reads then threw the compiled scanner away, and it was compiled again (~60 ms
    // of compiler time, traced). Refused calls on two one-byte buffers give the branch its feedback.
    const into = newFields();
    for (let i = 0; i < PRIMING_CALLS; i++) this.scan(PRIMING[i & 1]!, 0, 1, into);
  }

  /**
   * Keeps the words that predict key `id`: its bytes, its closing quote, the colon after it and
   * (`spaced`) the space after that, as little-endian words, one per whole eight bytes, then the
   * last eight, read as doubles; a key spanning fewer than eight bytes as its first and last four
   * (a one-byte key's last four may start at its opening quote), the empty key without a space as
   * its `":`.
   *
   * Comparing doubles is comparing their bits here: the words are of printable ASCII, so none is a
   * NaN (its top byte would be 0x7f or over) or a zero (which −0 would equal).
   */
  private remember(key: Buffer, spaced: boolean, id: number): number {
    const end = spaced ? SPACED_KEY_END : KEY_END;
    const span = key.length + end.length;
    this.keySpans[id] = span;
    // From the opening quote: `"key": `.
    const opened = Buffer.concat([KEY_START, key, end]);
    if (span >= 8) {
      const last = (span - 1) >> 3;
      for (let w = 0; w < last; w++) this.keyWords[id * KEY_WORDS + w] = opened.readDoubleLE(1 + 8 * w);
      this.keyWords[id * KEY_WORDS + last] = opened.readDoubleLE(opened.length - 8);
    } else if (span >= 3) {
      this.keyShortWords[id * 2] = span >= 4 ? opened.readInt32LE(1) : 0;
      this.keyShortWords[id * 2 + 1] = opened.readInt32LE(opened.length - 4);
    } else {
      this.keyShortWords[id * 2 + 1] = opened.readUInt16LE(1);
    }
    return id;
  }
  /** A view of the bytes last scanned, for reading them four at a time. */
  private viewed: Buffer = Buffer.alloc(0);
  private view = new DataView(this.viewed.buffer, this.viewed.byteOffset, 0);

  /**
   * Fills `into` with the fields of bytes[from, to) and answers true, or answers false when the
   * line is outside the subset read here (`into` is then partly filled and must not be used).
   */
  scan(s: Buffer, from: number, to: number, into: Fields): boolean {
    if (s !== this.viewed) {
      this.viewed = s;
      this.view = new DataView(s.buffer, s.byteOffset, s.byteLength);
    }
    const view = this.view;
    const fields = FIELD_NAMES.length;
    if (into !== this.tidy) {
      into.fill(undefined);
      this.heldLow = 0;
      this.heldHigh = 0;
    }
    // Until this line is read whole: a line refused here leaves `into` partly filled.
    this.tidy = null;
    let low = 0;
    let high = 0;

    let i = from;
    while (i < to && isSpace(s[i]!)) i++;
    if (i >= to || s[i] !== OPEN) return false;
    i++;
    while (i < to && isSpace(s[i]!)) i++;
    let previous = NO_KEY;
    for (;;) {
      // A key.
      if (i >= to || s[i] !== QUOTE) return false;
      const keyStart = i + 1;
      let id = this.predicted(view, keyStart, to, previous);
      if (id !== NO_KEY) {
        // The key, its closing quote, its colon and the space ulogd writes after it (or none).
        i = keyStart + this.keySpans[id]!;
      } else {
        let keyEnd = keyStart;
        while (keyEnd < to && PLAIN[s[keyEnd]!] === 1) keyEnd++;
        if (keyEnd >= to || s[keyEnd] !== QUOTE) return false;
        id = this.identify(s, keyStart, keyEnd, previous);
        i = keyEnd + 1;
        while (i < to && isSpace(s[i]!)) i++;
        if (i >= to || s[i] !== COLON) return false;
        i++;
      }
      previous = id;
      while (i < to && isSpace(s[i]!)) i++;
      if (i >= to) return false;

      // Its value.
      let value: unknown;
      const c = s[i]!;
      if (c === QUOTE) {
        const valueStart = i + 1;
        // The key's last string again (its bytes and a closing quote after them): those bytes were
        // found plain when that string was made, so they are not looked at one by one again.
        const last = id >= 0 && id < fields ? this.lastLength[id]! : -1;
        if (last >= 0 && valueStart + last < to && s[valueStart + last] === QUOTE && this.isLast(id, s, valueStart, last)) {
          value = this.lastText[id];
          i = valueStart + last + 1;
        } else {
          let valueEnd = valueStart;
          while (valueEnd + 4 <= to && textWord(view.getInt32(valueEnd, true))) valueEnd += 4;
          while (valueEnd < to && TEXT[s[valueEnd]!] === 1) valueEnd++;
          if (valueEnd >= to || s[valueEnd] !== QUOTE) return false;
          if (id >= 0 && id < fields) {
            if (this.defers[id] === 1) {
              this.deferredBytes = s;
              this.deferredFrom[id] = valueStart;
              this.deferredTo[id] = valueEnd;
              value = DEFERRED;
            } else {
              value = this.text(id, s, valueStart, valueEnd);
              // An address that is not address text: JSON.parse's line, refused by the decoder.
              if (value === null) return false;
            }
          }
          i = valueEnd + 1;
        }
      } else if (c >= ZERO && c <= NINE) {
        let n = c - ZERO;
        let digits = 1;
        i++;
        // JSON allows no leading zero.
        if (n === 0) {
          if (i < to && s[i]! >= ZERO && s[i]! <= NINE) return false;
        } else {
          // Four digits a step while a whole word of them follows (ports, sequence numbers, times).
          while (i + 4 <= to) {
            const x = view.getInt32(i, true);
            if ((x & 0xf0f0f0f0) !== 0x30303030 || ((x + 0x06060606) & 0xf0f0f0f0) !== 0x30303030) break;
            const d = x - 0x30303030;
            // Byte 0 becomes the first two digits' value, byte 2 the last two's (no byte carries).
            const pairs = Math.imul(d, 10) + (d >>> 8);
            n = n * 10000 + (pairs & 0xff) * 100 + ((pairs >>> 16) & 0xff);
            digits += 4;
            i += 4;
          }
        }
        while (i < to) {
          const d = s[i]!;
          if (d < ZERO || d > NINE) break;
          n = n * 10 + (d - ZERO);
          digits++;
          i++;
        }
        // A fraction or exponent (or a long number) is JSON.parse's to read.
        if (digits > MAX_DIGITS || (i < to && (s[i] === 0x2e || s[i] === 0x65 || s[i] === 0x45))) return false;
        value = n;
      } else if (c === 0x74 /* t */ && word(s, i, to, TRUE)) {
        value = true;
        i += 4;
      } else if (c === 0x66 /* f */ && word(s, i, to, FALSE)) {
        value = false;
        i += 5;
      } else if (c === 0x6e /* n */ && word(s, i, to, NULL)) {
        value = null;
        i += 4;
      } else {
        return false;
      }
      if (id >= 0 && id < fields) {
        // A key already set in this line (its bit) sends the line to JSON.parse.
        if (id < 32) {
          const bit = 1 << id;
          if ((low & bit) !== 0) return false;
          low |= bit;
        } else {
          const bit = 1 << (id - 32);
          if ((high & bit) !== 0) return false;
          high |= bit;
        }
        into[id] = value;
      }

      // A comma and the next key, or the end of the object and of the line.
      if (i + 2 < to && s[i] === COMMA && s[i + 1] === SPACE && s[i + 2] === QUOTE) {
        // ulogd's own `, "` between pairs.
        i += 2;
        continue;
      }
      if (i + 1 < to && s[i] === COMMA && s[i + 1] === QUOTE) {
        // Compact JSON's `,"`.
        i += 1;
        continue;
      }
      while (i < to && isSpace(s[i]!)) i++;
      if (i >= to) return false;
      if (s[i] === COMMA) {
        i++;
        while (i < to && isSpace(s[i]!)) i++;
        continue;
      }
      if (s[i] !== CLOSE) return false;
      i++;
      while (i < to && isSpace(s[i]!)) i++;
      if (i !== to) return false;
      // The keys of the line before that this one has not set.
      clearBits(into, this.heldLow & ~low, 0);
      clearBits(into, this.heldHigh & ~high, 32);
      this.heldLow = low;
      this.heldHigh = high;
      this.tidy = into;
      return true;
    }
  }

  /** Another writer filled `into` (JSON.parse's fields): the next line clears it whole. */
  disown(into: Fields): void {
    if (this.tidy === into) this.tidy = null;
  }

  /** The string a DEFERRED field of the line scanned last stands for (its bytes must be unchanged). */
  deferred(id: number): string {
    return textOf(this.deferredBytes, this.deferredFrom[id]!, this.deferredTo[id]!);
  }

  /**
   * A decoder key's string value that is not its last one (scan() took that one already): the
   * string kept for its bytes, else a new one; null for an address key's bytes that are no address.
   * It becomes the key's last string.
   */
  private text(id: number, s: Buffer, from: number, to: number): string | null {
    const length = to - from;
    const view = this.view;
    const text = this.internAside[id]! > 0 ? this.aside(id, s, from, to) : this.intern(id, s, view, from, to);
    if (text === null) return null;
    this.lastText[id] = text;
    this.lastLength[id] = length;
    if (length <= LAST_BYTES) copyBytes(view, from, this.lastView, id * LAST_BYTES, length);
    return text;
  }

  /** Whether bytes[from, from + length) are those of key `id`'s last string, `length` long. */
  private isLast(id: number, s: Buffer, from: number, length: number): boolean {
    return length <= LAST_BYTES ? sameBytes(this.view, from, this.lastView, id * LAST_BYTES, length) : spells(this.lastText[id]!, s, from, from + length);
  }

  /** The string of an interned key's bytes: the one kept for them, else a new one, kept from now on. */
  private intern(id: number, s: Buffer, view: DataView, from: number, to: number): string | null {
    const table = (this.interned[id] ??= new StringTable(this.addresses[id] === 1 ? ADDRESS_INTERN_SLOTS : INTERN_SLOTS));
    const slot = table.slotOf(view, from, to);
    let text = table.find(slot, s, view, from, to);
    let found = 1;
    if (text === undefined) {
      const made = this.newText(id, s, from, to);
      if (made === null) return null;
      table.keep(slot, made, view, from, to);
      text = made;
      found = 0;
    }
    const lookups = ++this.internLookups[id]!;
    const hits = (this.internFound[id] = this.internFound[id]! + found);
    if (lookups === INTERN_WINDOW) {
      this.internLookups[id] = 0;
      this.internFound[id] = 0;
      if (hits * 8 < lookups) {
        this.internAside[id] = INTERN_ASIDE;
        table.clear();
      }
    }
    return text;
  }

  /** A new string of the bytes (a key whose table stands aside); null for an address key's bytes that are no address. */
  private aside(id: number, s: Buffer, from: number, to: number): string | null {
    if (this.internAside[id]! > 0) this.internAside[id]!--;
    return this.newText(id, s, from, to);
  }

  /** Key `id`'s bytes made a string: an address's checked to be address text (else null), others as JSON.parse reads them (textOf). */
  private newText(id: number, s: Buffer, from: number, to: number): string | null {
    if (this.addresses[id] !== 1) return textOf(s, from, to);
    return isAddressBytes(s, from, to) ? latin1(s, from, to) : null;
  }

  /**
   * The key that followed `previous` last time, or the time before, if the bytes at keyStart are
   * it, its closing quote, its colon and the spacing after that it had last time (any other
   * spacing goes the slow way).
   */
  private predicted(view: DataView, keyStart: number, to: number, previous: number): number {
    const at = previous + 1;
    const id = this.next[at]!;
    if (id === NO_KEY || this.keyAt(view, keyStart, to, id)) return id;
    const before = this.nextBefore[at]!;
    if (before === NO_KEY || !this.keyAt(view, keyStart, to, before)) return NO_KEY;
    this.nextBefore[at] = id;
    this.next[at] = before;
    return before;
  }

  /** Whether the bytes at keyStart are key `id`, its closing quote, colon and the space after it if remembered with one. */
  private keyAt(view: DataView, keyStart: number, to: number, id: number): boolean {
    const length = this.keySpans[id]!;
    if (keyStart + length > to) return false;
    // Whole words, the last one ending at the colon or space (it may overlap the one before).
    if (length >= 8) {
      const words = this.keyWords;
      const at = id * KEY_WORDS;
      const last = (length - 1) >> 3;
      for (let w = 0; w < last; w++) if (view.getFloat64(keyStart + 8 * w, true) !== words[at + w]) return false;
      return view.getFloat64(keyStart + length - 8, true) === words[at + last];
    }
    const words = this.keyShortWords;
    // A one-byte key's word starts at its opening quote (scan() found one there).
    if (length >= 3) return view.getInt32(keyStart + length - 4, true) === words[2 * id + 1] && (length <= 4 || view.getInt32(keyStart, true) === words[2 * id]);
    return view.getUint16(keyStart, true) === words[2 * id + 1];
  }

  /**
   * A key's id by name, learning a new one while there is room; remembers it as the successor of
   * `previous`, and to be predicted with the spacing after its colon this time (`: ` or `:`).
   */
  private identify(s: Buffer, keyStart: number, keyEnd: number, previous: number): number {
    const name = latin1(s, keyStart, keyEnd);
    let id = this.idByName.get(name);
    const spaced = s[keyEnd + 2] === SPACE;
    if (id === undefined) {
      if (this.keys >= MAX_KEYS || name.length + SPACED_KEY_END.length > MAX_KEY_SPAN) return NO_KEY;
      id = this.remember(Buffer.from(name, 'latin1'), spaced, this.keys++);
      this.idByName.set(name, id);
    } else if (s[keyEnd + 1] === COLON && this.keySpans[id] !== name.length + (spaced ? SPACED_KEY_END : KEY_END).length) {
      this.remember(Buffer.from(name, 'latin1'), spaced, id);
    }
    if (this.next[previous + 1] !== id) {
      this.nextBefore[previous + 1] = this.next[previous + 1]!;
      this.next[previous + 1] = id;
    }
    return id;
  }
}

/** Sets into[offset + b] to undefined for each bit b of `bits`. */
function clearBits(into: Fields, bits: number, offset: number): void {
  while (bits !== 0) {
    into[offset + 31 - Math.clz32(bits & -bits)] = undefined;
    bits &= bits - 1;
  }
}

/**
 * Whether all four bytes of a word may stand in a string as they are (TEXT): none under 0x20,
 * none 0x7f, none `"` or `\`. Each test is the classic "has a byte below n" bit trick (exact for n
 * up to 0x80 about whether some byte is, whatever the others; a byte of 0x80 or over never counts
 * as one below); each is exact about whether some byte matches, which is all that is asked.
 */
function textWord(x: number): boolean {
  const below = (x - 0x20202020) & ~x;
  const quote = x ^ 0x22222222;
  const backslash = x ^ 0x5c5c5c5c;
  const del = x ^ 0x7f7f7f7f;
  return ((below | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash) | ((del - 0x01010101) & ~del)) & 0x80808080) === 0;
}

/** Whether bytes[from, to) are an address as IP2STR writes it (fields.ts ADDRESS_CHARS). */
function isAddressBytes(s: Buffer, from: number, to: number): boolean {
  if (to - from > MAX_ADDRESS_LENGTH) return false;
  for (let j = from; j < to; j++) if (ADDRESS_CHARS[s[j]!] === 0) return false;
  return true;
}

/** Whether bytes[from, to) spell `text` in ASCII (a character over 0x7f was made from other bytes than its own code: never a match). */
function spells(text: string, s: Buffer, from: number, to: number): boolean {
  const length = to - from;
  if (text.length !== length) return false;
  for (let j = 0; j < length; j++) {
    const c = text.charCodeAt(j);
    if (c >= 0x80 || s[from + j] !== c) return false;
  }
  return true;
}

/**
 * A hash of the bytes [from, to), four at a time, each step's high bits folded down (a table slot
 * is taken from the low ones, which a multiplication alone leaves blind to the bytes above them).
 */
function hashBytes(view: DataView, from: number, to: number): number {
  let h = 0x811c9dc5 ^ (to - from);
  let j = from;
  for (; j + 4 <= to; j += 4) {
    h = Math.imul(h ^ view.getInt32(j, true), 0x5bd1e995);
    h ^= h >>> 15;
  }
  for (; j < to; j++) h = Math.imul(h ^ view.getUint8(j), 0x01000193);
  return h ^ (h >>> 15);
}

/** Whether a's bytes [aAt, aAt + length) are b's [bAt, bAt + length), compared four at a time. */
function sameBytes(a: DataView, aAt: number, b: DataView, bAt: number, length: number): boolean {
  if (length < 4) {
    for (let j = 0; j < length; j++) if (a.getUint8(aAt + j) !== b.getUint8(bAt + j)) return false;
    return true;
  }
  // Whole words, the last one ending with the bytes (it may overlap the one before).
  for (let j = 0; j + 4 < length; j += 4) if (a.getInt32(aAt + j, true) !== b.getInt32(bAt + j, true)) return false;
  return a.getInt32(aAt + length - 4, true) === b.getInt32(bAt + length - 4, true);
}

/** Copies a's bytes [aAt, aAt + length) to b at bAt, four at a time. */
function copyBytes(a: DataView, aAt: number, b: DataView, bAt: number, length: number): void {
  if (length < 4) {
    for (let j = 0; j < length; j++) b.setUint8(bAt + j, a.getUint8(aAt + j));
    return;
  }
  for (let j = 0; j + 4 < length; j += 4) b.setInt32(bAt + j, a.getInt32(aAt + j, true), true);
  b.setInt32(bAt + length - 4, a.getInt32(aAt + length - 4, true), true);
}

/** Bytes of a string a StringTable slot keeps to compare with; a longer string is compared by its characters. */
const SLOT_BYTES = 64;

/**
 * One key's strings by their bytes, direct-mapped by their hash (a newer string takes its slot).
 * A slot keeps its string's bytes beside it, so a line's bytes are compared with them four at a
 * time rather than with the string's characters one by one.
 */
class StringTable {
  private readonly strings: Array<string | undefined>;
  /** Per slot, its string's length (−1: none). */
  private readonly lengths: Int32Array;
  private readonly bytes: DataView;

  constructor(slots: number) {
    this.strings = new Array<string | undefined>(slots).fill(undefined);
    this.lengths = new Int32Array(slots).fill(-1);
    this.bytes = new DataView(new ArrayBuffer(slots * SLOT_BYTES));
  }

  slotOf(view: DataView, from: number, to: number): number {
    return hashBytes(view, from, to) & (this.lengths.length - 1);
  }

  /** The string `slot` keeps if it is that of bytes[from, to), else undefined. */
  find(slot: number, s: Buffer, view: DataView, from: number, to: number): string | undefined {
    const length = to - from;
    if (this.lengths[slot] !== length) return undefined;
    const kept = this.strings[slot]!;
    return (length <= SLOT_BYTES ? sameBytes(view, from, this.bytes, slot * SLOT_BYTES, length) : spells(kept, s, from, to)) ? kept : undefined;
  }

  keep(slot: number, text: string, view: DataView, from: number, to: number): void {
    const length = to - from;
    this.strings[slot] = text;
    this.lengths[slot] = length;
    if (length <= SLOT_BYTES) copyBytes(view, from, this.bytes, slot * SLOT_BYTES, length);
  }

  clear(): void {
    this.strings.fill(undefined);
    this.lengths.fill(-1);
  }
}

const KEY_START = Buffer.from('"');
const KEY_END = Buffer.from('":');
const SPACED_KEY_END = Buffer.from('": ');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function word(s: Buffer, i: number, to: number, w: Buffer): boolean {
  if (i + w.length > to) return false;
  for (let j = 0; j < w.length; j++) if (s[i + j] !== w[j]) return false;
  return true;
}

/** Node's Buffer method behind toString('latin1', …), without its argument checks. */
interface Latin1Slicing {
  latin1Slice(from: number, to: number): string;
  utf8Slice(from: number, to: number): string;
}

/** bytes[from, to) of printable ASCII as a string. */
function latin1(s: Buffer, from: number, to: number): string {
  return (s as unknown as Latin1Slicing).latin1Slice(from, to);
}

/** bytes[from, to) of a string value (TEXT) as JSON.parse gives it from the line's UTF-8 text. */
function textOf(s: Buffer, from: number, to: number): string {
  for (let j = from; j < to; j++) if (s[j]! >= 0x80) return (s as unknown as Latin1Slicing).utf8Slice(from, to);
  return latin1(s, from, to);
}
