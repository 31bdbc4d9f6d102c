// A LineReceiver that records what a source or splitter hands it, for the source tests.
import type { LineReceiver } from '../../src/pipeline/types.js';

export interface SeenLine {
  source: number;
  text: string;
  start: number;
  end: number;
}

export class RecordingReceiver implements LineReceiver {
  lines: SeenLine[] = [];
  oversizedLines: number[] = [];
  caughtUpCalls: Array<[number, boolean]> = [];
  flushes = 0;
  line(source: number, bytes: Buffer, from: number, to: number, start: number, end: number): void {
    this.lines.push({ source, text: bytes.toString('utf8', from, to), start, end });
  }
  oversized(_source: number, bytes: number): void {
    this.oversizedLines.push(bytes);
  }
  flush(): void {
    this.flushes++;
  }
  caughtUp(source: number, atEnd: boolean): void {
    this.caughtUpCalls.push([source, atEnd]);
  }
  get texts(): string[] {
    return this.lines.map((l) => l.text);
  }
  get everCaughtUp(): boolean {
    return this.caughtUpCalls.some(([, atEnd]) => atEnd);
  }
}

/** Polls `predicate` until it holds; fails with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 1500, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
