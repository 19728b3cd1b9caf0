// The checks of a tools/call on the hot path: its params on the way in, its
// result on the way out. The SDK's Server checks both with zod when it
// installs a tools/call handler, after the gateway's own check of the params
// (mcp-server.ts): the params were parsed twice and every result once, about a
// tenth of the gateway's CPU per call over an HTTP upstream (bench/gateway).
// Here the common shapes are recognised by a plain walk that accepts only what
// the SDK's schemas accept, with the same keys, so the value sent is the same;
// anything else (task results, images, annotations, unknown keys) goes through
// the SDK's schemas as before, with the SDK's messages.
import { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  type CallToolRequest,
  type CallToolResult,
  type CreateTaskResult,
} from '@modelcontextprotocol/sdk/types.js';
import { INVALID_PARAMS } from '../protocol/jsonrpc.js';
import { McpError } from '../protocol/mcp-error.js';

type Plain = Record<string, unknown>;
const isPlainObject = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether every own key of `value` is one of `allowed`. */
function keysWithin(value: Plain, allowed: readonly string[]): boolean {
  for (const key in value) if (!allowed.includes(key)) return false;
  return true;
}

const PARAM_KEYS = ['name', 'arguments', '_meta'] as const;
const META_KEYS = ['progressToken'] as const;

/**
 * Whether tools/call params are of the plain kind the SDK's schema passes
 * unchanged: a name, arguments as an object (or none), `_meta` holding at most
 * a progress token. The caller has checked name and arguments already.
 */
export function isPlainCallParams(params: Plain): boolean {
  if (!keysWithin(params, PARAM_KEYS)) return false;
  const meta = params._meta;
  if (meta === undefined) return true;
  if (!isPlainObject(meta) || !keysWithin(meta, META_KEYS)) return false;
  const token = meta.progressToken;
  return token === undefined || typeof token === 'string' || (typeof token === 'number' && Number.isInteger(token));
}

const RESULT_KEYS = ['content', 'isError', 'structuredContent'] as const;
const TEXT_KEYS = ['type', 'text'] as const;

/** Whether a result is text content only (with isError and structuredContent), which CallToolResultSchema passes unchanged. */
export function isPlainTextResult(result: unknown): result is CallToolResult {
  if (!isPlainObject(result) || !keysWithin(result, RESULT_KEYS)) return false;
  if (result.isError !== undefined && typeof result.isError !== 'boolean') return false;
  if (result.structuredContent !== undefined && !isPlainObject(result.structuredContent)) return false;
  const content = result.content;
  if (!Array.isArray(content)) return false;
  for (const block of content) {
    if (!isPlainObject(block) || block.type !== 'text' || typeof block.text !== 'string' || !keysWithin(block, TEXT_KEYS)) return false;
  }
  return true;
}

function schemaMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A tools/call result checked as the SDK's Server checks it (a task result when the call asked for one). */
export function checkedCallResult(params: CallToolRequest['params'], result: unknown): CallToolResult | CreateTaskResult {
  if (params.task) {
    const task = CreateTaskResultSchema.safeParse(result);
    if (!task.success) throw new McpError(INVALID_PARAMS, `Invalid task creation result: ${schemaMessage(task.error)}`);
    return task.data;
  }
  if (isPlainTextResult(result)) return result;
  const parsed = CallToolResultSchema.safeParse(result);
  if (!parsed.success) throw new McpError(INVALID_PARAMS, `Invalid tools/call result: ${schemaMessage(parsed.error)}`);
  return parsed.data;
}

type ToolCallSchema = Parameters<Server['setRequestHandler']>[0];
type ToolCallHandler = Parameters<Server['setRequestHandler']>[1];

type ProtocolEntry = (request: { method: string; params?: unknown }, extra: Parameters<ToolCallHandler>[1]) => Promise<unknown>;

/**
 * Installs the tools/call handler of `server` with the result checked by
 * checkedCallResult. `schema` (the gateway's own request check) has parsed the
 * params; the SDK Server's wrapper would parse them again and the result with
 * zod, so the handler goes to the protocol layer under it. That layer still
 * runs `schema` through zod for every request, only for `checkParams` inside
 * it: when the Protocol keeps its handlers where this SDK version does
 * (`_requestHandlers`, a Map by method), the entry calls `checkParams` itself
 * and hands on what the schema would give (method and checked params; the
 * schema strips `jsonrpc` and `id`). Without that map nothing changes.
 */
export function handleToolCalls(server: Server, schema: ToolCallSchema, handler: ToolCallHandler, checkParams?: (params: unknown) => CallToolRequest['params']): boolean {
  const checked: ToolCallHandler = async (request, extra) => {
    const result = await handler(request, extra);
    return checkedCallResult((request as CallToolRequest).params, result) as Awaited<ReturnType<ToolCallHandler>>;
  };
  (Protocol.prototype.setRequestHandler as (this: Server, s: ToolCallSchema, h: ToolCallHandler) => void).call(server, schema, checked);
  const handlers = (server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!checkParams || !(handlers instanceof Map) || !handlers.has('tools/call')) return false;
  const entry: ProtocolEntry = (request, extra) => checked({ method: request.method, params: checkParams(request.params) } as Parameters<ToolCallHandler>[0], extra) as Promise<unknown>;
  handlers.set('tools/call', entry);
  return true;
}
