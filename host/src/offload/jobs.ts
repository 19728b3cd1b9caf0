// What the core workers do (worker.ts) and how the gateway asks for it
// (pool.ts): the heavy core calls of one request, in a form that crosses
// postMessage. Both sides run the same functions, so a count in a worker and
// a count on the event loop give the same answer.
import { CoreError, type Algorithm, type EdgeCore } from '../core/index.js';
import type { Vocabularies } from '../tokenizer/vocabularies.js';

export interface CountJob {
  op: 'count';
  tokenizer: string;
  text: string;
  allowSpecial: boolean;
}

export interface PackJob {
  op: 'pack';
  data: Uint8Array;
  algorithm: Algorithm;
  level?: number;
}

export type Job = CountJob | PackJob;

export interface TextCount {
  tokens: number;
  /** Unicode code points. */
  characters: number;
  /** UTF-8 bytes. */
  bytes: number;
}

export interface Packed {
  frame: Uint8Array;
  /** xxh32 of the data, the checksum the frame carries. */
  checksum: number;
}

export type JobResult<J extends Job> = J extends CountJob ? TextCount : Packed;

/** An error as it crosses back from a worker: a core error keeps its code. */
export interface JobError {
  message: string;
  coreCode?: string;
}

/** Code points of `text`, without building an array of them (a 64 MiB text would need gigabytes). */
export function codePoints(text: string): number {
  let pairs = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pairs += 1;
        i += 1;
      }
    }
  }
  return text.length - pairs;
}

/** Runs one job on `core` (and its vocabularies): on the event loop, or inside a worker. */
export async function runJob(job: Job, core: EdgeCore, vocabularies: Vocabularies): Promise<TextCount | Packed> {
  if (job.op === 'count') {
    const tokenizer = await vocabularies.get(job.tokenizer);
    return { tokens: tokenizer.count(job.text, { allowSpecial: job.allowSpecial }), characters: codePoints(job.text), bytes: Buffer.byteLength(job.text) };
  }
  const frame = core.codec.pack(job.data, { algorithm: job.algorithm, ...(job.level === undefined ? {} : { level: job.level }) });
  return { frame, checksum: core.codec.checksum(job.data) };
}

export function toJobError(err: unknown): JobError {
  return err instanceof CoreError ? { message: err.message, coreCode: err.code } : { message: (err as Error)?.message ?? String(err) };
}

export function fromJobError(error: JobError): Error {
  return error.coreCode !== undefined ? new CoreError(error.coreCode, error.message) : new Error(error.message);
}
