// Child processes for tests and benches: start, wait for a readiness line,
// and always stop them (the whole process group, so grandchildren go too).
import { spawn } from 'node:child_process';

/** @typedef {import('node:child_process').ChildProcess} ChildProcess */
/**
 * @typedef {object} StartOptions
 * @property {RegExp} [ready]  a stdout or stderr line matching it means the process is ready
 * @property {number} [timeoutMs]
 * @property {NodeJS.ProcessEnv} [env]
 * @property {string} [cwd]
 * @property {string} [name]  what error messages call the process
 */
/**
 * @typedef {object} Started
 * @property {ChildProcess} child
 * @property {string} name
 * @property {() => string} output  the last 200 chunks of its stdout and stderr
 * @property {() => Promise<void>} stop
 * @property {RegExpExecArray | null} match  what `ready` matched (null without `ready`)
 */

/** @type {Set<ChildProcess>} */
const live = new Set();

/**
 * Kills every child started here; safe to call more than once.
 * @param {NodeJS.Signals} [signal]
 */
export function stopAll(signal = 'SIGTERM') {
  for (const child of live) killGroup(child, signal);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopAll('SIGKILL');
    process.exit(130);
  });
}
process.once('exit', () => stopAll('SIGKILL'));

/**
 * @param {ChildProcess} child
 * @param {NodeJS.Signals} signal
 */
function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/**
 * Spawns `command args` in its own process group and resolves once a stdout or
 * stderr line matches `ready` (the match is returned), or rejects after
 * `timeoutMs` or when the process exits first.
 * @param {string} command
 * @param {string[]} args
 * @param {StartOptions} [options]
 * @returns {Promise<Started>}
 */
export function startProcess(command, args, { ready, timeoutMs = 15_000, env, cwd, name = command } = {}) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  /** @type {string[]} */
  const output = [];
  const collect = (/** @type {Buffer} */ chunk) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.shift();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const handle = { child, name, output: () => output.join(''), stop: () => stopProcess(child) };
  if (!ready) return Promise.resolve({ ...handle, match: null });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} not ready after ${timeoutMs} ms:\n${handle.output()}`)), timeoutMs);
    const onData = () => {
      const match = ready.exec(handle.output());
      if (!match) return;
      cleanup();
      resolve({ ...handle, match });
    };
    const onExit = (/** @type {number | null} */ code) => fail(new Error(`${name} exited (${code}) before it was ready:\n${handle.output()}`));
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
    }
    /** @param {Error} error */
    function fail(error) {
      cleanup();
      killGroup(child, 'SIGKILL');
      reject(error);
    }
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
  });
}

/**
 * SIGTERM, then SIGKILL after a grace period; resolves when the process is gone.
 * @param {ChildProcess} child
 * @returns {Promise<void>}
 */
export function stopProcess(child, graceMs = 2_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    killGroup(child, 'SIGTERM');
  });
}

/**
 * Runs a command to completion with a hard timeout; resolves { code, stdout, stderr, timedOut }.
 * @param {string} command
 * @param {string[]} args
 * @param {{ timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string }} options
 * @returns {Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }>}
 */
export function runToEnd(command, args, { timeoutMs, env, cwd }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
