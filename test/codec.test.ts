// Cross-engine codec tests: the component, the native engine (zstd-napi +
// lz4-napi) and the reference `zstd` / `lz4` command-line tools all read each
// other's bytes, on the shared corpus in test/corpus/codec (see MANIFEST.md).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCodec, type EdgeCodec, xxh32 } from '../host/src/codec/index.js';
import { CoreError, loadCore, type EdgeCore } from '../host/src/core/index.js';
import { ROOT } from './helpers/processes.js';
import { messages, rng } from '../bench/codec/mcp-corpus.mjs';

const CORPUS = join(ROOT, 'test/corpus/codec');
const corpus = (name: string) => new Uint8Array(readFileSync(join(CORPUS, name)));
const MAX = 64 << 20;
let core: EdgeCore;
let component: EdgeCodec;
let native: EdgeCodec;
let tmp: string;

function noise(n: number, seed: number): Uint8Array {
  const next = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
}

const INPUTS: Record<string, () => Uint8Array> = {
  empty: () => new Uint8Array(),
  'one byte': () => new Uint8Array([42]),
  'mcp 1 KB': () => corpus('message.json'),
  'mcp traffic 159 KB': () => corpus('traffic.jsonl'),
  'noise 64 KB': () => noise(65536, 9),
  'zeros 1 MB': () => new Uint8Array(1 << 20),
};

/** Runs a reference CLI tool with stdin, returning stdout. */
function cli(tool: 'zstd' | 'lz4', args: string[], input: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync(tool, [...args, '-q', '-c'], { input, maxBuffer: 1 << 28, timeout: 20_000 }));
}

/** Byte equality without vitest's element-wise diff (slow on megabytes). */
function expectBytes(actual: Uint8Array, expected: Uint8Array, label?: string): void {
  expect(actual.length, label).toBe(expected.length);
  expect(Buffer.compare(actual, expected), label).toBe(0);
}

/** The standard zstd/lz4 stream after a frame's header (v1 or v2). */
const payload = (frame: Uint8Array) => frame.subarray(component.inspect(frame).headerLength);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CoreError) return err.code;
    throw err;
  }
  return 'no error';
}

beforeAll(async () => {
  core = await loadCore();
  component = await createCodec({ engine: 'component', core });
  native = await createCodec({ engine: 'native', core });
  tmp = mkdtempSync(join(tmpdir(), 'codec-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('frame format is one format', () => {
  it('TypeScript xxh32 equals the core checksum', () => {
    for (const n of [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 100, 1000, 65537]) {
      const data = noise(n, n);
      expect(xxh32(data), `length ${n}`).toBe(core.codec.checksum(data));
    }
  });

  it('stored and zstd frames are byte-identical across engines; lz4 headers differ only in the checksum', () => {
    const data = corpus('message.json');
    expectBytes(native.pack(data, { algorithm: 'stored' }), component.pack(data, { algorithm: 'stored' }));
    // The C zstd library writes the same payload in both engines, so the payload checksum matches too.
    expectBytes(native.pack(data, { algorithm: 'zstd' }), component.pack(data, { algorithm: 'zstd' }));
    for (const algorithm of ['zstd', 'lz4'] as const) {
      const a = native.pack(data, { algorithm });
      const b = component.pack(data, { algorithm });
      const h = native.inspect(a);
      expect(h.version).toBe(2);
      // Version 2's checksum covers the payload; the two lz4 encoders write different payloads (next test).
      expect(h.checksum).toBe(xxh32(a.subarray(h.headerLength)));
      expect(component.inspect(b).checksum).toBe(xxh32(b.subarray(h.headerLength)));
      expect({ ...h, checksum: 0 }).toEqual({ ...component.inspect(b), checksum: 0 });
      // The component's own reader agrees with the TypeScript one.
      expect(core.codec.inspect(a).headerLength).toBe(h.headerLength);
    }
  });

  it('lz4 payloads differ in their LZ4 frame settings, as the README says', () => {
    /** The settings in an lz4 payload's frame descriptor (FLG and BD bytes). */
    const settings = (frame: Uint8Array) => {
      const [flg, bd] = [payload(frame)[4]!, payload(frame)[5]!];
      return { independentBlocks: (flg & 0x20) !== 0, contentSize: (flg & 0x08) !== 0, contentChecksum: (flg & 0x04) !== 0, maxBlock: 1 << (8 + 2 * ((bd >> 4) & 7)) };
    };
    const traffic = corpus('traffic.jsonl'); // 159 KB: more than one 64 KB block
    expect(settings(component.pack(traffic, { algorithm: 'lz4' }))).toEqual({ independentBlocks: false, contentSize: true, contentChecksum: false, maxBlock: 64 << 10 });
    // lz4-napi sizes its blocks to the input: the smallest of 64 KB, 256 KB, 1 MB and 4 MB that holds it.
    expect(settings(native.pack(traffic, { algorithm: 'lz4' }))).toEqual({ independentBlocks: true, contentSize: false, contentChecksum: false, maxBlock: 256 << 10 });
    expect(settings(native.pack(corpus('message.json'), { algorithm: 'lz4' })).maxBlock).toBe(64 << 10);
  });
});

describe('header readers agree', () => {
  /** What a reader made of the bytes: its error code, or the fields it read. */
  function readWith(read: () => { originalLength: number | bigint; checksum: number; dictionaryId?: number; headerLength: number }): string {
    try {
      const h = read();
      return JSON.stringify([String(h.originalLength), h.checksum, h.dictionaryId ?? null, h.headerLength]);
    } catch (err) {
      if (err instanceof CoreError) return err.code;
      throw err;
    }
  }

  it('TypeScript and Rust read random v1/v2 headers the same way (seeded)', () => {
    const seen = new Set<string>();
    const next = rng(2026);
    const byte = () => Math.floor(next() * 256);
    for (let i = 0; i < 3000; i++) {
      const version = [1, 2, 2, 3][Math.floor(next() * 4)]!;
      // Small LEB128 bytes often end the length early, so every field gets reached.
      const tail = Array.from({ length: Math.floor(next() * 26) }, () => (next() < 0.5 ? byte() & 0x7f : byte()));
      const frame = new Uint8Array([0x4d, 0x45, 0x44, 0x47, version, next() < 0.7 ? [0x00, 0x01, 0x02, 0x11][Math.floor(next() * 4)]! : byte(), ...tail]);
      const rust = readWith(() => core.codec.inspect(frame));
      seen.add(rust.startsWith('[') ? 'read' : rust);
      const ts = readWith(() => component.inspect(frame));
      const declared = rust.startsWith('[') ? BigInt(JSON.parse(rust)[0]) : 0n;
      // The TypeScript facade caps lengths at Number.MAX_SAFE_INTEGER; the core takes any u64.
      expect(ts, `frame ${Buffer.from(frame).toString('hex')}`).toBe(declared > BigInt(Number.MAX_SAFE_INTEGER) ? 'too-large' : rust);
    }
    // The inputs reach every outcome, not just the first check.
    expect([...seen].sort()).toEqual(['corrupt', 'read', 'truncated', 'unknown-algorithm', 'unsupported-version']);
  });
});

describe.each(['zstd', 'lz4'] as const)('%s across engines and CLI tools', (algorithm) => {
  it.each(Object.keys(INPUTS))('%s: component <-> native <-> CLI', (name) => {
    const data = INPUTS[name]!();
    const opts = { maxOutput: Math.max(data.length, 1) };
    const fromComponent = component.pack(data, { algorithm, level: 3 });
    const fromNative = native.pack(data, { algorithm, level: 3 });
    // zstd: both engines run the same reference C library with the same parameters (lz4: see above).
    if (algorithm === 'zstd') expectBytes(fromNative, fromComponent, 'zstd frames are the same bytes');
    expectBytes(native.unpack(fromComponent, { maxOutput: MAX }), data);
    expectBytes(component.unpack(fromNative, opts), data);
    // The payload after the header is a standard stream the tools read...
    expectBytes(cli(algorithm, ['-d'], payload(fromComponent)), data);
    expectBytes(cli(algorithm, ['-d'], payload(fromNative)), data);
    // ...and what the tools write, both engines read.
    const fromCli = cli(algorithm, algorithm === 'zstd' ? ['-19'] : ['-9'], data);
    expectBytes(component.decodeRaw(algorithm, fromCli, opts), data);
    expectBytes(native.decodeRaw(algorithm, fromCli, { maxOutput: MAX }), data);
  });

  it('refuses output above maxOutput, on both engines', () => {
    const data = new Uint8Array(100_000).fill(7);
    for (const engine of [component, native]) {
      const frame = engine.pack(data, { algorithm });
      expect(codeOf(() => engine.unpack(frame, { maxOutput: 99_999 }))).toBe('too-large');
      expect(codeOf(() => component.decodeRaw(algorithm, payload(frame), { maxOutput: 99_999 }))).toBe('too-large');
    }
  });

  it('gives the same typed error on truncated and corrupted frames', () => {
    const frame = component.pack(corpus('traffic.jsonl'), { algorithm });
    for (const cut of [0, 5, 10, 11, 12, 13, 14, 19, 20, 21, 100, frame.length - 5, frame.length - 1]) {
      const c = codeOf(() => component.unpack(frame.subarray(0, cut), { maxOutput: MAX }));
      expect(c, `cut ${cut}`).not.toBe('no error');
      expect(codeOf(() => native.unpack(frame.subarray(0, cut), { maxOutput: MAX })), `cut ${cut}`).toBe(c);
    }
    const bad = frame.slice();
    bad[bad.length >> 1]! ^= 0xff;
    expect(codeOf(() => component.unpack(bad, { maxOutput: MAX }))).toBe('corrupt');
    expect(codeOf(() => native.unpack(bad, { maxOutput: MAX }))).toBe('corrupt');
  });
});

describe('dictionaries', () => {
  const samples: Uint8Array[] = messages(11, 400, 1024);
  const probe: Uint8Array[] = messages(99, 50, 1024);

  it('train once, pack on either engine, unpack on the other and with `zstd -D`', () => {
    const dict = component.trainDictionary(samples, 16 * 1024);
    expect(dict.id).toBeGreaterThan(0);
    const dictPath = join(tmp, 'trained.dict');
    writeFileSync(dictPath, dict.bytes);
    for (const msg of probe.slice(0, 10)) {
      const a = component.pack(msg, { algorithm: 'zstd', dictionary: dict });
      const b = native.pack(msg, { algorithm: 'zstd', dictionary: dict });
      expect(component.inspect(a).dictionaryId).toBe(dict.id);
      expectBytes(native.unpack(a, { maxOutput: MAX, dictionary: dict }), msg);
      expectBytes(component.unpack(b, { maxOutput: MAX, dictionary: dict }), msg);
      expectBytes(cli('zstd', ['-d', '-D', dictPath], payload(a)), msg);
    }
  });

  it('packs 1 KB MCP messages smaller than without a dictionary', () => {
    const dict = component.trainDictionary(samples, 16 * 1024);
    const size = (f: (m: Uint8Array) => Uint8Array) => probe.reduce((n, m) => n + f(m).length, 0);
    const plain = size((m) => component.pack(m, { algorithm: 'zstd' }));
    const withDict = size((m) => component.pack(m, { algorithm: 'zstd', dictionary: dict }));
    // The bench (bench/codec) reports the exact ratio; here: clearly better.
    expect(plain / withDict).toBeGreaterThan(1.5);
  });

  it('needs the right dictionary, with the same codes on both engines', () => {
    const dict = component.trainDictionary(samples, 8 * 1024);
    const other = component.trainDictionary(messages(3, 300, 600), 4 * 1024);
    const frame = native.pack(probe[0]!, { algorithm: 'zstd', dictionary: dict });
    for (const engine of [component, native]) {
      expect(codeOf(() => engine.unpack(frame, { maxOutput: MAX }))).toBe('dictionary-required');
      expect(codeOf(() => engine.unpack(frame, { maxOutput: MAX, dictionary: other }))).toBe('dictionary-mismatch');
      expect(codeOf(() => engine.pack(probe[0]!, { algorithm: 'lz4', dictionary: dict }))).toBe('dictionary-unsupported');
    }
    expect(codeOf(() => component.loadDictionary(new Uint8Array(64)))).toBe('dictionary-invalid');
  });

  it('reads a dictionary made by `zstd --train` and what the CLI packed with it', () => {
    const dict = component.loadDictionary(corpus('cli.dict'));
    const raw = corpus('message.json.dict.zst');
    expectBytes(component.decodeRaw('zstd', raw, { maxOutput: MAX, dictionary: dict }), corpus('message.json'));
    expectBytes(native.decodeRaw('zstd', raw, { maxOutput: MAX, dictionary: dict }), corpus('message.json'));
    for (const name of ['message.json.dict.medg', 'message.json.dict.v2.medg']) {
      for (const engine of [component, native]) expectBytes(engine.unpack(corpus(name), { maxOutput: MAX, dictionary: dict }), corpus('message.json'), name);
    }
    // Both engines write the golden dictionary frame byte for byte (no dictionary id inside the zstd frame).
    for (const engine of [component, native]) {
      expectBytes(engine.pack(corpus('message.json'), { algorithm: 'zstd', level: 3, dictionary: dict }), corpus('message.json.dict.v2.medg'));
    }
  });
});

describe('shared corpus', () => {
  it('golden frames and CLI streams decode on both engines', () => {
    const traffic = corpus('traffic.jsonl');
    for (const engine of [component, native]) {
      // Version 1 frames (written before the compact header) and version 2 frames.
      for (const name of ['traffic.jsonl.zstd.medg', 'traffic.jsonl.lz4.medg', 'traffic.jsonl.zstd.v2.medg', 'traffic.jsonl.lz4.v2.medg']) {
        expectBytes(engine.unpack(corpus(name), { maxOutput: MAX }), traffic, name);
      }
      expect(engine.inspect(corpus('traffic.jsonl.zstd.medg')).version).toBe(1);
      expect(engine.inspect(corpus('traffic.jsonl.zstd.v2.medg')).version).toBe(2);
      expectBytes(engine.decodeRaw('zstd', corpus('traffic-2frames.zst'), { maxOutput: MAX }), traffic);
      expectBytes(engine.decodeRaw('lz4', corpus('traffic.jsonl.lz4'), { maxOutput: MAX }), traffic);
      expectBytes(engine.decodeRaw('zstd', corpus('empty.zst'), { maxOutput: MAX }), new Uint8Array());
    }
    // The component writes the golden zstd frame byte for byte (the Rust tests pin the same).
    expectBytes(component.pack(traffic, { algorithm: 'zstd', level: 3 }), corpus('traffic.jsonl.zstd.v2.medg'));
    expectBytes(native.pack(traffic, { algorithm: 'zstd', level: 3 }), corpus('traffic.jsonl.zstd.v2.medg'));
  });

  it('decoder regressions give typed errors in the component, never a trap', () => {
    const dict = component.trainDictionary(
      Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"t${i % 13}"}}`)),
      4096,
    );
    const files = readdirSync(join(CORPUS, 'regressions')).filter((f) => f.endsWith('.bin'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const bytes = corpus(`regressions/${file}`);
      const input = bytes.subarray(1);
      const o = { maxOutput: 4 << 20 };
      const run = [
        () => component.unpack(input, o),
        () => component.unpack(input, { ...o, dictionary: dict }),
        () => component.decodeRaw('zstd', input, o),
        () => component.decodeRaw('zstd', input, { ...o, dictionary: dict }),
        () => component.decodeRaw('lz4', input, o),
        () => component.loadDictionary(input),
      ][bytes[0]! % 6]!;
      expect(codeOf(run), file).not.toBe('no error');
    }
  });
});
