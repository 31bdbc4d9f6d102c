// /healthz of the real daemon (dist/cli.js): carbon going away turns it to 503 "degraded" naming the
// graphite output within a bounded time, and carbon coming back turns it to 200 "ok" again.
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStopped } from '../e2e/nfwatch.js';
import { followConfig, graphiteListener, packetLineAt, startNfwatch, tempDir, waitFor, withWeb, type GraphiteListener, type Nfwatch } from './harness.js';

/** From carbon gone to 503: one interval (1 s) for a health batch to wait, the 2 s hold, sampling and polling (about 3.5 s). */
const DEGRADED_WITHIN_MS = 8_000;
/** From carbon back to 200: the reconnect delay (at most reconnect_max_ms = 500) and the resend. */
const OK_WITHIN_MS = 5_000;

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('/healthz of the running daemon', () => {
  const tmp = tempDir('nfw-healthz-');
  let carbon: GraphiteListener | undefined;
  let nfwatch: Nfwatch | undefined;
  let url = '';

  beforeAll(async () => {
    carbon = await graphiteListener();
    const file = join(tmp.dir, 'ulogd.json');
    const now = Date.now();
    writeFileSync(file, `${[0, 1, 2].map((i) => packetLineAt(now - 3000 + i * 100)).join('\n')}\n`);
    const toml = withWeb(followConfig(tmp.dir, file, carbon.port)).replace('prefix = "nfw"', 'prefix = "nfw"\nreconnect_min_ms = 50\nreconnect_max_ms = 500');
    nfwatch = await startNfwatch(tmp.dir, toml);
    url = await waitFor('the page address in the log', () => /scan-watch page at (http:\/\/\S+?)\/\s/.exec(nfwatch!.log())?.[1]);
  }, 30_000);

  afterAll(async () => {
    await ensureStopped(nfwatch);
    await carbon?.close();
    tmp.remove();
  });

  it('answers 200 ok while carbon takes everything', async () => {
    const answer = await waitFor('200 from /healthz', async () => {
      const a = await get(`${url}/healthz`);
      return a.status === 200 ? a : undefined;
    });
    expect(JSON.parse(answer.body)).toEqual({ status: 'ok', problems: [], sinks: { graphite: 'ok' }, sources: { ulogd: 'ok' } });
  });

  it(`answers 503 degraded naming the graphite output within ${DEGRADED_WITHIN_MS} ms of carbon going away, without its address`, async () => {
    const port = carbon!.port;
    await carbon!.close();
    const goneAt = Date.now();
    const answer = await waitFor('503 from /healthz', async () => {
      const a = await get(`${url}/healthz`);
      return a.status === 503 ? a : undefined;
    }, DEGRADED_WITHIN_MS, 100);
    expect(Date.now() - goneAt).toBeLessThan(DEGRADED_WITHIN_MS);
    const body = JSON.parse(answer.body) as { status: string; problems: Array<{ name: string; reason: string }>; sinks: Record<string, string> };
    expect(body.status).toBe('degraded');
    expect(body.sinks).toEqual({ graphite: 'unreachable' });
    expect(body.problems).toEqual([expect.objectContaining({ component: 'sink', name: 'graphite', reason: 'unreachable' })]);
    expect(answer.body).not.toContain(String(port));
    expect(answer.body).not.toContain('127.0.0.1');
    expect(answer.body).not.toContain(tmp.dir);
    carbon = await graphiteListener(port);
  }, DEGRADED_WITHIN_MS + 5_000);

  it(`answers 200 ok again within ${OK_WITHIN_MS} ms of carbon coming back`, async () => {
    const backAt = Date.now();
    const answer = await waitFor('200 from /healthz', async () => {
      const a = await get(`${url}/healthz`);
      return a.status === 200 ? a : undefined;
    }, OK_WITHIN_MS, 100);
    expect(Date.now() - backAt).toBeLessThan(OK_WITHIN_MS);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'ok', sinks: { graphite: 'ok' } });
    // What waited during the outage (nfwatch's own health lines) reaches the carbon that came back. Health
    // turns ok once the connection is up; the resent lines may land a moment after, so wait for them.
    const resent = await waitFor('lines resent to the carbon that came back', () => (carbon!.lines().length > 0 ? carbon!.lines() : undefined), OK_WITHIN_MS, 50);
    expect(resent.length).toBeGreaterThan(0);
  }, OK_WITHIN_MS + 10_000);
});
