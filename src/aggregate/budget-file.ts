// The series budgets kept across restarts in state_dir/series.json. Without it every start would
// admit a fresh set of names (a restart during a scan would create another max_series series per
// family in carbon, and the busy ports of the last run could lose their names to the scan's).
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../util/log.js';
import { errorCode, errorText } from '../util/errors.js';
import type { SeriesBudgets } from './budget.js';

const FORMAT = 1;

export class SeriesBudgetFile {
  /** What was last written (or read): a save with nothing new admitted writes nothing. */
  private saved = '';
  private failing = false;

  constructor(
    readonly path: string,
    private readonly budgets: SeriesBudgets,
    private readonly logger: Logger,
  ) {}

  /** Admits the names the last run saved; a missing file is a first start, a broken one is ignored with a warning. */
  load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') this.logger.warn(`series budget: cannot read ${this.path} (${errorText(error)}); starting with an empty budget`);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.logger.warn(`series budget: ${this.path} is not JSON; starting with an empty budget`);
      return;
    }
    const body = parsed as { format?: unknown; families?: unknown };
    if (body?.format !== FORMAT) {
      this.logger.warn(`series budget: ${this.path} has an unknown format; starting with an empty budget`);
      return;
    }
    const n = this.budgets.restore(body.families);
    this.saved = this.render();
    if (n > 0) this.logger.info(`series budget: ${n} series names kept from the last run`);
  }

  /** Writes the admitted names when they changed (atomically: a crash leaves the old file). */
  async save(): Promise<void> {
    const text = this.render();
    if (text === this.saved) return;
    const temp = `${this.path}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFile(temp, text);
      await rename(temp, this.path);
      this.saved = text;
      if (this.failing) this.logger.info(`series budget: saved to ${this.path} again`);
      this.failing = false;
    } catch (error) {
      // Logged once per episode: a read-only state_dir must not fill the log every minute.
      if (!this.failing) this.logger.warn(`series budget: cannot save ${this.path} (${errorText(error)}); a restart will admit names anew`);
      this.failing = true;
    }
  }

  private render(): string {
    return `${JSON.stringify({ format: FORMAT, families: this.budgets.snapshot() })}\n`;
  }
}
