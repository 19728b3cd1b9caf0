// Reads and parses a JSON request body with a size limit, so a huge or endless
// body costs at most `limit` bytes of memory before it is refused. The refusal
// closes the connection: the rest of the body is never read (keeping the
// connection would mean reading all of it, 200 MiB or more, to find the next
// request).
import type { IncomingMessage } from 'node:http';
import { HTTP_REFUSED, INVALID_REQUEST, PARSE_ERROR } from '../protocol/jsonrpc.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { nestsDeeperThan, tooDeepMessage } from '../protocol/json-depth.js';

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit);
  const text = await readText(req, limit);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpRefusal(400, PARSE_ERROR, `Parse error: the body is not valid JSON (${(err as Error).message}).`);
  }
  // Before anything that recurses into it runs (protocol/json-depth.ts).
  if (nestsDeeperThan(body)) throw new HttpRefusal(400, INVALID_REQUEST, tooDeepMessage('the body'));
  return body;
}

/**
 * An operator's small JSON body `{"<field>": "<choice>"}` (POST /v1/power, /v1/log): the
 * value of `field` when it is one of `choices`, else a 400 naming them, with `hint`.
 */
export async function readChoice<T extends string>(req: IncomingMessage, field: string, choices: readonly T[], hint: string): Promise<T> {
  const body = await readJsonBody(req, 4096);
  const value = (body as Record<string, unknown> | null)?.[field];
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new HttpRefusal(400, HTTP_REFUSED, `Set "${field}" to one of ${choices.map((c) => `"${c}"`).join(', ')} (${hint}).`);
  }
  return value as T;
}

/** The body as UTF-8, refused past `limit` bytes. Plain listeners: an async iterator costs more per request. */
function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      reject(tooLarge(limit));
    };
    let ended = false;
    req.on('data', onData);
    req.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    // A client that hangs up mid-body makes Node destroy the request with an "aborted" error, then close it:
    // either way the client's doing, answered (to no one) as a refusal, not logged as the gateway's failure.
    // Every request closes; only before 'end' is a refusal, with its stack, worth building.
    const hungUp = () => {
      if (!ended) reject(new HttpRefusal(400, PARSE_ERROR, 'The client closed the connection before the body ended.'));
    };
    req.once('error', hungUp);
    req.once('close', hungUp);
  });
}

function tooLarge(limit: number): HttpRefusal {
  return new HttpRefusal(413, INVALID_REQUEST, `Request body exceeds ${limit} bytes (gateway.max_body_bytes).`, { connection: 'close' });
}
