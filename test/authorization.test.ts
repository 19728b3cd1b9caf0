// Authorization ([authorization]) over real HTTP on 127.0.0.1: real API keys
// from the gateway's own store, SDK clients, real upstreams (server-everything
// and the replica fixture, which adds tools of any name at run time). Refusals
// first: a denied tool is neither listed nor callable, by its listed name, its
// qualified name, through the offline queue or through a replica; glob tricks
// (case, fullwidth and look-alike names, names that look namespaced); deny
// beats allow; admin routes and tools refused to non-admins. Then what stays
// open: the zero-config loopback default and the allowed principals.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { POLICY_DENIED } from '../host/src/protocol/jsonrpc.js';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { connectClient, EVERYTHING, NODE, REPLICA, startGateway, textOf, type UpstreamInput } from './helpers/gateway.js';
import { ISSUER, jwksServer, mint, RESOURCE, rawRequest, signingKey } from './helpers/auth.js';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LOCAL_SERVER, TestPki } from './helpers/pki.js';
import { connectTlsClient } from './helpers/tls.js';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

const everything: UpstreamInput = { id: 'everything', transport: 'stdio', command: NODE, args: [EVERYTHING, 'stdio'] };
const replica = (id: string): UpstreamInput => ({ id, transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: id } });

type Rules = NonNullable<NonNullable<EdgeConfigInput['authorization']>['rules']>;

/** A gateway asking for API keys, with these rules; returns it and a key per name. */
async function policyGateway(rules: Rules, options: { default?: 'allow' | 'deny'; config?: EdgeConfigInput; keys?: string[] } = {}): Promise<{ gateway: Gateway; key: Record<string, string> }> {
  const gateway = await startGateway({ ...options.config, auth: { api_keys: true }, authorization: { default: options.default ?? 'deny', rules } });
  const store = new ApiKeyStore(gateway.db);
  const key = Object.fromEntries((options.keys ?? ['a', 'b', 'ops']).map((name) => [name, store.create({ name, scopes: name === 'ops' ? ['operator'] : [] }).key]));
  return { gateway, key };
}

async function clientWith(gateway: Gateway, key: string): Promise<Client> {
  const client = new Client({ name: 'policy-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  clients.push(client);
  return client;
}

const toolNames = async (client: Client): Promise<string[]> => (await client.listTools()).tools.map((t) => t.name);

/** The JSON-RPC error a request was answered with (fails the test when it succeeded). */
async function refusal(request: Promise<unknown>): Promise<McpError> {
  const err = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof McpError)) throw new Error(`expected a JSON-RPC error, got ${err === undefined ? 'a result' : String(err)}`);
  return err;
}

describe('authorization: refusals', () => {
  it('neither lists nor runs a denied tool, by its listed name or its qualified name', async () => {
    const { gateway, key } = await policyGateway(
      [
        { principals: ['*'], effect: 'allow', tools: ['*'] },
        { principals: ['key:a'], effect: 'deny', tools: ['everything__echo'] },
      ],
      { config: { upstreams: [everything] } },
    );
    const a = await clientWith(gateway, key.a!);
    const b = await clientWith(gateway, key.b!);
    // Unprefixed in the listing (no collision), but the rule names it by its upstream.
    expect(await toolNames(b)).toContain('echo');
    expect(await toolNames(a)).not.toContain('echo');
    expect(await toolNames(a)).toContain('get-sum');
    for (const name of ['echo', 'everything__echo']) {
      const err = await refusal(a.callTool({ name, arguments: { message: 'hi' } }));
      expect(err.code).toBe(POLICY_DENIED);
      expect(err.message).toMatch(new RegExp(`principal "key:a" may not call tool "${name}"`));
    }
    expect(textOf(await b.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toContain('hi');
  });

  it('does not let an upstream name its tool into another namespace ("everything__*" allows only everything\'s tools)', async () => {
    const { gateway, key } = await policyGateway(
      [
        { principals: ['key:a'], effect: 'allow', tools: ['everything__*'] },
        { principals: ['key:ops'], effect: 'allow', tools: ['*'] },
      ],
      { config: { upstreams: [everything, replica('evil')] } },
    );
    const ops = await clientWith(gateway, key.ops!);
    await ops.callTool({ name: 'add_tool', arguments: { tool: 'everything__pwn' } });
    await expect.poll(() => toolNames(ops), { timeout: 10_000 }).toContain('everything__pwn');
    const a = await clientWith(gateway, key.a!);
    const names = await toolNames(a);
    expect(names).toContain('echo');
    expect(names).not.toContain('everything__pwn');
    expect((await refusal(a.callTool({ name: 'everything__pwn', arguments: {} }))).code).toBe(POLICY_DENIED);
  });

  it('denies a variant spelling of a denied name (case, fullwidth) and allows no look-alike of an allowed one', async () => {
    const { gateway, key } = await policyGateway(
      [
        { principals: ['key:ops'], effect: 'allow', tools: ['*'] },
        { principals: ['key:a'], effect: 'allow', tools: ['r__*'] },
        { principals: ['key:a'], effect: 'deny', tools: ['r__shell_*'] },
        { principals: ['key:b'], effect: 'allow', tools: ['r__whoami', 'r__star\\*'] },
      ],
      { config: { upstreams: [replica('r')], aggregation: { prefix_mode: 'always' } } },
    );
    const ops = await clientWith(gateway, key.ops!);
    // "ѕ" is CYRILLIC SMALL LETTER DZE; "ｓｈｅｌｌ" is fullwidth.
    const added = ['SHELL_run', 'ｓｈｅｌｌ_run', 'shell_run', 'ѕhell_run', 'whoamі', 'star*', 'starX'];
    for (const tool of added) await ops.callTool({ name: 'r__add_tool', arguments: { tool } });
    // Non-ASCII names can be allowed by no rule, not even ops' "*": the gateway's own list shows them.
    await expect.poll(() => gateway.aggregator.listTools().map((t) => t.name), { timeout: 10_000 }).toEqual(expect.arrayContaining(added.map((t) => `r__${t}`)));
    expect(await toolNames(ops)).not.toContain('r__ѕhell_run');

    const a = await clientWith(gateway, key.a!);
    const listedToA = await toolNames(a);
    expect(listedToA).toEqual(expect.arrayContaining(['r__whoami', 'r__starX']));
    // Denied in every spelling; the Cyrillic look-alike escapes "shell_*" but no allow rule can match a non-ASCII name.
    for (const denied of ['r__SHELL_run', 'r__ｓｈｅｌｌ_run', 'r__shell_run', 'r__ѕhell_run']) {
      expect(listedToA).not.toContain(denied);
      expect((await refusal(a.callTool({ name: denied, arguments: {} }))).code).toBe(POLICY_DENIED);
    }

    const b = await clientWith(gateway, key.b!);
    // Exact names only: the Cyrillic "і" look-alike and a literal star pattern that must not act as a wildcard.
    expect((await toolNames(b)).sort()).toEqual(['r__star*', 'r__whoami']);
    expect((await refusal(b.callTool({ name: 'r__whoamі', arguments: {} }))).code).toBe(POLICY_DENIED);
    expect((await refusal(b.callTool({ name: 'r__starX', arguments: {} }))).code).toBe(POLICY_DENIED);
  });

  it('lets a deny rule win over an allow rule, whichever comes first', async () => {
    for (const order of ['allow-first', 'deny-first']) {
      const allow = { principals: ['key:a'], effect: 'allow' as const, tools: ['*'] };
      const deny = { principals: ['scope:operator', 'key:a'], effect: 'deny' as const, tools: ['r__write'] };
      const { gateway, key } = await policyGateway(order === 'allow-first' ? [allow, deny] : [deny, allow], { config: { upstreams: [replica('r')], aggregation: { prefix_mode: 'always' } } });
      const a = await clientWith(gateway, key.a!);
      expect(await toolNames(a), order).not.toContain('r__write');
      expect(await toolNames(a), order).toContain('r__whoami');
      expect((await refusal(a.callTool({ name: 'r__write', arguments: {} }))).code, order).toBe(POLICY_DENIED);
    }
  });

  it('refuses a tool whose replicas are not all allowed: failover cannot reach a denied one', async () => {
    const { gateway, key } = await policyGateway([
      { principals: ['key:a'], effect: 'allow', tools: ['r1__*'] },
      { principals: ['key:b'], effect: 'allow', tools: ['r1__*', 'r2__*'] },
    ], { config: { upstreams: [replica('r1'), replica('r2')], aggregation: { prefix_mode: 'never' } } });
    const a = await clientWith(gateway, key.a!);
    const b = await clientWith(gateway, key.b!);
    expect(await toolNames(b)).toContain('whoami');
    expect(await toolNames(a)).not.toContain('whoami');
    expect((await refusal(a.callTool({ name: 'whoami', arguments: {} }))).code).toBe(POLICY_DENIED);
    expect(['r1', 'r2']).toContain(textOf(await b.callTool({ name: 'whoami', arguments: {} })));
  });

  it('never queues a denied deferrable call, and keeps queue sync (route and tool) to operators', async () => {
    const { gateway, key } = await policyGateway(
      [
        { principals: ['*'], effect: 'allow', tools: ['*'], routes: ['GET /v1/queue/status'] },
        { principals: ['key:a'], effect: 'deny', tools: ['record'] },
        { principals: ['scope:operator'], effect: 'allow', routes: ['POST /v1/queue/*'], admin: ['queue_sync'] },
      ],
      { config: { offline: { destinations: { dest: { url: 'http://127.0.0.1:9/mcp' } }, deferrable_tools: { record: 'dest' } } } },
    );
    const a = await clientWith(gateway, key.a!);
    expect(await toolNames(a)).not.toContain('record');
    const deferred = a.request({ method: 'tools/call', params: { name: 'record', arguments: { n: 1 }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
    expect((await refusal(deferred)).code).toBe(POLICY_DENIED);
    const marked = a.callTool({ name: 'record', arguments: { n: 2 }, _meta: { 'dev.mcp-edge/deferrable': true } });
    expect((await refusal(marked)).code).toBe(POLICY_DENIED);

    const status = await rawRequest(new URL('/v1/queue/status', gateway.url).href, { headers: { authorization: `Bearer ${key.a}` } });
    expect(status.status).toBe(200);
    expect(status.json().depth).toBe(0);

    // Queue sync is an admin operation: not for key:a, whose rules allow every tool but name no admin operation.
    expect(await toolNames(a)).not.toContain('queue_sync');
    expect((await refusal(a.callTool({ name: 'queue_sync', arguments: {} }))).code).toBe(POLICY_DENIED);
    const sync = await rawRequest(new URL('/v1/queue/sync', gateway.url).href, { method: 'POST', headers: { authorization: `Bearer ${key.a}` } });
    expect(sync.status).toBe(403);
    expect(sync.json().error).toMatchObject({ code: POLICY_DENIED, message: expect.stringMatching(/may not use "POST \/v1\/queue\/sync"/) });

    const ops = await clientWith(gateway, key.ops!);
    expect(await toolNames(ops)).toContain('queue_sync');
    const opsSync = await rawRequest(new URL('/v1/queue/sync', gateway.url).href, { method: 'POST', headers: { authorization: `Bearer ${key.ops}` } });
    expect(opsSync.status).toBe(200);
  });

  it('refuses a route the rules do not allow (default deny), and says so in /metrics', async () => {
    const { gateway, key } = await policyGateway([{ principals: ['key:ops'], effect: 'allow', routes: ['GET /metrics', 'POST /mcp'] }]);
    const denied = await rawRequest(new URL('/metrics', gateway.url).href, { headers: { authorization: `Bearer ${key.a}` } });
    expect(denied.status).toBe(403);
    expect(denied.json().error.code).toBe(POLICY_DENIED);
    const metrics = await rawRequest(new URL('/metrics', gateway.url).href, { headers: { authorization: `Bearer ${key.ops}` } });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('mcp_edge_authorization_denied_total{principal="key:a",kind="route"} 1');
  });

  it('filters resources, templates and prompts, and refuses reads (dot segments resolved), subscriptions, gets and completions', async () => {
    const { gateway, key } = await policyGateway(
      [
        { principals: ['*'], effect: 'allow', tools: ['*'], resources: ['*'], prompts: ['*'] },
        { principals: ['key:a'], effect: 'deny', resources: ['demo://resource/static/document/*', 'demo://resource/dynamic/*'], prompts: ['completable-prompt'] },
      ],
      { config: { upstreams: [everything] } },
    );
    const a = await clientWith(gateway, key.a!);
    const b = await clientWith(gateway, key.b!);
    const bResources = (await b.listResources()).resources.map((r) => r.uri);
    const document = bResources.find((u) => u.startsWith('demo://resource/static/document/'));
    expect(document).toBeDefined();
    expect((await a.listResources()).resources.map((r) => r.uri).filter((u) => u.startsWith('demo://resource/static/document/'))).toEqual([]);
    expect((await b.listResourceTemplates()).resourceTemplates.length).toBeGreaterThan(0);
    expect((await a.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).filter((t) => t.startsWith('demo://resource/dynamic/'))).toEqual([]);
    expect((await a.listPrompts()).prompts.map((p) => p.name)).not.toContain('completable-prompt');
    expect((await b.listPrompts()).prompts.map((p) => p.name)).toContain('completable-prompt');

    expect((await refusal(a.readResource({ uri: document! }))).code).toBe(POLICY_DENIED);
    // Through a template's URI, and written with a dot segment that resolves into the denied folder.
    expect((await refusal(a.readResource({ uri: 'demo://resource/dynamic/text/1' }))).code).toBe(POLICY_DENIED);
    expect((await refusal(a.readResource({ uri: 'demo://resource/static/x/../document/a.md' }))).code).toBe(POLICY_DENIED);
    expect((await refusal(a.readResource({ uri: 'demo://resource/static/%2e%2e/static/document/a.md' }))).code).toBe(POLICY_DENIED);
    expect((await refusal(a.subscribeResource({ uri: document! }))).code).toBe(POLICY_DENIED);
    expect((await refusal(a.getPrompt({ name: 'completable-prompt', arguments: { department: 'Engineering', name: 'x' } }))).code).toBe(POLICY_DENIED);
    expect((await refusal(a.complete({ ref: { type: 'ref/prompt', name: 'completable-prompt' }, argument: { name: 'department', value: 'E' } }))).code).toBe(POLICY_DENIED);
    expect((await refusal(a.complete({ ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{index}' }, argument: { name: 'index', value: '1' } }))).code).toBe(POLICY_DENIED);

    expect((await b.readResource({ uri: document! })).contents.length).toBeGreaterThan(0);
    expect((await b.complete({ ref: { type: 'ref/prompt', name: 'completable-prompt' }, argument: { name: 'department', value: 'E' } })).completion.values).toContain('Engineering');
  });
});

describe('authorization: what stays open', () => {
  it('keeps the zero-config loopback default (local principals allowed, admin included) unless a rule names them', async () => {
    const gateway = await startGateway({ upstreams: [replica('r')], authorization: { default: 'deny', rules: [{ principals: ['kind:local'], effect: 'deny', tools: ['write'] }] } });
    const client = await connectClient(gateway);
    const names = await toolNames(client);
    expect(names).toEqual(expect.arrayContaining(['whoami', 'queue_status', 'count_tokens']));
    expect(names).not.toContain('write');
    expect((await refusal(client.callTool({ name: 'write', arguments: {} }))).code).toBe(POLICY_DENIED);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('r');
  });

  it('matches principals by id pattern, scope and kind, and applies authorization.default = "allow" to the rest', async () => {
    const { gateway, key } = await policyGateway(
      [
        { principals: ['key:ci-*'], effect: 'deny', tools: ['whoami'] },
        { principals: ['kind:api-key'], effect: 'deny', tools: ['add_tool'] },
        { principals: ['scope:operator'], effect: 'allow', tools: ['add_tool'] },
      ],
      { default: 'allow', keys: ['ci-1', 'b', 'ops'], config: { upstreams: [replica('r')] } },
    );
    const ci = await toolNames(await clientWith(gateway, key['ci-1']!));
    const b = await toolNames(await clientWith(gateway, key.b!));
    const ops = await toolNames(await clientWith(gateway, key.ops!));
    expect(ci).not.toContain('whoami');
    expect(b).toContain('whoami');
    expect(b).toContain('write');
    // kind:api-key's deny covers ops too: deny wins over its scope's allow.
    expect(ops).not.toContain('add_tool');
  });
});

describe('authorization: token subjects, token scopes and client certificates', () => {
  it('matches a JWT principal by its id (issuer|subject) and by the scopes of its token', async () => {
    const signing = await signingKey('k1');
    const jwks = await jwksServer([signing]);
    const gateway = await startGateway({
      upstreams: [replica('r')],
      aggregation: { prefix_mode: 'always' },
      auth: { resource: RESOURCE, jwt: { issuer: ISSUER, jwks_url: jwks.url } },
      authorization: {
        default: 'deny',
        rules: [
          { principals: ['scope:mcp:tools'], effect: 'allow', tools: ['r__*'] },
          { principals: [`jwt:${ISSUER}|agent-7`], effect: 'deny', tools: ['r__write'] },
        ],
      },
    });
    const withToken = async (token: string) => toolNames(await clientWith(gateway, token));
    const seven = await withToken(await mint(signing));
    const eight = await withToken(await mint(signing, { sub: 'agent-8' }));
    const unscoped = await withToken(await mint(signing, { sub: 'agent-9', scope: 'other' }));
    expect(seven).toContain('r__whoami');
    expect(seven).not.toContain('r__write');
    expect(eight).toContain('r__write');
    expect(unscoped).toEqual([]);
  });

  it('matches a client certificate principal by its fingerprint (cert:<sha256>)', async () => {
    const pki = new TestPki();
    const serverCa = pki.ca('server-ca');
    const clientCa = pki.ca('client-ca');
    const server = serverCa.issue({ cn: 'gateway.test', ...LOCAL_SERVER });
    const alice = clientCa.issue({ cn: 'alice', usage: 'client' });
    const bob = clientCa.issue({ cn: 'bob', usage: 'client' });
    const fingerprint = createHash('sha256').update(new X509Certificate(readFileSync(alice.cert)).raw).digest('hex');
    const gateway = await startGateway({
      upstreams: [replica('r')],
      security: { tls_cert: server.cert, tls_key: server.key, tls_client_ca: clientCa.cert },
      authorization: { default: 'deny', rules: [{ principals: [`cert:${fingerprint}`], effect: 'allow', tools: ['r__*'] }] },
    });
    const { client: asAlice } = await connectTlsClient(gateway.url, { ca: serverCa.cert, client: alice });
    const { client: asBob } = await connectTlsClient(gateway.url, { ca: serverCa.cert, client: bob });
    expect(await toolNames(asAlice)).toContain('whoami');
    expect(await toolNames(asBob)).toEqual([]);
    expect((await refusal(asBob.callTool({ name: 'whoami', arguments: {} }))).code).toBe(POLICY_DENIED);
  });
});

describe('authorization and rate limits in the audit log', () => {
  const rows = async (gateway: Gateway): Promise<{ operation: string; outcome: string; principal_id: string | null; target: string | null; detail: string | null }[]> => {
    await gateway.auditLog!.flush();
    return gateway.db.prepare("SELECT operation, outcome, principal_id, target, detail FROM audit_log WHERE operation IN ('tools/call', 'authorize', 'rate-limit') ORDER BY seq").all() as never;
  };

  it('records each refusal once, with its reason, beside the calls that ran', async () => {
    const { gateway, key } = await policyGateway([{ principals: ['*'], effect: 'allow', tools: ['count_tokens'] }], {
      config: { rate_limits: { rules: [{ principals: ['key:b'], tools: ['count_tokens'], rate: 0.001, burst: 1 }] } },
    });
    const a = await clientWith(gateway, key.a!);
    const b = await clientWith(gateway, key.b!);
    await a.callTool({ name: 'count_tokens', arguments: { text: 'hello' } });
    expect((await refusal(a.callTool({ name: 'edge_compress', arguments: { text: 'x' } }))).code).toBe(POLICY_DENIED);
    await b.callTool({ name: 'count_tokens', arguments: { text: 'hello' } });
    await expect(b.callTool({ name: 'count_tokens', arguments: { text: 'again' } })).rejects.toThrow();
    const recorded = await rows(gateway);
    expect(recorded.map((r) => [r.operation, r.outcome, r.principal_id, r.target])).toEqual([
      ['tools/call', 'ok', 'key:a', 'count_tokens'],
      ['authorize', 'denied', 'key:a', 'edge_compress'],
      ['tools/call', 'ok', 'key:b', 'count_tokens'],
      ['rate-limit', 'denied', 'key:b', 'count_tokens'],
    ]);
    expect(recorded[1]!.detail).toMatch(/^tool: /);
    expect(recorded[3]!.detail).toMatch(/^rate: /);
  });
});
