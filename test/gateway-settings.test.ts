// What the config turns into at start: the route table that both the server
// and `mcp-edge help` use, the npm API's refusal of keys nothing implements,
// and offline.persistence_path placing the queue's SQLite file.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { ConfigError, createGateway } from '../host/src/index.js';
import { ROUTES, RouteTable } from '../host/src/gateway/routes.js';
import { connectClient, freePort, startGateway } from './helpers/gateway.js';
import { startSwtpm } from './helpers/swtpm.js';
import { CLI, tempDir } from './helpers/processes.js';
import { silentLogger } from './helpers/queue.js';

/** The "METHOD /path" lines of `mcp-edge help`. */
function helpRoutes(): string[] {
  const help = execFileSync(process.execPath, [CLI, 'help'], { encoding: 'utf8' });
  const section = help.slice(help.indexOf('Endpoints when serving'));
  return [...section.matchAll(/^ {2}(GET|POST|DELETE) +(\/\S*)/gm)].map((m) => `${m[1]} ${m[2]}`);
}

/** The routes served only when a part of the config is set (the OAuth metadata with [auth.jwt]). */
const CONDITIONAL = new Set(ROUTES.filter((r) => r.servedWith !== undefined).map((r) => `${r.method} ${r.path}`));

describe('the route table', () => {
  it('is what the gateway serves and what mcp-edge help lists, route for route', async () => {
    const gateway = await startGateway();
    const listed = helpRoutes();
    expect([...CONDITIONAL]).toEqual([
      'GET /.well-known/oauth-protected-resource',
      'GET /.well-known/oauth-protected-resource/mcp',
      'GET /ui',
      'GET /ui/app.js',
      'GET /ui/app.css',
      'GET /v1/completions/task',
      'GET /v1/attestation/identity',
      'POST /v1/attestation/quote',
      'POST /v1/attestation/activate',
    ]);
    const served = listed.filter((route) => !CONDITIONAL.has(route));
    expect(served).toEqual(gateway.servedRoutes());
    expect(listed).toEqual(expect.arrayContaining(['POST /mcp', 'GET /mcp', 'DELETE /mcp', 'GET /health', 'GET /metrics', 'GET /v1/queue/status', 'POST /v1/queue/sync']));
    // Each listed route is dispatched to its handler: no 404 or 405 from the table.
    for (const route of served) {
      const [method, path] = route.split(' ') as [string, string];
      const res = await fetch(new URL(path, gateway.url), { method });
      expect([404, 405], route).not.toContain(res.status);
    }
    // Without [auth.jwt] there is no OAuth metadata: an OAuth client learns it from the 404; without ui.enabled, no dashboard.
    for (const route of CONDITIONAL) expect((await fetch(new URL(route.split(' ')[1]!, gateway.url))).status, route).toBe(404);
  });

  it('is served whole, the conditional routes included, when their config is set', { timeout: 60_000 }, async () => {
    const swtpm = await startSwtpm();
    const gateway = await startGateway({
      ui: { enabled: true },
      auth: { resource: 'https://pi.test/mcp', jwt: { issuer: 'https://idp.test', jwks_url: `http://127.0.0.1:${await freePort()}/jwks` } },
      security: { use_tpm: true, tpm_device: swtpm.tcti },
      models: { cloud_endpoint: `http://127.0.0.1:${await freePort()}/v1` },
    });
    const listed = helpRoutes();
    expect(listed).toEqual(gateway.servedRoutes());
    for (const route of listed) {
      const [method, path] = route.split(' ') as [string, string];
      const res = await fetch(new URL(path, gateway.url), { method });
      expect([404, 405], route).not.toContain(res.status);
    }
  });

  // HEAD /health was 405: monitors that ask with HEAD saw the gateway as failing.
  it('answers HEAD on a GET route as GET without the body, and not on /mcp (a GET there opens a stream)', async () => {
    const gateway = await startGateway();
    const get = await fetch(new URL('/health', gateway.url));
    const head = await fetch(new URL('/health', gateway.url), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(await head.text()).toBe('');
    expect((await fetch(new URL('/v1/queue/status', gateway.url), { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(new URL('/mcp', gateway.url), { method: 'HEAD' })).status).toBe(405);
    expect((await fetch(new URL('/v1/nothing', gateway.url), { method: 'HEAD' })).status).toBe(404);
  });

  it('answers a listed path under another method with 405 and Allow, and an unknown path with 404', async () => {
    const gateway = await startGateway();
    const wrong = await fetch(new URL('/health', gateway.url), { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    const unknown = await fetch(new URL('/v1/nothing', gateway.url));
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toMatch(/No route for GET \/v1\/nothing\. .*mcp-edge help lists every route/);
  });

  it('refuses a handler for a route it does not list', () => {
    const table = new RouteTable(() => undefined);
    expect(() => table.set('GET /v1/secret', () => ({}))).toThrow(/not in the gateway's route table/);
    expect(ROUTES.length).toBe(new Set(ROUTES.map((r) => `${r.method} ${r.path}`)).size);
  });
});

describe('createGateway with keys not supported yet', () => {
  it('throws the ConfigError the CLI prints, naming each key, and opens nothing', async () => {
    const dataDir = join(tempDir(), 'data');
    const start = createGateway({ config: { gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir }, power: { gpu_enabled: true, cpu_throttle_percent: 50 }, telemetry: { enabled: false } }, logger: silentLogger });
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/^gateway config sets what mcp-edge does not support yet:\n {2}- power\.cpu_throttle_percent: not supported yet .*\n {2}- power\.gpu_enabled: not supported yet \(the local model runs on the CPU.*\); remove it from gateway config$/);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('offline.persistence_path', () => {
  it('puts the queue in that SQLite file, which a restarted gateway reads back', async () => {
    const dataDir = tempDir();
    const file = join(tempDir(), 'queue', 'edge-queue.db');
    const config = {
      gateway: { data_dir: dataDir },
      offline: { persistence_path: file, destinations: { hq: { url: `http://127.0.0.1:${await freePort()}/mcp` } }, deferrable_tools: { report: 'hq' }, retry_base_ms: 600_000 },
    };
    const first = await startGateway(config);
    expect(first.db.name).toBe(file);
    const client = await connectClient(first);
    await client.request({ method: 'tools/call', params: { name: 'report', arguments: { n: 1 }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    await client.close();
    await first.close();
    expect(existsSync(file)).toBe(true);
    expect(existsSync(join(dataDir, 'mcp-edge.db'))).toBe(false);

    const second = await startGateway(config);
    const status = await (await fetch(new URL('/v1/queue/status', second.url))).json();
    expect(status.destinations.find((d: { destination: string }) => d.destination === 'hq')).toMatchObject({ depth: 1 });
  });
});
