// The offline queue's SQLite rows (table `deferred`, migration 0002). Only SQL
// lives here; the decisions come from the core, and queue.ts wraps each one
// with these statements in a single transaction.
import type { Db } from '../storage/database.js';

export type RowState = 'queued' | 'completed' | 'failed' | 'cancelled';

export interface NewRow {
  id: number;
  destination: string;
  tool: string;
  priority: number;
  idemKey: string;
  clientKey: boolean;
  secret: string;
  payload: Uint8Array;
  createdMs: number;
  expiresMs: number | null;
  /** The principal that queued it (migration 0007); null: a local caller, visible to every local caller. */
  owner: string | null;
}

/** What the scheduler needs of a queued row at start. */
export interface QueuedRow {
  id: number;
  destination: string;
  priority: number;
  bytes: number;
  expires_ms: number | null;
  idem_key: string;
  client_key: number;
}

/** A row as a task: everything but the payload. */
export interface TaskRow {
  id: number;
  state: RowState;
  destination: string;
  tool: string;
  secret: string;
  created_ms: number;
  updated_ms: number;
  expires_ms: number | null;
  attempts: number;
  message: string | null;
  keep_until_ms: number | null;
  owner: string | null;
}

export interface PayloadRow {
  id: number;
  tool: string;
  /** The client's key (client_key = 1); a random one in rows from before migration 0003; else ''. */
  idem_key: string;
  client_key: number;
  secret: string;
  payload: Buffer | null;
}

/** Rows per multi-row INSERT: one statement step per chunk instead of per row. */
const INSERT_CHUNK = 32;
const ROW_PARAMS = 13;
/** Client keys looked up per statement step. */
const KEY_CHUNK = 32;

function insertSql(rows: number): string {
  const row = `(?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
  return `INSERT INTO deferred (id, state, destination, tool, priority, idem_key, client_key, secret, payload, bytes, created_ms, expires_ms, updated_ms, owner)
          VALUES ${Array.from({ length: rows }, () => row).join(', ')}`;
}

/** Every statement over `deferred`, compiled once. */
function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insert: p(insertSql(1)),
    insertChunk: p(insertSql(INSERT_CHUNK)),
    finish: p(`UPDATE deferred SET state = ?, payload = NULL, result = ?, message = ?, updated_ms = ?, keep_until_ms = ? WHERE id = ? AND state = 'queued'`),
    attempt: p(`UPDATE deferred SET attempts = attempts + 1, message = ?, updated_ms = ? WHERE id = ? AND state = 'queued'`),
    byKey: p(`SELECT id, state, destination, tool, secret, created_ms, updated_ms, expires_ms, attempts, message, keep_until_ms, owner FROM deferred WHERE destination = ? AND idem_key = ? AND client_key = 1`),
    byKeys: p(`SELECT id, secret, idem_key FROM deferred WHERE destination = ? AND client_key = 1 AND idem_key IN (${Array.from({ length: KEY_CHUNK }, () => '?').join(', ')})`),
    task: p(`SELECT id, state, destination, tool, secret, created_ms, updated_ms, expires_ms, attempts, message, keep_until_ms, owner FROM deferred WHERE id = ?`),
    tasks: p(`SELECT id, state, destination, tool, secret, created_ms, updated_ms, expires_ms, attempts, message, keep_until_ms, owner FROM deferred WHERE id > ? ORDER BY id LIMIT ?`),
    ownTasks: p(`SELECT id, state, destination, tool, secret, created_ms, updated_ms, expires_ms, attempts, message, keep_until_ms, owner FROM deferred WHERE owner = ? AND id > ? ORDER BY id LIMIT ?`),
    result: p(`SELECT result FROM deferred WHERE id = ?`),
    payload: p(`SELECT id, tool, idem_key, client_key, secret, payload FROM deferred WHERE id = ?`),
    queued: p(`SELECT id, destination, priority, bytes, expires_ms, idem_key, client_key FROM deferred WHERE state = 'queued' AND id > ? ORDER BY id LIMIT ?`),
    lanes: p(`SELECT destination, priority, COUNT(*) AS items, SUM(client_key) AS keyed, MAX(id) AS last FROM
                (SELECT id, destination, priority, client_key FROM deferred WHERE state = 'queued' AND id > ? ORDER BY id LIMIT ?)
              GROUP BY destination, priority`),
    maxId: p(`SELECT COALESCE(MAX(id), 0) FROM deferred`).pluck(),
    created: p(`SELECT created_ms FROM deferred WHERE id = ?`).pluck(),
    prune: p(`DELETE FROM deferred WHERE keep_until_ms IS NOT NULL AND keep_until_ms < ?`),
    getState: p(`SELECT value FROM gateway_state WHERE key = ?`).pluck(),
    setState: p(`INSERT INTO gateway_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
  };
}

/** Writes one row's parameters into `out` at `at` (the column order of insertSql). */
function rowParams(r: NewRow, out: unknown[], at: number): unknown[] {
  out[at] = r.id;
  out[at + 1] = r.destination;
  out[at + 2] = r.tool;
  out[at + 3] = r.priority;
  out[at + 4] = r.idemKey;
  out[at + 5] = r.clientKey ? 1 : 0;
  out[at + 6] = r.secret;
  out[at + 7] = r.payload;
  out[at + 8] = r.payload.length;
  out[at + 9] = r.createdMs;
  out[at + 10] = r.expiresMs;
  out[at + 11] = r.createdMs;
  out[at + 12] = r.owner;
  return out;
}

/** Prepared statements over `deferred`. */
export class QueueStore {
  private readonly s: ReturnType<typeof statements>;

  constructor(readonly db: Db) {
    this.s = statements(db);
  }

  /** Runs `fn` in one transaction (BEGIN IMMEDIATE: writers never deadlock). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  insert(r: NewRow): void {
    this.s.insert.run(rowParams(r, [], 0));
  }

  /** Inserts rows in order, INSERT_CHUNK per statement step (call inside a transaction). */
  insertMany(rows: readonly NewRow[]): void {
    let at = 0;
    const params: unknown[] = new Array(INSERT_CHUNK * ROW_PARAMS);
    for (; at + INSERT_CHUNK <= rows.length; at += INSERT_CHUNK) {
      for (let k = 0; k < INSERT_CHUNK; k++) rowParams(rows[at + k]!, params, k * ROW_PARAMS);
      this.s.insertChunk.run(params);
    }
    for (; at < rows.length; at++) this.insert(rows[at]!);
  }

  /** Ends a queued row: its payload goes, its outcome stays until `keepUntilMs`. */
  finish(id: number, state: Exclude<RowState, 'queued'>, result: Uint8Array | null, message: string | null, nowMs: number, keepUntilMs: number): boolean {
    return this.s.finish.run(state, result, message, nowMs, keepUntilMs, id).changes === 1;
  }

  /** Records a failed delivery attempt on a row that stays queued. */
  noteAttempt(id: number, message: string, nowMs: number): void {
    this.s.attempt.run(message, nowMs, id);
  }

  findByKey(destination: string, key: string): TaskRow | undefined {
    return this.s.byKey.get(destination, key) as TaskRow | undefined;
  }

  /** The rows holding any of `keys` (client keys) for `destination`, by key. */
  findByKeys(destination: string, keys: readonly string[]): Map<string, { id: number; secret: string }> {
    const out = new Map<string, { id: number; secret: string }>();
    let at = 0;
    for (; at + KEY_CHUNK <= keys.length; at += KEY_CHUNK) {
      for (const r of this.s.byKeys.all(destination, ...keys.slice(at, at + KEY_CHUNK)) as { id: number; secret: string; idem_key: string }[]) out.set(r.idem_key, r);
    }
    for (; at < keys.length; at++) {
      const r = this.findByKey(destination, keys[at]!);
      if (r) out.set(keys[at]!, r);
    }
    return out;
  }

  task(id: number): TaskRow | undefined {
    return this.s.task.get(id) as TaskRow | undefined;
  }

  /** Task rows above `id`, oldest first; with `owner`, only that principal's (the index deferred_owner). */
  tasksAfter(id: number, limit: number, owner?: string): TaskRow[] {
    return (owner === undefined ? this.s.tasks.all(id, limit) : this.s.ownTasks.all(owner, id, limit)) as TaskRow[];
  }

  result(id: number): Buffer | null {
    return ((this.s.result.get(id) as { result: Buffer | null } | undefined) ?? { result: null }).result;
  }

  payload(id: number): PayloadRow | undefined {
    return this.s.payload.get(id) as PayloadRow | undefined;
  }

  /** Every queued row, oldest first, without payloads. */
  /** Up to `limit` queued rows with ids above `afterId`, ids ascending (one step of the rebuild). */
  queuedAfter(afterId: number, limit: number): QueuedRow[] {
    return this.s.queued.all(afterId, limit) as QueuedRow[];
  }

  /**
   * How many of the next `limit` queued rows above `afterId` each destination
   * and priority has (to size the rebuild, a step at a time); `rows` counted
   * in all, `lastId` the highest of them.
   */
  queuedLanesAfter(afterId: number, limit: number): { lanes: { destination: string; priority: number; items: number; keyed: number }[]; rows: number; lastId: number } {
    const lanes = this.s.lanes.all(afterId, limit) as { destination: string; priority: number; items: number; keyed: number; last: number }[];
    return { lanes, rows: lanes.reduce((n, l) => n + l.items, 0), lastId: lanes.reduce((m, l) => Math.max(m, l.last), afterId) };
  }

  maxId(): number {
    return Number(this.s.maxId.get());
  }

  createdMs(id: number): number | undefined {
    return this.s.created.get(id) as number | undefined;
  }

  /** Deletes finished rows whose keep time has passed; returns how many. */
  prune(nowMs: number): number {
    return this.s.prune.run(nowMs).changes;
  }

  getState(key: string): string | undefined {
    return this.s.getState.get(key) as string | undefined;
  }

  setState(key: string, value: string): void {
    this.s.setState.run(key, value);
  }
}
