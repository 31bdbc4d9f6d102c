// The daemon's alerts end to end: it follows a file, a real nmap -O capture is appended (re-timed
// to now), and a webhook receiver on loopback gets the alert once per severity, not a storm; the
// same attack again is deduplicated; /metrics counts it all.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followConfig, Scope, waitFor, withWeb } from './harness.js';

const scope = new Scope();
afterEach(() => scope.close());

const NMAP_OS = readFileSync(new URL('../fixtures/ulogd/scan-nmap-os.jsonl', import.meta.url), 'utf8').split('\n').filter(Boolean);

/** The capture's lines moved to start at `start` (epoch ms), keeping their spacing (ulogd's oob.time.* is what counts). */
function retimed(start: number): string {
  const first = (JSON.parse(NMAP_OS[0]!) as Record<string, number>)['oob.time.sec']! * 1000;
  return NMAP_OS.map((line) => {
    const o = JSON.parse(line) as Record<string, unknown>;
    const at = start + ((o['oob.time.sec'] as number) * 1000 + Math.floor((o['oob.time.usec'] as number) / 1000) - first);
    return `${JSON.stringify({ ...o, 'oob.time.sec': Math.floor(at / 1000), 'oob.time.usec': (at % 1000) * 1000 })}\n`;
  }).join('');
}

describe('alerts', () => {
  it('posts a detected scan to the webhook once per severity, deduplicates the same attack again, and counts it', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const dir = scope.temp('nfw-alerts-');
      const g = await scope.listener();
      const file = join(dir, 'ulogd.json');
      writeFileSync(file, '');
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alert`;
      const nfw = await scope.daemon(dir, withWeb(followConfig(dir, file, g.port, `[alerts]\nmin_severity = 3\n[alerts.webhook]\nurl = "${hook}"`)));
      expect(nfw.log()).toMatch(/alerts at severity 3 and above and on campaigns → webhook/);
      const url = await waitFor('the web address', () => /scan-watch page at (http:\/\/\S+?)\/?$/m.exec(nfw.log())?.[1]);
      appendFileSync(file, retimed(Date.now() - 5000));
      await waitFor('two alerts', () => (bodies.length >= 2 ? true : undefined), 15_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(bodies.map((b) => [b['source'], b['severity']])).toEqual([['198.18.0.21', 3], ['198.18.0.21', 4]]);
      expect(bodies[1]).toMatchObject({ kind: 'scan', host: 'fw', tools: ['nmap-syn', 'nmap-os-detection'], os: ['crafted'] });
      expect(String(bodies[1]!['text'])).toContain('nfwatch on fw: 198.18.0.21');
      expect(nfw.log()).toMatch(/alert: 198\.18\.0\.21 \(reserved\): SYN port scan of \d+ ports .*severity 4/);

      // The same attack again within dedupe_seconds: no new alert.
      appendFileSync(file, retimed(Date.now() - 2000));
      const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
      await waitFor('the repeat counted', async () => ((await metrics()).match(/nfwatch_detections_total (\d+)/)?.[1] === '2' ? true : undefined), 15_000);
      expect(bodies).toHaveLength(2);
      const text = await metrics();
      expect(text).toMatch(/nfwatch_alerts_total 2\b/);
      expect(text).toMatch(/nfwatch_alert_deliveries_total\{channel="webhook",result="sent"\} 2\b/);
      expect(nfw.log()).not.toMatch(/ error /);
    } finally {
      receiver.close();
    }
  });
});
