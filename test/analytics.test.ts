// Usage analytics with real parts: a gateway with API keys and the
// "everything" upstream over stdio, two principals calling tools over HTTP,
// the counts read back through GET /v1/analytics and mcp-edge://analytics,
// and the SQLite rows themselves (written in batches, never per call).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { addSample, bucketOf, emptyHistogram, mergeInto, quantile } from '../host/src/analytics/histogram.js';
import { UsageRecorder } from '../host/src/analytics/usage.js';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { openDatabaseFile } from '../host/src/storage/database.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { EVERYTHING, NODE, startGateway } from './helpers/gateway.js';
import { rawRequest } from './helpers/auth.js';
import { tempDir } from './helpers/processes.js';
import { join } from 'node:path';

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

describe('latency histogram', () => {
  it('puts longer latencies in the same or a later bucket, from the floor bucket to the overflow bucket', () => {
    let last = 0;
    for (const ms of [0.005, 0.01, 0.05, 1, 1.1, 10, 250, 5_000, 1e9]) {
      const b = bucketOf(ms);
      expect(b).toBeGreaterThanOrEqual(last);
      last = b;
    }
    expect(bucketOf(0.001)).toBe(0);
    expect(bucketOf(1e9)).toBe(99);
  });

  it('gives percentiles within one bucket of the exact ones, and merging two histograms equals recording both sets', () => {
    const a = emptyHistogram();
    const b = emptyHistogram();
    const all = emptyHistogram();
    const samples: number[] = [];
    for (let i = 1; i <= 1000; i++) {
      const ms = i * 0.37; // 0.37 .. 370 ms
      samples.push(ms);
      addSample(i % 2 ? a : b, ms);
      addSample(all, ms);
    }
    mergeInto(a, b);
    expect([...a]).toEqual([...all]);
    for (const [q, exact] of [[0.5, 185], [0.95, 351.5], [0.99, 366.3]] as const) {
      const got = quantile(a, q)!;
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got).toBeLessThanOrEqual(exact * 2 ** 0.25 * 1.001);
    }
    expect(quantile(emptyHistogram(), 0.5)).toBeNull();
  });
});

describe('usage recorder: retention', () => {
  it('deletes the hours older than retention_days when it starts', async () => {
    const db = openDatabaseFile(join(tempDir(), 'a.db'));
    const settings = { enabled: true, retentionDays: 7, flushIntervalMs: 60_000, countTokens: false };
    const log = createLogger('silent');
    const recorder = new UsageRecorder(db, settings, log);
    const now = Date.now();
    for (const daysAgo of [10, 8, 1]) recorder.record({ tool: 't', provider: 'p', principal: 'x', at: now - daysAgo * 86_400_000, latencyMs: 1, error: false, bytes: 3 });
    await recorder.close();
    expect(db.prepare('SELECT count(*) FROM usage_hourly').pluck().get()).toBe(3);
    const next = new UsageRecorder(db, settings, log);
    expect(db.prepare('SELECT count(*) FROM usage_hourly').pluck().get()).toBe(1);
    expect(next.counters.pruned).toBe(2);
    await next.close();
    db.close();
  });
});

describe('usage recorder: buckets', () => {
  it('counts runs, interleaved keys and hour changes in their own rows, and a run that spans a flush in full', async () => {
    const db = openDatabaseFile(join(tempDir(), 'b.db'));
    const recorder = new UsageRecorder(db, { enabled: true, retentionDays: 7, flushIntervalMs: 60_000, countTokens: false }, createLogger('silent'));
    const hour = Date.now() - (Date.now() % 3_600_000);
    const call = (tool: string, principal: string, at = hour + 1000) => recorder.record({ tool, provider: 'p', principal, at, latencyMs: 1, error: false, bytes: 1 });
    call('a', 'x');
    call('a', 'x');
    call('b', 'x');
    call('a', 'x');
    call('a', 'y');
    call('a', 'y', hour - 1000); // the hour before
    await recorder.flush();
    // The same key as the last call before the flush: counted again, not into the bucket already written.
    call('a', 'y', hour - 1000);
    call('a', 'y', hour - 1000);
    await recorder.close();
    const rows = db.prepare('SELECT hour_ms, tool, principal, calls FROM usage_hourly ORDER BY hour_ms, tool, principal').all();
    expect(rows).toEqual([
      { hour_ms: hour - 3_600_000, tool: 'a', principal: 'y', calls: 3 },
      { hour_ms: hour, tool: 'a', principal: 'x', calls: 3 },
      { hour_ms: hour, tool: 'a', principal: 'y', calls: 1 },
      { hour_ms: hour, tool: 'b', principal: 'x', calls: 1 },
    ]);
    db.close();
  });
});

async function keyClient(url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'analytics-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  clients.push(client);
  return client;
}

describe('usage analytics through the gateway', async () => {
  const gateway = await startGateway({
    auth: { api_keys: true },
    analytics: { flush_interval_ms: 600_000 },
    upstreams: [{ id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING, 'stdio'] }],
  });
  const store = new ApiKeyStore(gateway.db);
  const alice = store.create({ name: 'alice', scopes: [] }).key;
  const bob = store.create({ name: 'bob', scopes: [] }).key;
  const a = await keyClient(gateway.url, alice);
  const b = await keyClient(gateway.url, bob);
  const tools = (await a.listTools()).tools.map((t) => t.name);
  const echo = tools.find((t) => t.endsWith('echo'))!;
  const sum = tools.find((t) => t.endsWith('get-sum'))!;
  const rows = () => gateway.db.prepare('SELECT count(*) FROM usage_hourly').pluck().get();
  const analytics = async (query: string, key = alice) => {
    const answer = await rawRequest(gateway.url.replace('/mcp', `/v1/analytics${query}`), { headers: { authorization: `Bearer ${key}` } });
    return { status: answer.status, body: answer.json() };
  };

  it('counts calls per tool, provider and principal, errors included, and writes them only at a flush', async () => {
    for (let i = 0; i < 3; i++) await a.callTool({ name: echo, arguments: { message: `hello ${i}` } });
    await b.callTool({ name: sum, arguments: { a: 2, b: 3 } });
    // Arguments the upstream's schema refuses: the call reached the provider and failed.
    const bad = await b.callTool({ name: sum, arguments: { a: 'two' } }).catch((err: Error) => ({ isError: true, err }));
    expect(bad.isError).toBe(true);
    expect(rows()).toBe(0); // nothing written while the calls ran
    const { status, body } = await analytics('');
    expect(status).toBe(200);
    expect(rows()).toBeGreaterThan(0);
    expect(body.totals.calls).toBe(5);
    expect(body.totals.errors).toBe(1);
    const byTool = Object.fromEntries(body.tools.map((t: { tool: string }) => [t.tool, t]));
    expect(byTool[echo].calls).toBe(3);
    expect(byTool[echo].errors).toBe(0);
    expect(byTool[sum]).toMatchObject({ calls: 2, errors: 1, success_rate: 0.5 });
    expect(body.tools[0].tool).toBe(echo); // the top tool first
    const hours = body.hours as { tool: string; provider: string; principal: string; latency_ms: { p50: number; p99: number }; bytes: number }[];
    expect(new Set(hours.map((h) => h.provider))).toEqual(new Set(['ev']));
    expect(new Set(hours.map((h) => h.principal))).toEqual(new Set(['key:alice', 'key:bob']));
    const echoRow = hours.find((h) => h.tool === echo)!;
    expect(echoRow.latency_ms.p50).toBeGreaterThan(0);
    expect(echoRow.latency_ms.p99).toBeGreaterThanOrEqual(echoRow.latency_ms.p50);
    expect(echoRow.bytes).toBeGreaterThan('{"message":"hello 0"}'.length * 3);
  });

  it("counts the tokens of each result's text with cl100k_base", async () => {
    const { body } = await analytics(`?tool=${encodeURIComponent(echo)}`);
    const expected = (await Promise.all([0, 1, 2].map((i) => gateway.countTokens(`Echo: hello ${i}`)))).reduce((x, y) => x + y, 0);
    expect(body.totals.tokens).toBe(expected);
    expect(body.totals.token_counted_calls).toBe(3);
  });

  it('filters by principal and tool, and by time range', async () => {
    const bobs = (await analytics('?principal=key:bob')).body;
    expect(bobs.totals.calls).toBe(2);
    expect(bobs.tools.map((t: { tool: string }) => t.tool)).toEqual([sum]);
    const none = (await analytics(`?principal=key:bob&tool=${encodeURIComponent(echo)}`)).body;
    expect(none.totals).toMatchObject({ calls: 0, success_rate: null });
    const past = (await analytics(`?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`)).body;
    expect(past.totals.calls).toBe(0);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    expect((await analytics(`?from=${hourAgo}`)).body.totals.calls).toBe(5);
  });

  it('refuses bad parameters with 400 and a sentence, and callers without credentials with 401', async () => {
    const bad = await analytics('?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^"from" must be a time as ISO 8601/);
    const unknown = await analytics('?colour=red');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/unknown parameter "colour"/);
    // Regression: a number past the years a Date holds was a 500 (toISOString threw).
    const far = await analytics('?to=99999999999999999999');
    expect([far.status, far.body.error.message]).toEqual([400, expect.stringMatching(/^"to" must be a time as ISO 8601/)]);
    const reversed = await analytics('?from=2000&to=1000');
    expect(reversed.status).toBe(400);
    const anonymous = await rawRequest(gateway.url.replace('/mcp', '/v1/analytics'));
    expect(anonymous.status).toBe(401);
  });

  it('serves the same report as the MCP resource mcp-edge://analytics, with the same filters', async () => {
    const listed = (await a.listResources()).resources.map((r) => r.uri);
    expect(listed).toContain('mcp-edge://analytics');
    const textOfResource = async (uri: string) => JSON.parse(String(((await a.readResource({ uri })).contents[0] as { text: string }).text));
    const whole = await textOfResource('mcp-edge://analytics');
    expect(whole.totals.calls).toBe(5);
    const filtered = await textOfResource('mcp-edge://analytics?principal=key%3Abob');
    expect(filtered.totals).toEqual((await analytics('?principal=key:bob')).body.totals);
    await expect(a.readResource({ uri: 'mcp-edge://analytics?from=soon' })).rejects.toThrow(/"from" must be a time/);
  });

  it('merges the next flush into the same hour rows (histograms add)', async () => {
    const before = rows();
    await a.callTool({ name: echo, arguments: { message: 'again' } });
    const { body } = await analytics(`?tool=${encodeURIComponent(echo)}`);
    expect(body.totals.calls).toBe(4);
    expect(rows()).toBe(before);
  });

  it('counts calls to names no provider offers as one "(unknown tool)" row (regression: a row per made-up name)', async () => {
    const before = rows();
    for (let i = 0; i < 20; i++) await a.callTool({ name: `made-up-${i}-${'x'.repeat(1000)}`, arguments: {} }).catch(() => undefined);
    const { body } = await analytics('?principal=key:alice');
    expect(rows()).toBe((before as number) + 1);
    const unknown = body.tools.find((t: { tool: string }) => t.tool === '(unknown tool)');
    expect(unknown).toMatchObject({ calls: 20, errors: 20 });
    expect(body.tools.some((t: { tool: string }) => t.tool.startsWith('made-up'))).toBe(false);
  });
});
