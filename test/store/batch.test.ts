import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { NONE } from '../../src/pipeline/types.js';
import { emptyBatch, grow, type SightingBatch } from '../../src/store/batch.js';

type Column = Float64Array | Int32Array | Uint8Array;

/** The batch's typed columns by name (every typed array it holds). */
function columns(b: SightingBatch): Array<[string, Column]> {
  return Object.entries(b).filter((entry): entry is [string, Column] => ArrayBuffer.isView(entry[1]));
}

function nextMessage(port: MessagePort): Promise<unknown> {
  return new Promise((resolve) => port.once('message', resolve));
}

describe('sighting batch', () => {
  it('keeps every typed column in a SharedArrayBuffer, also once grown', () => {
    const b = emptyBatch(4, 2);
    expect(columns(b).length).toBe(21);
    for (const [name, column] of columns(b)) expect(column.buffer instanceof SharedArrayBuffer, name).toBe(true);
    grow(b);
    for (const [name, column] of columns(b)) expect(column.buffer instanceof SharedArrayBuffer, name).toBe(true);
  });

  it('starts empty: columns zeroed, positions NONE', () => {
    const b = emptyBatch(8, 3);
    expect([...b.port]).toEqual(new Array(8).fill(0));
    expect([...b.positions]).toEqual([NONE, NONE, NONE]);
  });

  it('grows to twice the rows, keeping each column type and the rows written', () => {
    const b = emptyBatch(4);
    for (let row = 0; row < 4; row++) {
      b.hour[row] = 1_796_176_800_000 + row;
      b.port[row] = 443 + row;
      b.flags[row] = row;
    }
    grow(b);
    expect(b.hour).toBeInstanceOf(Float64Array);
    expect(b.port).toBeInstanceOf(Int32Array);
    expect(b.flags).toBeInstanceOf(Uint8Array);
    expect(b.port.length).toBe(8);
    expect([...b.port]).toEqual([443, 444, 445, 446, 0, 0, 0, 0]);
    expect([...b.hour.subarray(0, 4)]).toEqual([1_796_176_800_000, 1_796_176_800_001, 1_796_176_800_002, 1_796_176_800_003]);
    expect([...b.flags.subarray(0, 4)]).toEqual([0, 1, 2, 3]);
  });

  it('is posted to another thread without a copy and without detaching anything on the sending side', async () => {
    const b = emptyBatch(4, 1);
    b.port[0] = 22;
    const { port1, port2 } = new MessageChannel();
    try {
      const received = nextMessage(port2);
      port1.postMessage(b);
      const there = (await received) as SightingBatch;
      // Still readable here: a transfer would have left every column zero-length.
      for (const [name, column] of columns(b)) expect(column.byteLength, name).toBeGreaterThan(0);
      expect(there.port[0]).toBe(22);
      // The same memory: what one side writes the other reads.
      there.port[1] = 80;
      expect(b.port[1]).toBe(80);
    } finally {
      port1.close();
      port2.close();
    }
  });
});
