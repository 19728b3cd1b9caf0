// Probes a hostile client sent to a default gateway (issue 12, "Found when
// tried as a hostile client would"), each a named regression test over real
// sockets on 127.0.0.1.
import { describe, expect, it } from 'vitest';
import { startGateway } from './helpers/gateway.js';
import { openSession, rawRequest, rpc } from './helpers/raw-http.js';

const portOf = (url: string) => Number(new URL(url).port);

describe('probe: tools/call with arguments that are not an object', () => {
  it('answers arguments null, [] and a string with invalid params (-32602) and a sentence, not a schema dump', async () => {
    const port = portOf((await startGateway()).url);
    const session = await openSession(port);
    for (const [args, kind] of [[null, 'null'], [[], 'an array'], ['x', 'a string']] as const) {
      const answer = await rpc(port, session, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'count_tokens', arguments: args } });
      expect(answer.json.error, kind).toEqual({
        code: -32602,
        message: `MCP error -32602: tools/call "count_tokens": "arguments" must be an object of argument names to values, or left out; got ${kind}.`,
      });
    }
    const nameless = await rpc(port, session, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { arguments: {} } });
    expect(nameless.json.error).toEqual({ code: -32602, message: 'MCP error -32602: tools/call needs "name", the tool to call, as a non-empty string; got nothing.' });
    const badTask = await rpc(port, session, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'count_tokens', arguments: {}, task: 5 } });
    expect(badTask.json.error).toEqual({ code: -32602, message: 'MCP error -32602: tools/call "count_tokens": task: Invalid input: expected object, received number' });
  });
});

describe('probe: a message the MCP SDK cannot classify', () => {
  // The SDK's Protocol drops such a message without an answer; the POST waiting for it hung until the client gave up.
  it('is refused with 400 and what is wrong, instead of a POST that is never answered', async () => {
    const port = portOf((await startGateway()).url);
    const session = await openSession(port);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const cases: [object, string][] = [
      [{ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'count_tokens', arguments: {}, _meta: 5 } }, 'params._meta: Invalid input: expected object, received number'],
      [{ jsonrpc: '2.0', id: 9, method: 'tools/list', extra: 1 }, 'Unrecognized key: "extra"'],
      [{ jsonrpc: '2.0', method: 'notifications/initialized', extra: 1 }, 'Unrecognized key: "extra"'],
      [{ jsonrpc: '2.0', id: 3, result: {}, extra: 1 }, 'a response has only "jsonrpc", "id" and one of "result" or "error"'],
    ];
    for (const [message, why] of cases) {
      const answer = await rawRequest(port, 'POST', '/mcp', headers, JSON.stringify(message));
      expect(answer.status, why).toBe(400);
      expect(answer.json.error, why).toEqual({ code: -32600, message: `Invalid Request: ${why}.` });
    }
  });
});
