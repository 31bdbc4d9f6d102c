// Runs the built nfwatch daemon (dist/cli.js) as a real child process for the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, waitFor } from './lab.js';

export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

export interface Nfwatch {
  readonly configPath: string;
  readonly logPath: string;
  process: ChildProcess;
  /** The daemon's stderr so far, across restarts. */
  log(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no flush, no chance to save anything. */
  kill9(): Promise<void>;
  /** Start again with the same configuration and state directory. */
  restart(): Promise<void>;
  hup(): void;
}

export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`e2e tests run the built daemon: ${CLI} is missing (npm run build; npm test builds first)`);
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Writes `toml` to tmpDir/nfwatch.toml and starts nfwatch on it; resolves once it says it started. */
export async function startNfwatch(tmpDir: string, toml: string): Promise<Nfwatch> {
  requireBuild();
  const configPath = join(tmpDir, 'nfwatch.toml');
  const logPath = join(tmpDir, 'nfwatch.log');
  writeFileSync(configPath, toml);
  writeFileSync(logPath, '');

  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [CLI, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => appendFileSync(logPath, d));
    child.stderr?.on('data', (d: Buffer) => appendFileSync(logPath, d));
    const marker = readFileSync(logPath, 'utf8').length;
    await waitFor(
      'nfwatch to start',
      () => {
        if (child.exitCode !== null) throw new Error(`nfwatch exited with ${child.exitCode} during start:\n${readFileSync(logPath, 'utf8')}`);
        return readFileSync(logPath, 'utf8').slice(marker).includes('nfwatch started') ? true : undefined;
      },
      15_000,
    );
    return child;
  };

  const handle: Nfwatch = {
    configPath,
    logPath,
    process: await launch(),
    log: () => readFileSync(logPath, 'utf8'),
    async stop() {
      handle.process.kill('SIGTERM');
      return exited(handle.process);
    },
    async kill9() {
      handle.process.kill('SIGKILL');
      await exited(handle.process);
    },
    async restart() {
      handle.process = await launch();
    },
    hup() {
      handle.process.kill('SIGHUP');
    },
  };
  return handle;
}

/** Kills a daemon left running by a failed test (no-op when it has exited). */
export async function ensureStopped(nfwatch: Nfwatch | undefined): Promise<void> {
  if (!nfwatch) return;
  const p = nfwatch.process;
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await exited(p);
  }
}
