// The direct lane's output pool (host/src/core/output-pool.ts): small outputs
// share slabs without ever overlapping, large ones get their own buffer, and a
// slab a caller transferred away does not break the outputs after it.
import { describe, expect, it } from 'vitest';
import { OutputPool, POOLED_MAX } from '../host/src/core/output-pool.js';
import { loadCore } from '../host/src/core/index.js';

const filled = (length: number, byte: number) => new Uint8Array(length).fill(byte);

describe('output pool', () => {
  it('copies small outputs into one slab, side by side and 8-byte aligned', () => {
    const pool = new OutputPool();
    const a = pool.copy(filled(5, 1));
    const b = pool.copy(filled(300, 2));
    expect(a.buffer).toBe(b.buffer);
    expect(b.byteOffset).toBe(8);
    expect([...a]).toEqual([1, 1, 1, 1, 1]);
    expect(b.every((x) => x === 2)).toBe(true);
    // Writing through one output never shows in another.
    a.fill(9);
    expect(b.every((x) => x === 2)).toBe(true);
  });

  it('is a copy: the source may change after', () => {
    const pool = new OutputPool();
    const source = filled(64, 7);
    const out = pool.copy(source);
    source.fill(0);
    expect(out.every((x) => x === 7)).toBe(true);
  });

  it('gives outputs above the pooled size their own buffer', () => {
    const pool = new OutputPool();
    const big = pool.copy(filled(POOLED_MAX + 1, 3));
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(POOLED_MAX + 1);
    const edge = pool.copy(filled(POOLED_MAX, 4));
    expect(edge.buffer.byteLength).toBeGreaterThan(POOLED_MAX);
  });

  it('starts a new slab when one is full, leaving earlier outputs intact', () => {
    const pool = new OutputPool();
    const outputs = Array.from({ length: 40 }, (_, i) => pool.copy(filled(POOLED_MAX - 1, i)));
    expect(new Set(outputs.map((o) => o.buffer)).size).toBeGreaterThan(1);
    outputs.forEach((o, i) => expect(o.every((x) => x === i), `output ${i}`).toBe(true));
  });

  it('recovers from a slab the caller transferred away', () => {
    const pool = new OutputPool();
    const first = pool.copy(filled(10, 1));
    structuredClone(first.buffer, { transfer: [first.buffer] });
    expect(first.length).toBe(0);
    expect([...pool.copy(filled(3, 5))]).toEqual([5, 5, 5]);
    expect(pool.copy(new Uint8Array(0)).length).toBe(0);
  });
});

describe('direct lane outputs', () => {
  it('unpacks many small frames into independent, correct outputs', async () => {
    const core = await loadCore();
    expect(core.codecLane).toBe('direct');
    const messages = Array.from({ length: 200 }, (_, i) => new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: i, result: { n: 'x'.repeat(i * 7) } })));
    const frames = messages.map((m) => core.codec.pack(m, { algorithm: 'zstd' }));
    const outputs = frames.map((f) => core.codec.unpack(f, 1 << 20));
    outputs.forEach((o, i) => expect(Buffer.from(o).equals(Buffer.from(messages[i]!)), `message ${i}`).toBe(true));
    // Frames are outputs too: they still unpack after every later call.
    expect(Buffer.from(core.codec.unpack(frames[0]!, 1 << 20)).equals(Buffer.from(messages[0]!))).toBe(true);
  });
});
