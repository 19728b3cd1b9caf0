// GET /health tells ok from degraded from down, says why, and answers 503 only
// when the gateway cannot do its job, so that a load balancer can tell. Real
// upstream children are killed; a real queue destination refuses connections;
// the real SQLite database is closed under the gateway.
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/gateway/gateway.js';
import type { UpstreamProvider } from '../host/src/providers/upstream/upstream.js';
import { connectClient, eventually, freePort, NODE, REPLICA, startGateway } from './helpers/gateway.js';

async function getHealth(gateway: Gateway): Promise<{ status: number; body: { status: string; reasons: string[]; providers: { id: string; state: string }[] } }> {
  const res = await fetch(new URL('/health', gateway.url));
  return { status: res.status, body: await res.json() };
}

function upstream(gateway: Gateway, id: string): UpstreamProvider {
  return gateway.aggregator.slots.find((s) => s.provider.id === id)!.provider as UpstreamProvider;
}

/** Kills the upstream's child and resolves when the gateway has marked it down. */
function killAndWaitDown(gateway: Gateway, id: string): Promise<void> {
  const provider = upstream(gateway, id);
  const down = new Promise<void>((resolve) => {
    const stop = provider.onChange((part) => {
      if (part === 'health' && provider.health().state === 'down') {
        stop();
        resolve();
      }
    });
  });
  process.kill(provider.pid!, 'SIGKILL');
  return down;
}

/** A replica that stays down once killed, for as long as the test needs. */
const replica = (id: string) => ({
  id,
  transport: 'stdio' as const,
  command: NODE,
  args: [REPLICA],
  env: { REPLICA_NAME: id },
  restart: { initial_backoff_ms: 600_000, max_backoff_ms: 600_000 },
});

describe('GET /health', () => {
  it('is ok (200) with no reasons when everything it was given works', async () => {
    const gateway = await startGateway({ upstreams: [replica('a')] });
    const { status, body } = await getHealth(gateway);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', reasons: [] });
    expect(body.providers.map((p) => [p.id, p.state])).toEqual([['local', 'up'], ['a', 'up']]);
  });

  it('is degraded (200) while one upstream is down, and down (503) when none is up', async () => {
    const gateway = await startGateway({ upstreams: [replica('a'), replica('b')] });
    expect((await getHealth(gateway)).body.status).toBe('ok');

    await killAndWaitDown(gateway, 'a');
    const degraded = await getHealth(gateway);
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.reasons).toEqual([expect.stringMatching(/^upstream "a" is down: the connection closed .*retrying in \d+ ms$/)]);

    await killAndWaitDown(gateway, 'b');
    const down = await getHealth(gateway);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('down');
    expect(down.body.reasons[0]).toBe('none of its 2 upstream(s) is up');
    expect(down.body.reasons.slice(1)).toEqual([expect.stringMatching(/^upstream "a" is down/), expect.stringMatching(/^upstream "b" is down/)]);
    // The gateway itself still serves its own tools meanwhile.
    const client = await connectClient(gateway);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('count_tokens');
  });

  it('is degraded while a queue destination refuses its deliveries, naming it and the error', async () => {
    const closedPort = await freePort();
    const gateway = await startGateway({
      offline: {
        destinations: { hq: { url: `http://127.0.0.1:${closedPort}/mcp` } },
        deferrable_tools: { report: 'hq' },
        retry_base_ms: 600_000,
      },
    });
    expect((await getHealth(gateway)).body.status).toBe('ok');
    const client = await connectClient(gateway);
    await client.request({ method: 'tools/call', params: { name: 'report', arguments: { n: 1 }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    const { status, body } = await eventually(async () => {
      const h = await getHealth(gateway);
      return h.body.status === 'ok' ? undefined : h;
    }, 10_000, 'the first delivery to fail');
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.reasons).toEqual([expect.stringMatching(/^queue destination "hq": 1 delivery attempt\(s\) failed in a row, 1 call\(s\) waiting; last error: .+/)]);
  });

  it('is down (503) when its database cannot be read', async () => {
    const gateway = await startGateway();
    gateway.db.close();
    const { status, body } = await getHealth(gateway);
    expect(status).toBe(503);
    expect(body.status).toBe('down');
    expect(body.reasons).toEqual([expect.stringMatching(/^database: .*mcp-edge\.db cannot be read: The database connection is not open$/)]);
  });
});
