// Outgoing TLS: mcp-edge -> mcp-edge with mTLS. Gateway B serves HTTPS and
// requires client certificates; gateway A reaches it as an https upstream
// and as a queue destination, verifying B's certificate against tls_ca and
// presenting its own client certificate (tls_cert / tls_key). Negative cases
// first: A refuses a B it cannot verify (unknown CA, expired, another name),
// and B refuses an A without an acceptable client certificate.
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, IDEMPOTENCY_META_KEY, type Gateway } from '../host/src/index.js';
import { validateConfig } from '../host/src/config/load.js';
import { eventually, startGateway, type UpstreamInput } from './helpers/gateway.js';
import { LOCAL_SERVER, TestPki, type Issued, type TestCa } from './helpers/pki.js';
import { tempDir } from './helpers/processes.js';
import { recordTool, silentLogger } from './helpers/queue.js';

let pki: TestPki;
let serverCa: TestCa;
let clientCa: TestCa;
let strangerCa: TestCa;
let gatewayA: Issued;
/** Gateway B: HTTPS, client certificates of clientCa required, a `record` tool. */
let b: Gateway;
/** B's tls_client_ca: a copy the reload test rewrites. */
let bClientCa: string;
const recorded: number[] = [];
const opened: { close(): Promise<void> }[] = [];

/** A gateway serving `cert` with client certificates of `clientCaFile` required, and the `record` tool. */
async function startB(cert: Issued, clientCaFile: string): Promise<Gateway> {
  const g = await createGateway({
    config: { gateway: { bind_address: '127.0.0.1:0', data_dir: tempDir('mcp-edge-b-') }, security: { tls_cert: cert.cert, tls_key: cert.key, tls_client_ca: clientCaFile } },
    logger: silentLogger,
  });
  g.tools.register(recordTool(recorded));
  opened.push(g);
  return g;
}

beforeAll(async () => {
  pki = new TestPki();
  serverCa = pki.ca('server-ca');
  clientCa = pki.ca('client-ca');
  strangerCa = pki.ca('stranger-ca');
  gatewayA = clientCa.issue({ cn: 'gateway-a', usage: 'client' });
  bClientCa = pki.path('b-client-ca.pem');
  copyFileSync(clientCa.cert, bClientCa);
  b = await startB(serverCa.issue({ cn: 'gateway-b', ...LOCAL_SERVER }), bClientCa);
});
afterAll(async () => {
  await Promise.allSettled(opened.splice(0).map((g) => g.close()));
});

/** B as an upstream of A, with `tls` keys. */
const upstreamB = (url: string, tls: Partial<Pick<UpstreamInput, 'tls_ca' | 'tls_cert' | 'tls_key'>>, retryMs = 60_000): UpstreamInput => ({
  id: 'b',
  transport: 'http',
  url,
  connect_timeout_ms: 5_000,
  // A refused link is not retried within the test (60 s), unless it says otherwise.
  restart: { initial_backoff_ms: retryMs, max_backoff_ms: retryMs },
  ...tls,
});

/** Starts A with B as its upstream and waits until the upstream is up or down; returns A and the upstream's detail. */
async function reachB(url: string, tls: Parameters<typeof upstreamB>[1], retryMs?: number): Promise<{ a: Gateway; state: string; detail: string }> {
  const a = await startGateway({ upstreams: [upstreamB(url, tls, retryMs)], aggregation: { prefix_mode: 'always' } });
  const line = await eventually(() => a.health().providers.find((p) => p.id === 'b' && (p.state === 'up' || p.state === 'down')), 15_000, 'upstream b to be up or down');
  return { a, state: line.state, detail: line.detail ?? '' };
}

/** A's TLS keys: B's CA, and A's client certificate. */
const asA = () => ({ tls_ca: serverCa.cert, tls_cert: gatewayA.cert, tls_key: gatewayA.key });

describe('gateway A refuses an upstream B it cannot verify', () => {
  it('B certified by a CA that A was not given (the system roots do not know it)', async () => {
    const { state, detail } = await reachB(b.url, { tls_cert: asA().tls_cert, tls_key: asA().tls_key });
    expect(state).toBe('down');
    expect(detail).toMatch(/^could not connect: fetch failed: unable to verify the first certificate.*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
  });

  it('B certified by another CA than the tls_ca A was given', async () => {
    const { state, detail } = await reachB(b.url, { ...asA(), tls_ca: strangerCa.cert });
    expect(state).toBe('down');
    expect(detail).toMatch(/^could not connect: fetch failed: unable to verify the first certificate.*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
  });

  it('B serving an expired certificate of the right CA', async () => {
    const expired = await startB(serverCa.issue({ cn: 'gateway-b-old', ...LOCAL_SERVER, notBefore: '20200101000000Z', notAfter: '20200201000000Z' }, 'b-expired'), bClientCa);
    const { state, detail } = await reachB(expired.url, asA());
    expect(state).toBe('down');
    expect(detail).toMatch(/^could not connect: fetch failed: certificate has expired \(CERT_HAS_EXPIRED\)/);
  });

  it('B serving a certificate of the right CA for another name than the URL', async () => {
    const elsewhere = await startB(serverCa.issue({ cn: 'gateway-c', san: ['DNS:gateway-c.example'], usage: 'server' }, 'b-other-name'), bClientCa);
    const { state, detail } = await reachB(elsewhere.url, asA());
    expect(state).toBe('down');
    expect(detail).toMatch(/^could not connect: fetch failed: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list.*\(ERR_TLS_CERT_ALTNAME_INVALID\)/);
  });
});

describe('gateway B refuses a gateway A without an acceptable client certificate', () => {
  it('none', async () => {
    const { state, detail } = await reachB(b.url, { tls_ca: asA().tls_ca });
    expect(state).toBe('down');
    // B drops the connection after the handshake: A cannot tell why, B's log can.
    expect(detail).toMatch(/^could not connect: fetch failed: other side closed \(UND_ERR_SOCKET\)/);
  });

  it('one from a CA that B does not accept', async () => {
    const stranger = strangerCa.issue({ cn: 'gateway-a', usage: 'client' }, 'stranger-a');
    const { state, detail } = await reachB(b.url, { tls_ca: asA().tls_ca, tls_cert: stranger.cert, tls_key: stranger.key });
    expect(state).toBe('down');
    // B drops the connection after the handshake: A cannot tell why, B's log can.
    expect(detail).toMatch(/^could not connect: fetch failed: other side closed \(UND_ERR_SOCKET\)/);
  });
});

describe('mcp-edge -> mcp-edge over mTLS', () => {
  let a: Gateway;
  let client: Client;

  beforeAll(async () => {
    const reached = await reachB(b.url, asA(), 200);
    expect(reached).toMatchObject({ state: 'up' });
    a = reached.a;
    client = new Client({ name: 'tls-outgoing', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(a.url)));
    opened.push(client);
  });

  it("lists B's tools through A and calls one", async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('b__record');
    const result = await client.callTool({ name: 'b__record', arguments: { n: 1 } });
    expect(result.content).toEqual([{ type: 'text', text: 'recorded 1' }]);
    expect(recorded).toContain(1);
  });

  it('carries on after both sides renew: B trusts only a new client CA, A presents a certificate of it', async () => {
    const newClientCa = pki.ca('client-ca-2');
    const renewed = newClientCa.issue({ cn: 'gateway-a', usage: 'client' }, 'gateway-a-renewed');
    // A's files are rewritten in place (the upstream's tls_cert and tls_key are gatewayA's paths).
    const [cert, key] = [readFileSync(renewed.cert), readFileSync(renewed.key)];
    replaceWith(gatewayA.key, key);
    replaceWith(gatewayA.cert, cert);
    expect(Object.values(await a.reloadTls()).map((r) => r.outcome)).not.toContain('failed');
    replaceWith(bClientCa, readFileSync(newClientCa.cert));
    await eventually(() => (b.health().tls?.reloads === 1 ? true : undefined), 10_000, "B's client CA to be reloaded");
    // A's MCP session at B belonged to its old certificate (another principal): B answers it as unknown,
    // and the upstream reconnects as the new one.
    const result = await eventually(async () => {
      const r = await client.callTool({ name: 'b__record', arguments: { n: 2 } }).catch(() => undefined);
      return r && !r.isError ? r : undefined;
    }, 20_000, 'a call through the renewed link');
    expect(result.content).toEqual([{ type: 'text', text: 'recorded 2' }]);
  });
});

describe('a queue destination over mTLS', () => {
  it('delivers deferred calls to B with tls_ca and a client certificate, and not without one', async () => {
    const newCa = pki.ca('client-ca-3');
    const sender = newCa.issue({ cn: 'gateway-q', usage: 'client' });
    const d = await startB(serverCa.issue({ cn: 'gateway-d', ...LOCAL_SERVER }, 'gateway-d'), newCa.cert);
    const q = await startGateway({
      offline: {
        destinations: {
          good: { url: d.url, tls_ca: serverCa.cert, tls_cert: sender.cert, tls_key: sender.key },
          anonymous: { url: d.url, tls_ca: serverCa.cert },
        },
        deferrable_tools: { record: 'good', record_anonymously: 'anonymous' },
        retry_base_ms: 60_000,
      },
    });
    const client = new Client({ name: 'tls-queue', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(q.url)));
    opened.push(client);
    const defer = (tool: string, n: number) => client.callTool({ name: tool, arguments: { n }, _meta: { 'dev.mcp-edge/deferrable': true, [IDEMPOTENCY_META_KEY]: `${tool}-${n}` } });
    await defer('record', 31);
    await defer('record_anonymously', 32);
    await fetch(new URL('/v1/queue/sync', q.url), { method: 'POST' });
    await eventually(() => (recorded.includes(31) ? true : undefined), 10_000, 'the deferred call to reach B');
    const status = await eventually(() => q.queue!.queue.status().destinations.find((s) => s.destination === 'anonymous' && s.failures > 0), 10_000, 'the anonymous destination to fail');
    expect(status.depth).toBe(1);
    expect(recorded).not.toContain(32);
  });
});

describe('outgoing TLS keys that would be ignored are refused', () => {
  const problems = (config: object) => {
    try {
      validateConfig(config);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('on a stdio upstream, an http:// url, a certificate without its key, an upstream destination', () => {
    expect(problems({ upstreams: [{ id: 's', transport: 'stdio', command: 'x', tls_ca: '/ca.pem' }] })).toMatch(/upstreams.0.tls_ca: tls_ca does not apply to a stdio upstream/);
    expect(problems({ upstreams: [{ id: 'h', transport: 'http', url: 'http://127.0.0.1:1/mcp', tls_ca: '/ca.pem' }] })).toMatch(/upstreams.0.tls_ca: tls_ca applies only to an https:\/\/ url/);
    expect(problems({ upstreams: [{ id: 'h', transport: 'http', url: 'https://127.0.0.1:1/mcp', tls_cert: '/c.pem' }] })).toMatch(/upstreams.0.tls_key: tls_cert and tls_key go together/);
    expect(problems({ upstreams: [{ id: 'h', transport: 'http', url: 'https://127.0.0.1:1/mcp' }], offline: { destinations: { d: { upstream: 'h', tls_ca: '/ca.pem' } } } })).toMatch(/offline.destinations.d.tls_ca: tls_ca does not apply to an upstream destination/);
    expect(problems({ offline: { destinations: { d: { url: 'http://127.0.0.1:1/mcp', tls_cert: '/c.pem', tls_key: '/k.pem' } } } })).toMatch(/offline.destinations.d.tls_cert: tls_cert applies only to an https:\/\/ url/);
    expect(problems({ upstreams: [{ id: 'h', transport: 'http', url: 'https://127.0.0.1:1/mcp', tls_ca: '/ca.pem', tls_cert: '/c.pem', tls_key: '/k.pem' }] })).toBe('');
  });

  it('at start, a file that is missing, naming the upstream and the key', async () => {
    const err = await startGateway({ upstreams: [upstreamB(b.url, { tls_ca: `${pki.dir}/missing-ca.pem` })] }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/upstream "b" tls_ca: .*missing-ca.pem does not exist; point it at a PEM file/);
  });
});

/** Rewrites `path` as renewal tools do: a new file renamed over it. */
function replaceWith(path: string, bytes: Buffer): void {
  writeFileSync(`${path}.next`, bytes);
  renameSync(`${path}.next`, path);
}
