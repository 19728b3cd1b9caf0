// The worker thread the audit log (log.ts) starts: opens its own connection
// to the gateway's database and runs the chain writer (writer.ts) on the
// batches the main thread posts.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabaseFile } from '../../storage/database.js';
import { ChainWriter } from './writer.js';
import { unpackEvents, type FromWriter, type ToWriter, type WriterOptions } from './wire.js';

const port = parentPort;
if (!port) throw new Error('writer-worker.js runs as a worker thread started by the audit log');

const options = workerData as WriterOptions;
const send = (message: FromWriter) => port.postMessage(message);
const writer = new ChainWriter(openDatabaseFile(options.file), options, send);

port.on('message', (message: ToWriter) => {
  switch (message.type) {
    case 'batch':
      writer.add(unpackEvents(message.records), message.gap);
      break;
    case 'flush':
      void writer.flush().then(() => send({ type: 'reply', id: message.id, unwritten: 0 }));
      break;
    case 'close':
      void writer.close().then(
        (unwritten) => {
          send({ type: 'reply', id: message.id, unwritten });
          port.close();
        },
        (err: unknown) => {
          send({ type: 'log', level: 'error', message: 'audit log: closing the writer failed', fields: { error: String(err) } });
          send({ type: 'reply', id: message.id, unwritten: -1 });
          port.close();
        },
      );
      break;
  }
});
