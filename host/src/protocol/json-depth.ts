// How deep a JSON message from a client may nest its objects and arrays.
// JSON.parse takes any depth, but much that handles a value afterwards
// recurses (JSON.stringify with a replacer, structured clone, the audit log's
// canonical JSON, schema validators): a 200 KB body of 100,000 nested arrays
// overflowed the stack in the audit writer's timer and ended the process.
// Every way in for a client's messages checks the depth once, before
// anything runs: HTTP bodies (gateway/body.ts), and transports a session
// runs on (stdio, an embedder's, a mesh peer's: guardDepth). The check walks
// the value without recursing, so a deep value cannot overflow it either.
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { INVALID_REQUEST } from './jsonrpc.js';

/** Nesting levels of objects and arrays a message may have (the limit serde_json parses to by default). */
export const MAX_JSON_DEPTH = 128;

/** Whether `value` nests objects and arrays more than `max` levels deep. */
export function nestsDeeperThan(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const values: object[] = [value];
  const depths: number[] = [1];
  for (let value = values.pop(); value !== undefined; value = values.pop()) {
    const depth = depths.pop()!;
    if (depth > max) return true;
    if (Array.isArray(value)) {
      for (const item of value as unknown[]) if (typeof item === 'object' && item !== null) (values.push(item), depths.push(depth + 1));
      continue;
    }
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (typeof item === 'object' && item !== null) (values.push(item), depths.push(depth + 1));
    }
  }
  return false;
}

/** The sentence a refusal of a too-deep message says. */
export function tooDeepMessage(what: string): string {
  return `Invalid Request: ${what} nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep.`;
}

/**
 * Makes `transport` refuse the messages that nest more than MAX_JSON_DEPTH
 * deep, once its session has connected (it replaces the onmessage the SDK's
 * Protocol set): a request is answered with Invalid Request and never runs;
 * anything else (a notification, an answer to the session's own request) is
 * dropped and reported to onerror. Drops an answer rather than passing an
 * error on in its place: the SDK's Protocol would then give up on its request
 * as it does when an answer never comes (its time limit).
 */
export function guardDepth(transport: Transport): void {
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if (!nestsDeeperThan(message)) return deliver?.(message, extra);
    const id = (message as { id?: unknown }).id;
    if ('method' in message && (typeof id === 'string' || typeof id === 'number')) {
      const answer: JSONRPCMessage = { jsonrpc: '2.0', id, error: { code: INVALID_REQUEST, message: tooDeepMessage('the request') } };
      transport.send(answer).catch(() => undefined);
      return;
    }
    transport.onerror?.(new Error(tooDeepMessage('a message from the client was dropped: it')));
  };
}
