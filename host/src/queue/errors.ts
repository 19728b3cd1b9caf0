// Local errors of the offline queue: stable string codes, messages that say
// what to do next. protocol/errors.ts maps them to JSON-RPC errors (the MCP
// layer answers some as tool errors instead).

export type QueueErrorCode =
  | 'full'
  | 'too-large'
  | 'unpackable'
  | 'bad-destination'
  | 'unknown-destination'
  | 'key-conflict'
  | 'storage-full'
  | 'storage-read-only'
  | 'storage'
  | 'not-found'
  | 'in-flight'
  | 'closed'
  | 'loading';

export class QueueError extends Error {
  override readonly name = 'QueueError';
  constructor(
    readonly code: QueueErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Turns a failed SQLite write into a QueueError. The transaction was rolled
 * back by SQLite, so nothing already accepted changed.
 */
export function storageError(err: unknown, what: string): QueueError {
  const code = String((err as { code?: unknown })?.code ?? '');
  const detail = (err as Error)?.message ?? String(err);
  if (code.startsWith('SQLITE_FULL')) {
    return new QueueError('storage-full', `${what} failed: the disk holding the queue is full (${detail}). Free space; queued work is intact.`);
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new QueueError('storage-read-only', `${what} failed: the queue database is read-only (${detail}). Check the data directory's permissions and mount; queued work is intact.`);
  }
  return new QueueError('storage', `${what} failed in SQLite (${code || 'error'}: ${detail}); nothing was changed.`);
}
