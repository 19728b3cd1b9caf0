// Rate limits ([rate_limits]) over real HTTP on 127.0.0.1 with real API keys:
// a POST over the limit is refused whole with 429 and Retry-After before any
// of it runs, the bucket refills (waited for through /metrics, not a clock
// margin), per-tool buckets, stdio's JSON-RPC answer, bounded memory under
// rotating principals and tool names, refusals in /metrics.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { RATE_LIMITED } from '../host/src/protocol/jsonrpc.js';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { RateLimiter } from '../host/src/security/rate-limit.js';
import type { Principal } from '../host/src/security/principal.js';
import { eventually, NODE, REPLICA, startGateway, textOf, type UpstreamInput } from './helpers/gateway.js';
import { openSession, postMcp, rawRequest } from './helpers/auth.js';
import { collect, spawnCli, tempDir, waitForExit } from './helpers/processes.js';

const replica: UpstreamInput = { id: 'r', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'r' } };

async function limitedGateway(rateLimits: NonNullable<EdgeConfigInput['rate_limits']>): Promise<{ gateway: Gateway; key: (name: string) => string }> {
  const gateway = await startGateway({ auth: { api_keys: true }, upstreams: [replica], rate_limits: rateLimits });
  const store = new ApiKeyStore(gateway.db);
  return { gateway, key: (name) => `Bearer ${store.create({ name, scopes: [] }).key}` };
}

const HEADERS = { 'mcp-protocol-version': '2025-11-25' };
let nextId = 10;
const call = (name: string) => ({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: {} } });

/** POSTs `messages` on session `sid`; the answer's status, Retry-After and text. */
async function post(gateway: Gateway, auth: string, sid: string, messages: unknown): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  const answer = await postMcp(gateway.url, JSON.stringify(messages), auth, { ...HEADERS, 'mcp-session-id': sid });
  const retry = answer.headers['retry-after'];
  return { status: answer.status, retryAfter: typeof retry === 'string' ? retry : undefined, body: answer.body };
}

async function metrics(gateway: Gateway, auth: string): Promise<string> {
  return (await rawRequest(new URL('/metrics', gateway.url).href, { headers: { authorization: auth } })).body;
}

/** The level of `principal`'s bucket of `limit`, as /metrics shows it. */
function tokens(text: string, limit: string, principal: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`mcp_edge_rate_limit_tokens{limit="${limit}",principal="${principal}"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('rate limits: refusals', () => {
  it('refuses a POST over the limit with 429 and Retry-After, and serves again once the bucket refilled', async () => {
    const { gateway, key } = await limitedGateway({ default: { rate: 2, burst: 2 } });
    const auth = key('burst');
    const sid = await openSession(gateway.url, auth);
    expect((await post(gateway, auth, sid, call('whoami'))).status).toBe(200);
    expect((await post(gateway, auth, sid, call('whoami'))).status).toBe(200);
    const refused = await post(gateway, auth, sid, call('whoami'));
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.body).error).toMatchObject({ code: RATE_LIMITED, message: expect.stringMatching(/principal "key:burst" is over its rate limit.*retry after 1 s/) });

    const observer = key('observer');
    const text = await metrics(gateway, observer);
    expect(text).toContain('mcp_edge_rate_limited_total{principal="key:burst",tool="whoami"} 1');
    // The refill, seen in the bucket's level rather than guessed from a clock.
    await eventually(async () => ((tokens(await metrics(gateway, observer), 'default', 'key:burst') ?? 0) >= 1 ? true : undefined), 5_000, 'the bucket to hold a token again');
    const again = await post(gateway, auth, sid, call('whoami'));
    expect(again.status).toBe(200);
    expect(again.body).toContain('"text":"r"');
  });

  it('admits a batch whole or refuses it whole: nothing of a refused batch runs or takes tokens', async () => {
    const { gateway, key } = await limitedGateway({ default: { rate: 0.01, burst: 2 } });
    const auth = key('batcher');
    const sid = await openSession(gateway.url, auth);
    const refused = await post(gateway, auth, sid, [call('add_tool'), call('whoami'), call('whoami')]);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    // Had the batch's first call run, add_tool would have answered; both tokens are still there.
    expect((await post(gateway, auth, sid, [call('whoami'), call('whoami')])).status).toBe(200);
    expect((await post(gateway, auth, sid, call('whoami'))).status).toBe(429);
  });

  it('counts a tool rule apart from the principal limit, for the principals it names', async () => {
    const { gateway, key } = await limitedGateway({ default: { rate: 1000, burst: 1000 }, rules: [{ principals: ['key:writer'], tools: ['wr*'], rate: 0.01, burst: 1 }] });
    const auth = key('writer');
    const sid = await openSession(gateway.url, auth);
    expect((await post(gateway, auth, sid, call('write'))).status).toBe(200);
    expect((await post(gateway, auth, sid, call('write'))).status).toBe(429);
    expect((await post(gateway, auth, sid, call('WRITE'))).status).toBe(429);
    expect((await post(gateway, auth, sid, call('whoami'))).status).toBe(200);
    const other = key('other');
    const otherSid = await openSession(gateway.url, other);
    expect((await post(gateway, other, otherSid, call('write'))).status).toBe(200);
    expect((await post(gateway, other, otherSid, call('write'))).status).toBe(200);
  });

  it('answers a stdio call over the limit with RATE_LIMITED and retry_after_seconds in its data', async () => {
    const gateway = await startGateway({ rate_limits: { default: { rate: 0.01, burst: 1 } } });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await gateway.connect(serverSide);
    const client = new Client({ name: 'stdio-like', version: '1.0.0' });
    await client.connect(clientSide);
    try {
      expect(textOf(await client.callTool({ name: 'count_tokens', arguments: { text: 'a b c' } }))).toMatch(/\d/);
      const err = await client.callTool({ name: 'count_tokens', arguments: { text: 'a' } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(RATE_LIMITED);
      expect(((err as McpError).data as { retry_after_seconds: number }).retry_after_seconds).toBeGreaterThanOrEqual(1);
      expect((err as McpError).message).toMatch(/principal "local:stdio" is over its rate limit/);
    } finally {
      await client.close();
    }
  });

  it('refuses an invalid [rate_limits] or [authorization] at start: exit 2, the key named', async () => {
    const { writeFileSync } = await import('node:fs');
    const dir = tempDir();
    const path = `${dir}/mcp-edge.toml`;
    writeFileSync(
      path,
      [
        '[rate_limits]',
        'default = { rate = 0, burst = 1 }',
        '[[rate_limits.rules]]',
        'principals = ["bob"]',
        'rate = 1',
        'burst = 1',
        '[[authorization.rules]]',
        'principals = ["kind:robot"]',
        'effect = "allow"',
        'tools = ["ok", "bad\\\\"]',
        '[[authorization.rules]]',
        'principals = ["*"]',
        'effect = "deny"',
      ].join('\n'),
    );
    const child = spawnCli(['serve', '--config', path, '--data-dir', dir]);
    const stderr = collect(child.stderr);
    expect(await waitForExit(child)).toBe(2);
    const text = stderr.text();
    expect(text).toContain(`${path} is invalid`);
    expect(text).toMatch(/rate_limits\.default\.rate: /);
    expect(text).toMatch(/rate_limits\.rules\.0\.principals\.0: "bob" names no principal/);
    expect(text).toMatch(/authorization\.rules\.0\.principals\.0: "kind:robot": the kinds are kind:local, kind:api-key/);
    expect(text).toMatch(/authorization\.rules\.0\.tools\.1: a pattern cannot end with a lone "\\"/);
    expect(text).toMatch(/authorization\.rules\.1: the rule names nothing/);
  });
});

describe('rate limits: bounded memory', () => {
  const principal = (id: string): Principal => ({ id, kind: 'api-key', name: id, scopes: new Set() });

  it('keeps at most max_tracked buckets per limit while principals rotate, and forgets full ones first', () => {
    let now = 0;
    const limiter = new RateLimiter({ default: { rate: 1, burst: 5 }, rules: [{ principals: ['*'], tools: ['*'], rate: 1, burst: 5 }], maxTracked: 64 }, undefined, () => now);
    const steady = principal('key:steady');
    for (let i = 0; i < 5; i++) expect(limiter.takeOne(steady, 'x')).toBe(0);
    expect(limiter.takeOne(steady, 'x')).toBeGreaterThan(0);
    for (let i = 0; i < 20_000; i++) {
      now += 0.01;
      limiter.takeOne(principal(`key:rotating-${i}`), `tool-${i}`);
    }
    for (const limit of limiter.limits()) expect(limit.tracked).toBeLessThanOrEqual(64);
    // Refusal counters are bounded too, under invented tool names.
    const tight = new RateLimiter({ default: { rate: 0.001, burst: 1 }, rules: [], maxTracked: 16 }, undefined, () => now);
    const p = principal('key:prober');
    for (let i = 0; i < 5_000; i++) tight.takeOne(p, `probe-${i}`);
    expect(tight.refusals.size).toBeLessThanOrEqual(1001);
    expect(tight.refusals.samples().find(([labels]) => labels.tool === '_other')?.[1]).toBeGreaterThan(3_000);
  });
});
