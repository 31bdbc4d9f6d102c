// SYN signatures: loading and validating conf/signatures.toml, classifying fingerprints into OS
// families and scanning tools, and the enricher that puts the result on the event.
//
// The file's format is documented in its header comment (conf/signatures.toml). A file with any
// error is refused as a whole, with the signature id and the bad key, like the config.
//
// Hot path: classification runs for every SYN. Signatures whose conditions all concern the
// fingerprint's shape (ittl, window, options length, DF) are evaluated once per shape and the
// winners cached in a bounded Map keyed by the shape's integer code; the few signatures that look
// at per-packet fields (ports, IP ID, sequence number, TTL range, probe flags) are checked per
// event with integer compares. The Classification objects (with their human-readable reasons) are
// built once per (shape, TTL, winners) and shared, frozen, between events.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseToml, TomlError } from '../deps.js';
import { NONE, type Classification, type Enricher, type PacketEvent, type SynFingerprint } from '../pipeline/types.js';
import { errorText } from '../util/errors.js';
import { mix32 } from '../util/hash.js';
import { MAX_OPTIONS_LENGTH, synFingerprint } from './fingerprint.js';

/**
 * "crafted": a tool that writes the fields an OS guess reads (TTL, window, options) itself, so its
 * packets tell nothing of the sender's OS; "unknown": no signature says.
 */
export const OS_FAMILIES = ['linux', 'windows', 'bsd', 'network-device', 'crafted', 'unknown'] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];
export type SignatureKind = 'tool' | 'os';

/** Conditions of one signature; absent = not checked. Numbers as in the file. */
export interface SignatureMatch {
  window?: number;
  window_in?: number[];
  initial_ttl?: number;
  ttl_min?: number;
  ttl_max?: number;
  options_length?: number;
  options_length_in?: number[];
  df?: boolean;
  ip_id?: number;
  ip_id_xor_dst_dport_seq?: boolean;
  src_port?: number;
  dst_port_in?: number[];
  seq_equals_dst_ip?: boolean;
  probe?: boolean;
}

export interface Signature {
  id: string;
  kind: SignatureKind;
  name: string;
  os: OsFamily;
  confidence: number;
  description: string;
  references: string[];
  match: SignatureMatch;
  /** Whether every condition concerns the fingerprint's shape only (cacheable per shape). */
  shapeOnly: boolean;
}

/** Keys of [signature.match] that depend on the shape (ittl, window, olen, df) alone. */
const SHAPE_KEYS: ReadonlySet<string> = new Set(['window', 'window_in', 'initial_ttl', 'options_length', 'options_length_in', 'df']);

export class SignatureError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}\n  ${problems.join('\n  ')}` : message);
    this.name = 'SignatureError';
  }
}

// ---------------------------------------------------------------------------------------------
// Paths

/**
 * The bundled signature file: conf/signatures.toml at the package root. This module is
 * src/enrich/signatures.ts (tests) or dist/enrich/signatures.js (built): the root is two up.
 */
export function bundledSignaturesPath(): string {
  return fileURLToPath(new URL('../../conf/signatures.toml', import.meta.url));
}

/** config.fingerprint.signatures, with '' meaning the bundled file. */
export function resolveSignaturesPath(configured: string): string {
  return configured === '' ? bundledSignaturesPath() : configured;
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Upper bound on the number of signatures (keeps the classification cache key below 2^53). */
export const MAX_SIGNATURES = 1000;

const ID_RE = /^[a-z0-9][a-z0-9_-]*$/;
const TOP_KEYS = new Set(['id', 'kind', 'name', 'os', 'confidence', 'description', 'references', 'match']);
type Checker = (v: unknown) => string | null;

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const intRange = (min: number, max: number): Checker => (v) => (isInt(v, min, max) ? null : `expected an integer ${min}..${max}`);
const intList = (min: number, max: number): Checker => (v) =>
  Array.isArray(v) && v.length > 0 && v.every((x) => isInt(x, min, max)) ? null : `expected a non-empty array of integers ${min}..${max}`;
const olenOk = (v: unknown): boolean => isInt(v, 0, MAX_OPTIONS_LENGTH) && v % 4 === 0;
const bool: Checker = (v) => (typeof v === 'boolean' ? null : 'expected true or false');
const onlyTrue: Checker = (v) => (v === true ? null : 'expected true (the only supported value)');

/** Every allowed [signature.match] key and its check. */
const MATCH_KEYS: Readonly<Record<keyof SignatureMatch, Checker>> = {
  window: intRange(0, 65535),
  window_in: intList(0, 65535),
  initial_ttl: (v) => (v === 32 || v === 64 || v === 128 || v === 255 ? null : 'expected 32, 64, 128 or 255'),
  ttl_min: intRange(0, 255),
  ttl_max: intRange(0, 255),
  options_length: (v) => (olenOk(v) ? null : `expected a multiple of 4 in 0..${MAX_OPTIONS_LENGTH}`),
  options_length_in: (v) => (Array.isArray(v) && v.length > 0 && v.every(olenOk) ? null : `expected a non-empty array of multiples of 4 in 0..${MAX_OPTIONS_LENGTH}`),
  df: bool,
  ip_id: intRange(0, 65535),
  ip_id_xor_dst_dport_seq: onlyTrue,
  src_port: intRange(0, 65535),
  dst_port_in: intList(0, 65535),
  seq_equals_dst_ip: onlyTrue,
  probe: bool,
};
const isMatchKey = (k: string): k is keyof SignatureMatch => Object.prototype.hasOwnProperty.call(MATCH_KEYS, k);

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const show = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

/** Validates one [[signature]] table, appending problems; returns the signature when valid. */
function validateSignature(raw: unknown, index: number, problems: string[]): Signature | null {
  const label0 = `signature #${index + 1}`;
  if (!isTable(raw)) {
    problems.push(`${label0}: expected a table, got ${show(raw)}`);
    return null;
  }
  const id = raw['id'];
  const label = typeof id === 'string' && id !== '' ? `signature "${id}"` : label0;
  const before = problems.length;
  const bad = (key: string, what: string, value: unknown): void => {
    problems.push(`${label}: ${key}: ${what}, got ${show(value)}`);
  };
  for (const k of Object.keys(raw)) {
    if (!TOP_KEYS.has(k)) problems.push(`${label}: unknown key "${k}" (allowed: ${[...TOP_KEYS].join(', ')})`);
  }
  if (typeof id !== 'string' || !ID_RE.test(id)) bad('id', 'expected a string of [a-z0-9][a-z0-9_-]*', id);
  const kind = raw['kind'];
  if (kind !== 'tool' && kind !== 'os') bad('kind', 'expected "tool" or "os"', kind);
  const name = raw['name'];
  if (typeof name !== 'string' || name === '') bad('name', 'expected a non-empty string', name);
  const os = raw['os'];
  if (typeof os !== 'string' || !(OS_FAMILIES as readonly string[]).includes(os)) bad('os', `expected one of ${OS_FAMILIES.map((f) => `"${f}"`).join(', ')}`, os);
  const confidence = raw['confidence'];
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) bad('confidence', 'expected a number 0..1', confidence);
  const description = raw['description'] ?? '';
  if (typeof description !== 'string') bad('description', 'expected a string', description);
  const references = raw['references'];
  if (!Array.isArray(references) || references.length === 0 || !references.every((r) => typeof r === 'string' && r.trim() !== '')) {
    bad('references', 'expected a non-empty array of non-empty strings (where the signature comes from)', references);
  }
  const matchRaw = raw['match'];
  const match: SignatureMatch = {};
  if (!isTable(matchRaw) || Object.keys(matchRaw).length === 0) {
    bad('match', 'expected a [signature.match] table with at least one condition', matchRaw);
  } else {
    for (const [k, v] of Object.entries(matchRaw)) {
      if (!isMatchKey(k)) {
        problems.push(`${label}: match.${k}: unknown key (allowed: ${Object.keys(MATCH_KEYS).join(', ')})`);
        continue;
      }
      const err = MATCH_KEYS[k](v);
      if (err !== null) bad(`match.${k}`, err, v);
      else (match as Record<string, unknown>)[k] = v;
    }
    if (match.window !== undefined && match.window_in !== undefined) problems.push(`${label}: match: use window or window_in, not both`);
    if (match.options_length !== undefined && match.options_length_in !== undefined) problems.push(`${label}: match: use options_length or options_length_in, not both`);
    if (match.ttl_min !== undefined && match.ttl_max !== undefined && match.ttl_min > match.ttl_max) problems.push(`${label}: match: ttl_min ${match.ttl_min} > ttl_max ${match.ttl_max}`);
  }
  if (problems.length > before) return null;
  return {
    id: id as string,
    kind: kind as SignatureKind,
    name: name as string,
    os: os as OsFamily,
    confidence: confidence as number,
    description: description as string,
    references: references as string[],
    match,
    shapeOnly: Object.keys(match).every((k) => SHAPE_KEYS.has(k)),
  };
}

/** Validates a parsed document ({ signature: [...] }); throws SignatureError listing every problem. */
export function validateSignatures(document: unknown, source = 'signature file'): Signature[] {
  if (!isTable(document)) throw new SignatureError(`${source}: expected a TOML document of [[signature]] tables`);
  const problems: string[] = [];
  for (const k of Object.keys(document)) {
    if (k !== 'signature') problems.push(`unknown top-level key "${k}" (only [[signature]] tables are allowed)`);
  }
  const list = document['signature'];
  if (!Array.isArray(list) || list.length === 0) {
    problems.push('no [[signature]] tables');
  } else if (list.length > MAX_SIGNATURES) {
    problems.push(`${list.length} signatures, at most ${MAX_SIGNATURES} are allowed`);
  }
  const out: Signature[] = [];
  const seen = new Set<string>();
  if (Array.isArray(list) && list.length <= MAX_SIGNATURES) {
    list.forEach((raw, i) => {
      const sig = validateSignature(raw, i, problems);
      if (!sig) return;
      if (seen.has(sig.id)) problems.push(`signature "${sig.id}": id: duplicate (ids must be unique)`);
      seen.add(sig.id);
      out.push(sig);
    });
  }
  if (problems.length) throw new SignatureError(`${source}: invalid signatures`, problems);
  return out;
}

/** Parses and validates signature TOML text. */
export function parseSignatures(text: string, source = 'signature file'): SignatureSet {
  let document: unknown;
  try {
    document = parseToml(text);
  } catch (e) {
    const where = e instanceof TomlError ? ` (line ${e.line}, column ${e.column})` : '';
    throw new SignatureError(`${source}: not valid TOML${where}: ${errorText(e).split('\n')[0] ?? ''}`);
  }
  return new SignatureSet(validateSignatures(document, source), source);
}

/** Reads, parses and validates a signature file (at start and on SIGHUP). */
export function loadSignatures(path: string): SignatureSet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SignatureError(`cannot read signature file ${path}: ${errorText(e)}`);
  }
  return parseSignatures(text, path);
}

// ---------------------------------------------------------------------------------------------
// Matching

/**
 * IPv4 dotted quad → unsigned 32-bit integer without allocating; NONE when not IPv4. Remembers
 * the last address: a firewall sees few destination addresses, so most calls are one compare.
 */
let lastDst = '';
let lastDstInt = NONE;
export function ipv4ToInt(ip: string): number {
  if (ip === lastDst) return lastDstInt;
  let acc = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let ok = ip.length >= 7 && ip.length <= 15;
  for (let i = 0; ok && i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) ok = false;
      acc = acc * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) ok = false;
    } else {
      ok = false;
    }
  }
  const result = ok && dots === 3 && digits > 0 ? acc * 256 + octet : NONE;
  lastDst = ip;
  lastDstInt = result;
  return result;
}

/**
 * A signature's conditions in one layout, absent ones NONE, null or false. The [signature.match]
 * tables each have their own keys in their own order, so reading them in the per-SYN loop was a
 * property lookup that had met a dozen object shapes; these all have one.
 */
class Conditions {
  readonly window: number;
  readonly windowIn: readonly number[] | null;
  readonly initialTtl: number;
  readonly optionsLength: number;
  readonly optionsLengthIn: readonly number[] | null;
  /** NONE, 0 or 1. */
  readonly df: number;
  readonly srcPort: number;
  readonly dstPortIn: readonly number[] | null;
  readonly ttlMin: number;
  readonly ttlMax: number;
  /** NONE, 0 (no probe flags) or 1 (probe flags). */
  readonly probe: number;
  readonly ipId: number;
  readonly ipIdXorDstDportSeq: boolean;
  readonly seqEqualsDstIp: boolean;
  /** Whether the signature's reasons quote the window, the TTL, the options length, DF (describe()): what its result is keyed by. */
  readonly quotesWindow: boolean;
  readonly quotesTtl: boolean;
  readonly quotesOptionsLength: boolean;
  readonly quotesDf: boolean;

  constructor(
    m: SignatureMatch,
    /** The signature's place in the file. */
    readonly index: number,
    readonly isTool: boolean,
    readonly confidence: number,
  ) {
    this.window = m.window ?? NONE;
    this.windowIn = m.window_in ?? null;
    this.initialTtl = m.initial_ttl ?? NONE;
    this.optionsLength = m.options_length ?? NONE;
    this.optionsLengthIn = m.options_length_in ?? null;
    this.df = m.df === undefined ? NONE : m.df ? 1 : 0;
    this.srcPort = m.src_port ?? NONE;
    this.dstPortIn = m.dst_port_in ?? null;
    this.ttlMin = m.ttl_min ?? NONE;
    this.ttlMax = m.ttl_max ?? NONE;
    this.probe = m.probe === undefined ? NONE : m.probe ? 1 : 0;
    this.ipId = m.ip_id ?? NONE;
    this.ipIdXorDstDportSeq = m.ip_id_xor_dst_dport_seq === true;
    this.seqEqualsDstIp = m.seq_equals_dst_ip === true;
    this.quotesWindow = m.window !== undefined || m.window_in !== undefined;
    this.quotesTtl = m.initial_ttl !== undefined || m.ttl_min !== undefined || m.ttl_max !== undefined;
    this.quotesOptionsLength = m.options_length !== undefined || m.options_length_in !== undefined;
    this.quotesDf = m.df !== undefined;
  }
}

/** Whether the shape conditions hold (window, ittl, options length, DF). */
function shapeMatches(m: Conditions, fp: SynFingerprint): boolean {
  if (m.window !== NONE && fp.window !== m.window) return false;
  if (m.windowIn !== null && !m.windowIn.includes(fp.window)) return false;
  if (m.initialTtl !== NONE && fp.initialTtl !== m.initialTtl) return false;
  // An unknown options length never satisfies a condition on it: better unclassified than wrong.
  if (m.optionsLength !== NONE && fp.optionsLength !== m.optionsLength) return false;
  if (m.optionsLengthIn !== null && (fp.optionsLength < 0 || !m.optionsLengthIn.includes(fp.optionsLength))) return false;
  // IPv6 has no DF bit (fp.df NONE): a DF condition does not speak against it.
  if (m.df !== NONE && fp.df !== NONE && fp.df !== m.df) return false;
  return true;
}

/** Whether the per-packet conditions hold. */
function packetMatches(m: Conditions, fp: SynFingerprint, event: PacketEvent): boolean {
  if (m.srcPort !== NONE && fp.srcPort !== m.srcPort) return false;
  if (m.dstPortIn !== null && !m.dstPortIn.includes(event.dstPort)) return false;
  if (m.ttlMin !== NONE && fp.ttl < m.ttlMin) return false;
  if (m.ttlMax !== NONE && (fp.ttl < 0 || fp.ttl > m.ttlMax)) return false;
  if (m.probe !== NONE && (fp.probe ? 1 : 0) !== m.probe) return false;
  if (m.ipId !== NONE && fp.ipId !== m.ipId) return false;
  if (m.ipIdXorDstDportSeq) {
    // masscan templ-pkt.c tcp_create_packet(): ip_id = ip_them ^ port_them ^ seqno (low 16 bits).
    const dst = ipv4ToInt(event.dstIp);
    if (dst < 0 || fp.ipId < 0 || event.tcpSeq < 0 || event.dstPort < 0) return false;
    if (((dst ^ event.dstPort ^ event.tcpSeq) & 0xffff) !== fp.ipId) return false;
  }
  if (m.seqEqualsDstIp) {
    // Mirai scanner.c: tcph->seq = iph->daddr (both in network order: the same 32-bit number).
    const dst = ipv4ToInt(event.dstIp);
    if (dst < 0 || event.tcpSeq !== dst) return false;
  }
  return true;
}

const dfText = (df: number): string => (df === 1 ? 'df=1' : df === 0 ? 'df=0' : 'df n/a (IPv6)');

/** Human-readable reasons: which fields matched, with the values seen. */
function describe(sig: Signature, fp: SynFingerprint): string[] {
  const m = sig.match;
  const r: string[] = [];
  if (m.src_port !== undefined) r.push(`sport=${m.src_port}`);
  if (m.seq_equals_dst_ip) r.push('seq=dst ip');
  if (m.ip_id !== undefined) r.push(`ipid=${m.ip_id}`);
  if (m.ip_id_xor_dst_dport_seq) r.push('ipid=(dst^dport^seq)&0xffff');
  if (m.probe !== undefined) r.push(m.probe ? 'SYN with FIN/RST/PSH/URG' : 'no probe flags');
  if (m.window !== undefined || m.window_in !== undefined) r.push(`win=${fp.window}`);
  if (m.initial_ttl !== undefined) r.push(`ttl ${fp.ttl} → ittl ${fp.initialTtl}`);
  if (m.ttl_min !== undefined || m.ttl_max !== undefined) r.push(`ttl ${fp.ttl} in ${m.ttl_min ?? 0}..${m.ttl_max ?? 255}`);
  if (m.options_length !== undefined || m.options_length_in !== undefined) r.push(`olen=${fp.optionsLength}`);
  if (m.df !== undefined) r.push(dfText(fp.df));
  if (m.dst_port_in !== undefined) r.push(`dport in ${m.dst_port_in.join('/')}`);
  return r;
}

/** The result for a SYN no signature matched (shared, frozen). */
export const UNCLASSIFIED: Classification = Object.freeze({
  os: 'unknown',
  tool: '',
  confidence: 0,
  reasons: Object.freeze([]) as unknown as string[],
  signature: '',
});

/** Bound of the result cache (cleared when full; refilled from the next events). */
export const CLASSIFY_CACHE_MAX = 16_384;
/** Slots of the shape cache at most (one a shape class where there are fewer classes). */
const SHAPE_CACHE_SLOTS = 65_536;
/** DF's classes in a shape class: unknown (IPv6), clear, set, anything else. */
const DF_CLASSES = 4;
/** Words a shape cache slot takes: class, answer, candidates and one unused (16 bytes: a slot is not split across cache lines). */
const SHAPE_SLOT_WORDS = 4;
/** Slots of the direct-mapped front of the result cache. */
const RESULT_SLOTS = 4096;
/** Per-packet signatures whose shape conditions the shape cache answers (a bit each); later ones are checked per SYN. */
const SHAPE_CANDIDATE_BITS = 31;

/**
 * A validated signature list with its caches. Immutable apart from the caches, whose entries are
 * fully determined by the signatures: a cached answer is always the answer a fresh evaluation
 * would give.
 */
export class SignatureSet {
  readonly signatures: readonly Signature[];
  readonly source: string;
  /** Each signature's conditions, in file order. */
  private readonly conditions: readonly Conditions[];
  /** Those checked per event (at least one non-shape condition), in file order. */
  private readonly perPacket: readonly Conditions[];
  private readonly shapeOnly: readonly Conditions[];
  /**
   * Per shape condition, the values the signatures name, each a class (from 1); any other value is
   * class 0, as every signature judges all such values alike (shapeMatches()). A SYN's shape class
   * (shapeClass()) is what the shape cache is keyed by: a flood of random windows has one class for
   * all the windows no signature names, where by its shape code nearly every SYN missed.
   */
  private readonly windowClasses: Map<number, number>;
  private readonly ttlClasses: Map<number, number>;
  private readonly optionsClasses: Map<number, number>;
  private readonly ttlClassCount: number;
  private readonly optionsClassCount: number;
  /** Whether shape classes are the shape cache's slots (fewer than SHAPE_CACHE_SLOTS of them), else hashed to one. */
  private readonly denseShapes: boolean;
  /**
   * shape class → best shape-only tool index * 2^16 + best shape-only OS index (each +1, 0 = none).
   * Direct-mapped by class (with more classes than slots, a class on a taken slot replaces it). A
   * slot is SHAPE_SLOT_WORDS words side by side: the class (-1: none), the answer, and the bits of
   * the per-packet signatures whose shape conditions hold (bit i for signature i <
   * SHAPE_CANDIDATE_BITS).
   */
  private readonly shapeCache: Int32Array;
  /** (shape, ttl, tool, os) → the shared Classification. */
  private readonly resultCache = new Map<number, Classification>();
  /**
   * In front of resultCache, direct-mapped by key: a Map looked up by a number beyond 32 bits
   * hashes a heap number on every SYN.
   */
  private readonly resultKeys = new Float64Array(RESULT_SLOTS).fill(-1);
  private readonly results: Array<Classification | undefined> = new Array<Classification | undefined>(RESULT_SLOTS).fill(undefined);
  private readonly slots: number;

  constructor(signatures: readonly Signature[], source = 'signatures') {
    this.signatures = signatures;
    this.source = source;
    this.conditions = signatures.map((s, i) => new Conditions(s.match, i, s.kind === 'tool', s.confidence));
    this.perPacket = this.conditions.filter((c) => !signatures[c.index]!.shapeOnly);
    this.shapeOnly = this.conditions.filter((c) => signatures[c.index]!.shapeOnly);
    this.slots = signatures.length + 1;
    const all = this.conditions;
    this.windowClasses = classesOf(all.flatMap((c) => [...(c.window === NONE ? [] : [c.window]), ...(c.windowIn ?? [])]));
    this.ttlClasses = classesOf(all.flatMap((c) => (c.initialTtl === NONE ? [] : [c.initialTtl])));
    this.optionsClasses = classesOf(all.flatMap((c) => [...(c.optionsLength === NONE ? [] : [c.optionsLength]), ...(c.optionsLengthIn ?? [])]));
    this.ttlClassCount = this.ttlClasses.size + 1;
    this.optionsClassCount = this.optionsClasses.size + 1;
    const shapeClasses = (this.windowClasses.size + 1) * this.ttlClassCount * this.optionsClassCount * DF_CLASSES;
    this.denseShapes = shapeClasses <= SHAPE_CACHE_SLOTS;
    this.shapeCache = new Int32Array((this.denseShapes ? shapeClasses : SHAPE_CACHE_SLOTS) * SHAPE_SLOT_WORDS).fill(-1);
  }

  /**
   * The class of a SYN's shape: equal for two shapes every signature's shape conditions judge
   * alike (a value no signature names is class 0 in its dimension). Fewer than 65,537 · 5 · 12 · 4
   * classes (windows, initial TTLs, options lengths as the list's checks allow them; DF_CLASSES).
   */
  private shapeClass(fp: SynFingerprint): number {
    const window = this.windowClasses.get(fp.window) ?? 0;
    const ttl = this.ttlClasses.get(fp.initialTtl) ?? 0;
    const options = this.optionsClasses.get(fp.optionsLength) ?? 0;
    // DF: unknown (IPv6) never speaks against a condition, so it is a class of its own.
    const df = fp.df === NONE ? 0 : fp.df === 0 ? 1 : fp.df === 1 ? 2 : 3;
    return ((window * this.ttlClassCount + ttl) * this.optionsClassCount + options) * DF_CLASSES + df;
  }

  get(id: string): Signature | undefined {
    return this.signatures.find((s) => s.id === id);
  }

  /** Cache sizes (tests, health). */
  cacheSizes(): { shapes: number; results: number } {
    let shapes = 0;
    for (let at = 0; at < this.shapeCache.length; at += SHAPE_SLOT_WORDS) if (this.shapeCache[at] !== -1) shapes++;
    return { shapes, results: this.resultCache.size };
  }

  /**
   * OS family, tool, confidence and reasons for a SYN fingerprint. Any matching tool wins over
   * every OS; among tools (and among OSes) the highest confidence wins, then file order.
   */
  classify(fp: SynFingerprint, event: PacketEvent): Classification {
    const shape = this.shapeClass(fp);
    const slot = this.denseShapes ? shape : mix32(shape) & (SHAPE_CACHE_SLOTS - 1);
    let packed: number;
    let candidates: number;
    const cache = this.shapeCache;
    const at = slot * SHAPE_SLOT_WORDS;
    if (cache[at] === shape) {
      packed = cache[at + 1]!;
      candidates = cache[at + 2]!;
    } else {
      packed = this.evaluateShape(fp);
      candidates = this.candidatesOf(fp);
      cache[at] = shape;
      cache[at + 1] = packed;
      cache[at + 2] = candidates;
    }
    let tool = (packed >>> 16) - 1;
    let os = (packed & 0xffff) - 1;
    const all = this.conditions;
    let toolConf = tool >= 0 ? all[tool]!.confidence : -1;
    let osConf = os >= 0 ? all[os]!.confidence : -1;
    const per = this.perPacket;
    for (let i = 0; i < per.length; i++) {
      const s = per[i]!;
      const isTool = s.isTool;
      // Only a signature that could beat the current winner of its kind is worth checking.
      if (s.confidence < (isTool ? toolConf : osConf)) continue;
      if (i < SHAPE_CANDIDATE_BITS ? (candidates & (1 << i)) === 0 : !shapeMatches(s, fp)) continue;
      if (!packetMatches(s, fp, event)) continue;
      const idx = s.index;
      // Equal confidence: the earlier signature in the file wins.
      if (isTool) {
        if (s.confidence > toolConf || idx < tool) {
          tool = idx;
          toolConf = s.confidence;
        }
      } else if (s.confidence > osConf || idx < os) {
        os = idx;
        osConf = s.confidence;
      }
    }
    if (tool < 0 && os < 0) return UNCLASSIFIED;
    const key = this.resultKey(tool, os, fp);
    const front = resultSlot(key);
    if (this.resultKeys[front] === key) return this.results[front]!;
    let result = this.resultCache.get(key);
    if (result === undefined) {
      result = this.build(tool, os, fp);
      if (this.resultCache.size >= CLASSIFY_CACHE_MAX) {
        this.resultCache.clear();
        this.resultKeys.fill(-1);
        this.results.fill(undefined);
      }
      this.resultCache.set(key, result);
    }
    this.resultKeys[front] = key;
    this.results[front] = result;
    return result;
  }

  /** The per-packet signatures (of the first SHAPE_CANDIDATE_BITS) whose shape conditions hold, as bits. */
  private candidatesOf(fp: SynFingerprint): number {
    const per = this.perPacket;
    let bits = 0;
    for (let i = 0; i < per.length && i < SHAPE_CANDIDATE_BITS; i++) if (shapeMatches(per[i]!, fp)) bits |= 1 << i;
    return bits;
  }

  /**
   * What a result is determined by: the winning tool and OS, and only those fingerprint values
   * the winner's reasons quote (describe()). A flood of random windows and TTLs that all match
   * "network-device" by its initial TTL then shares 256 results instead of making one per packet.
   */
  private resultKey(tool: number, os: number, fp: SynFingerprint): number {
    const m = this.conditions[tool >= 0 ? tool : os]!;
    const window = m.quotesWindow ? (fp.window >= 0 && fp.window <= 0xffff ? fp.window + 1 : 0x10001) : 0;
    const ttl = m.quotesTtl ? (fp.ttl >= 0 && fp.ttl <= 255 ? fp.ttl + 1 : 257) : 0;
    const olen = m.quotesOptionsLength ? (fp.optionsLength >= 0 && fp.optionsLength <= 40 ? fp.optionsLength + 1 : 42) : 0;
    const df = m.quotesDf ? (fp.df === 0 ? 1 : fp.df === 1 ? 2 : 3) : 0;
    // At most slots² · 65538 · 258 · 43 · 4 (< 2^53 for up to ~6,000 signatures).
    return ((((tool + 1) * this.slots + (os + 1)) * 65538 + window) * 258 + ttl) * 43 * 4 + olen * 4 + df;
  }

  /** Best shape-only tool and OS for this shape, packed as ((tool+1) << 16) | (os+1). */
  private evaluateShape(fp: SynFingerprint): number {
    let tool = -1;
    let os = -1;
    let toolConf = -1;
    let osConf = -1;
    for (const s of this.shapeOnly) {
      if (!shapeMatches(s, fp)) continue;
      const idx = s.index;
      if (s.isTool) {
        if (s.confidence > toolConf) {
          tool = idx;
          toolConf = s.confidence;
        }
      } else if (s.confidence > osConf) {
        os = idx;
        osConf = s.confidence;
      }
    }
    return (tool + 1) * 0x10000 + (os + 1);
  }

  private build(toolIdx: number, osIdx: number, fp: SynFingerprint): Classification {
    const tool = toolIdx >= 0 ? this.signatures[toolIdx] : undefined;
    const os = osIdx >= 0 ? this.signatures[osIdx] : undefined;
    const winner = (tool ?? os)!;
    const family = tool && tool.os !== 'unknown' ? tool.os : (os?.os ?? 'unknown');
    return Object.freeze({
      os: family,
      tool: tool ? tool.id : '',
      confidence: winner.confidence,
      reasons: Object.freeze(describe(winner, fp)) as unknown as string[],
      signature: winner.id,
    });
  }
}

/** Each distinct value its class, from 1 in order of first mention (0 is every value not named). */
function classesOf(values: readonly number[]): Map<number, number> {
  const classes = new Map<number, number>();
  for (const v of values) if (!classes.has(v)) classes.set(v, classes.size + 1);
  return classes;
}

/** A result key's slot in the direct-mapped front of the result cache (keys are integers below 2^53). */
function resultSlot(key: number): number {
  const h = Math.imul((key >>> 0) ^ Math.floor(key / 0x1_0000_0000), 0x9e3779b1);
  return (h ^ (h >>> 16)) & (RESULT_SLOTS - 1);
}

/** OS family, tool, confidence and reasons of a SYN fingerprint (see SignatureSet.classify). */
export function classify(fp: SynFingerprint, event: PacketEvent, signatures: SignatureSet): Classification {
  return signatures.classify(fp, event);
}

// ---------------------------------------------------------------------------------------------
// Enricher

/**
 * Sets event.fingerprint, os, tool and classification in place for TCP SYNs (no copies); leaves
 * every other event as the decoder made it. The Classification objects are shared between events
 * and frozen: read them, do not change them.
 */
export class FingerprintEnricher implements Enricher {
  readonly name = 'fingerprint';
  private set: SignatureSet;

  /** `path`: the signature file to re-read on reload(); omit for a fixed set. */
  constructor(
    signatures: SignatureSet,
    private readonly path?: string,
  ) {
    this.set = signatures;
  }

  /** Loads the signature file (config.fingerprint.signatures, '' = bundled). Throws SignatureError. */
  static fromConfig(configured: string): FingerprintEnricher {
    const path = resolveSignaturesPath(configured);
    return new FingerprintEnricher(loadSignatures(path), path);
  }

  get signatures(): SignatureSet {
    return this.set;
  }

  enrich(event: PacketEvent): void {
    const fp = synFingerprint(event);
    if (fp === null) return;
    const c = this.set.classify(fp, event);
    event.fingerprint = fp;
    event.os = c.os;
    event.tool = c.tool;
    event.classification = c.signature === '' ? null : c;
  }

  /** SIGHUP: re-read the file; on any error the previous signatures stay and the error is thrown. */
  async reload(): Promise<void> {
    if (this.path === undefined) return;
    this.set = loadSignatures(this.path);
  }
}
