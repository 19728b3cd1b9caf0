// Where shell_run's programs run, and how none of them outlives its call.
//
// isolation = "pid-namespace" (the default): each run is
//   setpriv --pdeathsig KILL -- unshare --user --map-current-user --pid
//     --fork --kill-child --mount-proc -- PROGRAM ARGS...
// (both from util-linux). The program is process 1 of a new PID namespace
// with its own /proc, so it cannot see the gateway's processes, and so not
// /proc/<gateway pid>/environ. When it exits, the kernel kills every process
// left in the namespace, detached ones (setsid, double fork) included: its
// pipes close and the call ends. Killing unshare kills the namespace
// (--kill-child), and the gateway's death kills unshare (--pdeathsig), so
// nothing outlives the gateway either. Unprivileged user namespaces must be
// allowed (kernel.unprivileged_userns_clone, AppArmor on Ubuntu 24.04).
//
// isolation = "none": the program runs directly. When it exits, or is
// stopped, every process still holding its stdout or stderr is found through
// /proc and killed, so a detached child cannot hang the call; one that also
// closed its output, and the gateway's /proc, stay within reach.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { readlinkSync } from 'node:fs';
import { access, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PluginConfigError } from './common.js';

export type Isolation = 'pid-namespace' | 'none';

/** Where the sandbox's own programs are looked up: the system's, never the configured PATH. */
const SYSTEM_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

const NAMESPACE_FLAGS = ['--user', '--map-current-user', '--pid', '--fork', '--kill-child', '--mount-proc'];

/** How a program is started under the chosen isolation. */
export interface Sandbox {
  readonly isolation: Isolation;
  /**
   * The program and arguments to spawn for `path args`. With `gated`, the
   * spawned process waits for a line on its fd 3 before it becomes the
   * program (see GATE), and the caller must spawn it with a pipe there.
   */
  command(path: string, args: readonly string[]): { file: string; args: string[]; gated: boolean };
}

/**
 * isolation "none" finds what is left of a run by the output it holds, so it
 * must read the child's stdout and stderr from /proc before the program can
 * exit: a short script is often gone before spawn() even returns, and its
 * detached child would then go unseen. The system shell waits for a line on
 * fd 3 (written once the outputs are read), closes it, and execs the program
 * under the same pid with the same descriptors.
 */
const GATE = 'read -r _ <&3 || exit 126; exec 3<&-; exec "$0" "$@"';

async function systemProgram(name: string): Promise<string | undefined> {
  for (const dir of SYSTEM_DIRS) {
    const path = join(dir, name);
    if (await access(path, constants.X_OK).then(() => true, () => false)) return path;
  }
  return undefined;
}

const NAMESPACE_HELP =
  'Allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 also kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for unshare), ' +
  'or set plugins.shell.isolation = "none": commands then run without a namespace, can read the gateway\'s environment through /proc, and can outlive a call if they detach and close their output.';

/** Runs a sandboxed `setpriv --version` once: whether this machine grants the namespaces. */
function probe(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (err) => resolve(err.message));
    child.once('close', (code, signal) => resolve(code === 0 ? undefined : stderr.trim() || `exit ${code ?? signal}`));
  });
}

/** The sandbox for `isolation`; for "pid-namespace" it proves at start that namespaces work here. */
export async function openSandbox(isolation: Isolation): Promise<Sandbox> {
  if (isolation === 'none') {
    const sh = await systemProgram('sh');
    if (!sh) throw new PluginConfigError(`plugins.shell: isolation "none" needs sh in ${SYSTEM_DIRS.join(', ')}.`);
    return { isolation, command: (path, args) => ({ file: sh, args: ['-c', GATE, path, ...args], gated: true }) };
  }
  const [setpriv, unshare] = await Promise.all([systemProgram('setpriv'), systemProgram('unshare')]);
  if (!setpriv || !unshare) {
    throw new PluginConfigError(`plugins.shell: isolation "pid-namespace" needs setpriv and unshare (util-linux) in ${SYSTEM_DIRS.join(', ')}; install util-linux. ${NAMESPACE_HELP}`);
  }
  const command = (path: string, args: readonly string[]) => ({ file: setpriv, args: ['--pdeathsig', 'KILL', '--', unshare, ...NAMESPACE_FLAGS, '--', path, ...args], gated: false });
  const { file, args } = command(setpriv, ['--version']);
  const failure = await probe(file, args);
  if (failure !== undefined) throw new PluginConfigError(`plugins.shell: this machine refused a PID namespace for commands (${failure}). ${NAMESPACE_HELP}`);
  return { isolation, command };
}

/**
 * What a child's stdout and stderr are, as /proc names them ("socket:[1234]":
 * Node's stdio pipes are socket pairs, whose two ends differ, so they are read
 * from the child's side). Call it while the child cannot have exited: a
 * process that is gone has no descriptors left (Sandbox.command's gate).
 */
export function outputsOf(pid: number | undefined): Set<string> {
  const names = new Set<string>();
  if (pid === undefined) return names;
  for (const fd of [1, 2]) {
    try {
      names.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // exited already, or no /proc (not Linux)
    }
  }
  return names;
}

/**
 * Kills every other process that holds one of `outputs` open; returns how many.
 * Only processes this user may inspect are seen. A holder can fork while /proc
 * is being read (its child then holds the output too, under a pid the listing
 * missed), so the scan repeats until one finds nobody, a few times at most.
 */
export async function killOutputHolders(outputs: ReadonlySet<string>): Promise<number> {
  const signaled = new Set<number>();
  for (let round = 0; round < 4; round++) {
    const before = signaled.size;
    await killHoldersOnce(outputs, signaled);
    if (signaled.size === before) break;
  }
  return signaled.size;
}

/** One pass over /proc; a pid already signaled (killed, maybe not yet gone) is not counted again. */
async function killHoldersOnce(outputs: ReadonlySet<string>, signaled: Set<number>): Promise<void> {
  if (outputs.size === 0) return;
  const entries = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || signaled.has(pid)) continue;
    if (await holdsAny(pid, outputs)) {
      try {
        process.kill(pid, 'SIGKILL');
        signaled.add(pid);
      } catch {
        // gone already, or not ours
      }
    }
  }
}

async function holdsAny(pid: number, outputs: ReadonlySet<string>): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
    if (target !== undefined && outputs.has(target)) return true;
  }
  return false;
}
