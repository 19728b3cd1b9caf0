// Worker threads for heavy core work (offload/jobs.ts), so that one big
// request (a 64 MiB count_tokens, a large zstd pack) never stalls the event
// loop that answers every other request. Workers start on the first job that
// needs one, each loads its own core instance and vocabularies, and exits
// after a while without work. A worker that dies fails its job with a clear
// error; the next job starts a new one. Cancelling a running job stops its
// worker (the core cannot be interrupted otherwise).
import { Worker } from 'node:worker_threads';
import { fromJobError, type Job, type JobError, type JobResult, type Packed, type TextCount } from './jobs.js';

/** Texts of at least this many UTF-16 units (count_tokens) and data of at least this many bytes (packing) go to a worker. */
export const OFFLOAD_THRESHOLD = 256 * 1024;

export interface CoreWorkersOptions {
  /** The configured tokenizer.json files ([tokenizers]), by name: each worker loads what it is asked for. */
  files: Readonly<Record<string, string>>;
  /** At most this many workers (1-2 on a small machine); jobs beyond wait their turn. */
  size?: number;
  /** A worker without a job for this long exits, giving its memory back. */
  idleMs?: number;
  /** Sees each worker started (monitoring; tests stop one to see a crash handled). */
  onWorker?: (worker: Worker) => void;
}

/** A job that did not complete because its worker stopped or the pool closed. */
export class OffloadError extends Error {
  override readonly name = 'OffloadError';
}

interface Pending {
  job: Job;
  signal: AbortSignal | undefined;
  resolve: (result: TextCount | Packed) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  running: (Pending & { id: number }) | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

/** The compiled worker script: next to this file in dist/, and dist/'s when this runs from the TypeScript sources (tests). */
function workerScript(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/offload/worker.js', here) : new URL('./worker.js', here);
}

const describeJob = (job: Job) => (job.op === 'count' ? `counting ${job.text.length} characters with ${job.tokenizer}` : `packing ${job.data.length} bytes with ${job.algorithm}`);

export class CoreWorkers {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;
  private readonly size: number;
  private readonly idleMs: number;

  constructor(private readonly options: CoreWorkersOptions) {
    this.size = Math.max(1, options.size ?? 1);
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** Workers alive now. */
  get alive(): number {
    return this.slots.size;
  }

  /** Runs `job` in a worker; `signal` cancels it (a running job's worker is stopped). */
  run<J extends Job>(job: J, signal?: AbortSignal): Promise<JobResult<J>> {
    if (this.closed) return Promise.reject(new OffloadError('The gateway is closing; the job was not started.'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<TextCount | Packed>((resolve, reject) => {
      const pending: Pending = { job, signal, resolve, reject };
      signal?.addEventListener('abort', () => this.cancel(pending), { once: true });
      this.queue.push(pending);
      this.pump();
    }) as Promise<JobResult<J>>;
  }

  /** Stops every worker; queued and running jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new OffloadError('The gateway closed before the job ran.'));
    await Promise.all([...this.slots].map((slot) => this.stop(slot)));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = [...this.slots].find((s) => s.running === undefined) ?? (this.slots.size < this.size ? this.spawn() : undefined);
      if (!slot) return;
      this.start(slot, this.queue.shift()!);
    }
  }

  private start(slot: Slot, pending: Pending): void {
    clearTimeout(slot.idleTimer);
    const running = { ...pending, id: ++this.nextId };
    slot.running = running;
    slot.worker.postMessage({ id: running.id, job: pending.job });
  }

  private spawn(): Slot {
    const worker = new Worker(workerScript(), { workerData: { files: this.options.files } });
    const slot: Slot = { worker, running: undefined, idleTimer: undefined };
    this.slots.add(slot);
    worker.on('message', (message: { id: number; result?: TextCount | Packed; error?: JobError }) => this.settle(slot, message));
    worker.on('error', (err) => this.lost(slot, `it failed: ${err.message}`));
    worker.on('exit', (code) => this.lost(slot, `it exited with code ${code}`));
    this.options.onWorker?.(worker);
    return slot;
  }

  private settle(slot: Slot, message: { id: number; result?: TextCount | Packed; error?: JobError }): void {
    const running = slot.running;
    if (!running || running.id !== message.id) return;
    slot.running = undefined;
    if (message.error) running.reject(fromJobError(message.error));
    else running.resolve(message.result!);
    slot.idleTimer = setTimeout(() => void this.stop(slot), this.idleMs).unref();
    this.pump();
  }

  /** The worker is gone: its job fails with why, and the queue moves on (a new worker starts when needed). */
  private lost(slot: Slot, why: string): void {
    if (this.retire(slot, why) && !this.closed) this.pump();
  }

  /** Takes the worker out of use; its running job, if any, fails saying `why`. False when it was out already. */
  private retire(slot: Slot, why: string): boolean {
    if (!this.slots.delete(slot)) return false;
    clearTimeout(slot.idleTimer);
    const running = slot.running;
    slot.running = undefined;
    running?.reject(new OffloadError(`The core worker stopped while ${describeJob(running.job)} (${why}). The call did not complete; retry it (a new worker starts).`));
    return true;
  }

  private cancel(pending: Pending): void {
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      pending.reject(pending.signal?.reason);
      return;
    }
    const slot = [...this.slots].find((s) => s.running?.resolve === pending.resolve);
    if (!slot) return;
    slot.running = undefined;
    pending.reject(pending.signal?.reason);
    void this.stop(slot);
  }

  private async stop(slot: Slot): Promise<void> {
    this.retire(slot, 'the gateway stopped it');
    await slot.worker.terminate();
    if (!this.closed) this.pump();
  }
}
