// Reading Node's errors without `any`: the errno code and a printable message.
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A start-up problem with one setting, said in one line: `setting` is its key path ("web.port"),
 * `problem` what is wrong and, where it helps, what to do about it. `in(file)` names the
 * configuration file it was read from.
 */
export class SettingError extends Error {
  constructor(
    readonly setting: string,
    readonly problem: string,
    readonly file?: string,
  ) {
    super(`${file === undefined ? '' : `${file}: `}${setting}: ${problem}`);
    this.name = 'SettingError';
  }

  in(file: string): SettingError {
    return new SettingError(this.setting, this.problem, file);
  }
}
