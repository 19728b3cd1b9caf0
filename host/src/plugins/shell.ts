// The shell plugin: shell_run starts one allowlisted program with an argument
// array. There is no shell: no globbing, no pipes, no $(...), nothing to inject
// into. Commands are resolved to absolute paths once, at start, so a file that
// appears later in the working directory or on PATH cannot stand in for one.
// Each run gets a filtered environment, a confined working directory, a time
// limit and an output cap; beyond either, its whole process group is killed.
// By default each run is also its own PID namespace, so it neither sees the
// gateway's processes nor leaves any of its own behind (shell-sandbox.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Writable } from 'node:stream';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { PluginSettings } from '../config/resolve.js';
import type { Logger } from '../telemetry/log.js';
import { definePlugin, type Plugin } from '../providers/local/provider.js';
import { defineTool } from '../tools/registry.js';
import { PluginConfigError, Refusal, refusalResult, refusing, Roots, structured } from './common.js';
import { globToRegExp } from './file-search.js';
import { killOutputHolders, openSandbox, outputsOf, type Sandbox } from './shell-sandbox.js';

/** The plugin's section of mcp-edge.toml, validated (config/resolve.ts passes it whole). */
type ShellConfig = NonNullable<PluginSettings['shell']>;

const MAX_STDIN_BYTES = 1 << 20;

async function isExecutable(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return false;
  return access(path, constants.X_OK).then(() => true, () => false);
}

interface Allowed {
  /** The absolute path that runs. */
  path: string;
  /** When present, every argument must match one of these. */
  argRules?: { glob: string; re: RegExp }[];
}

/** Finds an allowlist entry's program: an absolute path as is, a bare name on the absolute entries of PATH. */
async function locate(command: string, searchPath: string): Promise<string> {
  if (isAbsolute(command)) {
    if (!(await isExecutable(command))) throw new PluginConfigError(`plugins.shell.commands: ${command} is not an executable file.`);
    return command;
  }
  if (command.includes('/')) throw new PluginConfigError(`plugins.shell.commands: "${command}" must be a bare name (found on PATH) or an absolute path.`);
  for (const dir of searchPath.split(delimiter).filter((d) => isAbsolute(d))) {
    if (await isExecutable(join(dir, command))) return join(dir, command);
  }
  throw new PluginConfigError(`plugins.shell.commands: "${command}" is not on PATH (${searchPath}); give its absolute path.`);
}

function argumentGlob(command: string, glob: string): RegExp {
  try {
    return globToRegExp(glob);
  } catch (err) {
    throw new PluginConfigError(`plugins.shell.commands: ${command}: argument pattern ${JSON.stringify(glob)} is not a valid glob (${(err as Error).message}).`);
  }
}

/** Maps each allowlist entry to the program that will run and its argument rules. */
async function resolveCommands(commands: ShellConfig['commands'], searchPath: string): Promise<Map<string, Allowed>> {
  const resolved = new Map<string, Allowed>();
  for (const entry of commands) {
    const command = typeof entry === 'string' ? entry : entry.command;
    const allowed: Allowed = { path: await locate(command, searchPath) };
    if (typeof entry !== 'string') allowed.argRules = entry.args.map((glob) => ({ glob, re: argumentGlob(command, glob) }));
    resolved.set(command, allowed);
  }
  return resolved;
}

function checkArguments(command: string, allowed: Allowed, args: string[]): void {
  if (args.some((a) => a.includes('\0'))) throw new Refusal('not_allowed', 'Arguments cannot contain NUL characters.');
  const rules = allowed.argRules;
  if (!rules) return;
  const bad = args.find((a) => !rules.some((r) => r.re.test(a)));
  if (bad === undefined) return;
  const patterns = rules.map((r) => JSON.stringify(r.glob)).join(', ') || 'none';
  throw new Refusal('not_allowed', `Argument ${JSON.stringify(bad)} is not allowed for ${command}. Each argument must match one of: ${patterns}.`);
}

function childEnv(config: ShellConfig, searchPath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: searchPath };
  for (const name of config.env) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

/** Collects a stream up to `limit` bytes; calls `overflow` once when more arrives. */
function capped(limit: number, overflow: () => void) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let over = false;
  return {
    push(chunk: Buffer) {
      if (kept + chunk.length > limit) {
        chunks.push(chunk.subarray(0, limit - kept));
        kept = limit;
        if (!over) (over = true), overflow();
        return;
      }
      chunks.push(chunk);
      kept += chunk.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

interface RunRequest {
  path: string;
  args: string[];
  cwd: string;
  stdin?: string;
  timeoutMs: number;
}

interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  stopped?: 'timeout' | 'output_too_large' | 'cancelled';
}

/** Lets a gated child (Sandbox.command) become its program. */
function openGate(child: ChildProcess): void {
  const gate = child.stdio[3] as Writable | null;
  if (!gate) return;
  gate.on('error', () => undefined); // the child may be killed before it reads
  gate.end('go\n');
}

/** Kills a child's whole process group (it leads one: spawned detached). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * How long the output pipes may stay open after the program exited or was
 * killed before the call stops waiting for them: only a process that could
 * not be killed holds them that long.
 */
const PIPE_GRACE_MS = 1000;

function runProcess(request: RunRequest, sandbox: Sandbox, env: NodeJS.ProcessEnv, maxOutput: number, signal: AbortSignal, live: Set<ChildProcess>): Promise<RunOutcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const { file, args, gated } = sandbox.command(request.path, request.args);
    const child = spawn(file, args, { cwd: request.cwd, env, shell: false, detached: true, stdio: gated ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    // Without a namespace, what is left of the run is found by the output it holds (shell-sandbox.ts);
    // the gated child waits on fd 3 until its outputs are known, then becomes the program.
    const outputs = sandbox.isolation === 'none' ? outputsOf(child.pid) : undefined;
    if (gated) openGate(child);
    let backstop: NodeJS.Timeout | undefined;
    let settled = false;
    /** Kills what is left of the run, and stops waiting for its pipes if something holds them anyway. */
    const armBackstop = () => {
      if (settled) return;
      backstop ??= setTimeout(() => (child.stdout.destroy(), child.stderr.destroy()), PIPE_GRACE_MS);
    };
    const sweep = () => {
      killGroup(child);
      // The grace starts once the scan of /proc is over: on a busy machine the scan
      // itself can outlast it, and the call would end with a holder not yet killed.
      if (outputs) void killOutputHolders(outputs).finally(armBackstop);
      else armBackstop();
    };
    child.once('exit', () => {
      live.delete(child);
      if (sandbox.isolation === 'none') sweep();
    });
    let stopped: RunOutcome['stopped'];
    const stop = (why: NonNullable<RunOutcome['stopped']>) => {
      stopped ??= why;
      sweep();
    };
    const stdout = capped(maxOutput, () => stop('output_too_large'));
    const stderr = capped(maxOutput, () => stop('output_too_large'));
    const timer = setTimeout(() => stop('timeout'), request.timeoutMs);
    const onAbort = () => stop('cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      clearTimeout(backstop);
      signal.removeEventListener('abort', onAbort);
    };
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdin.on('error', () => undefined); // the program may exit without reading its input
    child.stdin.end(request.stdin ?? '');
    child.once('error', (err) => {
      settle();
      reject(new Refusal('failed', `cannot start ${request.path}: ${err.message}`));
    });
    child.once('close', (exitCode, exitSignal) => {
      settle();
      const outcome = { exitCode, signal: exitSignal, stdout: stdout.text(), stderr: stderr.text(), durationMs: Date.now() - started };
      resolve(stopped ? { ...outcome, stopped } : outcome);
    });
  });
}

function stoppedResult(command: string, outcome: RunOutcome, config: ShellConfig, timeoutMs: number): CallToolResult {
  const message =
    outcome.stopped === 'timeout'
      ? new Refusal('timeout', `${command} ran longer than ${timeoutMs} ms and was killed. Narrow the command or raise plugins.shell.timeout_ms.`)
      : outcome.stopped === 'output_too_large'
        ? new Refusal('output_too_large', `${command} wrote more than ${config.max_output_bytes} bytes and was killed. Narrow its output or raise plugins.shell.max_output_bytes.`)
        : new Refusal('timeout', `${command} was cancelled and killed.`);
  const result = refusalResult(message);
  result.content.push({ type: 'text', text: `stdout (first ${outcome.stdout.length} chars):\n${outcome.stdout}\nstderr:\n${outcome.stderr}` });
  return result;
}

function runTool(commands: Map<string, Allowed>, roots: Roots, config: ShellConfig, sandbox: Sandbox, env: NodeJS.ProcessEnv, live: Set<ChildProcess>) {
  const names = [...commands.keys()].sort() as [string, ...string[]];
  return defineTool({
    name: 'shell_run',
    title: 'Run an allowed command',
    description:
      `Runs one of these programs with an argument list, without a shell: ${names.join(', ')}. ` +
      `Working directory inside ${roots.real.join(', ')}; at most ${config.timeout_ms} ms and ${config.max_output_bytes} bytes of output.`,
    input: z.object({
      command: z.string().min(1).describe(`One of: ${names.join(', ')}.`),
      args: z.array(z.string().max(32_768)).max(1024).default([]).describe('Arguments, one per item; no shell quoting or expansion happens.'),
      cwd: z.string().min(1).optional().describe(`Working directory inside the allowed folders; ${roots.first} when absent.`),
      stdin: z.string().max(MAX_STDIN_BYTES).optional().describe('Text for the program to read on standard input.'),
      timeout_ms: z.number().int().min(1).optional().describe('A shorter time limit than the configured one.'),
    }),
    output: z.object({
      command: z.string(),
      exit_code: z.number().nullable(),
      signal: z.string().nullable(),
      stdout: z.string(),
      stderr: z.string(),
      duration_ms: z.number(),
    }),
    annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
    handler: (args, { signal }) =>
      refusing(async () => {
        const allowed = commands.get(args.command);
        if (!allowed) throw new Refusal('not_allowed', `"${args.command}" is not an allowed command. Allowed: ${names.join(', ')}.`);
        checkArguments(args.command, allowed, args.args);
        const cwd = await roots.resolve(args.cwd ?? roots.first);
        if (!(await stat(cwd)).isDirectory()) throw new Refusal('not_a_file', `${args.cwd} is not a folder.`);
        const timeoutMs = Math.min(args.timeout_ms ?? config.timeout_ms, config.timeout_ms);
        const request = { path: allowed.path, args: args.args, cwd, timeoutMs, ...(args.stdin === undefined ? {} : { stdin: args.stdin }) };
        const outcome = await runProcess(request, sandbox, env, config.max_output_bytes, signal, live);
        if (outcome.stopped) return stoppedResult(args.command, outcome, config, timeoutMs);
        const { exitCode, signal: exitSignal, stdout, stderr, durationMs } = outcome;
        return structured({ command: args.command, exit_code: exitCode, signal: exitSignal, stdout, stderr, duration_ms: durationMs });
      }),
  });
}

/** What commands can still reach, said once at start: the operator decides whether that is acceptable. */
function warnOfReach(config: ShellConfig, log: Logger | undefined): void {
  if (config.isolation === 'none') {
    log?.warn('plugins.shell: isolation is "none": commands can read this gateway\'s environment through /proc, and a command that detaches and closes its output outlives the call and the gateway', {
      gateway_pid: process.pid,
    });
  }
  if (process.getuid?.() === 0) {
    log?.warn('plugins.shell: the gateway runs as root, so its commands do too; run it as a user of its own (see docs/plugins.md)');
  }
}

/** Builds the plugin; every command must be found and every folder must exist. */
export async function shellPlugin(config: ShellConfig, log?: Logger): Promise<Plugin> {
  const searchPath = config.path ?? process.env.PATH ?? '/usr/bin:/bin';
  const commands = await resolveCommands(config.commands, searchPath);
  const roots = await Roots.open(config.roots, 'plugins.shell.roots');
  const sandbox = await openSandbox(config.isolation);
  warnOfReach(config, log);
  const live = new Set<ChildProcess>();
  return definePlugin({
    name: 'shell',
    description: 'Run allowlisted programs without a shell.',
    tools: [runTool(commands, roots, config, sandbox, childEnv(config, searchPath), live)],
    // Programs still running when the gateway closes die with it, children included.
    close: () => live.forEach(killGroup),
  });
}
