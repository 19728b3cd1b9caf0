// A stdio upstream ends when its process does. The SDK's transport reports
// the end on the child's 'close', which Node emits once the process exited
// and its stdout and stderr closed; a process that left something behind
// holding them (a helper it started detached, a daemon) kept them open, so a
// crashed upstream looked alive for good: calls waited for their time limit,
// it was never restarted, and its pipes stayed open in the gateway.
import { ChildProcess } from 'node:child_process';
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

/**
 * How long a stdio upstream's output may stay quiet after its process exited
 * before it is closed: what the process wrote just before, still in the pipe,
 * is read meanwhile (each chunk read starts the wait again).
 */
export const OUTPUT_GRACE_MS = 1_000;

/**
 * Closes the child's pipes once its process exited and its output has been
 * quiet for OUTPUT_GRACE_MS, which has Node emit 'close' and the SDK report
 * the end. Call it once the transport's start() has spawned the child. Where
 * the SDK keeps its child elsewhere (another version) the transport is left
 * as it is.
 */
export function endWithProcess(transport: StdioClientTransport, graceMs = OUTPUT_GRACE_MS): void {
  const child = (transport as unknown as { _process?: unknown })._process;
  if (!(child instanceof ChildProcess)) return;
  let timer: NodeJS.Timeout | undefined;
  const closeWhenQuiet = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, graceMs).unref();
  };
  child.once('exit', () => {
    closeWhenQuiet();
    child.stdout?.on('data', closeWhenQuiet);
  });
}
