// Real child processes for tests, each killed when its test file ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'host/bin/mcp-edge.js');

const started = new Set<ChildProcess>();
afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
});

export function tempDir(prefix = 'mcp-edge-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Spawns `node CLI ...args`; the process is killed after the test file. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
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

/** Resolves with the exit code (or signal) of a child, or rejects after `ms`. */
export function waitForExit(child: ChildProcess, ms = 15_000): Promise<number | NodeJS.Signals> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error('timed out waiting for the process to exit')), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? -1);
    });
  });
}

/** Starts `mcp-edge serve` on a free port with a temp data dir; resolves with its MCP URL. */
export async function startServeCli(extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; dataDir: string }> {
  const dataDir = tempDir();
  const child = spawnCli(['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], env);
  const match = await waitForOutput(child.stderr, /listening \{"url":"([^"]+)"/);
  return { child, url: match[1]!, dataDir };
}
