// How soon V8 compiles a function with its optimising compiler. Each function has an interrupt
// budget: the bytecode it may run before V8 checks whether it is hot enough to optimise. The
// daemon runs one packet path a million times, and around it hundreds of functions that are
// warm rather than hot (an interval's close, the web view's summaries).
// At V8's default budget each of those was optimised too, many before their type feedback had
// settled, and optimised again after the deoptimisation that followed.
//
// At four times the default, on the bench's normal corpus (1,000,000 lines, the daemon process):
// 131 optimising compilations after start-up instead of 208, 19 deoptimisations instead of 34,
// the compiler's traced time 389 ms instead of 865; the packet path is optimised within the same
// first ~20,000 lines. Six alternating pairs: 2.73-2.96 s of CPU (mean 2.81) against 2.81-3.04
// (mean 2.94). In four runs each, eight and sixteen times the default were worse than four (mean
// 2.81 and 2.90 against 2.72); so were three and six times, in a noisier hour.
import { setFlagsFromString } from 'node:v8';

/** V8's default interrupt budget (Node 20), in bytes of bytecode. */
const V8_DEFAULT_BUDGET = 67_584;
export const INTERRUPT_BUDGET = 4 * V8_DEFAULT_BUDGET;

/**
 * Raises V8's interrupt budget for the rest of the process, unless node was started with an
 * --interrupt-budget of the admin's own (`execArgv`). Budgets are read each time one runs out, so
 * this holds for every function from here on. Returns whether it set the budget.
 */
export function raiseInterruptBudget(execArgv: readonly string[]): boolean {
  if (execArgv.some((arg) => arg.startsWith('--interrupt-budget') || arg.startsWith('--interrupt_budget'))) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return true;
}
