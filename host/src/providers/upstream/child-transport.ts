// A stdio upstream: its process, spawned as the leader of a process group of
// its own, and newline-delimited JSON-RPC over its stdin and stdout. The SDK's
// stdio client transport spawns the child into the gateway's own group, so
// what the child starts (a helper, a browser, `npm exec`'s server under npm)
// could only be reached through the child: a crashed or killed upstream left
// them running, one more set at every restart. Here the group goes with the
// child: on its exit and on close.
//
// The child ends when its process does. Node emits 'close' once the process
// exited and its stdout and stderr closed; a process that left something
// behind holding them (a helper it started in a session of its own, which no
// group signal reaches) kept them open, so a crashed upstream looked alive for
// good. The pipes are closed once the process exited and its output stayed
// quiet for OUTPUT_GRACE_MS.
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LineBuffer } from '../../protocol/line-buffer.js';

/**
 * How long a stdio upstream's output may stay quiet after its process exited
 * before it is closed: what the process wrote just before, still in the pipe,
 * is read meanwhile (each chunk read starts the wait again).
 */
export const OUTPUT_GRACE_MS = 1_000;
/** How long close() waits after ending stdin, and again after SIGTERM, before the next step. */
const CLOSE_STEP_MS = 2_000;

/** What a child inherits of the gateway's environment, besides its own `env`: never the gateway's secrets. */
const INHERITED_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'] as const;

export function inheritedEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    // A shell function exported in the variable (`() { ...`) is not passed on.
    if (value !== undefined && !value.startsWith('()')) env[key] = value;
  }
  return env;
}

export interface ChildOptions {
  command: string;
  args: readonly string[];
  /** The child's whole environment. */
  env: Record<string, string>;
  cwd?: string;
  /** The longest line (one message) read from the child. */
  maxLineBytes: number;
}

/** Signals the child's whole process group; a group already gone is no error. Where there are no groups (Windows), the child alone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    // ESRCH: nothing of the group is left.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH' && child.exitCode === null) child.kill(signal);
  }
}

export class ChildTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  /** The child's stderr, there before start() so that no early line is lost. */
  readonly stderr = new PassThrough();
  private child: ChildProcess | undefined;
  /** Settles when the child's process exited and its pipes closed. */
  private closed: Promise<void> = Promise.resolve();
  private readonly lines: LineBuffer;

  constructor(private readonly options: ChildOptions) {
    this.lines = new LineBuffer(options.maxLineBytes);
  }

  /** The child's pid once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('the upstream process is already started');
    const { command, args, env, cwd } = this.options;
    // detached: the child leads a new process group (and session), which signalGroup reaches whole.
    const child = spawn(command, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, shell: false, ...(cwd ? { cwd } : {}) });
    this.child = child;
    child.stderr!.pipe(this.stderr);
    child.stdin!.on('error', (err) => this.onerror?.(err));
    child.stdout!.on('error', (err) => this.onerror?.(err));
    child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
    child.once('exit', () => this.ended(child));
    this.closed = new Promise((resolve) =>
      child.once('close', () => {
        if (this.child === child) this.child = undefined;
        resolve();
        this.onclose?.();
      }),
    );
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => {
        reject(err);
        this.onerror?.(err);
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed) return Promise.reject(new Error('the upstream process is not running'));
    return new Promise((resolve) => {
      if (stdin.write(`${JSON.stringify(message)}\n`)) resolve();
      else stdin.once('drain', () => resolve());
    });
  }

  /** Ends stdin; then SIGTERM, then SIGKILL to the whole group, each after CLOSE_STEP_MS without the child ending. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const closed = this.closed;
    const within = (ms: number) => Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    child.stdin?.end();
    if (await within(CLOSE_STEP_MS)) return signalGroup(child, 'SIGKILL');
    signalGroup(child, 'SIGTERM');
    if (await within(CLOSE_STEP_MS)) return signalGroup(child, 'SIGKILL');
    signalGroup(child, 'SIGKILL');
    await within(CLOSE_STEP_MS);
  }

  private read(chunk: Buffer): void {
    try {
      this.lines.append(chunk);
    } catch (err) {
      // A line past the bound: what was held is dropped, and the upstream closed (the supervisor restarts it).
      this.onerror?.(err as Error);
      void this.close().catch(() => undefined);
      return;
    }
    this.lines.drain(
      (message) => this.onmessage?.(message),
      (err) => this.onerror?.(err),
    );
  }

  /**
   * The process exited: what it left in its group is ended (SIGTERM now,
   * SIGKILL with the pipes), and its pipes are closed once its output has
   * been quiet for OUTPUT_GRACE_MS.
   */
  private ended(child: ChildProcess): void {
    signalGroup(child, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const closeWhenQuiet = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        signalGroup(child, 'SIGKILL');
        child.stdin?.destroy();
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, OUTPUT_GRACE_MS).unref();
    };
    closeWhenQuiet();
    child.stdout?.on('data', closeWhenQuiet);
  }
}
