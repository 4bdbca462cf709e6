/**
 * Shared pieces of the fuzz suites: the run parameters (FUZZ_SEED, FUZZ_RUNS), the seed corpus, mutators that
 * edit a seed (text, bytes, structured values) and a check that a parser throws only its documented error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

/** Seed of every property (FUZZ_SEED); fixed by default so a run is repeatable. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_260_513);
const RUNS = process.env.FUZZ_RUNS === undefined ? undefined : Number(process.env.FUZZ_RUNS);
if (!Number.isSafeInteger(FUZZ_SEED)) throw new RangeError(`FUZZ_SEED must be an integer, got ${FUZZ_SEED}`);
if (RUNS !== undefined && !(Number.isSafeInteger(RUNS) && RUNS > 0)) {
  throw new RangeError(`FUZZ_RUNS must be a positive integer, got ${process.env.FUZZ_RUNS}`);
}

/** fast-check parameters: FUZZ_RUNS (when set) replaces each property's default run count. */
export function params(defaultRuns: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: RUNS ?? defaultRuns };
}

const CORPUS = join(import.meta.dirname, 'corpus');
/** A seed file's bytes. */
export const corpusBytes = (name: string): Buffer => readFileSync(join(CORPUS, name));
/** A seed file's text. */
export const corpusText = (name: string): string => readFileSync(join(CORPUS, name), 'utf8');

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `fn`; an error that is not one of `allowed` (a TypeError from reading a property of undefined, a
 * RangeError from a bad regex or stack overflow, ...) is rethrown as a crash naming the input.
 */
export function onlyThrows<T>(fn: () => T, allowed: readonly ErrorClass[], input: unknown): T | Error {
  try {
    return fn();
  } catch (err) {
    if (allowed.some((c) => err instanceof c)) return err as Error;
    throw new Error(`crash (${(err as Error)?.name}: ${(err as Error)?.message}) on ${show(input)}`, {
      cause: err,
    });
  }
}

/** Async {@link onlyThrows}. */
export async function onlyRejects<T>(
  fn: () => Promise<T>,
  allowed: readonly ErrorClass[],
  input: unknown,
): Promise<T | Error> {
  try {
    return await fn();
  } catch (err) {
    if (allowed.some((c) => err instanceof c)) return err as Error;
    throw new Error(`crash (${(err as Error)?.name}: ${(err as Error)?.message}) on ${show(input)}`, {
      cause: err,
    });
  }
}

/** A short printable form of an input for failure messages. */
export function show(v: unknown): string {
  const s =
    typeof v === 'string'
      ? JSON.stringify(v)
      : v instanceof Uint8Array
        ? `bytes ${Buffer.from(v).toString('hex')}`
        : fc.stringify(v);
  return s.length > 600 ? `${s.slice(0, 600)}...` : s;
}

// ---- text ------------------------------------------------------------------------------------------------

/** Fragments that tend to break text parsers (YAML, CSV, SDP, URLs). */
const TEXT_TOKENS = [
  '\u0000',
  '\uD800',
  '\uFEFF',
  '\r',
  '\n',
  '\r\n',
  '\t',
  ' ',
  ',',
  ':',
  ': ',
  '- ',
  '#',
  '{',
  '}',
  '[',
  ']',
  '"',
  "'",
  '\\',
  '${',
  '\u0024{X}',
  '\u0024{X:-d}',
  '$${',
  '&a ',
  '*a',
  '!!binary ',
  '!!js/function ',
  '<<: ',
  '? ',
  '|',
  '>',
  '---\n',
  '...\n',
  '%YAML 1.2\n',
  '0',
  '-0',
  '-1',
  '1e309',
  '-1e309',
  '1e-320',
  '2147483648',
  '4294967296',
  '9007199254740993',
  '99999999999999999999999',
  '0x1F',
  '0o17',
  '1_000',
  'NaN',
  '.nan',
  '.inf',
  '-.inf',
  'Infinity',
  '~',
  'null',
  'true',
  'no',
  '=',
  ';',
  '/',
  '//',
  '@',
  '%',
  '%00',
  '%zz',
  '?',
  '&',
  'é',
  '😀',
  '__proto__',
  'constructor',
  'a=',
  'm=video 0 RTP/AVP 96\r\n',
  'a=rtpmap:96 H264/90000\r\n',
  'a=rtpmap:99999999 H264/90000\r\n',
  'a=fmtp:96 ;;==;\r\n',
  'a=ssrc:4294967296 cname:x\r\n',
  'a=fingerprint:sha-256 ZZ\r\n',
  'a=recvonly\r\n',
  'm=',
  'v=0\r\n',
];

const textFragment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TEXT_TOKENS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('a'.repeat(5000), '9'.repeat(400), '['.repeat(2000), '{'.repeat(2000)),
  },
);

type TextEdit =
  | { op: 'delete'; at: number; len: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'replace'; at: number; len: number; text: string }
  | { op: 'dupLine'; line: number }
  | { op: 'dropLine'; line: number }
  | { op: 'swapLines'; line: number; other: number }
  | { op: 'truncate'; at: number };

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: textFragment }),
  fc.record({
    op: fc.constant('replace' as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 12 }),
    text: textFragment,
  }),
  fc.record({ op: fc.constant('dupLine' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('dropLine' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyTextEdit(s: string, e: TextEdit): string {
  const pos = (n: number) => n % (s.length + 1);
  const lines = () => s.split('\n');
  switch (e.op) {
    case 'delete':
      return s.slice(0, pos(e.at)) + s.slice(pos(e.at) + e.len);
    case 'insert':
      return s.slice(0, pos(e.at)) + e.text + s.slice(pos(e.at));
    case 'replace':
      return s.slice(0, pos(e.at)) + e.text + s.slice(pos(e.at) + e.len);
    case 'truncate':
      return s.slice(0, pos(e.at));
    case 'dupLine': {
      const l = lines();
      const i = e.line % l.length;
      l.splice(i, 0, l[i]!);
      return l.join('\n');
    }
    case 'dropLine': {
      const l = lines();
      l.splice(e.line % l.length, 1);
      return l.join('\n');
    }
    case 'swapLines': {
      const l = lines();
      const a = e.line % l.length;
      const b = e.other % l.length;
      [l[a], l[b]] = [l[b]!, l[a]!];
      return l.join('\n');
    }
  }
}

/** `seed` with 1..maxEdits random edits (deletes, inserts of tricky fragments, line shuffles, truncation). */
export function mutatedText(seed: string, maxEdits = 6): fc.Arbitrary<string> {
  return fc
    .array(textEdit, { minLength: 1, maxLength: maxEdits })
    .map((edits) => edits.reduce(applyTextEdit, seed));
}

// ---- bytes -----------------------------------------------------------------------------------------------

/** msgpack type bytes worth planting (length prefixes of str/bin/array/map 8/16/32, ext, never-used 0xc1). */
const BYTE_TOKENS = [
  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, 0xcb, 0xcf, 0xd3, 0xd4,
  0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
];

type ByteEdit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'truncate'; at: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...BYTE_TOKENS), fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 8 }),
      fc.constantFrom(...BYTE_TOKENS).map((b) => Uint8Array.of(b, 0xff, 0xff, 0xff, 0xff)),
    ),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyByteEdit(b: Uint8Array, e: ByteEdit): Uint8Array {
  const pos = (n: number, end = b.length) => (end === 0 ? 0 : n % end);
  switch (e.op) {
    case 'flip': {
      if (b.length === 0) return b;
      const out = b.slice();
      out[pos(e.at)]! ^= 1 << e.bit;
      return out;
    }
    case 'set': {
      if (b.length === 0) return b;
      const out = b.slice();
      out[pos(e.at)] = e.value;
      return out;
    }
    case 'insert': {
      const at = pos(e.at, b.length + 1);
      return Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
    }
    case 'delete': {
      const at = pos(e.at);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + e.len)]);
    }
    case 'truncate':
      return b.slice(0, pos(e.at, b.length + 1));
  }
}

/** `seed` with 1..maxEdits byte edits (bit flips, planted type bytes, inserts, deletes, truncation). */
export function mutatedBytes(seed: Uint8Array, maxEdits = 4): fc.Arbitrary<Uint8Array> {
  return fc
    .array(byteEdit, { minLength: 1, maxLength: maxEdits })
    .map((edits) => edits.reduce(applyByteEdit, new Uint8Array(seed)));
}

// ---- structured values -----------------------------------------------------------------------------------

/** An array nested `n` deep. */
function deep(n: number): unknown[] {
  let v: unknown[] = [];
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

/** Values that sit on the edges of what schemas and stores accept. */
export const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      false,
      0,
      -0,
      -1,
      0.5,
      1e-320,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 32,
      2 ** 53,
      2 ** 53 + 2,
      -(2 ** 63),
      3.5e38,
      -3.5e38,
      1e308,
      Number.MAX_VALUE,
      8_640_000_000_000_001,
      '',
      ' ',
      '\u0000',
      'a\u0000b',
      '\uD800',
      'x'.repeat(65),
      'x'.repeat(2049),
      'é😀',
      '-1',
      '1e309',
      '__proto__',
      '../../etc/passwd',
      'rtsp://u:p@h/x',
      [],
      {},
      deep(40),
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);

/** Key names worth adding to objects. */
const keyName = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', '', '\u0000', 'x', 'type', 't', 'id'),
  fc.string({ maxLength: 8 }),
);

type Path = (string | number)[];

/** Every path to an object or array inside `v` (the root is []). */
function containers(v: unknown, path: Path = [], out: Path[] = []): Path[] {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return out;
  out.push(path);
  for (const [k, child] of Object.entries(v))
    containers(child, [...path, Array.isArray(v) ? Number(k) : k], out);
  return out;
}

function at(v: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], v);
}

type ValueEdit =
  | { op: 'set'; pick: number; key: number; value: unknown }
  | { op: 'delete'; pick: number; key: number }
  | { op: 'add'; pick: number; name: string; value: unknown }
  | { op: 'wrap'; pick: number; key: number };

/**
 * `seed` (a plain JSON-like value; Uint8Array leaves allowed) with 1..maxEdits edits: a member replaced by an
 * edge value (or `extra`), deleted, an unknown key added, a member wrapped in an array.
 */
export function mutatedValue(
  seed: unknown,
  maxEdits = 3,
  extra: fc.Arbitrary<unknown> = edgeValue,
): fc.Arbitrary<unknown> {
  const value = fc.oneof(edgeValue, extra);
  const edit: fc.Arbitrary<ValueEdit> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ op: fc.constant('set' as const), pick: fc.nat(), key: fc.nat(), value }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat(), key: fc.nat() }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('add' as const), pick: fc.nat(), name: keyName, value }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('wrap' as const), pick: fc.nat(), key: fc.nat() }) },
  );
  return fc.array(edit, { minLength: 1, maxLength: maxEdits }).map((edits) => {
    let root = structuredClone(seed);
    for (const e of edits) {
      const paths = containers(root);
      if (paths.length === 0) {
        if (e.op === 'set') root = e.value;
        continue;
      }
      const target = at(root, paths[e.pick % paths.length]!) as Record<string, unknown> | unknown[];
      const keys = Object.keys(target);
      if (e.op === 'add') {
        if (Array.isArray(target)) target.push(e.value);
        else
          Object.defineProperty(target, e.name, {
            value: e.value,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        continue;
      }
      if (keys.length === 0) continue;
      const key = keys[e.key % keys.length]!;
      const obj = target as Record<string, unknown>;
      if (e.op === 'set') obj[key] = e.value;
      else if (e.op === 'wrap') obj[key] = [obj[key]];
      else if (Array.isArray(target)) target.splice(Number(key), 1);
      else delete obj[key];
    }
    return root;
  });
}
