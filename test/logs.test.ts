// Logs ([log], telemetry/log.ts): the real CLI, real sockets, its real stderr.
// JSON lines carry the request id (the client's X-Request-Id when sane, echoed
// back), the trace id of the client's traceparent, the MCP session and the
// tool; the pretty format is for people and is not JSON; the level changes
// while running (POST /v1/log, SIGHUP); a forged request id neither comes back
// raw nor makes a line of its own; `mcp-edge stdio` keeps stdout for MCP.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { eventually, startGateway } from './helpers/gateway.js';
import { collect, spawnCli, tempDir, waitForOutput } from './helpers/processes.js';
import { answerOf, INITIALIZE, openSession, openSocket, rawRequest, requestHead, type RawAnswer } from './helpers/raw-http.js';

interface Served {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  config: string;
}

/** `mcp-edge serve` with `toml` as its config file. */
async function serve(toml: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const dir = tempDir('mcp-edge-logs-');
  const config = join(dir, 'mcp-edge.toml');
  writeFileSync(config, toml);
  const child = spawnCli(['serve', '--config', config, '--bind', '127.0.0.1:0', '--data-dir', join(dir, 'data'), ...args], env);
  const err = collect(child.stderr);
  const [, port] = (await waitForOutput(child.stderr, /listening.*"url":"http:\/\/127\.0\.0\.1:(\d+)\/mcp"/)) as RegExpMatchArray;
  return { child, port: Number(port), stderr: err.text, config };
}

const lines = (text: string) => text.split('\n').filter((l) => l.length > 0);
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

/** A tools/call of count_tokens on `session`, with extra headers. */
function callTool(port: number, session: string, headers: Record<string, string> = {}, name = 'count_tokens'): Promise<RawAnswer> {
  const message = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: { text: 'hello edge' } } };
  return rawRequest(port, 'POST', '/mcp', { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18', ...headers }, JSON.stringify(message));
}

function setLevel(port: number, level: string): Promise<RawAnswer> {
  return rawRequest(port, 'POST', '/v1/log', {}, JSON.stringify({ level }));
}

/** Every stderr line, parsed; fails on a line that is not a JSON object. */
function jsonLines(text: string): Record<string, unknown>[] {
  return lines(text).map((line) => {
    const parsed = JSON.parse(line) as unknown;
    expect(parsed, line).toBeTypeOf('object');
    return parsed as Record<string, unknown>;
  });
}

describe('json logs', () => {
  it('carry request_id, trace_id, session and tool on the lines of a call; debug lines start when the level is switched, not before', async () => {
    const s = await serve('[log]\nformat = "json"\nlevel = "info"\n');
    const session = await openSession(s.port);
    const before = await callTool(s.port, session, { 'x-request-id': 'req-before-1', traceparent: TRACEPARENT });
    expect(before.status).toBe(200);
    expect(before.headers['x-request-id']).toBe('req-before-1');

    const switched = await setLevel(s.port, 'debug');
    expect(switched.json).toMatchObject({ level: 'debug', format: 'json', why: 'operator' });
    expect((await rawRequest(s.port, 'GET', '/v1/log')).json).toMatchObject({ level: 'debug', why: 'operator' });
    const after = await callTool(s.port, session, { 'x-request-id': 'req-after-2', traceparent: TRACEPARENT });
    expect(after.headers['x-request-id']).toBe('req-after-2');

    const line = await eventually(() => jsonLines(s.stderr()).find((l) => l.msg === 'tools/call'));
    expect(line).toMatchObject({ level: 'debug', request_id: 'req-after-2', trace_id: TRACE_ID, session, tool: 'count_tokens', principal: 'local:loopback', outcome: 'ok' });
    expect(typeof line.duration_ms).toBe('number');
    expect(new Date(String(line.time)).toISOString()).toBe(line.time);
    const all = jsonLines(s.stderr());
    // The call made at info wrote no line; the operator's switch did (at warn), naming its own request.
    expect(all.filter((l) => l.msg === 'tools/call')).toHaveLength(1);
    expect(all.some((l) => l.request_id === 'req-before-1')).toBe(false);
    expect(all.find((l) => l.msg === 'log level set by an operator')).toMatchObject({ level: 'warn', from: 'info', to: 'debug' });

    await setLevel(s.port, 'info');
    await callTool(s.port, session, { 'x-request-id': 'req-quiet-3' });
    await rawRequest(s.port, 'GET', '/health');
    expect(jsonLines(s.stderr()).some((l) => l.request_id === 'req-quiet-3')).toBe(false);
  });

  it('takes the level from [log] again on SIGHUP (clearing the operator\'s), and gives a generated request id when the client sent none', async () => {
    const s = await serve('[log]\nformat = "json"\n');
    expect((await setLevel(s.port, 'warn')).json).toMatchObject({ level: 'warn', why: 'operator' });
    const session = await openSession(s.port);
    const quiet = await callTool(s.port, session);
    expect(quiet.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    writeFileSync(s.config, '[log]\nformat = "json"\nlevel = "debug"\n');
    const reread = waitForOutput(s.child.stderr, /SIGHUP: \[log\] re-read/);
    s.child.kill('SIGHUP');
    await reread;
    expect((await rawRequest(s.port, 'GET', '/v1/log')).json).toMatchObject({ level: 'debug', why: 'config' });
    const loud = await callTool(s.port, session);
    const id = loud.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    expect(id).not.toBe(quiet.headers['x-request-id']);
    const line = await eventually(() => jsonLines(s.stderr()).find((l) => l.msg === 'tools/call'));
    expect(line).toMatchObject({ request_id: id, session, tool: 'count_tokens' });
    expect(line).not.toHaveProperty('trace_id');
    expect(jsonLines(s.stderr()).filter((l) => l.msg === 'tools/call')).toHaveLength(1);
  });
});

describe('json logs with [telemetry] on', () => {
  it("name the gateway's span: the client's trace id, the span's own id", async () => {
    // Nothing listens on port 9: spans wait in the outage buffer; export_interval_seconds keeps the retries away.
    const s = await serve('[log]\nformat = "json"\nlevel = "debug"\n[telemetry]\nenabled = true\nendpoints = ["http://127.0.0.1:9"]\nexport_interval_seconds = 3600\n');
    const session = await openSession(s.port);
    await callTool(s.port, session, { 'x-request-id': 'span-1', traceparent: TRACEPARENT });
    const line = await eventually(() => jsonLines(s.stderr()).find((l) => l.msg === 'tools/call'));
    expect(line).toMatchObject({ request_id: 'span-1', trace_id: TRACE_ID, span_id: expect.stringMatching(/^[0-9a-f]{16}$/), tool: 'count_tokens' });
    expect(line.span_id).not.toBe('00f067aa0ba902b7');
  });
});

describe('pretty logs', () => {
  it('are lines for a person, not JSON, with the request named at the end; a tool name cannot start a line of its own', async () => {
    const s = await serve('[log]\nformat = "pretty"\nlevel = "debug"\n');
    const session = await openSession(s.port);
    await callTool(s.port, session, { 'x-request-id': 'pretty-1', traceparent: TRACEPARENT });
    const forged = 'nope\n2026-01-01T00:00:00.000Z ERROR forged line';
    await callTool(s.port, session, { 'x-request-id': 'pretty-2' }, forged);
    const text = await eventually(() => (s.stderr().includes('request_id=pretty-2') ? s.stderr() : undefined));
    for (const line of lines(text)) {
      expect(() => JSON.parse(line)).toThrow();
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO |WARN |ERROR) /);
    }
    const call = lines(text).find((l) => l.includes('request_id=pretty-1'))!;
    expect(call).toMatch(/ DEBUG tools\/call \{"outcome":"ok","duration_ms":[\d.]+\} request_id=pretty-1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 session=\S+ tool=count_tokens principal=local:loopback$/);
    expect(lines(text).find((l) => l.includes('request_id=pretty-2'))).toContain('tool=nope\\u000a2026-01-01T00:00:00.000Z ERROR forged line');
  });
});

describe('a forged X-Request-Id', () => {
  it('is replaced, not echoed, when too long or unsafe, and cannot make a line of its own', async () => {
    const s = await serve('[log]\nformat = "json"\nlevel = "debug"\n');
    const session = await openSession(s.port);
    const huge = 'a'.repeat(5000);
    const quoted = 'x","level":"error","msg":"forged';
    for (const forged of [huge, quoted, 'two words', 'ok-but-' + 'b'.repeat(200)]) {
      const answer = await callTool(s.port, session, { 'x-request-id': forged });
      expect(answer.status).toBe(200);
      expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    }
    // Control characters and line breaks never reach the gateway's code: the HTTP parser refuses the request.
    for (const raw of ['a\rb', 'a\x1b[31mb', 'a\x00b']) {
      const socket = await openSocket(s.port);
      const answer = answerOf(socket);
      socket.end(requestHead(s.port, 'GET', '/health', { 'X-Request-Id': raw, Connection: 'close' }));
      const text = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 400 /);
      expect(text).not.toContain(raw);
    }
    await eventually(() => jsonLines(s.stderr()).filter((l) => l.msg === 'tools/call').length === 4 || undefined);
    const all = jsonLines(s.stderr());
    expect(all.some((l) => l.msg === 'forged' || l.level === 'error')).toBe(false);
    expect(s.stderr()).not.toContain('aaaaaaaaaa');
    expect(s.stderr()).not.toContain('bbbbbbbbbb');
  });
});

describe('mcp-edge stdio', () => {
  it('writes nothing but MCP on stdout, its json log lines (a per-call id included) on stderr', async () => {
    const child = spawnCli(['stdio', '--data-dir', tempDir(), '--log-level', 'debug', '--log-format', 'json']);
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    child.stdin!.write(JSON.stringify(INITIALIZE) + '\n');
    await eventually(() => out.text().includes('"id":1') || undefined, 15_000);
    child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
    child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'count_tokens', arguments: { text: 'hi' } } }) + '\n');
    const line = await eventually(() => jsonLines(err.text()).find((l) => l.msg === 'tools/call'));
    expect(line).toMatchObject({ level: 'debug', tool: 'count_tokens', principal: 'local:stdio', outcome: 'ok' });
    expect(line.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    await eventually(() => out.text().includes('"id":2') || undefined);
    for (const message of lines(out.text())) expect(JSON.parse(message)).toMatchObject({ jsonrpc: '2.0' });
    child.stdin!.end();
  });
});

describe('the command line', () => {
  it('refuses an unknown --log-format or MCP_EDGE_LOG_LEVEL with exit code 2', async () => {
    for (const [args, env, message] of [
      [['--log-format', 'xml'], {}, /--log-format must be one of json, pretty, auto/],
      [[], { MCP_EDGE_LOG_LEVEL: 'loud' }, /MCP_EDGE_LOG_LEVEL must be one of debug, info, warn, error, silent/],
    ] as const) {
      const child = spawnCli(['serve', '--bind', '127.0.0.1:0', '--data-dir', tempDir(), ...args], env);
      const err = collect(child.stderr);
      const code = await new Promise((resolve) => child.once('close', resolve));
      expect(code).toBe(2);
      expect(err.text()).toMatch(message);
    }
  });

  it('lets --log-format win over MCP_EDGE_LOG_FORMAT, and that over [log]', async () => {
    const flag = await serve('[log]\nformat = "pretty"\n', ['--log-format', 'json'], { MCP_EDGE_LOG_FORMAT: 'pretty' });
    expect(jsonLines(flag.stderr()).find((l) => String(l.msg).endsWith('listening'))).toMatchObject({ level: 'info', url: expect.stringMatching(/^http:\/\/127/) });
    const env = await serve('[log]\nformat = "pretty"\n', [], { MCP_EDGE_LOG_FORMAT: 'json' });
    expect(jsonLines(env.stderr()).find((l) => String(l.msg).endsWith('listening'))).toMatchObject({ level: 'info' });
    const file = await serve('[log]\nformat = "pretty"\n', [], { MCP_EDGE_LOG_FORMAT: '' });
    expect(file.stderr()).toMatch(/^\S+Z INFO  mcp-edge \S+ listening \{"url"/);
  });
});

describe('POST /v1/log', () => {
  it('is an admin route: authenticated, and refused to a principal no rule allows it', async () => {
    const lines: string[] = [];
    const rules = [{ principals: ['scope:operator'], effect: 'allow' as const, routes: ['GET /v1/log', 'POST /v1/log'] }];
    const gateway = await startGateway({ auth: { api_keys: true }, authorization: { default: 'deny', rules } }, createLogger('info', (l) => lines.push(l), 'json'));
    const store = new ApiKeyStore(gateway.db);
    const agent = store.create({ name: 'agent', scopes: [] }).key;
    const ops = store.create({ name: 'ops', scopes: ['operator'] }).key;
    const port = Number(new URL(gateway.url).port);
    const post = (key?: string) => rawRequest(port, 'POST', '/v1/log', key ? { authorization: `Bearer ${key}` } : {}, JSON.stringify({ level: 'debug' }));
    expect((await post()).status).toBe(401);
    expect((await post(agent)).status).toBe(403);
    expect(gateway.logs.status().level).toBe('info');
    const allowed = await post(ops);
    expect(allowed.status).toBe(200);
    expect(allowed.json).toMatchObject({ level: 'debug', why: 'operator' });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'log level set by an operator')).toMatchObject({ principal: 'key:ops', to: 'debug' });
    const bad = await rawRequest(port, 'POST', '/v1/log', { authorization: `Bearer ${ops}` }, JSON.stringify({ level: 'loud' }));
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/Set \\"level\\" to one of/);
  });
});

describe('the logger in the embedding API', () => {
  it("of the embedder's own keeps its level: [log] is refused at start, POST /v1/log is answered 409", async () => {
    const own = { debug() {}, info() {}, warn() {}, error() {} };
    await expect(startGateway({ log: { level: 'debug' } }, own)).rejects.toThrow(/\[log\] is set, but the gateway was given a logger of its own/);
    const gateway = await startGateway({}, own);
    const refused = await setLevel(Number(new URL(gateway.url).port), 'debug');
    expect(refused.status).toBe(409);
    expect(refused.text).toMatch(/logs through the logger its embedder gave it/);
  });

  it("from createLogger writes an event's field that would hide one of the line's under field.<name>, and never throws on what it is given", () => {
    const out: string[] = [];
    const log = createLogger('debug', (l) => out.push(l), 'json');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    log.info('fields', { level: 'forged', msg: 'forged', big: 10n, error: new Error('boom'), session: 'outside any request' });
    log.info('cycle', { cycle });
    log.child({ part: 'queue' }).debug('child', { n: 1 });
    const [fields, cyclic, child] = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(fields).toMatchObject({ level: 'info', msg: 'fields', 'field.level': 'forged', 'field.msg': 'forged', big: '10', error: { message: 'boom' }, session: 'outside any request' });
    expect(cyclic).toMatchObject({ level: 'info', msg: 'cycle', unloggable: expect.any(String) });
    expect(child).toMatchObject({ level: 'debug', msg: 'child', part: 'queue', n: 1 });
    log.control.setLevel('warn');
    expect(log.enabled('info')).toBe(false);
    log.info('dropped');
    expect(out).toHaveLength(3);
  });
});
