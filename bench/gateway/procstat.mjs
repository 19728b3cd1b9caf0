// Resident memory of a process and of its whole tree, from /proc (Linux only).
import { readdirSync, readFileSync } from 'node:fs';

/**
 * @param {number} pid
 * @param {string} field
 */
function statusField(pid, field) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : 0; // kB
  } catch {
    return 0; // the process is gone
  }
}

/** @param {number} pid */
function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: split after it.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/**
 * pid and all its descendants that are alive now.
 * @param {number} root
 * @returns {number[]}
 */
export function processTree(root) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = parentOf(Number(name));
    const siblings = children.get(ppid) ?? [];
    siblings.push(Number(name));
    children.set(ppid, siblings);
  }
  const tree = [];
  const stack = [root];
  for (let pid = stack.pop(); pid !== undefined && tree.length < 10_000; pid = stack.pop()) {
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * Samples RSS of `pid` and of its tree every `everyMs` until stop(); the peaks
 * are what the bench reports. VmHWM is the kernel's own high-water mark.
 * @param {number} pid
 */
export function sampleRss(pid, everyMs = 100) {
  let peakKb = 0;
  let peakTreeKb = 0;
  let peakProcesses = 0;
  const sample = () => {
    peakKb = Math.max(peakKb, statusField(pid, 'VmRSS'));
    const tree = processTree(pid);
    peakProcesses = Math.max(peakProcesses, tree.length);
    peakTreeKb = Math.max(peakTreeKb, tree.reduce((sum, p) => sum + statusField(p, 'VmRSS'), 0));
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const mb = (/** @type {number} */ kb) => Math.round(kb / 102.4) / 10;
      return {
        peakRssMb: mb(peakKb),
        peakTreeRssMb: mb(peakTreeKb),
        treeProcesses: peakProcesses,
        hwmRssMb: mb(statusField(pid, 'VmHWM')),
      };
    },
  };
}

/**
 * Sends `signal` to every descendant of `pid` (some spawn their children detached).
 * @param {number} pid
 * @param {NodeJS.Signals} signal
 */
export function signalDescendants(pid, signal) {
  for (const p of processTree(pid).slice(1)) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * CPU time (user + system, ms) used so far by pid and its live descendants.
 * @param {number} root
 */
export function treeCpuMs(root) {
  let total = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
    } catch {
      // gone between the listing and the read
    }
  }
  return total;
}

/**
 * CPU time (user + system, ms; 10 ms ticks) of one thread of `pid`: its main
 * thread by default (whose id is the pid), what serves the requests in Node.
 * @param {number} pid
 * @param {number} [tid]
 */
export function threadCpuMs(pid, tid = pid) {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`);
}

/**
 * CPU time (user + system, ms) of the whole process `pid`, all its threads.
 * @param {number} pid
 */
export function processCpuMs(pid) {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** @param {string} file */
function statCpuMs(file) {
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/**
 * Resident memory of `pid` now, MB.
 * @param {number} pid
 */
export function rssMb(pid) {
  return Math.round(statusField(pid, 'VmRSS') / 102.4) / 10;
}

/**
 * The whole machine's CPU time so far (/proc/stat, every CPU together, ms):
 * busy (everything but idle and iowait) and all of it. Two readings give the
 * busy cores over a window: busy difference over all difference, times CPUs.
 */
export function machineCpuMs() {
  const fields = readFileSync('/proc/stat', 'utf8').slice(0, 200).split('\n', 1)[0]?.trim().split(/\s+/).slice(1, 9).map(Number) ?? [];
  const all = fields.reduce((sum, ticks) => sum + ticks, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: (all - idle) * TICK_MS, all: all * TICK_MS };
}
