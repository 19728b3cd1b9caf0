// Heavy core work of big requests runs in worker threads with their own core
// instance: the same answers as on the event loop, a worker that dies is a
// clear error and the next job works, workers end with the gateway, and
// vocabularies load on first use only. Real workers, real core, real gateway.
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadCore } from '../host/src/core/index.js';
import { CoreWorkers, OFFLOAD_THRESHOLD, OffloadError } from '../host/src/offload/pool.js';
import { Vocabularies } from '../host/src/tokenizer/vocabularies.js';
import { connectClient, startGateway } from './helpers/gateway.js';

/** A text past the offload threshold, with multi-byte letters, an astral emoji and special-token text. */
function bigText(): string {
  const piece = 'Grüße aus Köln — 東京 🚀 <|endoftext|> the quick brown fox 12345.\n';
  return piece.repeat(Math.ceil((OFFLOAD_THRESHOLD * 1.5) / piece.length));
}

describe('core workers', () => {
  it('count a big text through the gateway to the same result as the core on the event loop', async () => {
    const text = bigText();
    const inLoop = (await new Vocabularies(await loadCore()).get('cl100k_base')).count(text);
    const gateway = await startGateway();
    expect(gateway.workers.alive).toBe(0);
    const client = await connectClient(gateway);
    const result = await client.callTool({ name: 'count_tokens', arguments: { text } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ tokenizer: 'cl100k_base', tokens: inLoop, characters: [...text].length, bytes: Buffer.byteLength(text) });
    // It ran in a worker: one started for it, and the gateway's own vocabularies stayed unloaded.
    expect(gateway.workers.alive).toBe(1);
    expect(gateway.vocabularies.loadedNames()).toEqual([]);
    await gateway.close();
    expect(gateway.workers.alive).toBe(0);
  });

  it('pack big data in a worker to the same frame as on the event loop', async () => {
    const data = new TextEncoder().encode(bigText());
    const core = await loadCore();
    const workers = new CoreWorkers({ files: {} });
    try {
      const packed = await workers.run({ op: 'pack', data, algorithm: 'zstd', level: 3 });
      expect(Buffer.from(packed.frame).equals(Buffer.from(core.codec.pack(data, { algorithm: 'zstd', level: 3 })))).toBe(true);
      expect(packed.checksum).toBe(core.codec.checksum(data));
    } finally {
      await workers.close();
    }
  });

  it('fail a job whose worker dies with a clear error, and run the next one in a new worker', async () => {
    const started: Worker[] = [];
    const workers = new CoreWorkers({ files: {}, onWorker: (w) => started.push(w) });
    try {
      const text = bigText();
      const doomed = workers.run({ op: 'count', tokenizer: 'cl100k_base', text, allowSpecial: false });
      await started[0]!.terminate();
      const failure = await doomed.then(() => undefined, (err: unknown) => err);
      expect(failure).toBeInstanceOf(OffloadError);
      expect((failure as Error).message).toMatch(/The core worker stopped while counting \d+ characters with cl100k_base \(it exited with code \d+\)\. The call did not complete; retry it/);
      const next = await workers.run({ op: 'count', tokenizer: 'cl100k_base', text: 'hello world', allowSpecial: false });
      expect(next).toEqual({ tokens: 2, characters: 11, bytes: 11 });
      expect(started).toHaveLength(2);
    } finally {
      await workers.close();
    }
  });

  it('stop a running job\'s worker when its caller cancels', async () => {
    const workers = new CoreWorkers({ files: {} });
    try {
      const cancel = new AbortController();
      const job = workers.run({ op: 'count', tokenizer: 'cl100k_base', text: bigText(), allowSpecial: false }, cancel.signal);
      cancel.abort(new Error('the client cancelled'));
      await expect(job).rejects.toThrow('the client cancelled');
      await expect(workers.run({ op: 'count', tokenizer: 'cl100k_base', text: 'hello', allowSpecial: false })).resolves.toMatchObject({ tokens: 1 });
    } finally {
      await workers.close();
    }
  });

  it('report a core error from a worker as that error', async () => {
    const workers = new CoreWorkers({ files: {} });
    try {
      await expect(workers.run({ op: 'pack', data: new Uint8Array(10), algorithm: 'zstd', level: 99 })).rejects.toMatchObject({ name: 'CoreError' });
    } finally {
      await workers.close();
    }
  });
});

describe('vocabularies', () => {
  it('load on first use only: none at start, then just the one counted with', async () => {
    const gateway = await startGateway();
    expect(gateway.vocabularies.loadedNames()).toEqual([]);
    const client = await connectClient(gateway);
    const result = await client.callTool({ name: 'count_tokens', arguments: { text: 'hello world', tokenizer: 'o200k_base' } });
    expect(result.structuredContent).toMatchObject({ tokens: 2 });
    expect(gateway.vocabularies.loadedNames()).toEqual(['o200k_base']);
  });
});
