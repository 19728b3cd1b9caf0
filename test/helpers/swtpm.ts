// Debian's swtpm for tests (scripts/swtpm.mjs): a fresh software TPM per
// call, killed and its folder removed after the test file.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { startSwtpm as start } from '../../scripts/swtpm.mjs';
import { tempDir } from './processes.js';

export interface SoftwareTpm {
  /** The security.tpm_device value that reaches it. */
  tcti: string;
  port: number;
  /** Its state, and the CA that signed its EK certificate (ca/issuercert.pem). */
  dir: string;
  /** Stops the process (the state stays until the test file ends). Idempotent. */
  stop(): Promise<void>;
  /** Stops it answering (SIGSTOP): the kernel still accepts connections, nothing is answered until resume(). */
  pause(): void;
  resume(): void;
  /** Starts it again on the same state and port (as after a reboot: PCRs back to zero). */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
const dirs: string[] = [];
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function startSwtpm(): Promise<SoftwareTpm> {
  const dir = tempDir('mcp-edge-swtpm-');
  dirs.push(dir);
  return start(dir, (child) => {
    running.add(child);
    child.once('exit', () => running.delete(child));
  });
}
