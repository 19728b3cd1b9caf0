// Writing an answer to an HTTP request: a JSON body, or a failure as a JSON-RPC
// error. Apart from gateway/http.ts (the /mcp endpoint) because every route
// answers with these, and the /mcp endpoint with the MCP SDK behind it is
// loaded only with the first MCP request (gateway.ts).
import type { ServerResponse } from 'node:http';
import { jsonRpcErrorOf } from '../protocol/errors.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import type { Logger } from '../telemetry/log.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Turns a failure inside request handling into a clear HTTP answer: a
 * refusal with its status and headers, anything else as a 500 (and logged);
 * the JSON-RPC error is jsonRpcErrorOf's.
 */
export function answerError(res: ServerResponse, err: unknown, log: Logger): void {
  const refusal = err instanceof HttpRefusal ? err : undefined;
  if (!refusal) log.error('request failed', { error: (err as Error)?.stack ?? String(err) });
  if (res.headersSent) return void res.end();
  sendJson(res, refusal?.status ?? 500, { jsonrpc: '2.0', error: jsonRpcErrorOf(err), id: null }, refusal?.headers);
}
