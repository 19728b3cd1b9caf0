// The outage buffer of the telemetry export: OTLP request bodies that a
// collector did not take, kept in SQLite, compressed with the core's codec
// (lz4 by default), until they can be sent, oldest first. Bounded by the
// total size of the stored frames: past the bound the oldest batches go
// first, and each one dropped is counted (/metrics) and logged.
import type { Codec, Algorithm } from '../core/codec.js';
import type { Db } from '../storage/database.js';
import type { Logger } from './log.js';

export interface BufferCounters {
  /** Batches put in the buffer (a collector refused them or a backlog was waiting). */
  buffered: number;
  /** Batches taken out after a collector accepted them. */
  resent: number;
  /** Batches dropped, oldest first, to stay under the bound. */
  dropped: number;
}

export class TelemetryBuffer {
  readonly counters: BufferCounters = { buffered: 0, resent: 0, dropped: 0 };
  private storedBytes: number;
  private readonly insert;
  private readonly oldestOf;
  private readonly oldestAny;
  private readonly remove;
  private readonly countOf;

  constructor(
    private readonly db: Db,
    private readonly codec: Codec,
    private readonly algorithm: Algorithm,
    /** Most bytes of stored frames kept (telemetry.buffer_max_bytes). */
    readonly maxBytes: number,
    private readonly log: Logger,
  ) {
    this.insert = db.prepare('INSERT INTO telemetry_buffer (target, created_ms, original_bytes, stored_bytes, payload) VALUES (?, ?, ?, ?, ?)');
    this.oldestOf = db.prepare<[string], { id: number; original_bytes: number; payload: Buffer }>('SELECT id, original_bytes, payload FROM telemetry_buffer WHERE target = ? ORDER BY id LIMIT 1');
    this.oldestAny = db.prepare<[], { id: number; stored_bytes: number }>('SELECT id, stored_bytes FROM telemetry_buffer ORDER BY id LIMIT 1');
    this.remove = db.prepare<[number], { stored_bytes: number }>('DELETE FROM telemetry_buffer WHERE id = ? RETURNING stored_bytes');
    this.countOf = db.prepare<[string], number>('SELECT count(*) FROM telemetry_buffer WHERE target = ?').pluck();
    this.storedBytes = Number(db.prepare('SELECT coalesce(sum(stored_bytes), 0) FROM telemetry_buffer').pluck().get());
  }

  /** Bytes of stored frames now. */
  get bytes(): number {
    return this.storedBytes;
  }

  /** Batches waiting, for one target or all. */
  depth(target?: string): number {
    return target === undefined ? Number(this.db.prepare('SELECT count(*) FROM telemetry_buffer').pluck().get()) : Number(this.countOf.get(target));
  }

  /** Keeps one request body for `target`, dropping the oldest batches while the buffer is over its bound. */
  append(target: string, body: Uint8Array, now = Date.now()): void {
    const frame = this.codec.pack(body, { algorithm: this.algorithm });
    this.db.transaction(() => {
      this.insert.run(target, now, body.byteLength, frame.byteLength, frame);
      this.storedBytes += frame.byteLength;
      this.counters.buffered += 1;
      let dropped = 0;
      while (this.storedBytes > this.maxBytes) {
        const oldest = this.oldestAny.get();
        if (!oldest) break;
        this.remove.run(oldest.id);
        this.storedBytes -= oldest.stored_bytes;
        dropped += 1;
      }
      if (dropped > 0) {
        this.counters.dropped += dropped;
        this.log.warn('telemetry: the outage buffer is full (telemetry.buffer_max_bytes); dropped the oldest batches', { dropped, dropped_total: this.counters.dropped, max_bytes: this.maxBytes });
      }
    })();
  }

  /** The oldest batch waiting for `target`, decompressed. */
  oldest(target: string): { id: number; body: Uint8Array } | undefined {
    const row = this.oldestOf.get(target);
    return row && { id: row.id, body: this.codec.unpack(row.payload, row.original_bytes).slice() };
  }

  /** A batch was accepted: it leaves the buffer. */
  sent(id: number): void {
    const row = this.remove.get(id);
    if (!row) return;
    this.storedBytes -= row.stored_bytes;
    this.counters.resent += 1;
  }
}
