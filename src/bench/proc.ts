// Whole-process figures from /proc for `npm run bench`: CPU time, peak and current resident memory
// of a process by id (or 'self'), and a description of the machine the figures were taken on.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

let ticks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** User + system CPU seconds of a process so far (utime + stime of /proc/<pid>/stat). */
export function readCpuSeconds(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** A `VmXXX:  1234 kB` figure of /proc/<pid>/status, in KiB. */
function statusKiB(pid: number | 'self', key: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : NaN;
}

/** Peak resident set size (VmHWM) in KiB. */
export function readPeakRssKiB(pid: number | 'self'): number {
  return statusKiB(pid, 'VmHWM');
}

/** Current resident set size (VmRSS) in KiB. */
export function readRssKiB(pid: number | 'self'): number {
  return statusKiB(pid, 'VmRSS');
}

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  totalRamGiB: number;
  node: string;
  kernel: string;
  /** 1-minute load average when the run started: other work on a shared machine skews everything. */
  loadAverage1m: number;
}

export function describeMachine(): MachineDescription {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  let load = NaN;
  try {
    load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    // no /proc/loadavg
  }
  return {
    cpuModel,
    cores: cpus().length,
    totalRamGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    loadAverage1m: load,
  };
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
