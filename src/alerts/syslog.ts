// Alerts to syslog through util-linux `logger` (Debian: essential, always there). Node cannot open
// the unix datagram socket /dev/log, and spawning `logger` per alert is cheap at alert rates
// (max_per_minute), reaches journald or rsyslog as the host has it, and remote servers with -n.
import { spawn } from 'node:child_process';
import type { Alert, AlertChannel } from '../pipeline/types.js';

export interface SyslogOptions {
  facility: string;
  tag: string;
  /** '' local; else "host" or "host:port" (UDP). */
  server: string;
  /** The program (tests point it elsewhere). */
  logger?: string;
}

/** Syslog priority for an alert's severity 1–5. */
export function priorityOf(severity: number): string {
  return severity >= 5 ? 'crit' : severity >= 4 ? 'err' : severity >= 3 ? 'warning' : 'notice';
}

const TIMEOUT_MS = 10_000;

export class SyslogChannel implements AlertChannel {
  readonly name = 'syslog';

  constructor(private readonly options: SyslogOptions) {}

  send(alert: Alert): Promise<void> {
    const args = ['-t', this.options.tag, '-p', `${this.options.facility}.${priorityOf(alert.severity)}`];
    if (this.options.server !== '') {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(this.options.server);
      args.push('-d', '-n', m?.[1]?.replace(/^\[|\]$/g, '') ?? this.options.server, '-P', m?.[2] ?? '514');
    }
    // One message per alert: the text's lines joined, as syslog records are single lines.
    args.push('--', alert.text.split('\n').join(' | '));
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.logger ?? 'logger', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: TIMEOUT_MS, killSignal: 'SIGKILL' });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 1000) stderr += d.toString();
      });
      child.on('error', (err) => reject(new Error(`logger: ${err.message}`)));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`logger exited ${signal ?? code}${stderr ? `: ${stderr.trim()}` : ''}`));
      });
    });
  }
}
