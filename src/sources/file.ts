// Follows the file ulogd's JSON plugin writes, across logrotate's rename and copytruncate, and
// saves where it got to so a restart resumes exactly there (even inside the rotated file).
//
// Positions pack a file generation and a byte offset into one number that grows with the read
// order: generation × 2^40 + offset. A generation is one file (one dev+ino from one start of
// reading); the state file maps each generation still referred to by the checkpoint to its dev,
// ino, path and size, so a restart can find it again by inode in the directory.
import { mkdir, open, readdir, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FileSourceConfig } from '../config/schema.js';
import { NONE, type Checkpoint, type LineReceiver, type LineSource } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { LineSplitter } from './lines.js';
import { errorCode, errorText } from '../util/errors.js';

const GENERATION_FACTOR = 2 ** 40;
/** Read size: large, so a backlog is worked through with few syscalls. */
const CHUNK_BYTES = 256 * 1024;
/** Chunks per batch before receiver.caughtUp(…, false) gives the pipeline a turn. */
const CHUNKS_PER_BATCH = 16;
/**
 * After a rename, if the new file stays empty, switch to it once the old one has not grown for
 * this long (ulogd has reopened but logged nothing yet, or was not told to reopen).
 */
const ROTATION_IDLE_MS = 5000;
const STATE_VERSION = 1;

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
}

export class FileSource implements LineSource {
  readonly kind = 'file';
  readonly replayable = true;
  readonly name: string;

  private readonly logger: Logger;
  private readonly statePath: string;
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
  /** See FileSourceState.origin. */
  private origin = NONE;

  private lastGrowthAt = Date.now();
  private missing = false;
  private lastError = '';

  private running: Promise<void> | undefined;
  private stopping = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  private pendingCheckpoint: Checkpoint | undefined;
  private writing: Promise<void> | undefined;

  private counters = { bytesRead: 0, rotations: 0, truncations: 0 };

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
      this.startAtEnd = this.config.from === 'end';
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
      generation: this.generation,
      offset: this.offset,
      missingFile: this.missing ? 1 : 0,
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

  /** Reads up to a batch of chunks; returns true when it reached the end of the file. */
  private async readBatch(): Promise<boolean> {
    for (let i = 0; i < CHUNKS_PER_BATCH && !this.stopping; i++) {
      if ((await this.readChunk()) === 0) return true;
    }
    return false;
  }

  private async readChunk(): Promise<number> {
    const file = this.file;
    if (!file || !this.splitter) return 0;
    const { bytesRead } = await file.handle.read(this.buffer, 0, CHUNK_BYTES, this.offset);
    if (bytesRead === 0 || this.stopping) return 0;
    this.splitter.push(this.buffer.subarray(0, bytesRead), packPosition(this.generation, this.offset));
    this.offset += bytesRead;
    this.counters.bytesRead += bytesRead;
    this.lastGrowthAt = Date.now();
    const info = this.generations.get(this.generation);
    if (info && this.offset > info.size) info.size = this.offset;
    return bytesRead;
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
      current = await stat(this.config.path, { bigint: true });
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }

    if (current && current.dev === file.dev && current.ino === file.ino) {
      if (Number(current.size) >= this.offset) return false;
      // copytruncate: the same file shrank under us; what it holds now is new.
      this.counters.truncations++;
      this.logger.info(`${this.config.path} was truncated (size ${current.size} < offset ${this.offset}); reading it from the start`);
      this.deliverPartial();
      this.generation = this.nextGeneration(file, true);
      this.offset = 0;
      return true;
    }

    // Renamed away (or deleted). ulogd keeps writing the old file until it reopens, so only move
    // on when the old file is drained and either the new one has data or the old one went quiet.
    if (!current) return false;
    const newHasData = current.size > 0n;
    if (!newHasData && Date.now() - this.lastGrowthAt < (this.options.rotationIdleMs ?? ROTATION_IDLE_MS)) return false;
    // Lines written between our last read and the stat above must not be lost: drain again.
    if ((await this.readChunk()) > 0) return true;
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
        this.adopt(found, generation, 0);
        this.logger.info(`continuing with generation ${generation} (${found.path})`);
        return;
      }
      this.logger.warn(`generation ${generation} (${info.path}, dev ${info.dev} ino ${info.ino}) is gone: up to ${info.size} bytes may have been missed`);
    }
    const opened = await this.openPath();
    if (opened) {
      this.adopt(opened, this.nextGeneration(opened, false), 0);
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
          this.adopt(found, resume.generation, resume.offset);
          this.logger.info(`resumed ${found.path} at offset ${resume.offset} (generation ${resume.generation})`);
          return true;
        }
        this.counters.truncations++;
        this.logger.info(`${found.path} was truncated while stopped (size ${found.size} < offset ${resume.offset}); reading it from the start`);
        this.adopt(found, this.nextGeneration(found, true), 0);
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
    this.adopt(opened, this.nextGeneration(opened, false), atEnd ? opened.size : 0);
    if (this.origin < 0) this.origin = packPosition(this.generation, this.offset);
    this.logger.info(`following ${this.config.path} from offset ${this.offset} (generation ${this.generation})`);
    return true;
  }

  /** Opens the configured path; undefined (and waits, logging once) when it does not exist. */
  private async openPath(): Promise<OpenFile | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.config.path, 'r');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      if (!this.missing) this.logger.info(`${this.config.path} does not exist yet; waiting for it`);
      this.missing = true;
      return undefined;
    }
    this.missing = false;
    return this.describe(handle, this.config.path);
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
        found = await stat(path, { bigint: true });
      } catch {
        continue;
      }
      if (!found.isFile() || String(found.dev) !== info.dev || String(found.ino) !== info.ino) continue;
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch {
        continue;
      }
      const opened = await this.describe(handle, path);
      // Re-check on the descriptor: the name may have been replaced between stat and open.
      if (String(opened.dev) === info.dev && String(opened.ino) === info.ino) return opened;
      await handle.close().catch(() => undefined);
    }
    return undefined;
  }

  private async describe(handle: FileHandle, path: string): Promise<OpenFile> {
    try {
      const stats = await handle.stat({ bigint: true });
      return { handle, path, dev: stats.dev, ino: stats.ino, size: Number(stats.size) };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * The generation for a file we are about to read from offset 0: a later generation the state
   * already knows for this dev+ino (so positions match those read before a restart), else a new one.
   */
  private nextGeneration(file: OpenFile, truncated: boolean): number {
    if (!truncated) {
      for (const [generation, info] of this.generations) {
        if (generation > this.generation && info.dev === String(file.dev) && info.ino === String(file.ino) && file.size >= info.size) {
          return generation;
        }
      }
    }
    this.generationCounter++;
    this.generations.set(this.generationCounter, { dev: String(file.dev), ino: String(file.ino), path: file.path, size: 0 });
    return this.generationCounter;
  }

  private adopt(file: OpenFile, generation: number, offset: number): void {
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
  }

  /** A partial line at the end of a file that is left behind is still a line (it will not decode). */
  private deliverPartial(): void {
    const partial = this.splitter?.flushPartial();
    if (partial && this.receiver) this.receiver.line(this.index, partial.text, partial.start, partial.end);
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

  private async loadState(): Promise<FileSourceState | undefined> {
    let text: string;
    try {
      text = await readFile(this.statePath, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw new Error(`file source "${this.name}": cannot read state file ${this.statePath}: ${errorText(error)}`);
    }
    const state = parseState(text);
    if (!state) {
      // Refusing to start would stop all metrics for a damaged 1 KiB file: start afresh, loudly.
      this.logger.error(`state file ${this.statePath} is not valid; starting as on a first run`);
      this.startAtEnd = this.config.from === 'end';
      return undefined;
    }
    return state;
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
    const temporary = `${this.statePath}.tmp`;
    const handle = await open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(state, null, 1)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.statePath);
  }
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
  }
  return state as FileSourceState;
}
