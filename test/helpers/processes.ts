// Real child processes for tests, each killed when its test file ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'host/bin/mcp-edge.js');

const started = new Set<ChildProcess>();
/** Each spawned child's end: its exit code (or signal) once it exited and its stdio closed. */
const ended = new WeakMap<ChildProcess, Promise<number | NodeJS.Signals>>();
/** Folders of gated entries, removed after the test file. */
const gateDirs: string[] = [];
afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
  for (const dir of gateDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Whether a process with this pid exists (signal 0 checks without sending). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function tempDir(prefix = 'mcp-edge-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Spawns `node CLI ...args`; the process is killed after the test file. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawnScript(CLI, args, env);
}

/** Spawns `node script ...args` (a fixture); the process is killed after the test file. */
export function spawnScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  // 'close', not 'exit': after 'exit' the last output may still be in the pipes.
  ended.set(child, new Promise((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1))));
  return child;
}

/** Collects a stream's text as it arrives. */
export function collect(stream: NodeJS.ReadableStream | null): { text: () => string } {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
  });
  return { text: () => text };
}

/** Resolves with the first match of `pattern` in the stream's output, or rejects after `ms`. */
export function waitForOutput(stream: NodeJS.ReadableStream | null, pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${seen}`)), ms);
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      seen += chunk;
      const match = seen.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

/**
 * Resolves with the exit code (or signal) of a child from spawnCli (or spawnScript) once it
 * exited and all its output was read, or rejects after `ms`.
 */
export function waitForExit(child: ChildProcess, ms = 15_000): Promise<number | NodeJS.Signals> {
  const end = ended.get(child);
  if (!end) throw new Error('waitForExit takes a child started by spawnCli or spawnScript');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for the process to exit')), ms);
    void end.then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * An entry script for a stdio upstream that runs `target` while open and
 * fails at once while closed: a test holds an upstream down across restarts
 * for as long as it needs, instead of racing the restart backoff.
 */
export function gatedEntry(target: string): { path: string; open: () => void; close: () => void } {
  const dir = tempDir('mcp-edge-gate-');
  gateDirs.push(dir);
  const path = join(dir, 'entry.mjs');
  const open = () => writeFileSync(path, `await import(${JSON.stringify(pathToFileURL(target).href)});\n`);
  open();
  return { path, open, close: () => rmSync(path, { force: true }) };
}

/** Starts `mcp-edge serve` on a free port with a temp data dir; resolves with its MCP URL. */
export async function startServeCli(extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; dataDir: string }> {
  const dataDir = tempDir();
  const child = spawnCli(['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], env);
  const match = await waitForOutput(child.stderr, /listening \{"url":"([^"]+)"/);
  return { child, url: match[1]!, dataDir };
}
