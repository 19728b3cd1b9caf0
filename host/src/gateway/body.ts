// Reads and parses a JSON request body with a size limit, so a huge or endless
// body costs at most `limit` bytes of memory before it is refused.
import type { IncomingMessage } from 'node:http';

export class BodyError extends Error {
  override readonly name = 'BodyError';
  constructor(
    readonly status: 400 | 413 | 415,
    readonly rpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BodyError(400, -32700, `Parse error: the body is not valid JSON (${(err as Error).message}).`);
  }
}

function tooLarge(limit: number): BodyError {
  return new BodyError(413, -32600, `Request body exceeds ${limit} bytes (gateway.max_body_bytes).`);
}
