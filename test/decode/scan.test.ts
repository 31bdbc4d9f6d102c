// The line scanner reads ulogd's lines without JSON.parse. It may refuse any line (JSON.parse then
// decides), but a line it accepts must decode exactly as JSON.parse would have it: same event, same
// error, same reason. Checked on every real line of the lab captures and on seeded mutations of
// them that aim at JSON's edges.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { Rng } from '../../src/bench/corpus.js';
import { FIELD_NAMES, newFields } from '../../src/decode/fields.js';
import { decodeBytes, decodeLine, type DecodeOptions } from '../../src/decode/line.js';
import { LineScanner } from '../../src/decode/scan.js';

const options: DecodeOptions = {
  verdictRules: [{ prefix_contains: 'DROP', verdict: 'blocked' }],
  useRawLabel: true,
  naiveTimestamps: 'utc',
  maxFutureMs: 300_000,
};

const FIXTURES = new URL('../fixtures/ulogd/', import.meta.url);
const REAL_LINES: string[] = [
  ...readdirSync(FIXTURES)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(new URL(name, FIXTURES), 'utf8').split('\n')),
  ...readFileSync(new URL('../../demo/ulogd-lab-capture.jsonl', import.meta.url), 'utf8').split('\n'),
].filter((line) => line !== '');

/** The line inside other bytes, as a source hands it over: a range of a larger chunk. */
function inChunk(line: Buffer): { chunk: Buffer; from: number; to: number } {
  const chunk = Buffer.concat([Buffer.from('{"before": 1}\n'), line, Buffer.from('\n{"after": "x"}')]);
  return { chunk, from: 14, to: 14 + line.length };
}

function viaBytes(line: Buffer): ReturnType<typeof decodeBytes> {
  const { chunk, from, to } = inChunk(line);
  return decodeBytes(chunk, from, to, 0, options);
}

function viaJson(line: Buffer): ReturnType<typeof decodeLine> {
  return decodeLine(line.toString('utf8'), 0, options);
}

/** Whether the scanner itself accepts the line (rather than handing it to JSON.parse). */
function scanned(line: Buffer): boolean {
  const { chunk, from, to } = inChunk(line);
  return new LineScanner().scan(chunk, from, to, newFields());
}

/** The line decodes via the bytes as via JSON.parse, and the scanner took it itself or not. */
function expectSameOutcome(text: string, readByScanner: boolean): void {
  const line = Buffer.from(text);
  expect(scanned(line), text).toBe(readByScanner);
  expect(viaBytes(line), text).toEqual(viaJson(line));
}

/** Reads lines with one scanner (its predictions carry over): the fields, or null when it leaves the line to JSON.parse. */
function readsWith(scanner: LineScanner): (text: string) => unknown[] | null {
  return (text) => {
    const { chunk, from, to } = inChunk(Buffer.from(text));
    const fields = newFields();
    return scanner.scan(chunk, from, to, fields) ? fields : null;
  };
}

describe('the line scanner', () => {
  it('reads every real ulogd 2.0.8 line of the lab captures itself, as JSON.parse does', () => {
    expect(REAL_LINES.length).toBeGreaterThan(1000);
    for (const text of REAL_LINES) expectSameOutcome(text, true);
  });

  it('decodes lines of other shapes, spacing and key orders as JSON.parse does', () => {
    const cases = [
      '{"oob.time.sec":1795986323,"src_ip":"198.51.100.7","ip.protocol":6,"dest_port":22,"action":"blocked"}',
      '  {  "src_ip" : "198.51.100.7" ,\t"oob.time.sec"\t:\t1795986323 , "ip.protocol": 17 }  ',
      '{"sum.name": "ipv4.ssh", "sum.pkts": 999999999999999, "sum.bytes": 0, "timestamp": "2026-11-29T21:05:23"}',
      '{"src_ip": "198.51.100.7", "oob.time.sec": 1795986323, "tcp.syn": true, "ip.protocol": null}',
      '{"src_ip": "198.51.100.7", "oob.time.sec": 1795986323, "raw.label": 0, "unknown.key": false}',
    ];
    for (const text of cases) expectSameOutcome(text, true);
  });

  it('leaves to JSON.parse every line outside its plain subset, with the same outcome', () => {
    const base = '"oob.time.sec": 1795986323, "ip.protocol": 6';
    const cases = [
      // Escapes and controls in strings and keys, non-ASCII in keys and addresses.
      `{"oob.prefix": "a\\"b", "src_ip": "198.51.100.7", ${base}}`,
      `{"oob.prefix": "\\u0041DROP", "src_ip": "198.51.100.7", ${base}}`,
      `{"oob.prefix": "tab\there", "src_ip": "198.51.100.7", ${base}}`,
      `{"src\\u005fip": "198.51.100.7", ${base}}`,
      `{"oob.préfix": "DROP", "src_ip": "198.51.100.7", ${base}}`,
      `{"oob.prefix": "DROP", "src_ip": "198.51.100.\u0667", ${base}}`,
      // A key the decoder reads given twice: the last one wins in JSON.
      `{"src_ip": "198.51.100.7", "src_ip": "203.0.113.9", ${base}}`,
      `{"oob.time.sec": 1, ${base}, "src_ip": "198.51.100.7"}`,
      // Numbers JSON reads differently or not at all.
      `{"src_ip": "198.51.100.7", "dest_port": 22.0, ${base}}`,
      `{"src_ip": "198.51.100.7", "dest_port": 2.2e1, ${base}}`,
      `{"src_ip": "198.51.100.7", "dest_port": -22, ${base}}`,
      `{"src_ip": "198.51.100.7", "dest_port": 022, ${base}}`,
      `{"src_ip": "198.51.100.7", "tcp.seq": 12345678901234567890, ${base}}`,
      `{"sum.name": "x", "sum.pkts": 9007199254740993, "sum.bytes": 1, "oob.time.sec": 1795986323}`,
      // Nesting, other tops, broken structure.
      `{"src_ip": ["198.51.100.7"], ${base}}`,
      `{"src_ip": {"v": 4}, ${base}}`,
      `[{"src_ip": "198.51.100.7", ${base}}]`,
      `{"src_ip": "198.51.100.7", ${base},}`,
      `{"src_ip": "198.51.100.7", ${base}} x`,
      `{"src_ip": "198.51.100.7", ${base}`,
      `{"src_ip" "198.51.100.7", ${base}}`,
      `{"src_ip": "198.51.100.7" ${base}}`,
      `{"src_ip": tru, ${base}}`,
      `{src_ip: "198.51.100.7", ${base}}`,
      '\ufeff{"src_ip": "198.51.100.7", "oob.time.sec": 1795986323}',
      '{}',
      '',
      'null',
    ];
    for (const text of cases) expectSameOutcome(text, false);
  });

  it('reads numbers of 1 to 15 digits wherever they start in a word, and leaves longer ones, fractions and exponents to JSON.parse', () => {
    // Digits are read four at a time while a whole word of them follows, then one by one.
    const read = readsWith(new LineScanner());
    const SEQ = FIELD_NAMES.indexOf('tcp.seq');
    for (let digits = 1; digits <= 16; digits++) {
      for (const lead of ['1', '9', '5']) {
        const number = lead + '0123456789876543'.slice(0, digits - 1);
        for (let pad = 0; pad < 4; pad++) {
          for (const after of ['}', ', "ip.protocol": 6}', ' }']) {
            const text = `{${'"dvc": "x", '.repeat(pad & 1)}"tcp.seq"${' '.repeat(pad >> 1)}: ${number}${after}`;
            expectSameOutcome(text, digits <= 15);
            if (digits <= 15) expect(read(text)?.[SEQ], text).toBe(Number(number));
            for (const tail of ['.5', 'e3', 'E3', '0'.repeat(16 - digits) + '1']) expectSameOutcome(`{"tcp.seq": ${number}${tail}}`, false);
          }
        }
      }
    }
    // A line cut after its digits, at the end of the bytes: no word is read past them.
    for (let digits = 1; digits <= 9; digits++) {
      const cut = Buffer.from(`{"tcp.seq": ${'123456789'.slice(0, digits)}`);
      expect(new LineScanner().scan(cut, 0, cut.length, newFields())).toBe(false);
    }
    // A word that is not all digits, each of its bytes in turn the one that is not: no JSON.
    for (let at = 0; at < 4; at++) {
      for (const other of [':', '/', '@', 'a', ' ', ',', '}', '\x7f']) {
        const word = '1234'.split('');
        word[at] = other;
        expectSameOutcome(`{"tcp.seq": 9${word.join('')}5}`, false);
      }
    }
  });

  it('refuses a control, DEL, quote or backslash byte wherever it stands in a string, and reads any other, as JSON.parse does', () => {
    // Strings are checked four bytes at a time: each place within a word and the bytes after the last word.
    // Bytes of 0x80 and over alone are no valid UTF-8: JSON.parse's text has U+FFFD there, and so has the scanner's string.
    const refused = [0x00, 0x1f, 0x7f, 0x22, 0x5c];
    const accepted = [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7e, 0x80, 0x9f, 0xa0, 0xc3, 0xdc, 0xff];
    for (let length = 1; length <= 9; length++) {
      for (let at = 0; at < length; at++) {
        for (const byte of [...refused, ...accepted]) {
          const value = Buffer.alloc(length, 0x61);
          value[at] = byte;
          const line = Buffer.concat([Buffer.from('{"src_ip": "198.51.100.7", "oob.prefix": "'), value, Buffer.from('", "oob.time.sec": 1795986323, "ip.protocol": 6}')]);
          expect(scanned(line), `${length} ${at} ${byte}`).toBe(accepted.includes(byte));
          expect(viaBytes(line), `${length} ${at} ${byte}`).toEqual(viaJson(line));
        }
      }
    }
  });

  it('reads a string in UTF-8 (a log prefix in the admin\'s language) as JSON.parse reads the line\'s text, each time it comes', () => {
    const scanner = new LineScanner();
    const prefixAt = FIELD_NAMES.indexOf('oob.prefix');
    const line = (prefix: string | Buffer): Buffer =>
      Buffer.concat([Buffer.from('{"oob.prefix": "'), Buffer.from(prefix), Buffer.from('", "src_ip": "198.51.100.7", "oob.time.sec": 1795986323, "ip.protocol": 6}')]);
    const prefixes: Array<string | Buffer> = [
      'Rejeté : ',
      'Отброшено',
      '遮断 SSH',
      '🔥 drop',
      // Longer than the bytes a last string or a table slot keeps: compared another way.
      'Paquet rejeté par la règle de filtrage numéro quarante-deux, chaîne INPUT ',
      // The same characters from other bytes: a lone byte and a sequence cut short read as U+FFFD.
      Buffer.from([0x52, 0xe9, 0x20]),
      Buffer.from([0x52, 0xc3, 0x20]),
      Buffer.from([0x52, 0xc3]),
      Buffer.from([0xa9, 0x52]),
      Buffer.from('Rejeté : '),
      Buffer.from(Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? 0xc3 : 0xe9))),
      Buffer.from(Array.from({ length: 40 }, () => [0xc3, 0xa9]).flat()),
    ];
    // Twice over, so each is read as the key's last string, from its table and made anew.
    for (const prefix of [...prefixes, ...prefixes]) {
      const bytes = line(prefix);
      const { chunk, from, to } = inChunk(bytes);
      const fields = newFields();
      expect(scanner.scan(chunk, from, to, fields), String(prefix)).toBe(true);
      expect(fields[prefixAt]).toBe((JSON.parse(bytes.toString('utf8')) as Record<string, unknown>)['oob.prefix']);
      expect(viaBytes(bytes), String(prefix)).toEqual(viaJson(bytes));
    }
  });

  it('predicts keys of every length from the line before, and misses them exactly when they differ', () => {
    const read = readsWith(new LineScanner());
    for (let length = 0; length <= 13; length++) {
      const key = 'k'.repeat(length);
      const text = `{"${key}": 1, "src_ip": "198.51.100.7", "oob.time.sec": 1795986323}`;
      const first = read(text);
      expect(first).not.toBeNull();
      // The same line again is read through the predictions; the same keys spelled otherwise or spaced otherwise are not confused with them.
      expect(read(text)).toEqual(first);
      for (const other of [`{"${key}x": 1, "src_ip": "198.51.100.7", "oob.time.sec": 1795986323}`, `{"${key}" : 1, "src_ip":"198.51.100.7","oob.time.sec" :1795986323}`, `{"${key}": 1, "src_ip": "198.51.100.7", "oob.time.usec": 5, "oob.time.sec": 1795986323}`]) {
        const fields = read(other);
        expect(fields, other).not.toBeNull();
        expect(viaBytes(Buffer.from(other)), other).toEqual(viaJson(Buffer.from(other)));
      }
      if (length > 0) expect(read(`{"${key.slice(1)}": 1, "src_ip": "198.51.100.7", "oob.time.sec": 1795986323}`)).toEqual(first);
    }
  });

  it('takes no key for the predicted one when a single byte differs, wherever it stands in the words compared', () => {
    // Keys spanning fewer than 8 bytes with their `": ` are compared 4 bytes at a time, longer ones 8.
    for (const key of ['dvc', 'action', 'src_ip', 'ip.ttl', 'oob.prefix', 'oob.time.sec', 'icmpv6.type', 'ip6.payloadlen']) {
      const read = readsWith(new LineScanner());
      const line = (name: string): string => `{"raw.pktlen": 40, "${name}": 7, "dest_port": 22}`;
      const predicted = read(line(key));
      expect(predicted, key).not.toBeNull();
      for (let at = 0; at < key.length; at++) {
        const other = key.slice(0, at) + (key[at] === 'x' ? 'y' : 'x') + key.slice(at + 1);
        // Read right after the line that taught the prediction, then the prediction is taught again.
        expect(read(line(other)), other).not.toEqual(predicted);
        expect(viaBytes(Buffer.from(line(other))), other).toEqual(viaJson(Buffer.from(line(other))));
        expect(read(line(key)), key).toEqual(predicted);
      }
    }
  });

  it('reads every address and string right whether it was seen before, shares a table slot with another, or comes in a flood of new ones', () => {
    const rng = new Rng(7);
    const few = Array.from({ length: 64 }, (_, i) => `198.51.${i >> 4}.${i & 15}`);
    // Prefixes: more than a string key's table holds, so slots are shared and taken over.
    const prefixes = Array.from({ length: 600 }, (_, i) => `DROP-${i}`);
    // A few addresses again and again; 20,000 new ones (the table then stands aside); the few again.
    const phases = [() => few[rng.int(0, few.length - 1)]!, (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, () => few[rng.int(0, few.length - 1)]!];
    for (const next of phases) {
      for (let i = 0; i < 20_000; i++) {
        const src = next(i);
        const dst = `203.0.113.${i % 3}`;
        const prefix = i % 7 === 0 ? `NEW-${i}` : prefixes[rng.int(0, i % 2 === 0 ? 3 : prefixes.length - 1)]!;
        const event = viaBytes(Buffer.from(`{"src_ip": "${src}", "dest_ip": "${dst}", "oob.prefix": "${prefix}", "oob.time.sec": 1795986323}`));
        expect(event.kind === 'packet' && [event.srcIp, event.dstIp, event.prefix]).toEqual([src, dst, prefix]);
      }
    }
  });

  it('leaves a line whose address is not address text to JSON.parse, every time it comes, so the decoder refuses it as before', () => {
    const line = (src: string): Buffer => Buffer.from(`{"src_ip": "${src}", "dest_ip": "203.0.113.1", "oob.prefix": "X", "oob.time.sec": 1795986323}`);
    const scanner = new LineScanner();
    const scan = (bytes: Buffer): boolean => scanner.scan(bytes, 0, bytes.length, newFields());
    const bad = ['198.51.100.7 ', 'fe80::1%eth0', '<img src=x>', 'a:'.repeat(22) + 'ab'];
    // Before and after the address table knows good addresses, and while it stands aside for a flood of new ones.
    for (let round = 0; round < 2; round++) {
      for (const src of bad) {
        expect(scan(line(src)), src).toBe(false);
        expect(viaBytes(line(src)), src).toMatchObject({ kind: 'error', reason: 'out_of_range' });
      }
      for (let i = 0; i < 20_000; i++) expect(scan(line(`10.1.${(i >> 8) & 255}.${i & 255}`))).toBe(true);
    }
    expect(scan(line('2001:DB8::1'))).toBe(true);
  });

  it('keeps no key of the line before in the fields it fills again, whoever filled them last', () => {
    const tcp = '{"oob.prefix": "SSH", "ip.protocol": 6, "src_port": 40000, "dest_port": 22, "tcp.syn": 1, "tcp.window": 16384, "src_ip": "198.51.100.7", "oob.time.sec": 1795986323}';
    const udp = '{"oob.prefix": "DNS", "ip.protocol": 17, "src_port": 53, "dest_port": 5353, "src_ip": "198.51.100.8", "oob.time.sec": 1795986324}';
    const refused = '{"oob.prefix": "A\\u0042", "ip.protocol": 6, "tcp.fin": 1, "tcp.ack": 1, "icmp.type": 8, "src_ip": "198.51.100.9", "oob.time.sec": 1795986325}';
    // The fields a scanner of its own reads from the line alone.
    const alone = (text: string): unknown[] | null => readsWith(new LineScanner())(text);
    const scanner = new LineScanner();
    const fields = newFields();
    const scan = (text: string): boolean => {
      const { chunk, from, to } = inChunk(Buffer.from(text));
      return scanner.scan(chunk, from, to, fields);
    };
    // A line of another kind after it: the first line's TCP keys are gone.
    expect(scan(tcp)).toBe(true);
    expect(scan(udp)).toBe(true);
    expect(fields).toEqual(alone(udp));
    // After a line it refused (fields partly written) and after fields it did not write itself.
    expect(scan(refused)).toBe(false);
    expect(scan(udp)).toBe(true);
    expect(fields).toEqual(alone(udp));
    fields.fill(7);
    scanner.disown(fields);
    expect(scan(udp)).toBe(true);
    expect(fields).toEqual(alone(udp));
    // Through the decoder: a line JSON.parse read (it has keys the next line has not), then one the scanner reads.
    const udpEvent = viaJson(Buffer.from(udp));
    expect(viaBytes(Buffer.from(udp))).toEqual(udpEvent);
    expect(viaJson(Buffer.from(refused)).kind).toBe('packet');
    expect(viaBytes(Buffer.from(udp))).toEqual(udpEvent);
  });

  it('predicts the keys of lines of kinds that interleave, each line read as JSON.parse reads it', () => {
    const scanner = new LineScanner();
    const byName = vi.spyOn(scanner as unknown as { identify: (...args: unknown[]) => number }, 'identify');
    const kinds = [
      '{"oob.prefix": "SSH", "ip.protocol": 6, "src_port": 40000, "dest_port": 22, "tcp.syn": 1, "src_ip": "198.51.100.7", "oob.time.sec": 1795986323}',
      '{"oob.prefix": "DNS", "ip.protocol": 17, "src_port": 53, "dest_port": 5353, "src_ip": "198.51.100.8", "oob.time.sec": 1795986324}',
      '{"oob.prefix": "FIN", "ip.protocol": 6, "src_port": 40001, "dest_port": 80, "tcp.fin": 1, "src_ip": "198.51.100.9", "oob.time.sec": 1795986325}',
    ];
    const read = (text: string): unknown[] => {
      const { chunk, from, to } = inChunk(Buffer.from(text));
      const fields = newFields();
      expect(scanner.scan(chunk, from, to, fields), text).toBe(true);
      return fields;
    };
    // Each kind once: its keys are learned; then the two kinds of the turn below once each.
    for (const line of [...kinds, kinds[0]!, kinds[1]!]) read(line);
    const learned = byName.mock.calls.length;
    // Two kinds in turn part after the same key ("dest_port"), and are read without a lookup by name.
    for (let i = 0; i < 50; i++) for (const line of [kinds[0]!, kinds[1]!]) expect(read(line)).toEqual(read(line));
    expect(byName.mock.calls.length).toBe(learned);
    // A third kind parting there too costs lookups, and every line is still read right.
    for (let i = 0; i < 20; i++) for (const line of kinds) expect(viaBytes(Buffer.from(line))).toEqual(viaJson(Buffer.from(line)));
    for (let i = 0; i < 20; i++) for (const line of kinds) read(line);
    expect(byName.mock.calls.length).toBeGreaterThan(learned);
  });

  it('predicts the keys of compact JSON (as `jq -c` writes it) as it predicts ulogd\'s, after either spacing, and reads both as JSON.parse does', () => {
    const scanner = new LineScanner();
    const byName = vi.spyOn(scanner as unknown as { identify: (...args: unknown[]) => number }, 'identify');
    const read = readsWith(scanner);
    // Every real line, as ulogd spaced it and compacted; keys of every length, the empty one too.
    const spacedLines = [...REAL_LINES.slice(0, 40), ...['', 'k', 'kk', 'kkkkk', 'kkkkkk', 'kkkkkkkkkkkkk'].map((key) => `{"${key}": 1, "src_ip": "198.51.100.7", "oob.time.sec": 1795986323}`)];
    const compact = (text: string): string => JSON.stringify(JSON.parse(text));
    for (const line of spacedLines) {
      expect(compact(line)).not.toContain('": ');
      for (const style of [compact, (text: string) => text, compact]) {
        const text = style(line);
        const fields = read(text);
        expect(fields, text).not.toBeNull();
        expect(viaBytes(Buffer.from(text)), text).toEqual(viaJson(Buffer.from(text)));
        // The same line again: every key predicted, none looked up by name.
        const before = byName.mock.calls.length;
        expect(read(text), text).toEqual(fields);
        expect(byName.mock.calls.length, text).toBe(before);
      }
      // Compact and spaced, the same fields.
      expect(read(compact(line))).toEqual(read(line));
    }
  });

  it('agrees with JSON.parse on 20,000 seeded mutations of real lines', () => {
    const rng = new Rng(15);
    const pick = <T>(items: readonly T[]): T => items[rng.int(0, items.length - 1)]!;
    // Bytes at JSON's edges: structure, escapes, number parts, controls, UTF-8 and invalid bytes.
    const edgeBytes = [0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, 0x09, 0x0d, 0x00, 0x1f, 0x7f, 0x2d, 0x2e, 0x65, 0x45, 0x2b, 0x30, 0x39, 0x74, 0x6e, 0xc3, 0xa9, 0xff, 0x80];
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const original = Buffer.from(pick(REAL_LINES));
      let line: Buffer;
      const at = rng.int(0, original.length - 1);
      switch (rng.int(0, 5)) {
        case 0: // one byte replaced
          line = Buffer.from(original);
          line[at] = pick(edgeBytes);
          break;
        case 1: // one byte removed
          line = Buffer.concat([original.subarray(0, at), original.subarray(at + 1)]);
          break;
        case 2: // one byte inserted
          line = Buffer.concat([original.subarray(0, at), Buffer.of(pick(edgeBytes)), original.subarray(at)]);
          break;
        case 3: // cut short
          line = original.subarray(0, at);
          break;
        case 4: { // a key-value pair repeated (JSON keeps the last)
          const text = original.toString('utf8');
          const pairs = text.slice(1, -1).split(', ');
          const i = rng.int(0, pairs.length - 1);
          const repeated = pairs[i]!.replace(/: .*/, `: ${pick(['0', '1', '"x"', '65535', '4294967296', 'null', '"198.51.100.9"'])}`);
          pairs.splice(rng.int(0, pairs.length), 0, repeated);
          line = Buffer.from(`{${pairs.join(', ')}}`);
          break;
        }
        default: { // a value replaced by another JSON value
          const text = original.toString('utf8');
          const pairs = text.slice(1, -1).split(', ');
          const i = rng.int(0, pairs.length - 1);
          pairs[i] = pairs[i]!.replace(/: .*/, `: ${pick(['-1', '1.5', '1e3', '256', '65536', '1e308', '9007199254740993', 'true', 'false', 'null', '[]', '{}', '""', '"a\\u0000b"', '"é"', `"${'x'.repeat(300)}"`, '"2100-01-01T00:00:00"', '4102444800', '0'])}`);
          line = Buffer.from(`{${pairs.join(', ')}}`);
        }
      }
      if (scanned(line)) accepted++;
      expect(viaBytes(line), line.toString('latin1')).toEqual(viaJson(line));
    }
    // Both paths were exercised: the scanner took some mutated lines itself and refused others.
    expect(accepted).toBeGreaterThan(2_000);
    expect(accepted).toBeLessThan(20_000);
  });
});
