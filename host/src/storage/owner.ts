// One offline queue per database file. Two gateways on one file (`mcp-edge
// serve` and a client's `mcp-edge stdio` on the default data directory, or
// two stdio sessions) would each rebuild the queue from it and deliver the
// same calls, each once: twice in all. The gateway that starts first owns
// the file, marked by `<database>.owner` (its pid, what it serves, since
// when), and runs the queue; one that starts while it runs shares the rest
// of the file (keys, pins, audit, analytics: each change one transaction)
// and runs without a queue, says so, and claims the file again every few
// seconds to take the queue over once the owner has stopped
// (gateway/queue-ownership.ts). A mark left by a process that no longer runs
// (killed, power lost) is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { ensureDatabaseFolder, StorageError } from './database.js';

interface Mark {
  pid: number;
  /** What the owner serves, for others' messages ("serving http on 127.0.0.1:8080"). */
  serves: string;
  since: string;
}

/** The files this process owns: a second gateway in the same process does not own them again. */
const ownedHere = new Set<string>();

/** Whether the process `pid` runs (another user's process counts; one that exited and waits to be reaped does not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Linux: "pid (name) state ...": Z is a zombie, X dead.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

function readMark(path: string): Mark | undefined {
  try {
    const mark = JSON.parse(readFileSync(path, 'utf8')) as Partial<Mark>;
    return typeof mark.pid === 'number' ? { pid: mark.pid, serves: String(mark.serves ?? ''), since: String(mark.since ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `mark` is a live owner other than this process's next gateway: its pid runs, and is not this process unless this process holds the file. */
function held(path: string, mark: Mark | undefined): mark is Mark {
  if (!mark) return false;
  if (mark.pid === process.pid) return ownedHere.has(path);
  return running(mark.pid);
}

/** A claim on a database file: owned by this gateway, or held by another (described for messages). */
export type Claim = { owner: DatabaseOwner } | { heldBy: string };

export class DatabaseOwner {
  private constructor(private readonly path: string) {}

  /** Owns `databaseFile` for this gateway when no running gateway does. */
  static claim(databaseFile: string, serves: string): Claim {
    const path = `${databaseFile}.owner`;
    // The mark is made before the database opens: the folder too, with the database's own refusal when it cannot be.
    ensureDatabaseFolder(databaseFile);
    const mark: Mark = { pid: process.pid, serves, since: new Date().toISOString() };
    // Twice at most: a mark left by a process that is gone is removed, then the file is created anew.
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, `${JSON.stringify(mark)}\n`);
        closeSync(fd);
        ownedHere.add(path);
        return { owner: new DatabaseOwner(path) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StorageError(`cannot mark ${databaseFile} as in use (${path}): ${(err as Error).message}`);
      }
      const owner = readMark(path);
      if (held(path, owner) || attempt > 0) return { heldBy: describe(path, owner) };
      unlinkSync(path);
    }
  }

  /** Gives the file up (at close). */
  release(): void {
    if (!ownedHere.delete(this.path)) return;
    if (readMark(this.path)?.pid !== process.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to give up.
    }
  }
}

function describe(path: string, owner: Mark | undefined): string {
  return owner ? `another mcp-edge (pid ${owner.pid}${owner.serves ? `, ${owner.serves}` : ''}, since ${owner.since})` : `another mcp-edge (${path} names no process)`;
}
