// The real CLI as a child process, driven by the MCP SDK's own client.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { INVALID_REQUEST } from '../host/src/protocol/jsonrpc.js';
import { CLI, ROOT, collect, spawnCli, startServeCli, tempDir, waitForExit, waitForOutput } from './helpers/processes.js';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

async function connect(transport: StreamableHTTPClientTransport | StdioClientTransport): Promise<Client> {
  const client = new Client({ name: 'cli-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function compressThroughCore(client: Client): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name: 'edge_compress', arguments: { text: 'edge '.repeat(50) } });
  expect(result.isError).toBeFalsy();
  return result.structuredContent as Record<string, unknown>;
}

describe('mcp-edge serve', () => {
  it('answers /health with version, uptime, core version and component size', async () => {
    const { url } = await startServeCli();
    const health = await (await fetch(new URL('/health', url))).json();
    expect(health).toMatchObject({ status: 'ok', version: '0.1.0', core: { version: '0.1.0' } });
    expect(health.core.component_bytes).toBeGreaterThan(1000);
    expect(health.uptime_seconds).toBeGreaterThanOrEqual(0);
  });

  it('serves a built-in tool over Streamable HTTP, computed by the component', async () => {
    const { url } = await startServeCli();
    const client = await connect(new StreamableHTTPClientTransport(new URL(url)));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('edge_compress');
    const out = await compressThroughCore(client);
    expect(out).toMatchObject({ algorithm: 'stored', originalBytes: 250, frameBytes: 262 });
    const frame = Buffer.from(out.frameBase64 as string, 'base64');
    expect(frame.subarray(0, 4).toString()).toBe('MEDG');
    expect(frame.subarray(12).toString()).toBe('edge '.repeat(50)); // v2 header: 12 bytes for 250
  });

  it('returns invalid arguments as a tool error the model can read', async () => {
    const { url } = await startServeCli();
    const client = await connect(new StreamableHTTPClientTransport(new URL(url)));
    const result = await client.callTool({ name: 'edge_compress', arguments: { text: 42 } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toMatch(/Invalid arguments for edge_compress: text/);
  });

  it('creates its SQLite database in the data directory on first start', async () => {
    const { dataDir } = await startServeCli();
    expect(existsSync(`${dataDir}/mcp-edge.db`)).toBe(true);
  });

  it('says clearly when the port is taken', async () => {
    const { url } = await startServeCli();
    const port = new URL(url).port;
    const second = spawnCli(['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', tempDir()]);
    const stderr = collect(second.stderr);
    expect(await waitForExit(second)).toBe(1);
    expect(stderr.text()).toMatch(/already in use.*--bind/);
  });
});

describe('mcp-edge stdio', () => {
  it('serves the same tool to the SDK stdio client', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'stdio', '--data-dir', tempDir()],
      cwd: ROOT,
      stderr: 'pipe',
    });
    const client = await connect(transport);
    const out = await compressThroughCore(client);
    expect(out.originalBytes).toBe(250);
  });

  it('prints nothing but JSON-RPC on stdout', async () => {
    const child = spawnCli(['stdio', '--data-dir', tempDir(), '--log-level', 'debug']);
    const stdout = collect(child.stdout);
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    };
    child.stdin!.write(JSON.stringify(initialize) + '\n');
    await waitForOutput(child.stdout, /"id":1/);
    child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
    const listed = waitForOutput(child.stdout, /"id":2/);
    child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) + '\n');
    await listed;
    // Closing stdin ends the process; everything it wrote to stdout until then is read (waitForExit waits for the pipes).
    child.stdin!.end();
    expect(await waitForExit(child)).toBe(0);
    const lines = stdout.text().split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBe(2);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
  });
});

describe('mcp-edge stdio and a message past gateway.max_body_bytes', () => {
  it('answers it with an error and keeps serving (a line past the 10 MiB of the SDK used to end the process)', async () => {
    // The bound over stdio is an HTTP body's (it was the SDK's 10 MiB whatever the config said).
    const dir = tempDir();
    writeFileSync(join(dir, 'mcp-edge.toml'), '[gateway]\nmax_body_bytes = 65536\n');
    const child = spawnCli(['stdio', '--data-dir', dir, '--config', join(dir, 'mcp-edge.toml')]);
    try {
      const stdout = collect(child.stdout);
      const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } };
      child.stdin!.write(JSON.stringify(initialize) + '\n');
      await waitForOutput(child.stdout, /"id":1/);
      child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
      const fits = JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'count_tokens', arguments: { text: 'x'.repeat(60_000) } } });
      child.stdin!.write(fits + '\n');
      await waitForOutput(child.stdout, /"id":4/, 30_000);
      const huge = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'count_tokens', arguments: { text: 'x'.repeat(200_000) } } });
      child.stdin!.write(huge + '\n');
      const listed = waitForOutput(child.stdout, /"id":3/, 30_000);
      child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) + '\n');
      await listed;
      const answers = stdout.text().split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { id: unknown; error?: { code: number; message: string } });
      const dropped = answers.find((a) => a.id === null);
      expect(dropped?.error?.code).toBe(INVALID_REQUEST);
      expect(dropped?.error?.message).toMatch(/^Request dropped: a message of \d+ bytes is larger than 65536 bytes; it was dropped unread.*\(gateway\.max_body_bytes\)/);
      expect(answers.some((a) => a.id === 2)).toBe(false);
      expect(answers.find((a) => a.id === 4)?.error).toBeUndefined();
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('mcp-edge stdio and lines that are not messages', () => {
  // The SDK's stdio reader dropped such a line without an answer, and its sender waited for ever.
  it('answers each with a JSON-RPC error, the id when it has a usable one, and serves the next line', async () => {
    const child = spawnCli(['stdio', '--data-dir', tempDir()]);
    try {
      const stdout = collect(child.stdout);
      const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } };
      child.stdin!.write(JSON.stringify(initialize) + '\n');
      await waitForOutput(child.stdout, /"id":1/);
      const lines = [
        'not json',
        '',
        '   \r',
        '[{"jsonrpc":"2.0","id":20,"method":"ping"}]',
        '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
        '{"jsonrpc":"2.0","id":4.5,"method":"ping"}',
        '{"jsonrpc":"1.0","id":5,"method":"ping"}',
        '{"jsonrpc":"2.0","id":"six","method":"ping","extra":1}',
        '{"jsonrpc":"2.0","id":7,"method":"ping"}',
      ];
      child.stdin!.write(lines.join('\n') + '\n');
      await waitForOutput(child.stdout, /"id":7/);
      const answers = stdout.text().split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { id: unknown; result?: unknown; error?: { code: number; message: string } });
      expect(answers.filter((a) => a.id !== 1).map((a) => [a.id, a.error?.code, a.error?.message ?? a.result])).toEqual([
        [null, -32700, expect.stringMatching(/^Parse error: the line is not valid JSON \(.+\)\.$/)],
        [null, INVALID_REQUEST, 'Invalid Request: batches are not read over stdio; send one message per line.'],
        [null, INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer.'],
        [4.5, INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer.'],
        [5, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0".'],
        ['six', INVALID_REQUEST, 'Invalid Request: Unrecognized key: "extra".'],
        [7, undefined, {}],
      ]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  // The MCP spec's stdio shutdown is the client closing stdin; the process ended at once and what it had not written was lost.
  it('answers every request it read before stdin ended, then exits 0', async () => {
    const child = spawnCli(['stdio', '--data-dir', tempDir()]);
    const stdout = collect(child.stdout);
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } };
    const calls = [2, 3, 4, 5].map((id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'count_tokens', arguments: { text: `word ${id} `.repeat(20_000) } } }));
    child.stdin!.end([initialize, { jsonrpc: '2.0', method: 'notifications/initialized' }, ...calls].map((m) => JSON.stringify(m)).join('\n') + '\n');
    expect(await waitForExit(child)).toBe(0);
    const answers = stdout.text().split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { id: number; result?: { structuredContent?: { tokens?: number } } });
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3, 4, 5]);
    for (const answer of answers.filter((a) => a.id > 1)) expect(answer.result?.structuredContent?.tokens).toBeGreaterThan(40_000);
  }, 60_000);
});

describe('mcp-edge with a bad config', () => {
  it('refuses to start and names the key and the problem', async () => {
    const dir = tempDir();
    const path = `${dir}/mcp-edge.toml`;
    writeFileSync(path, '[gateway]\nbind_address = "not-an-address"\nmax_connections = -3\n');
    const child = spawnCli(['serve', '--config', path, '--data-dir', dir]);
    const stderr = collect(child.stderr);
    expect(await waitForExit(child)).toBe(2);
    expect(stderr.text()).toContain(`${path} is invalid`);
    expect(stderr.text()).toMatch(/gateway\.bind_address: expected "host:port"/);
    expect(stderr.text()).toMatch(/gateway\.max_connections: /);
  });

  it('refuses a config that sets what is not supported yet: exit 2, each key named, nothing started', async () => {
    const dir = tempDir();
    const path = `${dir}/mcp-edge.toml`;
    writeFileSync(path, '[models]\nlocal_model = "phi-3-mini-q4"\n[power]\nlow_power_mode = true\ncpu_throttle_percent = 50\ngpu_enabled = true\n[offline]\nqueue_size = 10\n');
    const child = spawnCli(['serve', '--config', path, '--data-dir', `${dir}/data`]);
    const stderr = collect(child.stderr);
    expect(await waitForExit(child)).toBe(2);
    expect(stderr.text()).toContain(`${path} sets what mcp-edge does not support yet:`);
    expect(stderr.text()).toMatch(/power\.cpu_throttle_percent: not supported yet \(cpu_throttle_percent has no honest meaning yet/);
    expect(stderr.text()).toMatch(/power\.gpu_enabled: not supported yet/);
    expect(stderr.text()).not.toMatch(/models\.local_model|power\.low_power_mode:/); // [models] and low power mode are implemented
    expect(stderr.text()).not.toMatch(/queue_size/);
    expect(existsSync(`${dir}/data`)).toBe(false);
  });

  it('refuses an unknown command with a pointer to help', async () => {
    const child = spawnCli(['serv']);
    const stderr = collect(child.stderr);
    expect(await waitForExit(child)).toBe(2);
    expect(stderr.text()).toMatch(/unknown command "serv"[\s\S]*mcp-edge help/);
  });
});
