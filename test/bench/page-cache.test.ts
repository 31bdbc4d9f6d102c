import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readThrough } from '../../src/bench/page-cache.js';

describe('reading a corpus through before it is measured', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfw-page-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every byte of a file longer than one read, to its end', () => {
    const path = join(dir, 'corpus.log');
    const size = 2.5 * (1 << 20) + 17;
    writeFileSync(path, Buffer.alloc(size, 0x61));
    expect(readThrough(path)).toBe(size);
  });

  it('reads nothing of an empty file', () => {
    const path = join(dir, 'empty.log');
    writeFileSync(path, '');
    expect(readThrough(path)).toBe(0);
  });

  it('throws for a file that is not there', () => {
    expect(() => readThrough(join(dir, 'missing.log'))).toThrow(/ENOENT/);
  });
});
