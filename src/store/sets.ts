// The small capped sets of a stored sighting as one text column each: ",22,80," for numbers,
// "\x1fa\x1fb\x1f" for strings (fingerprint keys hold commas). A search for one member is then
// instr(column, ",22,") on the row itself: no side table to write per port. Members keep the
// order they were first seen in, so merging the sets of two flushes gives the set of one: the
// first `cap` distinct members of the whole stream. Pure.

export const NUMBER_DELIMITER = ',';
export const STRING_DELIMITER = '\x1f';

/** The text of members[from, to) (numbers). '' for none. */
export function numberSetText(members: ArrayLike<number>, from: number, to: number): string {
  if (from >= to) return '';
  let text = NUMBER_DELIMITER;
  for (let i = from; i < to; i++) text += `${members[i]}${NUMBER_DELIMITER}`;
  return text;
}

/** The text of members[from, to) (strings); a member holding the delimiter is left out. */
export function stringSetText(members: readonly string[], from: number, to: number): string {
  let text = '';
  for (let i = from; i < to; i++) {
    const m = members[i]!;
    if (m.includes(STRING_DELIMITER)) continue;
    text += text === '' ? `${STRING_DELIMITER}${m}${STRING_DELIMITER}` : `${m}${STRING_DELIMITER}`;
  }
  return text;
}

/** A row's set as stored, from its More members (when it has them) or its one inline member (NONE: none). */
export function inlineNumberSetText(more: readonly number[] | null | undefined, one: number): string {
  if (more) return numberSetText(more, 0, more.length);
  return one < 0 ? '' : `${NUMBER_DELIMITER}${one}${NUMBER_DELIMITER}`;
}

/** The same for strings held as indexes into `dictionary`. */
export function inlineStringSetText(more: readonly number[] | null | undefined, one: number, dictionary: readonly string[]): string {
  if (!more) return one < 0 ? '' : stringSetText(dictionary, one, one + 1);
  let text = '';
  for (const id of more) {
    const m = dictionary[id]!;
    if (m.includes(STRING_DELIMITER)) continue;
    text += text === '' ? `${STRING_DELIMITER}${m}${STRING_DELIMITER}` : `${m}${STRING_DELIMITER}`;
  }
  return text;
}

/** What instr() looks for to find `member` in a set column. */
export function setNeedle(member: string | number): string {
  return typeof member === 'number' ? `${NUMBER_DELIMITER}${member}${NUMBER_DELIMITER}` : `${STRING_DELIMITER}${member}${STRING_DELIMITER}`;
}

/** The members of a set's text, in order. */
export function setMembers(text: string): string[] {
  return text.length < 2 ? [] : text.slice(1, -1).split(text[0]!);
}

export function numberMembers(text: string): number[] {
  return setMembers(text).map(Number);
}

/** Both sets as one, `a`'s members first, at most `cap`. */
export function mergeSetText(a: string, b: string, cap: number): string {
  if (b === '' || a === b) return a;
  if (a === '') return b;
  const delimiter = a[0]!;
  const members = setMembers(a);
  if (members.length >= cap) return a;
  const seen = new Set(members);
  let text = a;
  for (const m of setMembers(b)) {
    if (seen.has(m)) continue;
    seen.add(m);
    text += `${m}${delimiter}`;
    if (seen.size >= cap) break;
  }
  return text;
}

/** Whether the two sets together have more than `cap` members (the merge then drops some). */
export function setOverflows(a: string, b: string, cap: number): boolean {
  if (b === '' || a === '' || a === b) return false;
  const seen = new Set(setMembers(a));
  for (const m of setMembers(b)) {
    seen.add(m);
    if (seen.size > cap) return true;
  }
  return false;
}

/** Members of many sets' texts as one list (first seen first), at most `cap`; `over` when some did not fit. */
export class SetUnion {
  readonly members: string[] = [];
  private readonly seen = new Set<string>();
  over = false;

  constructor(private readonly cap: number) {}

  add(text: string): void {
    if (text === '') return;
    for (const m of setMembers(text)) {
      if (this.seen.has(m)) continue;
      if (this.seen.size >= this.cap) {
        this.over = true;
        return;
      }
      this.seen.add(m);
      this.members.push(m);
    }
  }
}
