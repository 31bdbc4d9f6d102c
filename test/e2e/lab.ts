/**
 * End-to-end lab for nfwatch: two network namespaces joined by a veth pair,
 * the example nftables firewall + nfacct counters in the "firewall" namespace,
 * real ulogd2 writing JSON, real carbon-cache storing whisper files, and exact
 * test traffic (hping3, nmap, curl, raw ICMPv6) sent from the "client" namespace.
 *
 * Only node built-ins are used. Everything needs root (network namespaces,
 * netfilter, raw sockets): call requireRoot() first; it throws, it never skips.
 *
 * Traffic rule: packets are only ever sent between the two namespaces created
 * here (198.18.0.0/24, fd00:6e66::/64) or on loopback, with bounded counts.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------
// Paths and constants
// ---------------------------------------------------------------------------

/** Repository root: the nearest ancestor of this file holding nftables-examples/firewall.nft. */
export const REPO_ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'nftables-examples', 'firewall.nft'))) return dir;
    const up = dirname(dir);
    if (up === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    dir = up;
  }
})();
export const FIREWALL_NFT = join(REPO_ROOT, 'nftables-examples', 'firewall.nft');
export const NFACCT_SCRIPT = join(REPO_ROOT, 'nftables-examples', 'nfacct.sh');
export const IPTABLES_RULES_V4 = join(REPO_ROOT, 'iptables-examples', 'rules.v4');
export const IPTABLES_RULES_V6 = join(REPO_ROOT, 'iptables-examples', 'rules.v6');
/** nfacct objects created by nfacct.sh / needed by rules.v4 and rules.v6. */
export const NFACCT_NAMES = ['ipv4.http', 'ipv6.http', 'ipv4.ssh', 'ipv6.ssh'] as const;
export const ULOGD_FILE_CONF = join(REPO_ROOT, 'conf', 'ulogd.conf');
export const ULOGD_SOCKET_CONF = join(REPO_ROOT, 'conf', 'ulogd-socket.conf');

/** Default paths inside conf/ulogd*.conf that startUlogd() replaces textually. */
export const ULOGD_DEFAULT_JSON_PATH = '/var/log/ulog/ulogd.json';
export const ULOGD_DEFAULT_SOCKET_PATH = '/run/nfwatch/ulogd.sock';
export const ULOGD_DEFAULT_LOG_PATH = '/var/log/ulog/ulogd.log';

/** Addresses of the lab (RFC 2544 benchmarking range and a ULA prefix). */
export const LAB_ADDR = {
  fw4: '198.18.0.1',
  client4: '198.18.0.2',
  fw6: 'fd00:6e66::1',
  client6: 'fd00:6e66::2',
  fwMac: '02:6e:66:00:00:01',
  clientMac: '02:6e:66:00:00:02',
  fwIf: 'veth-fw',
  clientIf: 'veth-cl',
} as const;

/** Interpreter with python3-whisper / raw sockets (the Debian one, not a pyenv shim). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a command to completion (never throws for a non-zero exit; see execOk). */
export function run(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`cannot run ${cmd}: not installed?`));
          return;
        }
        resolvePromise({
          code: child.exitCode,
          signal: child.signalCode,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run() but throws with the command's stderr if it does not exit with 0. */
export async function runOk(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (code ${r.code}, signal ${r.signal}):\n${r.stderr}${r.stdout}`);
  }
  return r;
}

/** Poll `fn` until it returns a non-undefined value or the timeout expires. */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((r) => {
    const t = setTimeout(() => r(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      r(true);
    });
  });
}

/** SIGTERM, then SIGKILL after graceMs. Resolves when the process has exited. */
export async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (await waitExit(child, graceMs)) return;
  child.kill('SIGKILL');
  await waitExit(child, 5_000);
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((r, reject) => {
    const s: Server = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => r(port));
    });
  });
}

/** True once something accepts TCP connections on host:port. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((r) => {
    const s: Socket = createConnection({ port, host });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

/** Read a file's lines (no trailing empty line); [] if it does not exist. */
export function readLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text.split('\n').filter((l) => l.length > 0);
}

/** Parse a JSON-lines file. */
export function readJsonLines(path: string): Array<Record<string, unknown>> {
  return readLines(path).map((l) => JSON.parse(l) as Record<string, unknown>);
}

// Processes and namespaces created by this module, cleaned up on exit as a last resort.
const liveChildren = new Set<ChildProcess>();
const liveNamespaces = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const ns of liveNamespaces) killNamespaceSync(ns);
  });
}

function track(child: ChildProcess): ChildProcess {
  installExitHook();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

function killNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  } catch {
    /* namespace gone */
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already deleted */
  }
}

// ---------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------

const PRECONDITION = 'e2e tests need root and network namespaces: ';

/** Throws (never skips) unless we are root and `ip netns` works. */
export function requireRoot(): void {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid !== 0) {
    throw new Error(`${PRECONDITION}running as uid ${uid}; run the e2e suite as root (e.g. sudo npx vitest run test/e2e)`);
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${PRECONDITION}\`ip netns list\` failed (${(e as Error).message}); install iproute2 and run on a kernel with netns support`);
  }
}

/** Throws unless every named program is on PATH (ulogd, hping3, nft, ...). */
export function requireTools(tools: readonly string[] = ['ip', 'nft', 'nfacct', 'iptables-nft', 'ip6tables-nft', 'ulogd', 'hping3']): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${JSON.stringify(t)}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(`${PRECONDITION}missing programs: ${missing.join(', ')} (Debian: apt-get install ulogd2 ulogd2-json nftables iptables nfacct hping3 nmap curl graphite-carbon python3-whisper)`);
  }
}

// ---------------------------------------------------------------------------
// The lab: two namespaces + veth + firewall
// ---------------------------------------------------------------------------

export interface LabOptions {
  /**
   * Firewall in the firewall namespace (default 'nft'):
   *  'nft'      nftables-examples/firewall.nft, plus nftables-examples/nfacct.sh unless nfacct=false
   *  'iptables' nfacct objects + iptables-examples/rules.v4 and rules.v6 (iptables-restore)
   *  'none'     no rules at all
   */
  firewall?: 'nft' | 'iptables' | 'none';
  /** With firewall 'nft': run nftables-examples/nfacct.sh (default true). */
  nfacct?: boolean;
  /** TCP ports with an accepting listener in the firewall namespace (default [22, 80]). */
  listenPorts?: number[];
}

export interface Lab {
  readonly id: string;
  readonly fwNs: string;
  readonly clientNs: string;
  readonly addr: typeof LAB_ADDR;
  /** Run a command inside a namespace to completion. */
  exec(ns: string, cmd: string, args?: readonly string[], opts?: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv }): Promise<ExecResult>;
  /** Same, throws on non-zero exit. */
  execOk(ns: string, cmd: string, args?: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  /** Start a long-running command inside a namespace; it is killed by destroy(). */
  spawn(ns: string, cmd: string, args?: readonly string[], opts?: { env?: NodeJS.ProcessEnv }): ChildProcess;
  /** Read nfacct counters in the firewall namespace: name -> {pkts, bytes}. */
  nfacctList(): Promise<Map<string, { pkts: number; bytes: number }>>;
  /** Kill everything started in/for the lab and delete both namespaces. Idempotent. */
  destroy(): Promise<void>;
}

/** The numbers of a namespace pair created by createLab(), from its id. */
function labNames(id: string): { fwNs: string; clientNs: string; vethA: string; vethB: string } {
  return { fwNs: `nfw-fw-${id}`, clientNs: `nfw-cl-${id}`, vethA: `nfw${id}a`, vethB: `nfw${id}b` };
}

const LISTENER_JS = `
const net = require('node:net');
const ports = JSON.parse(process.argv[1]);
let ready = 0;
for (const port of ports) {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end('HTTP/1.0 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nok\\n'));
    setTimeout(() => s.destroy(), 5000).unref();
  });
  srv.listen({ port, host: '::', ipv6Only: false }, () => { if (++ready === ports.length) console.log('listening'); });
}
`;

export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  requireRoot();
  installExitHook();
  const id = randomBytes(3).toString('hex');
  const { fwNs, clientNs, vethA, vethB } = labNames(id);
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const exec: Lab['exec'] = (ns, cmd, args = [], o = {}) => run('ip', ['netns', 'exec', ns, cmd, ...args], o);
  const execOk: Lab['execOk'] = (ns, cmd, args = [], o = {}) => runOk('ip', ['netns', 'exec', ns, cmd, ...args], o);
  const spawnIn: Lab['spawn'] = (ns, cmd, args = [], o = {}) => {
    // `ip netns exec` execs the command: the child's pid is the command's pid.
    const child = track(spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env }));
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all([...children].map((c) => terminate(c, 3_000)));
    for (const ns of [fwNs, clientNs]) {
      killNamespaceSync(ns);
      liveNamespaces.delete(ns);
    }
  };

  const lab: Lab = {
    id,
    fwNs,
    clientNs,
    addr: LAB_ADDR,
    exec,
    execOk,
    spawn: spawnIn,
    async nfacctList() {
      const r = await execOk(fwNs, 'nfacct', ['list']);
      const m = new Map<string, { pkts: number; bytes: number }>();
      for (const match of r.stdout.matchAll(/pkts = (\d+), bytes = (\d+) \} = ([^;]+);/g)) {
        m.set(match[3] ?? '', { pkts: Number(match[1]), bytes: Number(match[2]) });
      }
      return m;
    },
    destroy,
  };

  try {
    for (const ns of [fwNs, clientNs]) {
      await runOk('ip', ['netns', 'add', ns]);
      liveNamespaces.add(ns);
    }
    const A = LAB_ADDR;
    await runOk('ip', ['link', 'add', vethA, 'netns', fwNs, 'type', 'veth', 'peer', 'name', vethB, 'netns', clientNs]);
    const setup: Array<[string, string[]]> = [
      [fwNs, ['link', 'set', vethA, 'name', A.fwIf, 'address', A.fwMac]],
      [clientNs, ['link', 'set', vethB, 'name', A.clientIf, 'address', A.clientMac]],
      [fwNs, ['link', 'set', 'lo', 'up']],
      [clientNs, ['link', 'set', 'lo', 'up']],
      [fwNs, ['addr', 'add', `${A.fw4}/24`, 'dev', A.fwIf]],
      [clientNs, ['addr', 'add', `${A.client4}/24`, 'dev', A.clientIf]],
      [fwNs, ['addr', 'add', `${A.fw6}/64`, 'dev', A.fwIf, 'nodad']],
      [clientNs, ['addr', 'add', `${A.client6}/64`, 'dev', A.clientIf, 'nodad']],
      [fwNs, ['link', 'set', A.fwIf, 'up']],
      [clientNs, ['link', 'set', A.clientIf, 'up']],
    ];
    for (const [ns, args] of setup) await runOk('ip', ['-n', ns, ...args]);

    const firewall = opts.firewall ?? 'nft';
    if (firewall === 'nft') {
      await execOk(fwNs, 'nft', ['-f', FIREWALL_NFT]);
      if (opts.nfacct ?? true) await execOk(fwNs, 'sh', [NFACCT_SCRIPT]);
    } else if (firewall === 'iptables') {
      for (const name of NFACCT_NAMES) await execOk(fwNs, 'nfacct', ['add', name]);
      await execOk(fwNs, 'iptables-restore', [], { input: readFileSync(IPTABLES_RULES_V4, 'utf8') });
      await execOk(fwNs, 'ip6tables-restore', [], { input: readFileSync(IPTABLES_RULES_V6, 'utf8') });
    }

    const ports = opts.listenPorts ?? [22, 80];
    if (ports.length > 0) {
      const listener = spawnIn(fwNs, process.execPath, ['-e', LISTENER_JS, JSON.stringify(ports)]);
      let out = '';
      listener.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      listener.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(`TCP listener on ${ports.join(',')} in ${fwNs}`, () => {
        if (listener.exitCode !== null) throw new Error(`listener exited: ${out}`);
        return out.includes('listening') ? true : undefined;
      });
    }
    // Wait for the link to carry traffic (both veth ends up, IPv6 usable at once thanks to nodad).
    await waitFor(`link ${A.clientIf} up`, async () => {
      const r = await run('ip', ['-n', clientNs, '-o', 'link', 'show', A.clientIf]);
      return r.stdout.includes('LOWER_UP') ? true : undefined;
    });
  } catch (e) {
    await destroy();
    throw e;
  }
  return lab;
}

// ---------------------------------------------------------------------------
// ulogd2
// ---------------------------------------------------------------------------

export interface UlogdOptions {
  mode: 'file' | 'unix';
  /** Directory for the generated config, ulogd's own log and pid file. */
  tmpDir: string;
  /** JSON output file (mode 'file'); default <tmpDir>/ulogd.json. */
  jsonPath?: string;
  /** Unix socket that something must already listen on (mode 'unix'); default <tmpDir>/ulogd.sock. */
  socketPath?: string;
  /** Last-minute textual edits of the config (e.g. set zerocounter=0, eventv1=1). */
  editConf?: (conf: string) => string;
  /** Environment for ulogd (e.g. { ...process.env, TZ: 'Europe/Berlin' }). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for "entering main loop" (default 10 s). */
  startTimeoutMs?: number;
}

export interface Ulogd {
  readonly pid: number;
  readonly confPath: string;
  readonly logPath: string;
  /** JSON file (file mode) or unix socket path (unix mode). */
  readonly outputPath: string;
  readonly process: ChildProcess;
  /** SIGTERM (SIGKILL after 5 s); resolves when ulogd has exited. */
  stop(): Promise<void>;
  /** SIGHUP: the JSON plugin reopens its file / reconnects its socket. */
  hup(): void;
  /** File mode: rename the JSON file to <file>.1 (or the given name), SIGHUP, wait for the new file. */
  rotate(renameTo?: string): Promise<string>;
  /** ulogd's own log so far. */
  log(): string;
}

/** Write the ulogd config for `opts` into tmpDir, returning its path (used by startUlogd). */
export function writeUlogdConf(opts: UlogdOptions): { confPath: string; logPath: string; outputPath: string } {
  mkdirSync(opts.tmpDir, { recursive: true });
  const src = opts.mode === 'file' ? ULOGD_FILE_CONF : ULOGD_SOCKET_CONF;
  const outputPath = opts.mode === 'file' ? (opts.jsonPath ?? join(opts.tmpDir, 'ulogd.json')) : (opts.socketPath ?? join(opts.tmpDir, 'ulogd.sock'));
  const logPath = join(opts.tmpDir, 'ulogd.log');
  let conf = readFileSync(src, 'utf8');
  const replace = (from: string, to: string): void => {
    const needle = `"${from}"`;
    if (!conf.includes(needle)) throw new Error(`${src} no longer contains ${needle}; lab.ts replaces it textually`);
    conf = conf.split(needle).join(`"${to}"`);
  };
  replace(ULOGD_DEFAULT_LOG_PATH, logPath);
  replace(opts.mode === 'file' ? ULOGD_DEFAULT_JSON_PATH : ULOGD_DEFAULT_SOCKET_PATH, outputPath);
  if (opts.editConf) conf = opts.editConf(conf);
  const confPath = join(opts.tmpDir, opts.mode === 'file' ? 'ulogd.conf' : 'ulogd-socket.conf');
  writeFileSync(confPath, conf);
  return { confPath, logPath, outputPath };
}

/** Replace `key=value` in section [section] of a ulogd config (adds the key if missing). */
export function setUlogdOption(conf: string, section: string, key: string, value: string): string {
  const lines = conf.split('\n');
  const start = lines.findIndex((l) => l.trim() === `[${section}]`);
  if (start < 0) throw new Error(`no [${section}] in ulogd config`);
  let end = lines.findIndex((l, i) => i > start && /^\[.+\]\s*$/.test(l.trim()));
  if (end < 0) end = lines.length;
  const idx = lines.findIndex((l, i) => i > start && i < end && new RegExp(`^\\s*${key}\\s*=`).test(l));
  if (idx >= 0) lines[idx] = `${key}=${value}`;
  else lines.splice(start + 1, 0, `${key}=${value}`);
  return lines.join('\n');
}

/**
 * Start ulogd in the lab's firewall namespace, in the foreground (no -d), so the
 * returned process is ulogd itself. Command: `ulogd -c <conf> -p <tmpDir>/ulogd.pid`.
 * Resolves once ulogd logged "entering main loop"; rejects with ulogd's log if it exits.
 */
export async function startUlogd(lab: Lab, opts: UlogdOptions): Promise<Ulogd> {
  const { confPath, logPath, outputPath } = writeUlogdConf(opts);
  writeFileSync(logPath, '');
  const pidPath = join(opts.tmpDir, 'ulogd.pid');
  const child = lab.spawn(lab.fwNs, 'ulogd', ['-c', confPath, '-p', pidPath], opts.env ? { env: opts.env } : {});
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const log = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '') + output;
  await waitFor(
    'ulogd to enter its main loop',
    () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`ulogd exited during start (code ${child.exitCode}, signal ${child.signalCode}):\n${log()}`);
      }
      return log().includes('entering main loop') ? true : undefined;
    },
    opts.startTimeoutMs ?? 10_000,
  );
  if (child.pid === undefined) throw new Error('ulogd has no pid');
  const pid = child.pid;
  return {
    pid,
    confPath,
    logPath,
    outputPath,
    process: child,
    stop: () => terminate(child),
    hup: () => {
      child.kill('SIGHUP');
    },
    async rotate(renameTo = `${outputPath}.1`) {
      if (opts.mode !== 'file') throw new Error('rotate() is for file mode');
      renameSync(outputPath, renameTo);
      child.kill('SIGHUP');
      await waitFor('ulogd to reopen its JSON file', () => (existsSync(outputPath) ? true : undefined), 5_000);
      return renameTo;
    },
    log,
  };
}

/** Wait until `path` has at least `n` lines (ulogd writes with sync=1), return them. */
export function waitForLines(path: string, n: number, timeoutMs = 10_000, filter?: (line: string) => boolean): Promise<string[]> {
  return waitFor(`${n} lines in ${path}`, () => {
    const lines = readLines(path).filter((l) => (filter ? filter(l) : true));
    return lines.length >= n ? lines : undefined;
  }, timeoutMs);
}

/** Lines of a JSON file that are NFLOG packet events (not NFACCT records). */
export const isPacketLine = (l: string): boolean => l.includes('"oob.prefix"') || l.includes('"raw.pktlen"');
export const isNfacctLine = (l: string): boolean => l.includes('"sum.name"');

// ---------------------------------------------------------------------------
// A unix-socket collector (stands in for nfwatch when ulogd runs in unix mode)
// ---------------------------------------------------------------------------

export interface UnixCollector {
  readonly path: string;
  /** Complete lines received, in arrival order across connections. */
  readonly lines: string[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Listen on a unix stream socket and collect newline-terminated lines. */
export function startUnixCollector(path: string): Promise<UnixCollector> {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) execFileSync('rm', ['-f', path]);
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((r, reject) => {
    server.once('error', reject);
    server.listen(path, () =>
      r({
        path,
        lines,
        connections: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

// ---------------------------------------------------------------------------
// carbon-cache and whisper
// ---------------------------------------------------------------------------

export interface Carbon {
  /** Plaintext line receiver on 127.0.0.1. */
  readonly port: number;
  /** STORAGE_DIR; whisper files live in <storageDir>/whisper/<a>/<b>/<c>.wsp. */
  readonly storageDir: string;
  readonly whisperDir: string;
  readonly confPath: string;
  stop(): Promise<void>;
  /** Stop and start again with the same config and ports. */
  restart(): Promise<void>;
  log(): string;
}

/**
 * Start carbon-cache in the foreground (`carbon-cache --config=<conf> --debug start`;
 * --debug = no daemon, log to stdout) with all state in tmpDir. Line receiver on a
 * free 127.0.0.1 port; pickle receiver and UDP off; cache query on a free loopback port.
 * Retention `retentions` (default 10s:7d) for every metric: match nfwatch's interval_seconds. Whisper files are created without rate limits.
 */
export async function startCarbon(tmpDir: string, retentions = '10s:7d'): Promise<Carbon> {
  const storageDir = join(tmpDir, 'carbon');
  const whisperDir = join(storageDir, 'whisper');
  const confDir = join(storageDir, 'conf');
  for (const d of [storageDir, whisperDir, confDir, join(storageDir, 'log')]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  const queryPort = await freePort();
  const confPath = join(confDir, 'carbon.conf');
  writeFileSync(
    confPath,
    `[cache]
STORAGE_DIR = ${storageDir}/
LOCAL_DATA_DIR = ${whisperDir}/
CONF_DIR = ${confDir}/
LOG_DIR = ${storageDir}/log/
PID_DIR = ${storageDir}/
USER =
DATABASE = whisper
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 100000
MAX_UPDATES_PER_SECOND_ON_SHUTDOWN = 100000
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = ${port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = ${queryPort}
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = True
LOG_LISTENER_CONNECTIONS = True
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
WHISPER_FALLOCATE_CREATE = False
ENABLE_TAGS = False
CARBON_METRIC_INTERVAL = 0
`,
  );
  writeFileSync(join(confDir, 'storage-schemas.conf'), `[everything]\npattern = .*\nretentions = ${retentions}\n`);
  writeFileSync(join(confDir, 'storage-aggregation.conf'), `[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = sum\n`);

  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    child = track(
      spawn('carbon-cache', [`--config=${confPath}`, `--pidfile=${join(storageDir, 'carbon-cache.pid')}`, '--debug', 'start'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const c = child;
    c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(
      `carbon-cache line receiver on 127.0.0.1:${port}`,
      async () => {
        if (c.exitCode !== null) throw new Error(`carbon-cache exited (code ${c.exitCode}):\n${output}`);
        return (await canConnect(port)) ? true : undefined;
      },
      30_000,
      100,
    );
  };
  const stop = async (): Promise<void> => {
    if (child) await terminate(child, 15_000);
  };
  await start();
  return {
    port,
    storageDir,
    whisperDir,
    confPath,
    stop,
    async restart() {
      await stop();
      await start();
    },
    log: () => output,
  };
}

/** Send plaintext Graphite lines ("path value epoch\n") to a carbon line port. */
export function sendGraphiteLines(port: number, lines: readonly string[], host = '127.0.0.1'): Promise<void> {
  return new Promise((r, reject) => {
    const s = createConnection({ port, host }, () => {
      s.end(lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join(''));
    });
    s.once('error', reject);
    s.once('close', () => r());
  });
}

/** Path of the whisper file for a dotted metric path. */
export function whisperFile(storageDir: string, metricPath: string): string {
  return join(storageDir, 'whisper', ...metricPath.split('.')) + '.wsp';
}

export interface WhisperSeries {
  start: number;
  end: number;
  step: number;
  values: Array<number | null>;
}

/**
 * Fetch [fromEpoch, untilEpoch] from the metric's whisper file with `whisper-fetch --json`.
 * (whisper-fetch's own --from is exclusive of the point at exactly --from; we pass from-1.)
 * Returns null if the whisper file does not exist (yet).
 */
export async function whisperFetch(storageDir: string, metricPath: string, fromEpoch: number, untilEpoch: number): Promise<WhisperSeries | null> {
  const file = whisperFile(storageDir, metricPath);
  if (!existsSync(file)) return null;
  const r = await runOk(PYTHON, ['/usr/bin/whisper-fetch', '--json', `--from=${Math.floor(fromEpoch) - 1}`, `--until=${Math.ceil(untilEpoch)}`, file]);
  return JSON.parse(r.stdout) as WhisperSeries;
}

/** Sum of the non-null values of a metric in [fromEpoch, untilEpoch]; null if no whisper file. */
export async function whisperSum(storageDir: string, metricPath: string, fromEpoch: number, untilEpoch: number): Promise<number | null> {
  const s = await whisperFetch(storageDir, metricPath, fromEpoch, untilEpoch);
  if (!s) return null;
  return s.values.reduce<number>((acc, v) => (v === null ? acc : acc + v), 0);
}

/**
 * Poll whisperSum until it is >= expected (or until `timeoutMs`); returns the last sum
 * (0 when the file never appeared). Carbon writes its cache to whisper about once a second.
 */
export async function waitForWhisperSum(
  storageDir: string,
  metricPath: string,
  fromEpoch: number,
  untilEpoch: number,
  expected: number,
  timeoutMs = 20_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (;;) {
    last = (await whisperSum(storageDir, metricPath, fromEpoch, untilEpoch)) ?? 0;
    if (last >= expected || Date.now() > deadline) return last;
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------
// Traffic (client namespace -> firewall namespace only)
// ---------------------------------------------------------------------------

export type TrafficSpec =
  /** hping3 TCP packets (SYN by default) to the firewall's IPv4 address. */
  | { kind: 'tcp'; count: number; dport: number; sport?: number; fixedSport?: boolean; window?: number; ttl?: number; flags?: string; intervalUs?: number }
  /** hping3 UDP datagrams to the firewall's IPv4 address. */
  | { kind: 'udp'; count: number; dport: number; sport?: number; fixedSport?: boolean; intervalUs?: number; dataBytes?: number }
  /** hping3 ICMP echo requests to the firewall's IPv4 address. */
  | { kind: 'icmp'; count: number; intervalUs?: number }
  /** ICMPv6 echo requests (raw socket in python3) to the firewall's IPv6 address. */
  | { kind: 'icmp6'; count: number; intervalMs?: number }
  /** nmap SYN scan (IPv4 or IPv6) of a port range of the firewall. */
  | { kind: 'nmap'; ports: string; ipv6?: boolean; extraArgs?: string[] }
  /** Real Linux TCP connection with curl (IPv4 or IPv6); one SYN unless the port drops it (retransmits). */
  | { kind: 'curl'; port: number; ipv6?: boolean; maxTimeS?: number };

export interface TrafficResult {
  /** Packets the tool says it sent (hping3/nmap/icmp6), or -1 when unknown (curl). */
  sent: number;
  stdout: string;
  stderr: string;
}

const ICMP6_JS = `
import socket, struct, sys, time
dst, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
ident = 0x6e66
for seq in range(count):
    # type 128 echo request; the kernel fills in the ICMPv6 checksum for raw ICMPv6 sockets
    s.sendto(struct.pack('!BBHHH', 128, 0, 0, ident, seq) + b'nfwatch-lab', (dst, 0))
    time.sleep(interval)
print(f"{count} packets transmitted")
`;

/**
 * Send traffic from the client namespace to the firewall namespace and return when the
 * tool has exited. hping3 `-c N` sends exactly N packets (checked against ulogd's output).
 */
export async function sendTraffic(lab: Lab, spec: TrafficSpec): Promise<TrafficResult> {
  const A = lab.addr;
  const hping = async (args: string[], count: number): Promise<TrafficResult> => {
    if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error(`bad packet count ${count}`);
    // hping3 exits 1 when it got no replies (e.g. dropped ports): judge by its summary line.
    const r = await lab.exec(lab.clientNs, 'hping3', [...args, '-c', String(count), A.fw4], { timeoutMs: 60_000 + count * 50 });
    const m = /(\d+) packets transmitted/.exec(r.stdout + r.stderr);
    if (!m) throw new Error(`hping3 ${args.join(' ')} failed (code ${r.code}):\n${r.stderr}${r.stdout}`);
    return { sent: Number(m[1]), stdout: r.stdout, stderr: r.stderr };
  };
  switch (spec.kind) {
    case 'tcp': {
      const args = ['-i', `u${spec.intervalUs ?? 20_000}`, '-p', String(spec.dport)];
      const flags = spec.flags ?? 'S';
      for (const f of flags) args.push({ S: '-S', A: '-A', F: '-F', R: '-R', P: '-P', U: '-U' }[f] ?? `-${f}`);
      if (spec.sport !== undefined) args.push('-s', String(spec.sport));
      if (spec.fixedSport ?? spec.sport !== undefined) args.push('-k');
      if (spec.window !== undefined) args.push('-w', String(spec.window));
      if (spec.ttl !== undefined) args.push('-t', String(spec.ttl));
      return hping(args, spec.count);
    }
    case 'udp': {
      const args = ['--udp', '-i', `u${spec.intervalUs ?? 20_000}`, '-p', String(spec.dport)];
      if (spec.sport !== undefined) args.push('-s', String(spec.sport));
      if (spec.fixedSport ?? spec.sport !== undefined) args.push('-k');
      if (spec.dataBytes !== undefined) args.push('-d', String(spec.dataBytes));
      return hping(args, spec.count);
    }
    case 'icmp':
      return hping(['--icmp', '-i', `u${spec.intervalUs ?? 20_000}`], spec.count);
    case 'icmp6': {
      if (!Number.isInteger(spec.count) || spec.count < 1 || spec.count > 10_000) throw new Error(`bad packet count ${spec.count}`);
      const r = await lab.execOk(lab.clientNs, PYTHON, ['-c', ICMP6_JS, A.fw6, String(spec.count), String((spec.intervalMs ?? 20) / 1000)], {
        timeoutMs: 30_000 + spec.count * 100,
      });
      return { sent: spec.count, stdout: r.stdout, stderr: r.stderr };
    }
    case 'nmap': {
      const target = spec.ipv6 ? A.fw6 : A.fw4;
      const args = ['-v', '-sS', '-n', '-Pn', '--max-retries', '0', '-p', spec.ports, ...(spec.ipv6 ? ['-6'] : []), ...(spec.extraArgs ?? []), target];
      const r = await lab.execOk(lab.clientNs, 'nmap', args, { timeoutMs: 120_000 });
      const m = /Raw packets sent: (\d+)/.exec(r.stdout);
      return { sent: m ? Number(m[1]) : -1, stdout: r.stdout, stderr: r.stderr };
    }
    case 'curl': {
      const url = spec.ipv6 ? `http://[${A.fw6}]:${spec.port}/` : `http://${A.fw4}:${spec.port}/`;
      const r = await lab.exec(lab.clientNs, 'curl', ['-sS', '--max-time', String(spec.maxTimeS ?? 3), '-o', '/dev/null', url], { timeoutMs: 30_000 });
      return { sent: -1, stdout: r.stdout, stderr: r.stderr };
    }
  }
}

// ---------------------------------------------------------------------------
// NFACCT ground truth
// ---------------------------------------------------------------------------

/**
 * Per nfacct name, what ulogd's polls have taken out of the kernel so far: the iptables rule's
 * counter (never reset) minus the nfacct object's (reset by every zerocounter=1 poll). The
 * difference between two readings is exactly what ulogd reported in between, independent of
 * ulogd and nfwatch. Read it while no traffic flows.
 */
export async function nfacctReported(lab: Lab): Promise<Map<string, { pkts: number; bytes: number }>> {
  const rules = new Map<string, { pkts: number; bytes: number }>();
  for (const bin of ['iptables-nft', 'ip6tables-nft']) {
    const r = await lab.execOk(lab.fwNs, bin, ['-L', 'INPUT', '-v', '-x', '-n']);
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s.*nfacct-name\s+"?([^"\s]+)"?/.exec(line);
      if (!m) continue;
      const prev = rules.get(m[3]!) ?? { pkts: 0, bytes: 0 };
      rules.set(m[3]!, { pkts: prev.pkts + Number(m[1]), bytes: prev.bytes + Number(m[2]) });
    }
  }
  const pending = await lab.nfacctList();
  const reported = new Map<string, { pkts: number; bytes: number }>();
  for (const [name, rule] of rules) {
    const left = pending.get(name) ?? { pkts: 0, bytes: 0 };
    reported.set(name, { pkts: rule.pkts - left.pkts, bytes: rule.bytes - left.bytes });
  }
  return reported;
}

// ---------------------------------------------------------------------------
// Scanning tools, one client source address per tool (SYN fingerprint fixtures and e2e)
// ---------------------------------------------------------------------------

/**
 * Extra client addresses, one per tool, so that each tool's packets can be told apart by source
 * address in ulogd's output (and in nfwatch's per-source view). All inside the lab's /24.
 */
export const LAB_TOOL_ADDR = {
  curl: '198.18.0.10',
  hping3: '198.18.0.11',
  port6000: '198.18.0.12',
  mirai: '198.18.0.13',
  probe: '198.18.0.14',
  nmap: '198.18.0.20',
  masscan: '198.18.0.30',
  zmap: '198.18.0.40',
} as const;
export type LabTool = keyof typeof LAB_TOOL_ADDR;

/**
 * A capture script's entry point: when this process runs the compiled `script` (e.g.
 * "capture-syn-fixtures"), captures (the tools named on the command line, or all) and prints what
 * it wrote; a failure sets a non-zero exit code.
 */
export function runCaptureScript(script: string, capture: (only?: readonly string[]) => Promise<Record<string, number>>): void {
  if (!process.argv[1] || !new RegExp(`${script}\\.(js|ts)$`).test(process.argv[1])) return;
  const only = process.argv.slice(2);
  capture(only.length > 0 ? only : undefined).then(
    (written) => {
      for (const [file, lines] of Object.entries(written)) console.log(`${file}: ${lines} lines`);
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}

/** Add IPv4 addresses (/24, in the lab's 198.18.0.0/24) to the client veth. Idempotent. */
export async function addClientAddresses(lab: Lab, addrs: readonly string[] = Object.values(LAB_TOOL_ADDR)): Promise<void> {
  for (const a of addrs) {
    if (!/^198\.18\.0\.(\d{1,3})$/.test(a) || a === LAB_ADDR.fw4) throw new Error(`not a lab client address: ${a}`);
    const r = await run('ip', ['-n', lab.clientNs, 'addr', 'add', `${a}/24`, 'dev', LAB_ADDR.clientIf]);
    if (r.code !== 0 && !/File exists|already assigned/.test(r.stderr)) throw new Error(`ip addr add ${a} failed: ${r.stderr}`);
  }
}

/** The IPv4 destination address as the unsigned 32-bit integer a TCP sequence number holds. */
export function ipv4ToUint32(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export interface ScannerRun {
  /** Source address the tool's packets carry. */
  source: string;
  /** TCP SYNs (or SYN+X probes) the run sends to the firewall address: exactly this many log lines. */
  expectedSyns: number;
  stdout: string;
  stderr: string;
}

/**
 * Send one tool's traffic from its own LAB_TOOL_ADDR to the firewall's 198.18.0.1 and nowhere else
 * (call addClientAddresses() first). Every run is bounded in packets (≤ 11) and time (≤ 60 s).
 * Command lines (the SYN fingerprint fixtures were captured with exactly these):
 *  - curl      `curl -sS --max-time 3 --interface 198.18.0.10 -o /dev/null http://198.18.0.1:22/` — a real Linux SYN
 *  - hping3    `hping3 -a 198.18.0.11 -i u20000 -S -p 22 -c 3 198.18.0.1` — hping3's defaults
 *  - port6000  `hping3 -a 198.18.0.12 -i u20000 -S -s 6000 -k -w 16384 -t 103 -p 22 -c 3 198.18.0.1`
 *  - mirai     `hping3 -a 198.18.0.13 -i u20000 -S -s 41111 -k -w 27403 -t 64 -M 3323068417 -p 23 -c 3 198.18.0.1`
 *              (a crafted stand-in: sequence number = destination address, as Mirai's scanner.c)
 *  - probe     `hping3 -a 198.18.0.14 -i u20000 -S -F -p 22 -c 2 …` then `… -S -U -P -p 22 -c 2 …`
 *  - nmap      `nmap -sS -n -Pn --max-retries 0 -S 198.18.0.20 -e veth-cl -p 20-30 198.18.0.1`
 *  - masscan   `masscan 198.18.0.1 -p20-30 --rate 100 --wait 2 --adapter veth-cl --adapter-ip 198.18.0.30
 *               --adapter-mac 02:6e:66:00:00:02 --router-mac 02:6e:66:00:00:01`
 *  - zmap      `zmap -p 22 -i veth-cl -S 198.18.0.40 -G 02:6e:66:00:00:01 -r 100 -c 2 -b <empty file> 198.18.0.1/32`
 *              (zmap's default blacklist excludes 198.18.0.0/15, the lab's benchmarking range)
 */
export async function sendScanner(lab: Lab, tool: LabTool, tmpDir: string): Promise<ScannerRun> {
  const A = lab.addr;
  const src = LAB_TOOL_ADDR[tool];
  const fw = A.fw4;
  const x = async (cmd: string, args: string[], expectedSyns: number, ok: (r: ExecResult) => boolean): Promise<ScannerRun> => {
    const r = await lab.exec(lab.clientNs, cmd, args, { timeoutMs: 60_000 });
    if (!ok(r)) throw new Error(`${cmd} ${args.join(' ')} failed (code ${r.code}):\n${r.stderr}${r.stdout}`);
    return { source: src, expectedSyns, stdout: r.stdout, stderr: r.stderr };
  };
  const hpingOk = (r: ExecResult): boolean => /\d+ packets transmitted/.test(r.stdout + r.stderr);
  const hping = (args: string[], count: number): Promise<ScannerRun> =>
    x('hping3', ['-a', src, '-i', 'u20000', ...args, '-c', String(count), fw], count, hpingOk);
  switch (tool) {
    case 'curl':
      // curl exits non-zero (the lab listener speaks HTTP/1.0 on 22 too, but be lenient): one SYN is what counts.
      return x('curl', ['-sS', '--max-time', '3', '--interface', src, '-o', '/dev/null', `http://${fw}:22/`], 1, () => true);
    case 'hping3':
      return hping(['-S', '-p', '22'], 3);
    case 'port6000':
      return hping(['-S', '-s', '6000', '-k', '-w', '16384', '-t', '103', '-p', '22'], 3);
    case 'mirai':
      return hping(['-S', '-s', '41111', '-k', '-w', '27403', '-t', '64', '-M', String(ipv4ToUint32(fw)), '-p', '23'], 3);
    case 'probe': {
      const a = await hping(['-S', '-F', '-p', '22'], 2);
      const b = await hping(['-S', '-U', '-P', '-p', '22'], 2);
      return { source: src, expectedSyns: 4, stdout: a.stdout + b.stdout, stderr: a.stderr + b.stderr };
    }
    case 'nmap':
      return x('nmap', ['-sS', '-n', '-Pn', '--max-retries', '0', '-S', src, '-e', A.clientIf, '-p', '20-30', fw], 11, (r) => r.code === 0);
    case 'masscan':
      return x(
        'masscan',
        [fw, '-p20-30', '--rate', '100', '--wait', '2', '--adapter', A.clientIf, '--adapter-ip', src, '--adapter-mac', A.clientMac, '--router-mac', A.fwMac],
        11,
        (r) => r.code === 0,
      );
    case 'zmap': {
      mkdirSync(tmpDir, { recursive: true });
      const empty = join(tmpDir, 'zmap-blacklist-empty.conf');
      writeFileSync(empty, '');
      const args = ['-p', '22', '-i', A.clientIf, '-S', src, '-G', A.fwMac, '-r', '100', '-c', '2', '-b', empty, '-q', `${fw}/32`];
      const r = await execZmap(lab, args, 60_000);
      if (r.code !== 0) throw new Error(`zmap ${args.join(' ')} failed (code ${r.code}):\n${r.stderr}${r.stdout}`);
      return { source: src, expectedSyns: 1, stdout: r.stdout, stderr: r.stderr };
    }
  }
}

/** zmap 2.1.1's abort when its send thread's share of the address cycle is empty. */
const ZMAP_EMPTY_CYCLE = /constraint_lookup_index: Assertion/;

/**
 * Run zmap in the client namespace. zmap 2.1.1 draws its address cycle's offset at random modulo the
 * group's prime (257 for up to 256 targets); an offset of 0, one run in 257, leaves the send thread
 * nothing to walk and it aborts on that assertion before its first packet (seen in a dry-run loop:
 * exit 134, no packet). Such a run sent nothing, so it is run again, at most three times in all.
 */
export async function execZmap(lab: Lab, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
  let r = await lab.exec(lab.clientNs, 'zmap', args, { timeoutMs });
  for (let again = 0; again < 2 && r.code !== 0 && ZMAP_EMPTY_CYCLE.test(r.stderr); again++) {
    r = await lab.exec(lab.clientNs, 'zmap', args, { timeoutMs });
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// VictoriaMetrics (Debian's victoria-metrics): an InfluxDB v2 write endpoint to read back from.

export interface VictoriaMetrics {
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
  /** Start again on the same port and data directory. */
  start(): Promise<void>;
  log(): string;
}

/**
 * Starts VictoriaMetrics on 127.0.0.1 with its data in `tmpDir`. -search.latencyOffset=0s makes
 * fresh points queryable at once; -dedup.minScrapeInterval=1ms keeps ONE sample per series and
 * millisecond, so an interval written again (replay, resend) replaces instead of adding a
 * duplicate sample (without it VictoriaMetrics stores both and sums count them twice).
 */
export async function startVictoriaMetrics(tmpDir: string, bin = '/usr/bin/victoria-metrics'): Promise<VictoriaMetrics> {
  const dataDir = join(tmpDir, 'vm-data');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    const c = track(
      spawn(bin, [`-storageDataPath=${dataDir}`, `-httpListenAddr=127.0.0.1:${port}`, '-search.latencyOffset=0s', '-search.cacheTimestampOffset=0s', '-dedup.minScrapeInterval=1ms', '-retentionPeriod=1', '-loggerLevel=WARN'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    child = c;
    c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(
      `VictoriaMetrics on 127.0.0.1:${port}`,
      async () => {
        if (c.exitCode !== null) throw new Error(`victoria-metrics exited (code ${c.exitCode}):\n${output}`);
        try {
          const r = await fetch(`http://127.0.0.1:${port}/health`);
          return r.ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      30_000,
      100,
    );
  };
  await start();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    async stop() {
      if (child) await terminate(child, 15_000);
      child = undefined;
    },
    start,
    log: () => output,
  };
}
