// A core worker: its own instance of the core and its own vocabularies, for
// the heavy calls of big requests (jobs.ts), so that the gateway's event loop
// keeps answering meanwhile. Started by pool.ts; one job at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { loadCore } from '../core/index.js';
import { Vocabularies } from '../tokenizer/vocabularies.js';
import { runJob, toJobError, type Job } from './jobs.js';

const { files } = workerData as { files: Record<string, string> };
const port = parentPort;
if (!port) throw new Error('offload/worker.js runs as a worker thread (started by offload/pool.js)');
const core = await loadCore();
const vocabularies = new Vocabularies(core, files);

port.on('message', (message: { id: number; job: Job }) => {
  runJob(message.job, core, vocabularies).then(
    (result) => port.postMessage({ id: message.id, result }),
    (err: unknown) => port.postMessage({ id: message.id, error: toJobError(err) }),
  );
});
