// `npm run demo`: the live scan-watch page with real traffic in it, on a machine without ulogd.
// Starts two child processes from the repository root and stops both on Ctrl-C:
//   1. the replay (dist/demo/replay.js) of demo/ulogd-lab-capture.jsonl into .demo/ulogd.json,
//   2. nfwatch (dist/cli.js) on conf/demo.toml, which follows that file.
// .demo/ is emptied first, so every demo starts from a fresh file and fresh read positions.
//
//   node dist/demo/run.js [--speed N] [--port N]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';

/** dist/demo/run.js → the repository root (the directory with package.json above dist/). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CAPTURE = join(ROOT, 'demo', 'ulogd-lab-capture.jsonl');
const CONFIG = join(ROOT, 'conf', 'demo.toml');
const DEMO_DIR = join(ROOT, '.demo');

function start(name: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  child.once('error', (err) => process.stderr.write(`demo: cannot start ${name}: ${err.message}\n`));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

function main(): void {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { speed: { type: 'string', default: '1' } },
    strict: true,
  });
  if (!existsSync(CAPTURE)) throw new Error(`${CAPTURE} is missing`);
  const config = loadConfig(CONFIG);
  const outPath = resolve(ROOT, config.sources.file[0]?.path ?? '.demo/ulogd.json');

  // A fresh start: no old lines, no saved read position.
  rmSync(DEMO_DIR, { recursive: true, force: true });
  mkdirSync(DEMO_DIR, { recursive: true });

  const daemon = start('nfwatch', [join(ROOT, 'dist', 'cli.js'), '--config', CONFIG]);
  const player = start('replay', [join(ROOT, 'dist', 'demo', 'replay.js'), '--capture', CAPTURE, '--output', outPath, '--speed', values.speed]);

  const { host, port, enabled } = config.web;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  process.stdout.write(
    enabled
      ? `\nnfwatch demo: open ${url} — a recorded lab capture (~4.5 min, looping) is replayed live.\nCtrl-C stops the demo.\n\n`
      : '\nnfwatch demo: [web] is disabled in conf/demo.toml, so there is no page to open. Ctrl-C stops the demo.\n\n',
  );

  let stopping = false;
  const stop = (why: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    if (why !== '') process.stderr.write(`demo: ${why}; stopping\n`);
    Promise.all([stopChild(player, 3000), stopChild(daemon, 8000)]).then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('', 0));
  process.on('SIGTERM', () => stop('', 0));
  daemon.once('exit', (code, signal) => stop(`nfwatch exited (${signal ?? `code ${code}`})`, code === 0 ? 0 : 1));
  player.once('exit', (code, signal) => stop(`replay exited (${signal ?? `code ${code}`})`, code === 0 ? 0 : 1));
}

try {
  main();
} catch (err) {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
