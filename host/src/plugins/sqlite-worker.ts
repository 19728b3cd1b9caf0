// Queries run in a child Node process, not in the gateway: SQLite calls are
// synchronous and cannot be interrupted from JavaScript, so a runaway query
// (an unbounded recursive CTE) can only be stopped by killing the process
// that runs it. A worker thread does not help: terminate() waits for the
// native call. The child's program, and what it lets a query do, is in
// sqlite-child.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { Refusal, type RefusalCode } from './common.js';
import { SQLITE_CHILD_SOURCE, type ChildConfig } from './sqlite-child.js';

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
    const config: ChildConfig = { ...this.config, busyTimeoutMs: this.timeoutMs };
    const child = spawn(process.execPath, ['-e', SQLITE_CHILD_SOURCE, JSON.stringify(config)], {
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
