// Small pieces of the wire the lean Streamable HTTP client (lean-http.ts)
// reads: header values and the shape of a JSON-RPC message.
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { IncomingHttpHeaders } from 'node:http';

/** A header's value; the first when it came more than once. */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether a content type is text/event-stream (parameters and case aside). */
export function isEventStream(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';', 1)[0]!.trim().toLowerCase() === 'text/event-stream';
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a value has the shape of a JSON-RPC 2.0 message: a request or
 * notification (a method), or a response (an id with a result or an error).
 * The fields inside are the Client's to check, against the schema of what it handles.
 */
export function isMessage(value: unknown): value is JSONRPCMessage {
  if (!isObject(value) || value.jsonrpc !== '2.0') return false;
  if (typeof value.method === 'string') return true;
  return 'id' in value && ('result' in value || (isObject(value.error) && typeof value.error.code === 'number'));
}

/** A message or a batch of them, or undefined when any is not a JSON-RPC message. */
export function asMessages(value: unknown): JSONRPCMessage[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  return list.every(isMessage) ? (list as JSONRPCMessage[]) : undefined;
}
