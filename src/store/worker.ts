// The history writer thread: owns the SQLite connection, writes the batches the packet thread
// hands over, answers the reader's questions, and runs retention on a timer. Messages are
// handled one at a time in arrival order, so a close comes after every write sent before it.
import { parentPort, workerData } from 'node:worker_threads';
import { errorText } from '../util/errors.js';
import { HistoryDatabase } from './database.js';
import type { FromWriter, ToWriter, WriterFigures } from './messages.js';
import type { HistoryOptions } from './options.js';

const port = parentPort;
if (port === null) throw new Error('store/worker.js runs as a worker thread of the history store');
const options = workerData as HistoryOptions;
const send = (m: FromWriter): void => port.postMessage(m);

let db: HistoryDatabase | null = null;
/** The highest position stored by source name: the packet thread skips what a source replays up to it. */
let positions: Record<string, number> = {};
try {
  db = HistoryDatabase.open(options);
  positions = db.positions();
} catch (e) {
  db?.close();
  db = null;
  send({ type: 'failed', message: errorText(e) });
  port.close();
}

if (db !== null) {
  const store = db;
  const retained = { rows: 0, incidents: 0 };
  // Figures never fail a reply: a file that cannot be measured is reported as 0 bytes.
  const bytes = (): number => {
    try {
      return store.bytes();
    } catch {
      return 0;
    }
  };
  const figures = (): WriterFigures => ({ bytes: bytes(), retainedRows: retained.rows, retainedIncidents: retained.incidents });
  const retain = (): string | null => {
    try {
      const r = store.retain(Date.now());
      retained.rows += r.rows;
      retained.incidents += r.incidents;
      return null;
    } catch (e) {
      return errorText(e);
    }
  };
  const overSize = (): boolean => {
    try {
      return store.overSize();
    } catch {
      return false;
    }
  };
  send({ type: 'ready', opened: store.opened, figures: figures(), positions });

  // At start, then every retentionCheckMs; never on the packet thread.
  const runRetention = (): void => send({ type: 'retained', error: retain(), figures: figures() });
  const first = setTimeout(runRetention, 0);
  const timer = setInterval(runRetention, options.retentionCheckMs);

  port.on('message', (m: ToWriter) => {
    switch (m.type) {
      case 'write': {
        let error: string | null = null;
        let ms = 0;
        try {
          ms = store.write(m.batch, m.incidents).ms;
        } catch (e) {
          error = errorText(e);
        }
        send({ type: 'written', id: m.id, rows: m.batch?.rows ?? 0, incidents: m.incidents.length, ms, error, figures: figures() });
        // A flood can fill the file between the timed checks: a write past maxBytes starts one.
        if (error === null && overSize()) runRetention();
        break;
      }
      case 'ask': {
        let answer: unknown = null;
        let error: string | null = null;
        try {
          answer = ask(store, m);
        } catch (e) {
          error = errorText(e);
        }
        send({ type: 'answer', id: m.id, answer, error });
        break;
      }
      case 'close':
        clearTimeout(first);
        clearInterval(timer);
        store.close();
        send({ type: 'closed' });
        port.close();
        break;
    }
  });
}

function ask(store: HistoryDatabase, m: Extract<ToWriter, { type: 'ask' }>): unknown {
  switch (m.method) {
    case 'search':
      return store.search(...m.args);
    case 'countries':
      return store.countries(...m.args);
    case 'cities':
      return store.cities(...m.args);
    case 'timeline':
      return store.timeline(...m.args);
    case 'incidents':
      return store.incidents(...m.args);
  }
}
