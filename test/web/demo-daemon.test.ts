// The page against the real daemon process, as `npm run demo` runs it: dist/cli.js follows a file
// into which the bundled lab capture (real ulogd output, scanners included) is replayed. Debian's
// chromium, driven by playwright-core, must show live rows, the scanners' tools and the port-6000
// campaign. Fails with a clear message when chromium or the build is missing; never skips.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../../src/demo/replay.js';

const CHROMIUM = '/usr/bin/chromium';
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const CAPTURE = fileURLToPath(new URL('../../demo/ulogd-lab-capture.jsonl', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
/** The 270 s capture plays in about 14 s. */
const SPEED = 20;

describe('scan-watch page on the daemon fed by the bundled capture', () => {
  let tmp = '';
  let daemon: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  const abort = new AbortController();
  let replaying: Promise<unknown> | undefined;
  let log = '';
  let url = '';

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/install-test-deps.sh does)`);
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build (npm test builds first)`);
    tmp = mkdtempSync(join(tmpdir(), 'nfw-demo-'));
    const ulogdJson = join(tmp, 'ulogd.json');
    writeFileSync(
      join(tmp, 'nfwatch.toml'),
      `[general]\nstate_dir = "${tmp}/state"\n[[sources.file]]\npath = "${ulogdJson}"\nfrom = "beginning"\npoll_ms = 50\n` +
        `[aggregate]\ninterval_seconds = 1\ngrace_seconds = 0.5\n[outputs.graphite]\nenabled = false\n[web]\nport = 0\n`,
    );
    daemon = spawn(process.execPath, [CLI, '--config', join(tmp, 'nfwatch.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!/scan-watch page at (http:\/\/\S+?)\/?$/m.test(log)) {
      if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`the daemon did not start its web view:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    url = /scan-watch page at (http:\/\/\S+?)\/?$/m.exec(log)![1]!;
    replaying = replay({ capture: CAPTURE, output: ulogdJson, speed: SPEED, loops: 1, signal: abort.signal }).catch(() => undefined);

    const profile = join(tmp, 'chromium');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 900 },
    });
  }, 60_000);

  afterAll(async () => {
    abort.abort();
    await replaying;
    await context?.close();
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  it('shows live rows, the scanners by tool and the port-6000 campaign', { timeout: 90_000 }, async () => {
    const page = context!.pages()[0] ?? (await context!.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}/`);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
    await expect.poll(() => page.locator('#events tbody tr').count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(20);
    // The capture's scanners, recognised by the daemon and listed by the page.
    await expect.poll(() => page.locator('#sources tbody').textContent(), { timeout: 30_000 }).toContain('port6000-ssh-scanner');
    await expect.poll(() => page.locator('#campaigns tbody').textContent(), { timeout: 30_000 }).toContain('win=16384');
    const tools = await page.locator('#events tbody').textContent();
    expect(tools).toMatch(/nmap-syn|masscan|zmap|port6000-ssh-scanner|mirai/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'scan-watch-demo.png') });
    expect(errors).toEqual([]);
    expect(log).not.toMatch(/ error /);
  });
});
