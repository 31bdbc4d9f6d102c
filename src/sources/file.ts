// Follows the file ulogd's JSON plugin writes, across logrotate's rename and copytruncate, and
// saves where it got to so a restart resumes exactly there (even inside the rotated file).
//
// Positions pack a file generation and a byte offset into one number that grows with the read
// order: generation × 2^40 + offset. A generation is one file (one dev+ino from one start of
// reading); the state file maps each generation still referred to by the checkpoint to its dev,
// ino, path and size, so a restart can find it again by inode in the directory.
//
// A file found shorter than the read position is told apart by its first bytes (its first line is
// kept as a fingerprint in the state, as Filebeat and Vector do): unchanged, it is the same file cut
// shorter and reading continues at its new end; changed (or empty), it is new content
// (copytruncate) read from 0.
//
// The state file is replaced atomically and its previous version is kept beside it (.prev): a
// damaged state is a restart from the previous position, never a first run that skips what was
// written meanwhile.
import { lstat, mkdir, open, readdir, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { constants, readSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FileSourceConfig } from '../config/schema.js';
import { NONE, type Checkpoint, type LineReceiver, type LineSource } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { LineSplitter } from './lines.js';
import { errorCode, errorText } from '../util/errors.js';

const GENERATION_FACTOR = 2 ** 40;

/**
 * Read size: large, so a backlog is worked through with few reads and few turns of the event loop
 * (one after each chunk). 1 MiB against 256 KiB: 2.5-4 % less CPU over a normal million lines
 * (same-core pairs); 4 MiB was no cheaper than 1 and held 5 MiB more.
 */
export const CHUNK_BYTES = 1024 * 1024;
/** Chunks per batch (4 MiB) before receiver.caughtUp(…, false) gives the pipeline a turn. */
const CHUNKS_PER_BATCH = 4;
/**
 * After a rename, if the new file stays empty, switch to it once the old one has not grown for
 * this long (ulogd has reopened but logged nothing yet, or was not told to reopen).
 */
const ROTATION_IDLE_MS = 5000;
const STATE_VERSION = 1;
/**
 * Most bytes at the start of a file kept to tell "the same file, cut shorter" from new content (the
 * saved fingerprint covers the first line within them).
 */
export const FINGERPRINT_BYTES = 1024;

export function packPosition(generation: number, offset: number): number {
  return generation * GENERATION_FACTOR + offset;
}

export function unpackPosition(position: number): { generation: number; offset: number } {
  const generation = Math.floor(position / GENERATION_FACTOR);
  return { generation, offset: position - generation * GENERATION_FACTOR };
}

/** What the state file remembers about one generation. dev/ino are decimal strings (64-bit). */
export interface GenerationInfo {
  dev: string;
  ino: string;
  path: string;
  /** Bytes of it known to exist when last seen (how far it was read). */
  size: number;
  /** Offset this generation begins at: 0, or the size a file was cut to (absent: 0). */
  start?: number;
  /** Hash of the file's first line as read (absent until something was read). */
  fingerprint?: Fingerprint;
}

/** The SHA-256 (hex) of a file's first `bytes` bytes: its first line, at most FINGERPRINT_BYTES. */
export interface Fingerprint {
  bytes: number;
  sha256: string;
}

export function fingerprintOf(bytes: Buffer): Fingerprint {
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export interface FileSourceState {
  version: number;
  source: string;
  checkpoint: Checkpoint;
  /**
   * Where reading began on the first run (after `from`), NONE before any file was opened. Used
   * when the checkpoint has no position yet (no line had arrived when it was taken).
   */
  origin: number;
  /** Highest generation handed out so far. */
  generation: number;
  generations: Record<string, GenerationInfo>;
}

export interface FileSourceOptions {
  stateDir: string;
  maxLineBytes: number;
  logger: Logger;
  /** Overrides ROTATION_IDLE_MS (tests). */
  rotationIdleMs?: number;
}

/** The previous good version of a state file, kept beside it. */
export function previousStatePath(statePath: string): string {
  return `${statePath}.prev`;
}

/** A file name for a source's state: anything outside [A-Za-z0-9._-] becomes '_'. */
export function stateFileName(sourceName: string): string {
  const safe = sourceName.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return `file-${safe}.json`;
}

interface OpenFile {
  handle: FileHandle;
  path: string;
  dev: bigint;
  ino: bigint;
  size: number;
  /** A regular file (not a FIFO, device or directory put at the path). */
  regular: boolean;
}

async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

export class FileSource implements LineSource {
  readonly kind = 'file';
  readonly replayable = true;
  readonly name: string;

  private readonly logger: Logger;
  private readonly statePath: string;
  /** The read buffer (the splitter copies what it keeps of a chunk). */
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);

  private receiver: LineReceiver | undefined;
  private index = 0;
  private splitter: LineSplitter | undefined;

  private file: OpenFile | undefined;
  /** Generation and byte offset of the next read in `file`. */
  private generation = 0;
  private offset = 0;
  /** Highest generation handed out (continues from the state file). */
  private generationCounter = 0;
  private readonly generations = new Map<number, GenerationInfo>();

  /** Where to pick up on the first open: a saved position, or nothing (first run). */
  private resumeAt: { generation: number; offset: number } | undefined;
  /** `from = "end"` on the very first run: consumed by the first look at the path. */
  private startAtEnd = false;
  /** A state existed but no copy of it could be read: read from the start whatever `from` says. */
  private stateLost = false;
  /** See FileSourceState.origin. */
  private origin = NONE;

  /** The open file's first bytes as read (up to FINGERPRINT_BYTES): the live fingerprint. */
  private readonly prefix = Buffer.alloc(FINGERPRINT_BYTES);
  private prefixLength = 0;

  /** The text of the state file last written or loaded: becomes the previous copy on the next write. */
  private lastStateText: string | undefined;

  private lastGrowthAt = Date.now();
  private missing = false;
  /** Why the path is being refused now ('' when it is not): logged once per episode. */
  private refusing: '' | 'symlink' | 'not-regular' = '';
  private lastError = '';

  private running: Promise<void> | undefined;
  private stopping = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  private pendingCheckpoint: Checkpoint | undefined;
  private writing: Promise<void> | undefined;

  private counters = { bytesRead: 0, rotations: 0, truncations: 0, symlinksRefused: 0 };

  constructor(
    private readonly config: FileSourceConfig,
    private readonly options: FileSourceOptions,
  ) {
    this.name = config.name;
    this.logger = options.logger;
    this.statePath = join(options.stateDir, stateFileName(config.name));
  }

  async start(receiver: LineReceiver, index: number): Promise<Checkpoint | undefined> {
    this.receiver = receiver;
    this.index = index;
    this.splitter = new LineSplitter(receiver, index, this.options.maxLineBytes);
    try {
      await mkdir(this.options.stateDir, { recursive: true });
    } catch (error) {
      throw new Error(`file source "${this.name}": cannot create state directory ${this.options.stateDir}: ${errorText(error)}`);
    }
    const state = await this.loadState();
    let checkpoint: Checkpoint | undefined;
    if (state) {
      checkpoint = state.checkpoint;
      this.generationCounter = state.generation;
      for (const [key, info] of Object.entries(state.generations)) this.generations.set(Number(key), info);
      this.origin = state.origin;
      const resumeAt = checkpoint.resumeAt >= 0 ? checkpoint.resumeAt : state.origin;
      if (resumeAt >= 0) this.resumeAt = unpackPosition(resumeAt);
    } else {
      // `from` is for a first run only: a state that existed but could not be read is a restart.
      this.startAtEnd = this.config.from === 'end' && !this.stateLost;
    }
    this.running = this.run();
    return checkpoint;
  }

  describePosition(position: number): string {
    const { generation, offset } = unpackPosition(position);
    return `byte ${offset} of ${this.generations.get(generation)?.path ?? this.config.path}`;
  }

  commit(checkpoint: Checkpoint): Promise<void> {
    // Coalesce: only the newest checkpoint matters, and writes must not overlap.
    this.pendingCheckpoint = checkpoint;
    if (!this.writing) {
      this.writing = this.writeCommits().finally(() => {
        this.writing = undefined;
      });
    }
    return this.writing;
  }

  async reopen(): Promise<void> {
    this.wakeUp();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    await this.running;
    this.running = undefined;
    if (this.file) {
      await this.file.handle.close().catch(() => undefined);
      this.file = undefined;
    }
    await this.writing?.catch(() => undefined);
  }

  stats(): Record<string, number> {
    return {
      bytesRead: this.counters.bytesRead,
      linesRead: this.splitter?.lines ?? 0,
      rotations: this.counters.rotations,
      truncations: this.counters.truncations,
      symlinksRefused: this.counters.symlinksRefused,
      generation: this.generation,
      offset: this.offset,
      missingFile: this.missing ? 1 : 0,
      // Refused (a symlink, not a regular file) or failing to open/read (EACCES, EIO): stuck
      // until an admin acts, which /healthz reports.
      unreadable: this.refusing !== '' || this.lastError !== '' ? 1 : 0,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Read loop

  private async run(): Promise<void> {
    while (!this.stopping) {
      let progressed = false;
      try {
        progressed = await this.step();
        this.lastError = '';
      } catch (error) {
        // Never leave the loop on an I/O error: say so once and retry at the poll interval.
        const text = errorText(error);
        if (text !== this.lastError) this.logger.error(`${text} (retrying every ${this.config.poll_ms} ms)`);
        this.lastError = text;
        this.receiver?.caughtUp(this.index, true);
      }
      if (!progressed && !this.stopping) await this.sleep(this.config.poll_ms);
    }
  }

  /** One round: open, read a batch, or look for rotation. Returns whether to go again at once. */
  private async step(): Promise<boolean> {
    if (!this.file) {
      const opened = await this.openInitial();
      // Nothing to read (no file yet): this source must not hold back other sources' intervals.
      if (!opened) this.receiver?.caughtUp(this.index, true);
      return opened;
    }
    const atEnd = await this.readBatch();
    this.receiver?.caughtUp(this.index, atEnd);
    if (!atEnd) return true;
    return this.checkReplaced();
  }

  /**
   * Reads up to a batch of chunks; returns true when it reached the end of the file. A chunk is
   * read synchronously: the file ulogd appends to is in the page cache, so a read is a copy of at
   * most CHUNK_BYTES, while through the thread pool the main thread sat waiting for reads ~5 % of a
   * flood (on two cores the pool thread competes with the collector's). The event loop gets a turn
   * after every chunk, so timers, the web view and the sinks keep running during a catch-up.
   */
  private async readBatch(): Promise<boolean> {
    const file = this.file;
    if (!file || !this.splitter) return true;
    const buffer = this.buffer;
    for (let i = 0; i < CHUNKS_PER_BATCH; i++) {
      if (this.stopping) return true;
      const bytesRead = readSync(file.handle.fd, buffer, 0, CHUNK_BYTES, this.offset);
      if (bytesRead === 0) return true;
      this.consume(buffer, bytesRead);
      // I/O and timers run before the next chunk.
      await nextTurn();
    }
    return false;
  }

  /** Splits one chunk read at the current offset and moves past it. */
  private consume(buffer: Buffer, bytesRead: number): void {
    this.keepPrefix(buffer, this.offset, bytesRead);
    this.splitter!.push(buffer.subarray(0, bytesRead), packPosition(this.generation, this.offset));
    this.offset += bytesRead;
    this.counters.bytesRead += bytesRead;
    this.lastGrowthAt = Date.now();
    const info = this.generations.get(this.generation);
    if (info && this.offset > info.size) info.size = this.offset;
  }

  /**
   * At the end of the open file: has the path been renamed away or truncated? Returns whether the
   * source moved on (so the next round should read at once).
   */
  private async checkReplaced(): Promise<boolean> {
    const file = this.file;
    if (!file) return true;
    let current: BigIntStats | undefined;
    try {
      // Without follow_symlinks a symlink put at the path is a different file (refused on open).
      current = this.config.follow_symlinks ? await stat(this.config.path, { bigint: true }) : await lstat(this.config.path, { bigint: true });
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }

    if (current && current.dev === file.dev && current.ino === file.ino) {
      const size = Number(current.size);
      if (size >= this.offset) return false;
      this.counters.truncations++;
      this.deliverPartial();
      if (size > 0 && (await this.beginsAsRead(file.handle, size))) {
        // The same file cut shorter (truncate -s): what is left was read already.
        this.logger.info(`${this.config.path} was cut shorter (size ${size} < offset ${this.offset}) and begins as before: continuing at its new end, not reading again what is left`);
        this.generation = this.nextGeneration(file, true, size);
        this.offset = size;
        this.prefixLength = Math.min(this.prefixLength, size);
      } else {
        // copytruncate: the same file shrank under us; what it holds now is new.
        this.logger.info(`${this.config.path} was truncated (size ${size} < offset ${this.offset}); reading it from the start`);
        this.generation = this.nextGeneration(file, true);
        this.offset = 0;
        this.prefixLength = 0;
      }
      this.updateFingerprint();
      return true;
    }

    // Renamed away (or deleted). ulogd keeps writing the old file until it reopens, so only move
    // on when the old file is drained and either the new one has data or the old one went quiet.
    if (!current) return false;
    // Only a regular file's size is lines: a symbolic link (its size is its target's name), a FIFO
    // or a directory put at the path is refused when opened, and the old file is read until quiet.
    const newHasData = current.isFile() && current.size > 0n;
    if (!newHasData && Date.now() - this.lastGrowthAt < (this.options.rotationIdleMs ?? ROTATION_IDLE_MS)) return false;
    // Lines written between our last read and the stat above must not be lost: drain again.
    const drainedAt = this.offset;
    await this.readBatch();
    if (this.offset > drainedAt) return true;
    await this.switchToNext();
    return true;
  }

  /** Leaves the drained file for the next generation: a rotated one known from state, or the path. */
  private async switchToNext(): Promise<void> {
    const old = this.file;
    this.deliverPartial();
    this.file = undefined;
    if (old) {
      await old.handle.close().catch(() => undefined);
      this.counters.rotations++;
    }
    const from = this.generation;
    // After a restart in a rotated file, later generations from the state file may still exist
    // (e.g. ulogd.json.1 then ulogd.json): continue with them in order.
    for (let generation = from + 1; generation <= this.generationCounter; generation++) {
      const info = this.generations.get(generation);
      if (!info) continue;
      const found = await this.locate(info);
      if (found) {
        await this.adopt(found, generation, info.start ?? 0);
        this.logger.info(`continuing with generation ${generation} (${found.path})`);
        return;
      }
      this.logger.warn(`generation ${generation} (${info.path}, dev ${info.dev} ino ${info.ino}) is gone: up to ${info.size} bytes may have been missed`);
    }
    const opened = await this.openPath();
    if (opened) {
      const generation = this.nextGeneration(opened, false);
      await this.adopt(opened, generation, this.startOf(generation));
      this.logger.info(`following new ${this.config.path} (generation ${this.generation})`);
    }
  }

  /** First open: the saved position (found by inode if rotated), else the path. */
  private async openInitial(): Promise<boolean> {
    const resume = this.resumeAt;
    this.resumeAt = undefined;
    if (resume) {
      const info = this.generations.get(resume.generation);
      const found = info ? await this.locate(info) : undefined;
      // A later generation with the same dev+ino means copytruncate emptied this one since: its
      // content is gone and the later generation (found below) holds what came after.
      const truncatedLater = info !== undefined && [...this.generations].some(([g, other]) => g > resume.generation && other.dev === info.dev && other.ino === info.ino);
      if (info && found && !truncatedLater) {
        if (found.size >= resume.offset) {
          await this.adopt(found, resume.generation, resume.offset);
          this.logger.info(`resumed ${found.path} at offset ${resume.offset} (generation ${resume.generation})`);
          return true;
        }
        this.counters.truncations++;
        if (found.size > 0 && (await this.matchesFingerprint(found, info.fingerprint))) {
          this.logger.info(`${found.path} was cut shorter while stopped (size ${found.size} < offset ${resume.offset}) and begins as before: continuing at its new end, not reading again what is left`);
          await this.adopt(found, this.nextGeneration(found, true, found.size), found.size);
          return true;
        }
        this.logger.info(`${found.path} was truncated while stopped (size ${found.size} < offset ${resume.offset}); reading it from the start`);
        await this.adopt(found, this.nextGeneration(found, true), 0);
        return true;
      }
      if (found) await found.handle.close().catch(() => undefined);
      if (info) {
        const missed = Math.max(0, info.size - resume.offset);
        const what = truncatedLater ? 'was truncated since' : 'is gone';
        this.logger.warn(`the file last read (${info.path}, dev ${info.dev} ino ${info.ino}) ${what}: at least ${missed} bytes may have been missed`);
      } else if (resume.generation > 0) {
        this.logger.warn(`saved position refers to unknown generation ${resume.generation}; starting ${this.config.path} from the beginning`);
      }
      // Rotated files of later generations may still be around; switchToNext looks for them.
      this.generation = resume.generation;
      await this.switchToNext();
      return this.file !== undefined;
    }

    const atEnd = this.startAtEnd;
    const opened = await this.openPath();
    this.startAtEnd = false;
    if (!opened) return false;
    await this.adopt(opened, this.nextGeneration(opened, false), atEnd ? opened.size : 0);
    if (this.origin < 0) this.origin = packPosition(this.generation, this.offset);
    this.logger.info(`following ${this.config.path} from offset ${this.offset} (generation ${this.generation})`);
    return true;
  }

  /** Opens the configured path; undefined (and waits, logging once) when it does not exist. */
  private async openPath(): Promise<OpenFile | undefined> {
    const path = this.config.path;
    let handle: FileHandle;
    try {
      handle = await open(path, this.openFlags());
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ELOOP' && !this.config.follow_symlinks && (await isSymlink(path))) {
        this.refuse('symlink', `${path} is a symbolic link: not following it (set follow_symlinks = true for source "${this.name}" to allow it); waiting for a regular file`);
        return undefined;
      }
      if (code !== 'ENOENT') throw error;
      this.refusing = '';
      if (!this.missing) this.logger.info(`${path} does not exist yet; waiting for it`);
      this.missing = true;
      return undefined;
    }
    this.missing = false;
    const opened = await this.describe(handle, path);
    if (!opened.regular) {
      await handle.close().catch(() => undefined);
      this.refuse('not-regular', `${path} is not a regular file (a FIFO, device or directory): not reading it; waiting for a regular file`);
      return undefined;
    }
    if (this.refusing) this.logger.info(`${path} is a regular file again: following it`);
    this.refusing = '';
    return opened;
  }

  /** O_NOFOLLOW unless links are allowed; O_NONBLOCK so a FIFO put at the path cannot block the open. */
  private openFlags(): number {
    return constants.O_RDONLY | constants.O_NONBLOCK | (this.config.follow_symlinks ? 0 : constants.O_NOFOLLOW);
  }

  /** Logs (as an error) and counts once per episode of the path being refused. */
  private refuse(why: 'symlink' | 'not-regular', message: string): void {
    this.missing = false;
    if (this.refusing === why) return;
    this.refusing = why;
    if (why === 'symlink') this.counters.symlinksRefused++;
    this.logger.error(message);
  }

  /** Finds a generation's file by dev+ino: the configured path first, then its directory. */
  private async locate(info: GenerationInfo): Promise<OpenFile | undefined> {
    const candidates = [this.config.path];
    const directory = dirname(this.config.path);
    try {
      for (const name of await readdir(directory)) {
        const path = join(directory, name);
        if (path !== this.config.path && !name.endsWith('.gz')) candidates.push(path);
      }
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    for (const path of candidates) {
      let found: BigIntStats;
      try {
        found = this.config.follow_symlinks ? await stat(path, { bigint: true }) : await lstat(path, { bigint: true });
      } catch {
        continue;
      }
      if (!found.isFile() || String(found.dev) !== info.dev || String(found.ino) !== info.ino) continue;
      let handle: FileHandle;
      try {
        handle = await open(path, this.openFlags());
      } catch {
        continue;
      }
      const opened = await this.describe(handle, path);
      // Re-check on the descriptor: the name may have been replaced between stat and open.
      if (opened.regular && String(opened.dev) === info.dev && String(opened.ino) === info.ino) return opened;
      await handle.close().catch(() => undefined);
    }
    return undefined;
  }

  private async describe(handle: FileHandle, path: string): Promise<OpenFile> {
    try {
      const stats = await handle.stat({ bigint: true });
      return { handle, path, dev: stats.dev, ino: stats.ino, size: Number(stats.size), regular: stats.isFile() };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * The generation for a file we are about to read from offset 0: a later generation the state
   * already knows for this dev+ino (so positions match those read before a restart), else a new one.
   */
  private nextGeneration(file: OpenFile, truncated: boolean, start = 0): number {
    if (!truncated) {
      for (const [generation, info] of this.generations) {
        if (generation > this.generation && info.dev === String(file.dev) && info.ino === String(file.ino) && file.size >= info.size) {
          return generation;
        }
      }
    }
    this.generationCounter++;
    const info: GenerationInfo = { dev: String(file.dev), ino: String(file.ino), path: file.path, size: start };
    if (start > 0) info.start = start;
    this.generations.set(this.generationCounter, info);
    return this.generationCounter;
  }

  /** Offset a generation begins at (0 unless it continues a file that was cut shorter). */
  private startOf(generation: number): number {
    return this.generations.get(generation)?.start ?? 0;
  }

  private async adopt(file: OpenFile, generation: number, offset: number): Promise<void> {
    this.file = file;
    this.generation = generation;
    this.offset = offset;
    this.lastGrowthAt = Date.now();
    if (generation > this.generationCounter) this.generationCounter = generation;
    const info = this.generations.get(generation);
    if (info) {
      info.path = file.path;
      if (offset > info.size) info.size = offset;
    } else {
      this.generations.set(generation, { dev: String(file.dev), ino: String(file.ino), path: file.path, size: offset });
    }
    // The first bytes before the starting offset, for telling a later cut from new content.
    this.prefixLength = 0;
    const want = Math.min(FINGERPRINT_BYTES, offset);
    if (want > 0) {
      const { bytesRead } = await file.handle.read(this.prefix, 0, want, 0);
      this.prefixLength = bytesRead;
    }
    this.updateFingerprint();
  }

  /** Adds what a read at `at` brought of the file's first FINGERPRINT_BYTES bytes to the prefix. */
  private keepPrefix(chunk: Buffer, at: number, length: number): void {
    const have = this.prefixLength;
    if (have >= FINGERPRINT_BYTES || at > have || at + length <= have) return;
    const from = have - at;
    const take = Math.min(length - from, FINGERPRINT_BYTES - have);
    chunk.copy(this.prefix, have, from, from + take);
    this.prefixLength = have + take;
    this.updateFingerprint();
  }

  /**
   * Records the current generation's fingerprint: the hash of the file's first line (at most
   * FINGERPRINT_BYTES; what there is of it while it is incomplete). ulogd's first line carries a
   * microsecond timestamp, so new content never begins with it, and any cut that leaves one
   * complete line can still be recognised after a restart.
   */
  private updateFingerprint(): void {
    const info = this.generations.get(this.generation);
    if (!info || this.prefixLength === 0) return;
    const newline = this.prefix.subarray(0, this.prefixLength).indexOf(10);
    const bytes = newline >= 0 ? newline + 1 : this.prefixLength;
    if (info.fingerprint?.bytes === bytes) return;
    info.fingerprint = fingerprintOf(this.prefix.subarray(0, bytes));
  }

  /**
   * Whether the open file (now `size` bytes) still begins with the bytes read from it before. Only
   * a match that covers a complete line counts: a few equal bytes (`{"timestamp": "20…`) could be
   * the start of new content, and reading such a short remainder again costs at most one
   * undecodable partial line, never a double count.
   */
  private async beginsAsRead(handle: FileHandle, size: number): Promise<boolean> {
    const length = Math.min(this.prefixLength, size);
    if (length === 0) return false;
    const now = Buffer.alloc(length);
    const { bytesRead } = await handle.read(now, 0, length, 0);
    return bytesRead === length && (now.includes(10) || length === FINGERPRINT_BYTES) && now.equals(this.prefix.subarray(0, length));
  }

  /**
   * Whether a file found after a restart begins with the bytes a saved fingerprint describes: its
   * complete first line (or the first FINGERPRINT_BYTES of a longer one), as in beginsAsRead.
   */
  private async matchesFingerprint(file: OpenFile, fingerprint: Fingerprint | undefined): Promise<boolean> {
    if (!fingerprint || fingerprint.bytes <= 0 || fingerprint.bytes > FINGERPRINT_BYTES || file.size < fingerprint.bytes) return false;
    const now = Buffer.alloc(fingerprint.bytes);
    const { bytesRead } = await file.handle.read(now, 0, fingerprint.bytes, 0);
    if (bytesRead !== fingerprint.bytes || (now[bytesRead - 1] !== 10 && bytesRead !== FINGERPRINT_BYTES)) return false;
    return fingerprintOf(now).sha256 === fingerprint.sha256;
  }

  /** A partial line at the end of a file that is left behind is still a line (it will not decode). */
  private deliverPartial(): void {
    this.splitter?.deliverPartial();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.wakeTimer = setTimeout(resolve, ms);
    });
  }

  private wakeUp(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  // -------------------------------------------------------------------------------------------
  // State file

  /**
   * The saved state: the state file, else its previous copy. A state that existed but cannot be
   * read is a restart, not a first run: without any readable copy the file is read from its start
   * (sinks that keep the last write per timestamp end up with the same values), never from its end.
   */
  private async loadState(): Promise<FileSourceState | undefined> {
    const current = await readState(this.statePath);
    if (current.state) {
      this.lastStateText = current.text;
      return current.state;
    }
    const previousPath = previousStatePath(this.statePath);
    const previous = await readState(previousPath);
    if (current.missing && previous.missing) return undefined;
    const problem = current.missing ? 'is missing' : `is damaged (${current.problem})`;
    if (previous.state) {
      this.logger.warn(`state file ${this.statePath} ${problem}; resuming from its previous copy ${previousPath} (lines read since that copy are read again; Graphite and InfluxDB keep the last value written, so their figures stay right)`);
      this.lastStateText = previous.text;
      return previous.state;
    }
    const why = previous.missing ? 'there is no previous copy' : `its previous copy is damaged too (${previous.problem})`;
    this.logger.warn(`state file ${this.statePath} ${problem} and ${why}; reading ${this.config.path} from its start so nothing written while nfwatch was stopped is lost (lines delivered before are counted again into the same intervals)`);
    this.stateLost = true;
    return undefined;
  }

  private async writeCommits(): Promise<void> {
    while (this.pendingCheckpoint) {
      const checkpoint = this.pendingCheckpoint;
      this.pendingCheckpoint = undefined;
      await this.writeState(checkpoint);
    }
  }

  private async writeState(checkpoint: Checkpoint): Promise<void> {
    // Keep only generations the checkpoint can refer to (and those read since).
    const referenced = [checkpoint.resumeAt < 0 ? this.origin : checkpoint.resumeAt, checkpoint.skipBelow, ...checkpoint.late];
    let oldest = this.generation;
    for (const position of referenced) if (position >= 0) oldest = Math.min(oldest, unpackPosition(position).generation);
    for (const generation of this.generations.keys()) {
      if (generation < oldest && generation !== this.generation) this.generations.delete(generation);
    }
    const state: FileSourceState = {
      version: STATE_VERSION,
      source: this.name,
      checkpoint,
      origin: this.origin,
      generation: this.generationCounter,
      generations: Object.fromEntries([...this.generations].map(([generation, info]) => [String(generation), { ...info }])),
    };
    const text = `${JSON.stringify(state, null, 1)}\n`;
    // The state written before becomes the previous copy first: at every moment both names hold
    // a complete state (each replaced by rename), so one damaged file never means a first run.
    if (this.lastStateText !== undefined && this.lastStateText !== text) await writeAtomically(previousStatePath(this.statePath), this.lastStateText);
    await writeAtomically(this.statePath, text);
    this.lastStateText = text;
  }
}

/** Writes `text` to a temporary file, syncs it and renames it over `path`. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

type StateRead = { state: FileSourceState; text: string; missing?: undefined; problem?: undefined } | { state?: undefined; missing: boolean; problem: string };

/** One state file: its state, or whether it is missing, or what is wrong with it. */
async function readState(path: string): Promise<StateRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { missing: true, problem: 'missing' };
    return { missing: false, problem: `cannot be read: ${errorText(error)}` };
  }
  const state = parseState(text);
  return state ? { state, text } : { missing: false, problem: 'not a valid state' };
}

/** Validates a state file's text; undefined when it is not one we wrote. */
export function parseState(text: string): FileSourceState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const state = value as Partial<FileSourceState>;
  const checkpoint = state.checkpoint;
  if (state.version !== STATE_VERSION || typeof state.generation !== 'number') return undefined;
  if (typeof checkpoint !== 'object' || checkpoint === null) return undefined;
  if (typeof checkpoint.resumeAt !== 'number' || typeof checkpoint.skipBelow !== 'number' || typeof checkpoint.flushedUntil !== 'number') return undefined;
  if (typeof checkpoint.counters !== 'object' || checkpoint.counters === null) return undefined;
  if (!Array.isArray(checkpoint.late) || !checkpoint.late.every((p) => typeof p === 'number')) return undefined;
  if (typeof state.origin !== 'number') return undefined;
  if (typeof state.generations !== 'object' || state.generations === null) return undefined;
  for (const info of Object.values(state.generations)) {
    if (typeof info !== 'object' || info === null) return undefined;
    if (typeof info.dev !== 'string' || typeof info.ino !== 'string' || typeof info.path !== 'string' || typeof info.size !== 'number') return undefined;
    if (info.start !== undefined && typeof info.start !== 'number') return undefined;
    const fingerprint = info.fingerprint;
    if (fingerprint !== undefined && (typeof fingerprint !== 'object' || fingerprint === null || typeof fingerprint.bytes !== 'number' || typeof fingerprint.sha256 !== 'string')) return undefined;
  }
  return state as FileSourceState;
}
