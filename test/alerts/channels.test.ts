// The channels against real endpoints on loopback: an HTTP server, util-linux logger sending to a
// UDP listener, a real program run with the alert in its environment.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandChannel } from '../../src/alerts/command.js';
import { SyslogChannel, priorityOf } from '../../src/alerts/syslog.js';
import { alertOf } from '../../src/alerts/text.js';
import { WebhookChannel } from '../../src/alerts/webhook.js';
import { detectionsOf } from './helpers.js';

const alert = alertOf(detectionsOf('scan-nmap-xmas.jsonl', 'scan-nmap-os.jsonl').at(-1)!, 'fw1', 3);
const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length > 0) closers.pop()!();
});

/** An HTTP server on 127.0.0.1 answering each request with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = [], delayMs = 0): Promise<{ url: string; requests: Array<{ headers: IncomingMessage['headers']; body: string }> }> {
  const requests: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ headers: req.headers, body });
      setTimeout(() => res.writeHead(statuses.shift() ?? 200).end('ok'), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?secret=s3cret`, requests };
}

describe('webhook', () => {
  it('POSTs the alert as JSON with the bearer token', async () => {
    const r = await receiver();
    await new WebhookChannel({ url: r.url, token: 't0k', timeoutMs: 2000, retries: 0, retryMinMs: 10 }).send(alert);
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]!.headers['authorization']).toBe('Bearer t0k');
    expect(r.requests[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.requests[0]!.body)).toMatchObject({ kind: 'scan', source: '198.18.0.21', severity: 4, title: alert.title, text: alert.text });
  });

  it('retries a 503 and a 429, then delivers; gives up on a 400 at once', async () => {
    const r = await receiver([503, 429]);
    await new WebhookChannel({ url: r.url, token: '', timeoutMs: 2000, retries: 3, retryMinMs: 10 }).send(alert);
    expect(r.requests).toHaveLength(3);
    expect(r.requests[0]!.headers['authorization']).toBeUndefined();
    const bad = await receiver([400]);
    await expect(new WebhookChannel({ url: bad.url, token: '', timeoutMs: 2000, retries: 3, retryMinMs: 10 }).send(alert)).rejects.toThrow(/HTTP 400/);
    expect(bad.requests).toHaveLength(1);
  });

  it('times out a receiver that does not answer, and never names the URL\'s secret', async () => {
    const r = await receiver([], 3000);
    const error = await new WebhookChannel({ url: r.url, token: '', timeoutMs: 200, retries: 1, retryMinMs: 10 }).send(alert).catch((e: Error) => e);
    expect(String(error)).toMatch(/no answer within 200 ms/);
    expect(String(error)).not.toContain('s3cret');
    expect(r.requests).toHaveLength(2);
  });

  it('fails, counted by the dispatcher, when nothing listens', async () => {
    const r = await receiver();
    closers.pop()!();
    await expect(new WebhookChannel({ url: r.url, token: '', timeoutMs: 500, retries: 0, retryMinMs: 10 }).send(alert)).rejects.toThrow(/POST http:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('syslog', () => {
  it('sends one record through util-linux logger, tagged, at the facility and a priority by severity', async () => {
    const udp = createSocket('udp4');
    const got: string[] = [];
    udp.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    closers.push(() => udp.close());
    const port = (udp.address() as AddressInfo).port;
    await new SyslogChannel({ facility: 'authpriv', tag: 'nfwatch', server: `127.0.0.1:${port}` }).send(alert);
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toHaveLength(1);
    // authpriv (10) * 8 + err (3) = 83.
    expect(got[0]).toMatch(/^<83>/);
    expect(got[0]).toContain('nfwatch');
    expect(got[0]).toContain(alert.title);
    expect(got[0]).not.toContain('\n');
    expect([1, 2, 3, 4, 5].map(priorityOf)).toEqual(['notice', 'notice', 'warning', 'err', 'crit']);
  });
});

describe('command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nfwatch-alert-cmd-'));

  it('runs the program without a shell, the alert in its environment', async () => {
    const out = join(dir, 'env.txt');
    const script = join(dir, 'record.sh');
    writeFileSync(script, `#!/bin/sh\nenv | grep ^NFWATCH_ALERT_ | grep -v _JSON= | grep -v _TEXT= > "$1"\nprintf '%s' "$NFWATCH_ALERT_JSON" > "$1.json"\n`);
    chmodSync(script, 0o755);
    await new CommandChannel({ path: script, args: [out], timeoutMs: 5000 }).send(alert);
    const env = Object.fromEntries(readFileSync(out, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(env).toMatchObject({
      NFWATCH_ALERT_KIND: 'scan',
      NFWATCH_ALERT_SOURCE: '198.18.0.21',
      NFWATCH_ALERT_SEVERITY: '4',
      NFWATCH_ALERT_TYPES: 'vertical',
      NFWATCH_ALERT_TOOLS: 'nmap-syn,nmap-os-detection',
      NFWATCH_ALERT_OS: 'crafted',
      NFWATCH_ALERT_TITLE: alert.title,
    });
    expect(JSON.parse(readFileSync(`${out}.json`, 'utf8'))).toMatchObject({ source: '198.18.0.21', text: alert.text });
  });

  it('rejects on a non-zero exit and kills a program past its timeout', async () => {
    await expect(new CommandChannel({ path: '/bin/false', args: [], timeoutMs: 5000 }).send(alert)).rejects.toThrow(/exited 1/);
    const started = Date.now();
    await expect(new CommandChannel({ path: '/bin/sleep', args: ['10'], timeoutMs: 300 }).send(alert)).rejects.toThrow(/killed after 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(new CommandChannel({ path: join(dir, 'missing'), args: [], timeoutMs: 300 }).send(alert)).rejects.toThrow(/ENOENT/);
  });
});
