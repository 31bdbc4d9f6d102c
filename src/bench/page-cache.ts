// Reading a corpus through before it is measured. A file's pages can leave the page cache while it
// waits its turn (a VM may page out file pages unused for a minute), and a process that reads a
// cold file pays for the disk in CPU as well as in time: on the VM of run H the normal corpus cost
// the daemon 1.8–2.5 s more CPU read cold than warm (7.9–8.1 s warm, its start included). Every measured process
// should meet the same warm file, whichever runs first.
import { closeSync, openSync, readSync } from 'node:fs';

const CHUNK_BYTES = 1 << 20;

/** Reads `path` to its end, discarding the bytes; returns how many were read. */
export function readThrough(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK_BYTES, total);
      if (n === 0) return total;
      total += n;
    }
  } finally {
    closeSync(fd);
  }
}
