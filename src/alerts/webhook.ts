// Alerts as JSON POSTs, with a timeout and retries. The body is the alert's facts plus its title
// and text, so a chat bridge can post `text` as it is.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Alert, AlertChannel } from '../pipeline/types.js';

export interface WebhookOptions {
  url: string;
  /** '' none: no Authorization header. */
  token: string;
  timeoutMs: number;
  retries: number;
  retryMinMs: number;
}

/** A POST that failed in a way worth another try (connection, timeout, 429, 5xx). */
class Retryable extends Error {}

export class WebhookChannel implements AlertChannel {
  readonly name = 'webhook';

  constructor(private readonly options: WebhookOptions) {}

  async send(alert: Alert): Promise<void> {
    const body = JSON.stringify({ ...alert.facts, title: alert.title, text: alert.text });
    let delay = this.options.retryMinMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.post(body);
        return;
      } catch (err) {
        if (!(err instanceof Retryable) || attempt >= this.options.retries) throw err;
      }
      await sleep(delay);
      delay *= 2;
    }
  }

  private async post(body: string): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'nfwatch' };
    if (this.options.token !== '') headers['authorization'] = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(this.options.url, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new Retryable(`POST ${this.where()}: ${reason}`);
    }
    // The answer's body is not wanted; reading it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return;
    const problem = `POST ${this.where()}: HTTP ${response.status}`;
    if (response.status === 429 || response.status >= 500) throw new Retryable(problem);
    throw new Error(problem);
  }

  /** The URL without its path and query, which may hold a secret (chat webhooks do). */
  private where(): string {
    try {
      return new URL(this.options.url).origin;
    } catch {
      return 'the webhook';
    }
  }
}
