// state_dir/series.json: the series names a restart keeps (src/aggregate/budget-file.ts).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SeriesBudgetFile } from '../../src/aggregate/budget-file.js';
import { SeriesBudgets } from '../../src/aggregate/budget.js';
import { memoryLogger } from '../../src/util/log.js';
import { Scope } from '../faults/harness.js';

const scope = new Scope();
afterEach(() => scope.close());

describe('SeriesBudgetFile', () => {
  it('saves the admitted names and a new run admits them first', async () => {
    const path = join(scope.temp('nfw-budget-'), 'state', 'series.json');
    const first = new SeriesBudgets(2);
    first.get('dport.blocked').admit('22');
    await new SeriesBudgetFile(path, first, memoryLogger()).save();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ format: 1, families: { 'dport.blocked': ['22'] } });

    const second = new SeriesBudgets(2);
    const log = memoryLogger();
    new SeriesBudgetFile(path, second, log).load();
    expect(second.get('dport.blocked').list()).toEqual(['22']);
    expect(log.lines.join('\n')).toMatch(/1 series names kept from the last run/);
  });

  it('writes only when something new was admitted', async () => {
    const path = join(scope.temp('nfw-budget-'), 'series.json');
    const budgets = new SeriesBudgets(5);
    const file = new SeriesBudgetFile(path, budgets, memoryLogger());
    budgets.get('tool').admit('masscan');
    await file.save();
    rmSync(path);
    await file.save();
    expect(existsSync(path), 'nothing new: not written').toBe(false);
    budgets.get('tool').admit('zmap');
    await file.save();
    expect(JSON.parse(readFileSync(path, 'utf8')).families.tool).toEqual(['masscan', 'zmap']);
  });

  it('a missing file is a first start (silent); a broken or foreign one is ignored with a warning', () => {
    const dir = scope.temp('nfw-budget-');
    const silent = memoryLogger();
    new SeriesBudgetFile(join(dir, 'none.json'), new SeriesBudgets(2), silent).load();
    expect(silent.lines).toEqual([]);
    for (const [name, text, said] of [
      ['garbage.json', '{"format":1,"families":', /is not JSON/],
      ['foreign.json', '{"format":99,"families":{"tool":["x"]}}', /unknown format/],
    ] as const) {
      writeFileSync(join(dir, name), text);
      const budgets = new SeriesBudgets(2);
      const log = memoryLogger();
      new SeriesBudgetFile(join(dir, name), budgets, log).load();
      expect(budgets.admitted).toBe(0);
      expect(log.lines.join('\n')).toMatch(said);
    }
  });

  it('a state_dir it cannot write: one warning, no throw, and saved again once it can', async () => {
    const dir = scope.temp('nfw-budget-');
    const path = join(dir, 'ro', 'series.json');
    writeFileSync(join(dir, 'ro'), 'a file where the directory should be');
    const budgets = new SeriesBudgets(2);
    const log = memoryLogger();
    const file = new SeriesBudgetFile(path, budgets, log);
    budgets.get('country').admit('NL');
    await file.save();
    budgets.get('country').admit('BE');
    await file.save();
    expect(log.lines.filter((l) => /cannot save/.test(l))).toHaveLength(1);
    rmSync(join(dir, 'ro'));
    await file.save();
    expect(existsSync(path)).toBe(true);
    expect(log.lines.join('\n')).toMatch(/saved to .* again/);
  });
});
