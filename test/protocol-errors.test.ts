// JSON-RPC error codes have one owner (host/src/protocol/jsonrpc.ts) and
// errors one mapping (jsonRpcErrorOf in host/src/protocol/errors.ts): each of
// the gateway's error kinds gets its code, keeps its own in data.code, and an
// unexpected error tells the client nothing but where to look. The wire
// tests (http-guard, streamable-http, plugins-local, queue-mcp) check the
// same codes end to end.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, McpError as SdkMcpError } from '@modelcontextprotocol/sdk/types.js';
import { isMcpError, McpError } from '../host/src/protocol/mcp-error.js';
import { describe, expect, it } from 'vitest';
import { ConfigError, CoreError, PromptError, QueueError, ResourceNotFoundError, UnknownToolError } from '../host/src/index.js';
import { HttpRefusal } from '../host/src/protocol/http-refusal.js';
import { INTERNAL_ERROR_MESSAGE, jsonRpcErrorOf, toMcpError } from '../host/src/protocol/errors.js';
import * as rpc from '../host/src/protocol/jsonrpc.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../host/src');

function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((e) => {
    const path = join(folder, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('JSON-RPC error codes', () => {
  it('are the numbers the JSON-RPC spec and the MCP SDK use', () => {
    expect(rpc.PARSE_ERROR).toBe(ErrorCode.ParseError);
    expect(rpc.INVALID_REQUEST).toBe(ErrorCode.InvalidRequest);
    expect(rpc.METHOD_NOT_FOUND).toBe(ErrorCode.MethodNotFound);
    expect(rpc.INVALID_PARAMS).toBe(ErrorCode.InvalidParams);
    expect(rpc.INTERNAL_ERROR).toBe(ErrorCode.InternalError);
    expect(rpc.CONNECTION_CLOSED).toBe(ErrorCode.ConnectionClosed);
    expect(rpc.REQUEST_TIMEOUT).toBe(ErrorCode.RequestTimeout);
    expect([rpc.RESOURCE_NOT_FOUND, rpc.HTTP_REFUSED, rpc.SESSION_NOT_FOUND, rpc.PROVIDER_UNAVAILABLE, rpc.TOOL_WITHHELD]).toEqual([-32002, -32000, -32001, -32010, -32011]);
  });

  it('appear as numbers or SDK names nowhere in host/src but protocol/jsonrpc.ts', () => {
    const offenders = sources(SRC)
      .filter((file) => !file.endsWith(join('protocol', 'jsonrpc.ts')))
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, i) => ({ where: `${relative(SRC, file)}:${i + 1}`, line }))
          .filter(({ line }) => /-32\d{3}\b/.test(line) || /\bErrorCode\b/.test(line)),
      )
      .map(({ where, line }) => `${where}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it('tell a link failure (retry, fail over, queue) from an answer (final)', () => {
    expect([rpc.CONNECTION_CLOSED, rpc.REQUEST_TIMEOUT].every(rpc.isLinkFailure)).toBe(true);
    expect([rpc.INVALID_PARAMS, rpc.INTERNAL_ERROR, rpc.RESOURCE_NOT_FOUND, rpc.PROVIDER_UNAVAILABLE, rpc.TOOL_WITHHELD].some(rpc.isLinkFailure)).toBe(false);
  });
});

describe('jsonRpcErrorOf', () => {
  it('passes protocol errors as they are, data included', () => {
    const err = new McpError(rpc.PROVIDER_UNAVAILABLE, 'Tool "x" is unavailable.', { retry: true });
    expect(jsonRpcErrorOf(err)).toEqual({ code: -32010, message: err.message, data: { retry: true } });
    expect(jsonRpcErrorOf(new McpError(rpc.INVALID_PARAMS, 'bad'))).toEqual({ code: -32602, message: 'MCP error -32602: bad' });
    expect(toMcpError(err)).toBe(err);
  });

  it("takes the SDK's McpError (its Client's and Server's) as the host's own: same wording, passed as it is", () => {
    const sdk = new SdkMcpError(rpc.REQUEST_TIMEOUT, 'Request timed out', { timeout: 5 });
    const own = new McpError(rpc.REQUEST_TIMEOUT, 'Request timed out', { timeout: 5 });
    expect(own.message).toBe(sdk.message);
    expect([isMcpError(sdk), isMcpError(own)]).toEqual([true, true]);
    expect(jsonRpcErrorOf(sdk)).toEqual(jsonRpcErrorOf(own));
    expect(toMcpError(sdk)).toBe(sdk);
    // Not by its look alone: an Error with a numeric code but another name, or a plain object, is not one.
    expect(isMcpError(Object.assign(new Error('x'), { code: -32602 }))).toBe(false);
    expect(isMcpError({ name: 'McpError', code: -32602, message: 'x' })).toBe(false);
  });

  it('gives an HTTP refusal its own code', () => {
    expect(jsonRpcErrorOf(new HttpRefusal(404, rpc.SESSION_NOT_FOUND, 'Session not found.'))).toEqual({ code: -32001, message: 'Session not found.' });
  });

  it('answers unknown names with invalid params, and a missing resource with resource-not-found and its URI', () => {
    expect(jsonRpcErrorOf(new UnknownToolError('nope'))).toMatchObject({ code: -32602, message: expect.stringContaining('"nope" is not offered') });
    expect(jsonRpcErrorOf(new UnknownToolError('off', true))).toMatchObject({ code: -32602, message: expect.stringContaining('disabled') });
    expect(jsonRpcErrorOf(new PromptError('Prompt "p" is not offered.'))).toEqual({ code: -32602, message: 'Prompt "p" is not offered.' });
    expect(jsonRpcErrorOf(new ResourceNotFoundError('memo://x'))).toMatchObject({ code: -32002, data: { uri: 'memo://x' } });
  });

  it('maps queue errors by their code, and keeps the code in data', () => {
    expect(jsonRpcErrorOf(new QueueError('not-found', 'Task 1.x is not queued.'))).toEqual({ code: -32602, message: 'Task 1.x is not queued.', data: { code: 'not-found' } });
    expect(jsonRpcErrorOf(new QueueError('in-flight', 'being sent'))).toMatchObject({ code: -32602, data: { code: 'in-flight' } });
    for (const code of ['full', 'storage-full', 'closed', 'unknown-destination'] as const) {
      expect(jsonRpcErrorOf(new QueueError(code, 'no'))).toEqual({ code: -32603, message: 'no', data: { code } });
    }
  });

  it('keeps the message of core and config errors, which say what to do', () => {
    expect(jsonRpcErrorOf(new CoreError('corrupt', 'The frame is corrupt: bad checksum.'))).toEqual({ code: -32603, message: 'The frame is corrupt: bad checksum.', data: { code: 'corrupt' } });
    expect(jsonRpcErrorOf(new ConfigError('gateway config is invalid: gateway.port: unknown key'))).toEqual({ code: -32603, message: 'gateway config is invalid: gateway.port: unknown key' });
  });

  it('tells a client nothing of an unexpected error but where to look', () => {
    for (const err of [new TypeError("Cannot read properties of undefined (reading 'x')"), 'a thrown string', undefined]) {
      expect(jsonRpcErrorOf(err)).toEqual({ code: -32603, message: INTERNAL_ERROR_MESSAGE });
    }
  });

  it('turns a local error into the McpError a handler throws, with the same code and data', () => {
    const mcp = toMcpError(new QueueError('not-found', 'Task 7.x is not queued.'));
    expect(mcp).toBeInstanceOf(McpError);
    expect([mcp.code, mcp.data]).toEqual([-32602, { code: 'not-found' }]);
    expect(mcp.message).toContain('Task 7.x is not queued.');
  });
});
