// Upstreams connect in the background: the gateway answers /health at once
// while an upstream is unreachable (a real socket that accepts and never
// answers) or slow to come up (a real child held back by a gate file); its
// tools arrive with tools/list_changed; a call waits for it, or fails clearly.
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../host/src/gateway/gateway.js';
import { loadCore } from '../host/src/core/index.js';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { connectClient, eventually, NODE, textOf } from './helpers/gateway.js';
import { ROOT, tempDir } from './helpers/processes.js';

const GATED = join(ROOT, 'test/fixtures/gated-start.mjs');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

/** A TCP listener on 127.0.0.1 that accepts connections and never answers: an upstream that does not come up. */
async function blackHole(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`;
}

/** Started without the test helper's wait for upstreams (that wait is what is under test here). */
async function start(config: EdgeConfigInput): Promise<Gateway> {
  const gateway = await createGateway({
    config: { ...config, gateway: { bind_address: '127.0.0.1:0', data_dir: tempDir(), ...config.gateway } },
    core: await loadCore(),
    logger: createLogger(process.env.MCP_EDGE_TEST_LOG ? 'debug' : 'silent'),
  });
  closers.push(() => gateway.close());
  return gateway;
}

async function health(gateway: Gateway): Promise<{ status: number; body: { status: string; reasons: string[]; providers: { id: string; state: string }[] } }> {
  const res = await fetch(new URL('/health', gateway.url));
  return { status: res.status, body: await res.json() };
}

const stateOf = (body: { providers: { id: string; state: string }[] }, id: string) => body.providers.find((p) => p.id === id)?.state;

describe('upstreams connect in the background', () => {
  it('answers /health, degraded, while an upstream cannot be reached', async () => {
    const url = await blackHole();
    const gateway = await start({ upstreams: [{ id: 'hole', transport: 'http', url, connect_timeout_ms: 600_000 }] });
    const { status, body } = await health(gateway);
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(stateOf(body, 'hole')).toBe('starting');
    expect(body.reasons.join('\n')).toMatch(/upstream "hole" is starting: connecting/);
  });

  it('fails a call to a tool of an upstream still connecting with a clear error once the request time limit ends', async () => {
    const url = await blackHole();
    const gateway = await start({ gateway: { request_timeout_ms: 300 }, upstreams: [{ id: 'hole', transport: 'http', url, connect_timeout_ms: 600_000 }] });
    const client = await connectClient(gateway);
    const failure = await client.callTool({ name: 'anything', arguments: {} }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(failure?.message).toMatch(/Tool "anything" is not offered yet: upstream "hole" is still connecting/);
  });

  it('lists a slow upstream\'s tools with list_changed once it is up, and a call made meanwhile waits for it', async () => {
    const dir = tempDir();
    const gate = join(dir, 'go');
    const gateway = await start({
      upstreams: [{ id: 'slow', transport: 'stdio', command: NODE, args: [GATED], env: { GATE: gate, REPLICA_NAME: 'late' }, connect_timeout_ms: 60_000 }],
    });
    const before = await health(gateway);
    expect(before.status).toBe(200);
    expect(stateOf(before.body, 'slow')).toBe('starting');

    let changed!: () => void;
    const listChanged = new Promise<void>((resolve) => (changed = resolve));
    const client = await connectClient(gateway, {}, (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => changed()));
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('whoami');

    const call = client.callTool({ name: 'whoami', arguments: {} });
    await eventually(() => (gateway.aggregator.waitingCalls() === 1 ? true : undefined), 10_000, 'the call to wait for its upstream');
    writeFileSync(gate, '');
    expect(textOf(await call)).toBe('late');
    await listChanged;
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('whoami');
    expect(stateOf((await health(gateway)).body, 'slow')).toBe('up');
  });

  it('says a tool is not offered, at once, when no upstream is connecting', async () => {
    const gateway = await start({ upstreams: [] });
    await gateway.ready();
    const client = await connectClient(gateway);
    await expect(client.callTool({ name: 'nobody__knows', arguments: {} })).rejects.toThrow(/is not offered by this gateway/);
  });
});
