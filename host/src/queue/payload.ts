// Payloads and results are JSON inside codec frames (offline.compression, zstd
// by default; packed by the codec facade), so a flipped bit is caught by the
// frame checksum.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export interface Payloads {
  pack(data: Uint8Array): Uint8Array;
  unpack(frame: Uint8Array, maxOutput: number): Uint8Array;
}

/** Ceiling on one decoded payload: a corrupt header cannot make us allocate more. */
export const MAX_DECODED_BYTES = 64 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(p: Payloads, value: unknown): Uint8Array {
  return p.pack(encoder.encode(JSON.stringify(value)));
}

/** Decodes a frame of JSON; throws on a corrupt frame or invalid JSON. */
export function decodeJson(p: Payloads, frame: Uint8Array): unknown {
  return JSON.parse(decoder.decode(p.unpack(frame, MAX_DECODED_BYTES)));
}

/** A tool error result carrying `message`, for tasks that end without delivery. */
export function errorResult(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}
