// Queries run in a child Node process, not in the gateway: better-sqlite3 is
// synchronous and has no way to interrupt a statement, so a runaway query (an
// unbounded recursive CTE) can only be stopped by killing the process that runs
// it. A worker thread does not help: terminate() waits for the native call.
// The child's program is the source text below, so it runs the same from
// host/src under vitest and from host/dist when installed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { Refusal, type RefusalCode } from './common.js';

export interface WorkerConfig {
  databases: Record<string, string>;
  readOnly: boolean;
}

export interface QueryRequest {
  database: string;
  sql: string;
  params: unknown[] | Record<string, unknown>;
  maxRows: number;
  /** Stop adding rows once their JSON passes this many characters. */
  maxBytes: number;
}

export interface QueryResult {
  columns?: string[];
  rows?: unknown[][];
  truncated: boolean;
  changes?: number;
  last_insert_rowid?: number;
}

type Reply = { id: number; ok: true; result: QueryResult } | { id: number; ok: false; code: RefusalCode; message: string };

// CommonJS, run with `node -e`. argv[1]: better-sqlite3's path; argv[2]: the config.
const WORKER_SOURCE = String.raw`
const Database = require(process.argv[1]);
const config = JSON.parse(process.argv[2]);
const open = new Map();
// Statements that reach other files: ATTACH reads any database on disk,
// VACUUM INTO writes one. Refused whatever read_only says.
const OTHER_FILES = /^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*(attach|detach|vacuum\s[\s\S]*\binto\b)/i;
class Refused extends Error { constructor(code, message) { super(message); this.code = code; } }
function connection(name) {
  if (!open.has(name)) {
    const db = new Database(config.databases[name], { readonly: config.readOnly, fileMustExist: true });
    if (config.readOnly) db.pragma('query_only = ON');
    open.set(name, db);
  }
  return open.get(name);
}
function cell(v) {
  if (Buffer.isBuffer(v)) return { base64: v.toString('base64') };
  if (typeof v === 'bigint') return v.toString();
  return v;
}
function run({ database, sql, params, maxRows, maxBytes }) {
  if (OTHER_FILES.test(sql)) throw new Refused('not_allowed', 'ATTACH, DETACH and VACUUM INTO reach files outside the configured databases and are refused.');
  let stmt;
  try { stmt = connection(database).prepare(sql); }
  catch (e) { throw new Refused('invalid_sql', e.message); }
  if (config.readOnly && !stmt.readonly) throw new Refused('write_refused', 'This statement writes, and plugins.sqlite.read_only is on: only queries that read are allowed.');
  const args = Array.isArray(params) ? params : [params];
  if (!stmt.reader) {
    const info = bind(() => stmt.run(...args));
    return { truncated: false, changes: info.changes, last_insert_rowid: Number(info.lastInsertRowid) };
  }
  stmt.raw(true);
  const columns = stmt.columns().map((c) => c.name);
  const rows = [];
  let bytes = 0;
  for (const row of bind(() => stmt.iterate(...args))) {
    if (rows.length === maxRows) return { columns, rows, truncated: true };
    const converted = row.map(cell);
    bytes += JSON.stringify(converted).length;
    if (bytes > maxBytes) return { columns, rows, truncated: true };
    rows.push(converted);
  }
  return { columns, rows, truncated: false };
}
// Binding errors (wrong count, unnamed values) are the caller's to fix.
function bind(start) {
  try { return start(); }
  catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new Refused('invalid_argument', e.message + '. Check params against the placeholders.');
    throw e;
  }
}
process.on('message', (req) => {
  let reply;
  try { reply = { id: req.id, ok: true, result: run(req) }; }
  catch (e) { reply = { id: req.id, ok: false, code: e.code && e instanceof Refused ? e.code : 'failed', message: e.message }; }
  process.send(reply);
});
process.on('disconnect', () => process.exit(0));
`;

const betterSqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');

/** One child process, one query at a time; killed and replaced when a query overruns. */
export class SqliteWorker {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: WorkerConfig,
    private readonly timeoutMs: number,
  ) {}

  /** Runs a query after those before it; refusals and timeouts reject with a Refusal. */
  query(request: QueryRequest, signal: AbortSignal): Promise<QueryResult> {
    const run = this.queue.then(() => this.send(request, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private spawnChild(): ChildProcess {
    const child = spawn(process.execPath, ['-e', WORKER_SOURCE, betterSqlitePath, JSON.stringify(this.config)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH ?? '' },
    });
    child.stderr?.resume();
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    return child;
  }

  private send(request: QueryRequest, signal: AbortSignal): Promise<QueryResult> {
    if (signal.aborted) return Promise.reject(new Refusal('timeout', 'The query was cancelled before it started.'));
    const child = (this.child ??= this.spawnChild());
    const id = this.nextId++;
    return new Promise<QueryResult>((resolve, reject) => {
      const finish = (outcome: () => void) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        child.off('message', onMessage);
        child.off('exit', onExit);
        outcome();
      };
      const kill = (message: string) => {
        if (this.child === child) this.child = undefined;
        child.kill('SIGKILL');
        finish(() => reject(new Refusal('timeout', message)));
      };
      const onMessage = (reply: Reply) => {
        if (reply.id !== id) return;
        finish(() => (reply.ok ? resolve(reply.result) : reject(new Refusal(reply.code, reply.message))));
      };
      const onExit = () => finish(() => reject(new Refusal('failed', 'The query process exited unexpectedly; try again.')));
      const onAbort = () => kill('The query was cancelled; its process was stopped.');
      const timer = setTimeout(
        () => kill(`The query ran longer than ${this.timeoutMs} ms and was stopped. Add a LIMIT or a narrower WHERE, or raise plugins.sqlite.timeout_ms.`),
        this.timeoutMs,
      );
      signal.addEventListener('abort', onAbort, { once: true });
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ id, ...request });
    });
  }

  /** Stops the child process (a later query starts a new one). */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
