// Alerts to a program of the admin's (psad's and fail2ban's way): run without a shell, fixed
// arguments, the facts in its environment, killed after a timeout.
import { spawn } from 'node:child_process';
import type { Alert, AlertChannel } from '../pipeline/types.js';

export interface CommandOptions {
  path: string;
  args: readonly string[];
  timeoutMs: number;
}

/** The alert as environment variables (NFWATCH_ALERT_*), besides PATH, LANG and TZ from ours. */
export function alertEnvironment(alert: Alert): Record<string, string> {
  const f = alert.facts;
  const list = (v: unknown): string => (Array.isArray(v) ? v.map(String).join(',') : v === undefined || v === null ? '' : String(v));
  const env: Record<string, string> = {
    NFWATCH_ALERT_KIND: alert.kind,
    NFWATCH_ALERT_SOURCE: list(f['source'] ?? f['campaign']),
    NFWATCH_ALERT_SEVERITY: String(alert.severity),
    NFWATCH_ALERT_TYPES: list(f['types']),
    NFWATCH_ALERT_LABEL: list(f['label']),
    NFWATCH_ALERT_TOOLS: list(f['tools'] ?? f['tool']),
    NFWATCH_ALERT_OS: list(f['os']),
    NFWATCH_ALERT_COUNTRY: list(f['country']),
    NFWATCH_ALERT_ASN: list(f['asn']),
    NFWATCH_ALERT_PORTS: list(f['ports']),
    NFWATCH_ALERT_HOSTS: list(f['hosts']),
    NFWATCH_ALERT_SINCE: list(f['since'] ?? f['firstSeen']),
    NFWATCH_ALERT_TITLE: alert.title,
    NFWATCH_ALERT_TEXT: alert.text,
    NFWATCH_ALERT_JSON: JSON.stringify({ ...f, title: alert.title, text: alert.text }),
  };
  for (const name of ['PATH', 'LANG', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export class CommandChannel implements AlertChannel {
  readonly name = 'command';

  constructor(private readonly options: CommandOptions) {}

  send(alert: Alert): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.path, [...this.options.args], {
        env: alertEnvironment(alert),
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: this.options.timeoutMs,
        killSignal: 'SIGKILL',
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 1000) stderr += d.toString();
      });
      child.on('error', (err) => reject(new Error(`${this.options.path}: ${err.message}`)));
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else if (signal === 'SIGKILL') reject(new Error(`${this.options.path} killed after ${this.options.timeoutMs} ms`));
        else reject(new Error(`${this.options.path} exited ${signal ?? code}${stderr ? `: ${stderr.trim().slice(0, 300)}` : ''}`));
      });
    });
  }
}
