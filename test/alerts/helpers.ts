// Detections as the tracker announces them, from the lab's real captures.
import { FingerprintEnricher } from '../../src/enrich/signatures.js';
import type { Detection } from '../../src/track/query.js';
import { fixturePackets } from '../enrich/fixtures.js';
import { tracker } from '../track/helpers.js';

const fingerprints = FingerprintEnricher.fromConfig('');

/** Every detection the tracker announces while the captures are replayed (shipped track defaults). */
export function detectionsOf(...files: string[]): Detection[] {
  const t = tracker();
  const seen: Detection[] = [];
  t.onDetection((d) => seen.push(d));
  for (const file of files) {
    for (const e of fixturePackets(file)) {
      fingerprints.enrich(e);
      t.observe(e);
    }
  }
  return seen;
}
