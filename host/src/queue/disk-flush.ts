// The disk flush that a group commit waits for before it acknowledges, done
// without blocking the event loop. A group commit under synchronous=FULL
// makes SQLite fdatasync the WAL inside COMMIT, on the main thread: for the
// 1-7 ms the disk takes, no request is parsed and the next group cannot
// gather. Here a group commits with synchronous=NORMAL (SQLite writes the WAL
// frames, does not flush them) and the queue then fdatasyncs the WAL file
// itself on libuv's thread pool; callers are acknowledged only when that
// flush has finished. That is exactly what FULL does in WAL mode ("the WAL
// file is synchronized after each transaction commit"), done off the loop:
// an acknowledged call is on disk either way. NORMAL keeps the database
// consistent after a crash; an unacknowledged group may or may not survive.
// Every other transaction on the connection still runs under FULL.
import { closeSync, fdatasync as nodeFdatasync, fstatSync, openSync } from 'node:fs';
import type { Db } from '../storage/database.js';

/** Where the flush happens: on libuv's thread pool after COMMIT, or inside COMMIT (SQLite's own). */
export type DiskFlushMode = 'off-loop' | 'in-commit';

export type Fdatasync = (fd: number, cb: (err: Error | null) => void) => void;

export class DiskFlush {
  /** 'off-loop' only where the database really is in WAL mode; elsewhere SQLite's own flush. */
  readonly mode: DiskFlushMode;
  private fd: number | undefined;
  /** The two pragma switches, compiled once (a group commit runs them every time). */
  private readonly pragmaNormal;
  private readonly pragmaFull;
  /** The flush running now, and the one that will start after it (shared by every commit meanwhile). */
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private count = 0;

  constructor(
    private readonly db: Db,
    wanted: DiskFlushMode,
    private readonly fdatasync: Fdatasync = nodeFdatasync,
  ) {
    // Without a WAL (a file system that refused it), NORMAL would flush less and there is no file to flush ourselves.
    this.mode = wanted === 'off-loop' && String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal' ? 'off-loop' : 'in-commit';
    this.pragmaNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.pragmaFull = db.prepare('PRAGMA synchronous = FULL');
  }

  /** fdatasync calls made (for tests and benchmarks). */
  get flushes(): number {
    return this.count;
  }

  /** Runs `fn` (one write transaction) so that its commit leaves the WAL unflushed in off-loop mode. */
  commitUnflushed<T>(fn: () => T): T {
    if (this.mode === 'in-commit') return fn();
    this.pragmaNormal.run();
    try {
      return fn();
    } finally {
      this.pragmaFull.run();
    }
  }

  /** Resolves once everything committed before this call is on disk. */
  onDisk(): Promise<void> {
    if (this.mode === 'in-commit') return Promise.resolve();
    // A flush already running may have started before our commit: wait for the next one.
    if (this.running) return (this.next ??= this.running.then(() => this.startFlush(), () => this.startFlush()));
    return this.startFlush();
  }

  private startFlush(): Promise<void> {
    this.next = undefined;
    const p = new Promise<void>((resolve, reject) => {
      let fd: number;
      try {
        fd = this.walFd();
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.count += 1;
      this.fdatasync(fd, (err) => (err ? reject(err) : resolve()));
    });
    this.running = p;
    const clear = () => {
      if (this.running === p) this.running = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** The WAL's descriptor, reopened if SQLite replaced the file (a stale inode would flush nothing we wrote). */
  private walFd(): number {
    if (this.fd !== undefined && fstatSync(this.fd).nlink > 0) return this.fd;
    if (this.fd !== undefined) closeSync(this.fd);
    // 'r+': some platforms (Windows) refuse to flush a handle opened read-only.
    this.fd = openSync(`${this.db.name}-wal`, 'r+');
    return this.fd;
  }

  /** Waits for flushes in flight, then releases the descriptor. */
  async close(): Promise<void> {
    await this.next?.catch(() => undefined);
    await this.running?.catch(() => undefined);
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing to release.
    }
  }
}
