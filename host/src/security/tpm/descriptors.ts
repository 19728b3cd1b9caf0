// Children the gateway starts (stdio upstreams, shell_run's programs, the
// sqlite plugin's child) must not inherit the TPM. The TSS opens its
// descriptors without O_CLOEXEC: tcti-device keeps /dev/tpmrm0 open for the
// connection's life, so every child started after it held a read-write
// descriptor of the gateway's own TPM context (past any sandbox that hides
// /dev), and a software TPM's socket kept open by a child stalled that TPM
// for everyone (swtpm serves one connection at a time). The descriptors the
// TCTI opened are found by listing /proc/self/fd around its initialization,
// which runs on the main thread: no child can be started in between.
// tcti-swtpm's per-command sockets (opened on koffi's worker thread, closed
// when the answer is read) are out of reach; swtpm's `disconnect` option
// (docs/tpm.md) makes one a child caught harmless.
import { readdirSync, readlinkSync } from 'node:fs';
import koffi from 'koffi';
import { TpmError } from './errors.js';

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

type Fcntl = (fd: number, cmd: number, ...rest: unknown[]) => number;
let fcntl: Fcntl | undefined;

/** The C library's fcntl: glibc's on Debian, Raspberry Pi OS and Jetson Linux; musl's on Alpine. */
function libcFcntl(): Fcntl {
  if (fcntl) return fcntl;
  let lastError: unknown;
  for (const name of ['libc.so.6', `libc.musl-${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}.so.1`]) {
    try {
      fcntl = koffi.load(name).func('int fcntl(int fd, int cmd, ...)') as Fcntl;
      return fcntl;
    } catch (err) {
      lastError = err;
    }
  }
  throw new TpmError('tpm_library_missing', `cannot load the C library to keep the TPM from child processes (${(lastError as Error).message})`);
}

/**
 * This process's open descriptors and what each names; empty where /proc is
 * not there (then nothing is marked). By name too: a number is reused, the
 * listing's own descriptor's first of all.
 */
export function openDescriptors(): Map<number, string> {
  const open = new Map<number, string>();
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return open;
  }
  for (const name of names) {
    try {
      open.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // closed since it was listed
    }
  }
  return open;
}

/** Marks every descriptor opened since `before` close-on-exec; returns those it marked. */
export function keepFromChildren(before: ReadonlyMap<number, string>): number[] {
  const marked: number[] = [];
  for (const [fd, target] of openDescriptors()) {
    if (fd <= 2 || before.get(fd) === target) continue;
    const flags = libcFcntl()(fd, F_GETFD);
    // -1: closed since it was listed (the listing's own descriptor among them).
    if (flags < 0 || flags & FD_CLOEXEC) continue;
    if (libcFcntl()(fd, F_SETFD, 'int', flags | FD_CLOEXEC) === 0) marked.push(fd);
  }
  return marked;
}
