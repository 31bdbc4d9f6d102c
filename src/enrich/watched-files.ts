// Watching data files (GeoIP databases, threat lists, ASN and cloud range files): fs.watch on their
// directories plus a slow stat poll, debounced; a version is handed on only when it was read whole
// and stable.
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorCode, errorText } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface WatchOptions {
  /** Watch the files' directories with fs.watch (default true). */
  watch?: boolean;
  /** How often the files are stat()ed for changes fs.watch may miss, ms; 0: never (default 60 000). */
  pollMs?: number;
  /** Quiet time after a change event before a file is read again, ms (default 500). */
  debounceMs?: number;
}


/** Why a file that is not there is not in use. */
export const MISSING = 'it does not exist';

/** What a FileWatch does with a file's versions. */
export interface FileWatchHooks {
  /** Takes a new version of file `index` (`signature`: its inode:size:mtime): '' when taken, else why not (the old version stays). */
  load(index: number, data: Buffer, signature: string): string;
  /**
   * File `index`'s newest version is not in use: gone (`missing`: it cannot be stat()ed; `why` is
   * MISSING when it does not exist), unreadable or refused. Once per version, and on every forced check.
   */
  failed(index: number, why: string, missing: boolean): void;
}

interface FileState {
  readonly path: string;
  /** inode:size:mtime of the version in use ('' none), and of the newest refused one. */
  loaded: string;
  failed: string;
  checking: Promise<void> | null;
  recheck: boolean;
  debounce: NodeJS.Timeout | null;
}

/**
 * Finds new versions of data files: fs.watch on their directories (a watch on the file itself goes
 * blind when it is replaced by rename, as downloads do), debounced, plus a slow stat poll for what
 * fs.watch misses (network file systems, some containers). A file is checked one at a time; a
 * version is read only when its stat changed (or when forced), and only a complete read is handed on.
 */
export class FileWatch {
  private readonly files: FileState[];
  private readonly watchers: FSWatcher[] = [];
  private poller: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    paths: readonly string[],
    private readonly options: Required<WatchOptions>,
    private readonly logger: Logger,
    private readonly hooks: FileWatchHooks,
  ) {
    this.files = paths.map((p) => ({ path: path.resolve(p), loaded: '', failed: '', checking: null, recheck: false, debounce: null }));
  }

  /** Whether file `index` has a version in use. */
  isLoaded(index: number): boolean {
    return this.files[index]!.loaded !== '';
  }

  /** File `index`'s version of stat `signature` was read before the watch (by its owner, at start): a version is new when it differs. */
  readBefore(index: number, signature: string): void {
    this.files[index]!.loaded = signature;
  }

  start(): void {
    if (this.closed || this.files.length === 0) return;
    if (this.options.watch) {
      const byDir = new Map<string, number[]>();
      this.files.forEach((f, i) => byDir.set(path.dirname(f.path), [...(byDir.get(path.dirname(f.path)) ?? []), i]));
      for (const [dir, indices] of byDir) {
        try {
          const watcher = watch(dir, { persistent: false }, (_event, filename) => {
            for (const i of indices) if (filename === null || filename === path.basename(this.files[i]!.path)) this.schedule(i);
          });
          watcher.on('error', (error) => {
            this.logger.warn(`watching ${dir} failed (${errorText(error)}); changes are still found by polling`);
            watcher.close();
          });
          this.watchers.push(watcher);
        } catch (error) {
          this.logger.warn(`cannot watch ${dir} (${errorText(error)}); changes are found by polling`);
        }
      }
    }
    if (this.options.pollMs > 0) {
      this.poller = setInterval(() => {
        for (let i = 0; i < this.files.length; i++) void this.check(i, false);
      }, this.options.pollMs);
      this.poller.unref();
    }
  }

  /** Reads file `index` if it changed (or always, when forced); resolves when done. */
  check(index: number, force: boolean): Promise<void> {
    const file = this.files[index]!;
    if (file.checking !== null) {
      // A forced check waits for the running one and then reads the file itself.
      if (force) return file.checking.then(() => this.check(index, true));
      file.recheck = true;
      return file.checking;
    }
    file.checking = this.read(index, force).finally(() => {
      file.checking = null;
      if (file.recheck && !this.closed) {
        file.recheck = false;
        void this.check(index, false);
      }
    });
    return file.checking;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
    for (const f of this.files) {
      if (f.debounce !== null) clearTimeout(f.debounce);
      f.debounce = null;
    }
    await Promise.all(this.files.map((f) => f.checking));
  }

  private schedule(index: number): void {
    if (this.closed) return;
    const file = this.files[index]!;
    if (file.debounce !== null) clearTimeout(file.debounce);
    file.debounce = setTimeout(() => {
      file.debounce = null;
      void this.check(index, false);
    }, this.options.debounceMs);
    file.debounce.unref();
  }

  private async read(index: number, force: boolean): Promise<void> {
    const file = this.files[index]!;
    if (this.closed) return;
    let signature: string;
    try {
      signature = statSignature(await stat(file.path));
    } catch (error) {
      if (force || file.failed !== 'missing') {
        file.failed = 'missing';
        this.hooks.failed(index, errorCode(error) === 'ENOENT' ? MISSING : errorText(error), true);
      }
      return;
    }
    if (!force && (signature === file.loaded || signature === file.failed)) return;
    let data: Buffer;
    try {
      ({ data, signature } = await readStable(file.path));
    } catch (error) {
      if (error instanceof ChangedWhileRead) {
        this.schedule(index); // still being written: look again once it is quiet
        return;
      }
      file.failed = signature;
      this.hooks.failed(index, errorText(error), false);
      return;
    }
    if (this.closed) return;
    const why = this.hooks.load(index, data, signature);
    if (why === '') {
      file.loaded = signature;
      file.failed = '';
    } else {
      file.failed = signature;
      this.hooks.failed(index, why, false);
    }
  }
}

class ChangedWhileRead extends Error {
  constructor() {
    super('the file changed while it was read');
  }
}

function statSignature(s: { ino: number; size: number; mtimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

/** A file's contents, only if it did not change while it was read (a writer still at work), and its signature. */
export async function readStable(file: string): Promise<{ data: Buffer; signature: string }> {
  const before = statSignature(await stat(file));
  const data = await readFile(file);
  const after = await stat(file);
  const signature = statSignature(after);
  if (before !== signature || data.length !== after.size) throw new ChangedWhileRead();
  return { data, signature };
}
