// An operator's `mcp-edge tools approve` writes to the database a running
// gateway writes to. An approval reads the waiting definition, then writes:
// begun as a deferred transaction, that write failed at once with
// SQLITE_BUSY whenever the gateway committed between the read and the write
// (busy_timeout does not apply to a read snapshot that went stale), and the
// command exited 1 (seen in test/tools-cli.test.ts on a loaded machine).
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { PinStore } from '../host/src/security/pinning/store.js';
import { openDatabaseFile } from '../host/src/storage/database.js';
import { tempDir } from './helpers/processes.js';

const WRITER = join(import.meta.dirname, 'fixtures/sqlite-writer.mjs');
/** [0]: 1 stops the writer; [1]: the writes it made. */
const stop = new Int32Array(new SharedArrayBuffer(8));
let writer: Worker | undefined;
afterAll(async () => {
  Atomics.store(stop, 0, 1);
  await writer?.terminate();
});

/** Starts the second connection writing to `file`; resolves once it has written. */
async function startWriter(file: string): Promise<void> {
  writer = new Worker(WRITER, { workerData: { file, stop } });
  await new Promise<void>((resolve, reject) => {
    writer!.once('message', () => resolve());
    writer!.once('error', reject);
  });
}

describe('tool pinning approvals while another connection writes', () => {
  it('approve and approve --all never fail on a write committed between their read and their write', async () => {
    const db = openDatabaseFile(join(tempDir(), 'mcp-edge.db'));
    // The race does not depend on the disk: without syncs the loop tries it more often.
    db.pragma('synchronous = OFF');
    const store = new PinStore(db);
    store.recordFirstUse('up', 'echo', '0'.repeat(64), '{}', 1);
    store.recordFirstUse('up', 'sum', '0'.repeat(64), '{}', 1);
    await startWriter(db.name);
    const failures: string[] = [];
    // Until the other connection has written a few thousand times meanwhile (a loaded machine slows it): else nothing was tried.
    const until = Date.now() + 30_000;
    for (let i = 1; i <= 1500 || (Atomics.load(stop, 1) < 3000 && Date.now() < until); i++) {
      const digest = i.toString(16).padStart(64, '0');
      store.recordPending('up', 'echo', digest, `{"v":${i}}`, i);
      store.recordPending('up', 'sum', digest, `{"v":${i}}`, i);
      try {
        expect(store.approve('up', 'echo', i).approvedDigest).toBe(digest);
        expect(store.approveAll('up', i).map((r) => r.tool)).toEqual(['sum']);
      } catch (err) {
        failures.push(`${i}: ${(err as { code?: string }).code ?? (err as Error).message}`);
      }
    }
    Atomics.store(stop, 0, 1);
    expect(Atomics.load(stop, 1)).toBeGreaterThanOrEqual(3000);
    expect(failures).toEqual([]);
    db.close();
  }, 60_000);
});
