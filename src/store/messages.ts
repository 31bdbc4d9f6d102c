// What the packet thread (history.ts) and the writer thread (worker.ts) say to each other.
// Everything here is structured-clone data.
import type { SightingBatch } from './batch.js';
import type { OpenedFile } from './schema.js';
import type { HistoryCity, HistoryCountry, HistoryIncident, HistorySearch, HistorySearchResult, HistoryTimeline } from './types.js';

/** The reader's questions, by method name: arguments and answer. */
export interface Questions {
  search: { args: [HistorySearch]; answer: HistorySearchResult };
  countries: { args: [HistorySearch]; answer: HistoryCountry[] };
  cities: { args: [HistorySearch]; answer: HistoryCity[] };
  timeline: { args: [string, number, number]; answer: HistoryTimeline };
  incidents: { args: [number, number, string | undefined, number | undefined]; answer: HistoryIncident[] };
}
export type Method = keyof Questions;

export type ToWriter =
  | { type: 'write'; id: number; batch: SightingBatch | null; incidents: HistoryIncident[] }
  | { [M in Method]: { type: 'ask'; id: number; method: M; args: Questions[M]['args'] } }[Method]
  | { type: 'close' };

/** Figures the writer reports with every write and retention pass. */
export interface WriterFigures {
  bytes: number;
  retainedRows: number;
  retainedIncidents: number;
}

export type FromWriter =
  /** positions: the highest position stored, by source name (see sightings.ts). */
  | { type: 'ready'; opened: OpenedFile; figures: WriterFigures; positions: Record<string, number> }
  | { type: 'failed'; message: string }
  | { type: 'written'; id: number; rows: number; incidents: number; ms: number; error: string | null; figures: WriterFigures }
  | { type: 'answer'; id: number; answer: unknown; error: string | null }
  | { type: 'retained'; error: string | null; figures: WriterFigures }
  | { type: 'closed' };
