// Where a shared context space survives restarts: the gateway's SQLite, one
// row per applied Yjs update, in order. Compaction replaces a space's rows by
// one snapshot (its whole state as one update), in one transaction, so a crash
// leaves either the old rows or the snapshot, never neither.
import type { Db } from '../../storage/database.js';

export class ContextStore {
  private readonly insert;
  private readonly select;
  private readonly clear;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO context_updates (space, data, created_ms) VALUES (?, ?, ?)');
    this.select = db.prepare('SELECT data FROM context_updates WHERE space = ? ORDER BY id').pluck();
    this.clear = db.prepare('DELETE FROM context_updates WHERE space = ?');
  }

  /** The space's updates, oldest first. */
  load(space: string): Uint8Array[] {
    return (this.select.all(space) as Buffer[]).map((row) => new Uint8Array(row));
  }

  append(space: string, update: Uint8Array): void {
    this.insert.run(space, Buffer.from(update), Date.now());
  }

  /** Replaces every stored update of `space` by `snapshot`. */
  compact(space: string, snapshot: Uint8Array): void {
    this.db.transaction(() => {
      this.clear.run(space);
      this.insert.run(space, Buffer.from(snapshot), Date.now());
    })();
  }
}
