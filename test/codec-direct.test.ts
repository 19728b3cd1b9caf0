// The codec's direct lane (host/src/core/direct.ts) against jco's bindings:
// the same bytes for every algorithm and level on the shared corpus, the same
// typed errors (an error always goes through jco), and no memory kept per call.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileFromDisk, loadCore, type EdgeCore } from '../host/src/core/index.js';
import { coreInstanceRecorder, DirectCodec } from '../host/src/core/direct.js';
import { instantiate } from '../host/src/core/generated/edge-core.js';
import { outcome } from './helpers/core-lanes.js';
import { ROOT } from './helpers/processes.js';

const corpus = (name: string) => new Uint8Array(readFileSync(join(ROOT, 'test/corpus/codec', name)));
let direct: EdgeCore;
let jco: EdgeCore;

beforeAll(async () => {
  [direct, jco] = await Promise.all([loadCore(), loadCore({ direct: false })]);
});


describe('codec direct lane', () => {
  it('is on by default and can be turned off', () => {
    expect([direct.codecLane, jco.codecLane]).toEqual(['direct', 'jco']);
  });

  const inputs = { empty: new Uint8Array(), message: corpus('message.json'), traffic: corpus('traffic.jsonl') };
  const options = [
    { algorithm: 'stored' as const },
    { algorithm: 'lz4' as const },
    { algorithm: 'zstd' as const },
    { algorithm: 'zstd' as const, level: -7 },
    { algorithm: 'zstd' as const, level: 19 },
  ];
  for (const [name, data] of Object.entries(inputs)) {
    it.each(options)(`packs and unpacks ${name} byte for byte like jco (%o)`, (o) => {
      const frame = direct.codec.pack(data, o);
      expect(Buffer.from(frame).equals(Buffer.from(jco.codec.pack(data, o)))).toBe(true);
      const back = direct.codec.unpack(frame, 64 << 20);
      expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
      expect(Buffer.from(back).equals(Buffer.from(jco.codec.unpack(frame, 64 << 20)))).toBe(true);
    });
  }

  it('gives the same typed errors as jco', () => {
    const frame = direct.codec.pack(inputs.message, { algorithm: 'zstd' });
    const corrupt = frame.slice();
    corrupt[corrupt.length - 5]! ^= 0xff;
    const cases: [string, (core: EdgeCore) => unknown][] = [
      ['bad level', (c) => c.codec.pack(inputs.message, { algorithm: 'zstd', level: 99 })],
      ['corrupt payload', (c) => c.codec.unpack(corrupt, 1 << 20)],
      ['truncated', (c) => c.codec.unpack(frame.subarray(0, 7), 1 << 20)],
      ['not a frame', (c) => c.codec.unpack(new TextEncoder().encode('{"jsonrpc":"2.0"}'), 1 << 20)],
      ['limit below the size', (c) => c.codec.unpack(frame, 10)],
      ['negative limit', (c) => c.codec.unpack(frame, -1)],
      ['fractional limit', (c) => c.codec.unpack(frame, 1.5)],
    ];
    for (const [what, call] of cases) {
      const viaDirect = outcome(() => call(direct));
      expect(viaDirect[0], what).not.toBe('ok');
      expect(viaDirect, what).toEqual(outcome(() => call(jco)));
    }
  });

  it('leaves a level jco must convert (2.5) to jco, with the same frame', () => {
    const viaDirect = direct.codec.pack(inputs.message, { algorithm: 'zstd', level: 2.5 });
    expect(Buffer.from(viaDirect).equals(Buffer.from(jco.codec.pack(inputs.message, { algorithm: 'zstd', level: 2.5 })))).toBe(true);
  });

  it('refuses a limit that is not a whole number of bytes, naming it', () => {
    const frame = direct.codec.pack(inputs.message, { algorithm: 'zstd' });
    expect(outcome(() => direct.codec.unpack(frame, -1))).toEqual(['invalid-limit', 'maxOutput must be a whole number of bytes, 0 or more (got -1).']);
  });

  it('keeps no memory per call: 20,000 unpacks of 64 KB (1.3 GB out) fit in the core', () => {
    const big = corpus('traffic.jsonl').subarray(0, 65536);
    const frame = direct.codec.pack(big, { algorithm: 'zstd' });
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 20_000; i++) expect(direct.codec.unpack(frame, 65536).length).toBe(65536);
    // Outputs left unfreed in the core would hold 1.3 GB of wasm memory.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 << 20);
    // A healthy core still answers after all of that.
    expect(Buffer.from(direct.codec.unpack(frame, 65536)).equals(Buffer.from(big))).toBe(true);
  });

  describe('on a dictionary', () => {
    const samples = Array.from({ length: 200 }, (_, i) =>
      new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: `tool_${i % 7}`, arguments: { path: `/srv/${i}` } } })),
    );
    const other = samples.map((m) => new TextEncoder().encode(new TextDecoder().decode(m).toUpperCase()));

    it('takes the direct lane, and jco where the lane is off', () => {
      expect(direct.codec.trainDictionary(samples, 4096).lane).toBe('direct');
      expect(jco.codec.trainDictionary(samples, 4096).lane).toBe('jco');
    });

    it('packs and unpacks byte for byte like jco, each dictionary with its own state', () => {
      const bytesA = direct.codec.trainDictionary(samples, 4096).toBytes();
      const bytesB = direct.codec.trainDictionary(other, 4096).toBytes();
      const [a, b] = [direct.codec.loadDictionary(bytesA), direct.codec.loadDictionary(bytesB)];
      const [ja, jb] = [jco.codec.loadDictionary(bytesA), jco.codec.loadDictionary(bytesB)];
      expect(a.id).not.toBe(b.id);
      for (const level of [undefined, 1, 19]) {
        const message = samples[3]!;
        const viaA = a.pack(message, level);
        const viaB = b.pack(message, level);
        // Two dictionaries give two different frames: the lane did not mix up their reps.
        expect(Buffer.from(viaA).equals(Buffer.from(viaB))).toBe(false);
        expect(Buffer.from(viaA).equals(Buffer.from(ja.pack(message, level)))).toBe(true);
        expect(Buffer.from(viaB).equals(Buffer.from(jb.pack(message, level)))).toBe(true);
        expect(Buffer.from(a.unpack(viaA, 1 << 20)).equals(Buffer.from(message))).toBe(true);
        expect(Buffer.from(b.unpack(viaB, 1 << 20)).equals(Buffer.from(message))).toBe(true);
      }
    });

    it('stays on jco when the rep it saw does not answer to the dictionary id', async () => {
      const recorder = coreInstanceRecorder();
      const root = await instantiate(compileFromDisk, {}, recorder.instantiateCore);
      const lane = DirectCodec.over(recorder.record());
      const raw = root.codec.Dictionary.train(samples, 4096);
      expect(lane?.dictionary(() => raw.id())).toBeDefined();
      // Same rep, but claimed for another id: what a changed jco could look like.
      expect(lane?.dictionary(() => raw.id() + 1)).toBeUndefined();
      // An id read that never reaches the core leaves no rep at all.
      expect(lane?.dictionary(() => 7)).toBeUndefined();
    });

    it('gives the same typed errors as jco', () => {
      const bytesA = direct.codec.trainDictionary(samples, 4096).toBytes();
      const bytesB = direct.codec.trainDictionary(other, 4096).toBytes();
      const frame = direct.codec.loadDictionary(bytesA).pack(samples[0]!, 3);
      const cases: [string, (core: EdgeCore) => unknown][] = [
        ['wrong dictionary', (c) => c.codec.loadDictionary(bytesB).unpack(frame, 1 << 20)],
        ['limit below the size', (c) => c.codec.loadDictionary(bytesA).unpack(frame, 3)],
        ['bad level', (c) => c.codec.loadDictionary(bytesA).pack(samples[0]!, 99)],
        ['cut frame', (c) => c.codec.loadDictionary(bytesA).unpack(frame.subarray(0, frame.length - 2), 1 << 20)],
      ];
      for (const [what, call] of cases) {
        const viaDirect = outcome(() => call(direct));
        expect(viaDirect[0], what).not.toBe('ok');
        expect(viaDirect, what).toEqual(outcome(() => call(jco)));
      }
    });
  });
});
