// A stdio transport for the MCP SDK client that spawns the server itself and
// keeps every JSON-RPC line that crosses the pipe, in both directions, as the
// exact text written (client -> server) or read (server -> client). The SDK's
// own StdioClientTransport hides its child process, so it cannot be teed.
import { spawn } from 'node:child_process';

const NEWLINE = 0x0a;
const CLOSE_GRACE_MS = 2000;

/** @typedef {import('@modelcontextprotocol/sdk/shared/transport.js').Transport} Transport */
/** @typedef {import('@modelcontextprotocol/sdk/types.js').JSONRPCMessage} JSONRPCMessage */
/** @typedef {{ dir: 'c' | 's'; line: string }} LoggedLine  'c': written by the client, 's': read from the server */
/** @typedef {{ command: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string }} ServerSpec */

/**
 * One spawned server. `log` receives `{ dir: 'c' | 's', line }` in the order
 * this process saw the lines: 'c' = written by the client, 's' = read from
 * the server. Only stdout is protocol; stderr is kept (tail only) for errors.
 * @implements {Transport}
 */
export class RecordingStdioTransport {
  /**
   * @param {ServerSpec} spec
   * @param {LoggedLine[]} log
   */
  constructor({ command, args, env, cwd }, log) {
    this.spec = { command, args, env, cwd };
    this.log = log;
    this.pending = Buffer.alloc(0);
    this.stderrTail = '';
    /** @type {string[]} */
    this.strayLines = [];
    /** @type {import('node:child_process').ChildProcessWithoutNullStreams | undefined} */
    this.child = undefined;
    /** @type {Promise<unknown>} */
    this.exited = Promise.resolve();
    /** @type {Transport['onclose']} */
    this.onclose = undefined;
    /** @type {Transport['onerror']} */
    this.onerror = undefined;
    /** @type {Transport['onmessage']} */
    this.onmessage = undefined;
  }

  async start() {
    const { command, args, env, cwd } = this.spec;
    const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdout.on('data', (/** @type {Buffer} */ chunk) => this.readChunk(chunk));
    child.stderr.on('data', (/** @type {Buffer} */ chunk) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    child.once('exit', () => this.onclose?.());
    child.on('error', (err) => this.onerror?.(err));
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  }

  /**
   * Splits stdout on bytes, not characters: a chunk may end inside a UTF-8 sequence.
   * @param {Buffer} chunk
   */
  readChunk(chunk) {
    this.pending = Buffer.concat([this.pending, chunk]);
    let end;
    while ((end = this.pending.indexOf(NEWLINE)) !== -1) {
      const line = this.pending.subarray(0, end).toString('utf8');
      this.pending = this.pending.subarray(end + 1);
      this.receive(line);
    }
  }

  /** @param {string} line */
  receive(line) {
    /** @type {JSONRPCMessage} */
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      // A server that prints non-protocol text on stdout would leave a hole in
      // the corpus: make.mjs checks `strayLines` and refuses to write.
      this.strayLines.push(line.slice(0, 200));
      return;
    }
    this.log.push({ dir: 's', line });
    this.onmessage?.(message);
  }

  /** @param {JSONRPCMessage} message */
  async send(message) {
    const child = this.child;
    if (!child) throw new Error('send() before start(): the server is not running');
    const line = JSON.stringify(message);
    this.log.push({ dir: 'c', line });
    await /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
      child.stdin.write(line + '\n', (err) => (err ? reject(err) : resolve()));
    }));
  }

  /** Ends stdin (servers exit on EOF), then escalates to SIGTERM and SIGKILL. */
  async close() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin.end();
    for (const signal of /** @type {const} */ ([null, 'SIGTERM', 'SIGKILL'])) {
      if (signal) this.child.kill(signal);
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_GRACE_MS, 'timeout'); });
      const outcome = await Promise.race([this.exited, late]);
      clearTimeout(timer);
      if (outcome !== 'timeout') return;
    }
  }
}
