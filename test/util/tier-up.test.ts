import { describe, expect, it } from 'vitest';
import { INTERRUPT_BUDGET, raiseInterruptBudget } from '../../src/util/tier-up.js';

describe("V8's interrupt budget", () => {
  it('is raised to four times the default unless node was started with a budget of its own', () => {
    expect(INTERRUPT_BUDGET).toBe(4 * 67_584);
    expect(raiseInterruptBudget(['--interrupt-budget=1000'])).toBe(false);
    expect(raiseInterruptBudget(['--max-old-space-size=512', '--interrupt_budget=1000'])).toBe(false);
    expect(raiseInterruptBudget(['--max-old-space-size=512'])).toBe(true);
  });
});
