// @ts-check
// The offline queue in IndexedDB (through idb). A call is acknowledged only
// once the transaction that stores it has committed with durability "strict"
// (flushed, not just handed to the browser): the same contract as the SQLite
// queue on Node. Each call carries an idempotency key made when it is stored;
// an mcp-edge server remembers keys, so a call resent after a crash between
// its delivery and its removal here takes effect once.
import { openDB } from 'idb';

const STORE = 'calls';

/**
 * @typedef {{ seq?: number; key: string; tool: string; args: Record<string, unknown>; enqueuedAt: number }} QueuedCall
 */

export class IndexedDbQueue {
  /** @param {import('idb').IDBPDatabase} db */
  constructor(db) {
    this.db = db;
  }

  /** @param {string} name  The IndexedDB database; one per app. */
  static async open(name) {
    const db = await openDB(name, 1, {
      upgrade(database) {
        database.createObjectStore(STORE, { keyPath: 'seq', autoIncrement: true });
      },
    });
    return new IndexedDbQueue(db);
  }

  /**
   * Stores a call; resolves once it is on disk, with its idempotency key.
   * @param {string} tool
   * @param {Record<string, unknown>} args
   */
  async enqueue(tool, args) {
    const call = { key: crypto.randomUUID(), tool, args, enqueuedAt: Date.now() };
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.add(call), tx.done]);
    return call.key;
  }

  /** @returns {Promise<QueuedCall[]>} every queued call, oldest first */
  async list() {
    return this.db.getAll(STORE);
  }

  /** @param {number} seq  Removes a delivered call. */
  async remove(seq) {
    const tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
    await Promise.all([tx.store.delete(seq), tx.done]);
  }

  async depth() {
    return this.db.count(STORE);
  }

  close() {
    this.db.close();
  }
}
