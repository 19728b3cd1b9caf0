// Offload over the mesh, with real gateways and libp2p nodes on 127.0.0.1 in
// one process: A serves `whoami` itself but prefers remote replicas of it
// (mesh.prefer_remote), keeping its own as the fallback; fan-out tools
// ([[mesh.fan_out]]) run one tool on A, B and C at once and merge the answers.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { FAN_OUT_META_KEY, merge } from '../host/src/mesh/fan-out.js';
import { IDEMPOTENCY_META_KEY } from '../host/src/queue/index.js';
import { docPage } from './helpers/docs.js';
import { connectClient, eventually, NODE, REPLICA, routingOf, startGateway } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';

const dir = tempDir('mcp-edge-mesh-offload-');
const key = join(dir, 'swarm.key');
writeNetworkKey(key);
const bumpFile = join(dir, 'bumps.txt');

type MeshInput = NonNullable<EdgeConfigInput['mesh']>;
const replica = (name: string, env: Record<string, string> = {}) => [{ id: 'up', transport: 'stdio' as const, command: NODE, args: [REPLICA], env: { REPLICA_NAME: name, ...env } }];
// A peer not heard for three intervals leaves: 1 s intervals keep a loaded machine's gossip gaps from expiring one mid-test.
const meshGateway = (mesh: MeshInput, upstreams: EdgeConfigInput['upstreams']) =>
  startGateway({ upstreams, mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], network_key_file: key, announce_interval_ms: 1000, ...mesh } });

const textOf = (result: unknown): string => (result as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join('');
const call = async (client: Client, name: string) => (await client.callTool({ name })) as CallToolResult;

describe('offload over the mesh', () => {
  let a: Gateway;
  let b: Gateway;
  let c: Gateway;
  let client: Client;
  const peerIds = () => ({ b: `peer-${b.mesh!.peerId}`, c: `peer-${c.mesh!.peerId}` });
  beforeAll(async () => {
    a = await meshGateway(
      {
        prefer_remote: ['wh*', 'slow'],
        fan_out: [
          { name: 'whoami_all', tool: 'whoami', mode: 'all' },
          { name: 'whoami_first', tool: 'whoami', mode: 'first' },
          { name: 'whoami_quorum', tool: 'whoami', mode: 'quorum' },
          { name: 'waiting_quorum', tool: 'waiting', mode: 'quorum', quorum: 3 },
        ],
      },
      replica('A'),
    );
    // C prefers remote replicas of whoami too: a call A sends it must run on C all the same, never bounce on.
    c = await meshGateway({ share: ['whoami', 'write', 'slow', 'waiting', 'bump'], prefer_remote: ['whoami'], bootstrap: a.mesh!.addresses() }, replica('C', { BUMP_FILE: bumpFile }));
    b = await meshGateway({ share: ['whoami', 'waiting'], bootstrap: a.mesh!.addresses() }, replica('B'));
    client = await connectClient(a);
    const servedByAll = () => a.aggregator.toolRouting().find((r) => r.tool === 'whoami')?.providers.length === 3;
    await eventually(() => (servedByAll() && c.aggregator.toolRouting().find((r) => r.tool === 'whoami')?.providers.length === 2 ? true : undefined), 15_000, 'whoami from A, B and C on A');
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the docs/mesh.md example as written', () => {
    const config = parseConfig(docPage('docs/mesh.md').example('mesh-offload', 'toml'), 'docs/mesh.md', {});
    expect(config.mesh.prefer_remote).toEqual(['heavy_*']);
    expect(config.mesh.fan_out.map((f) => [f.name, f.tool, f.mode, f.quorum])).toEqual([
      ['inventory_everywhere', 'inventory_count', 'all', undefined],
      ['ocr_fastest', 'ocr', 'first', undefined],
      ['price_agreed', 'price_lookup', 'quorum', 2],
    ]);
  });

  it('sends calls of a prefer-remote tool to the peers, and keeps the others local', async () => {
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) answers.add(textOf(await call(client, 'whoami')));
    expect([...answers].every((name) => name === 'B' || name === 'C')).toBe(true);
    // A's own replica is faster (no locality, no hop) and still never chosen while a peer can serve.
    expect((await routingOf(client, 'up')).calls).toBe(0);
    expect(textOf(await call(client, 'write'))).toBe('A');
  });

  it('runs a call a peer sends on the peer itself, even for a tool the peer offloads', async () => {
    const onC = await connectClient(c);
    expect(textOf(await call(onC, 'whoami'))).toBe('B');
    const peerC = a.mesh!.peers.get(c.mesh!.peerId)!;
    for (let i = 0; i < 3; i++) expect(textOf(await peerC.callTool('whoami', undefined, { signal: AbortSignal.timeout(10_000) }))).toBe('C');
  });

  it('fans out: all answers, the first, and a quorum', async () => {
    const { b: peerB, c: peerC } = peerIds();
    const listing = (await client.listTools()).tools;
    const schemaOf = (name: string) => listing.find((t) => t.name === name)?.inputSchema;
    // The fan-out takes the arguments of its target, and says so in its listing.
    expect(schemaOf('whoami_all')).toEqual(schemaOf('whoami'));
    expect(schemaOf('whoami_all')).not.toEqual({ type: 'object' });
    const all = await call(client, 'whoami_all');
    expect(all.isError).toBeUndefined();
    const record = all.structuredContent as { providers: number; answers: { provider: string; result: CallToolResult }[] };
    expect(record.providers).toBe(3);
    expect(record.answers.map((x) => [x.provider, textOf(x.result)]).sort()).toEqual([[peerB, 'B'], [peerC, 'C'], ['up', 'A']].sort());
    expect(JSON.parse(textOf(all))).toEqual(record);

    const first = await call(client, 'whoami_first');
    const won = (first._meta?.[FAN_OUT_META_KEY] as { provider: string; providers: number });
    expect(won.providers).toBe(3);
    expect(textOf(first)).toBe({ up: 'A', [peerB]: 'B', [peerC]: 'C' }[won.provider]);

    // Three different names: no two agree.
    const split = await call(client, 'whoami_quorum');
    expect(split.isError).toBe(true);
    expect((split.structuredContent as { error: string }).error).toBe('no 2 providers of "whoami" gave the same answer');
    expect((split.structuredContent as { answers: unknown[] }).answers).toHaveLength(3);
    // Nothing waits anywhere: "0" from all three.
    const agreed = await call(client, 'waiting_quorum');
    expect(textOf(agreed)).toBe('0');
    expect(agreed._meta?.[FAN_OUT_META_KEY]).toMatchObject({ providers: 3, agreed: 3, quorum: 3 });
  });

  it("judges a fan-out tool by its target's providers too: a rule that denies the peers' tool denies the fan-out", async () => {
    const guarded = await startGateway({
      upstreams: replica('G'),
      mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], network_key_file: key, announce_interval_ms: 1000, bootstrap: c.mesh!.addresses(), fan_out: [{ name: 'whoami_all', tool: 'whoami' }] },
      authorization: { rules: [{ principals: ['*'], effect: 'deny', tools: ['mesh__whoami'] }] },
    });
    await eventually(() => (guarded.aggregator.qualifiedToolNames('whoami_all')?.includes('mesh__whoami') ? true : undefined), 15_000, "C's whoami behind the fan-out");
    const onGuarded = await connectClient(guarded);
    expect((await onGuarded.listTools()).tools.map((t) => t.name)).not.toContain('whoami_all');
    await expect(onGuarded.callTool({ name: 'whoami_all' })).rejects.toThrow(/whoami_all/);
    // The tool itself is this gateway's own (a peer's of the same name hides behind it): allowed.
    expect(textOf(await call(onGuarded, 'whoami'))).toBe('G');
  });

  it('answers a resent keyed call with the first result: the peer runs it once', async () => {
    const peerC = a.mesh!.peers.get(c.mesh!.peerId)!;
    const send = () => peerC.callTool('bump', undefined, { signal: AbortSignal.timeout(10_000), meta: { [IDEMPOTENCY_META_KEY]: 'sender/1.resend' } });
    expect(textOf(await send())).toBe('1');
    expect(textOf(await send())).toBe('1');
    expect(textOf(await peerC.callTool('bump', undefined, { signal: AbortSignal.timeout(10_000), meta: { [IDEMPOTENCY_META_KEY]: 'sender/2.other' } }))).toBe('2');
    expect(readFileSync(bumpFile, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('fails a non-idempotent call whose peer dies mid-call instead of running it again locally, then falls back to the local replica', async () => {
    await b.close();
    await eventually(() => (a.aggregator.toolRouting().find((r) => r.tool === 'whoami')?.providers.length === 2 ? true : undefined), 15_000, 'B gone from A');
    const stuck = call(client, 'slow').then(
      () => new Error('slow answered'),
      (err: Error) => err,
    );
    await eventually(async () => ((await routingOf(client, peerIds().c)).in_flight === 1 ? true : undefined), 10_000, 'slow in flight on C');
    await c.close();
    expect((await stuck).message).toMatch(/Tool "slow" failed on provider "peer-.*": .*closed before it answered.*not retried on another replica because it is not marked idempotent/);
    expect(textOf(await call(client, 'waiting'))).toBe('0');
    // No peer left: the local replica serves.
    expect(textOf(await call(client, 'whoami'))).toBe('A');
  }, 30_000);
});

describe('fan-out merging, answer by answer', () => {
  const answer = (text: string, isError = false): CallToolResult => ({ content: [{ type: 'text', text }], ...(isError ? { isError } : {}) });
  const never = new Promise<CallToolResult>(() => {});
  const settings = (mode: 'all' | 'first' | 'quorum', quorum?: number) => ({ name: 'fan', tool: 't', mode, quorum });

  it('first: decides on the first answer that is not an error, without waiting for a provider that hangs', async () => {
    const merged = await merge(settings('first'), [
      { provider: 'hung', result: never },
      { provider: 'broken', result: Promise.resolve(answer('no', true)) },
      { provider: 'late', result: new Promise((r) => setTimeout(() => r(answer('yes')), 20)) },
    ]);
    expect(textOf(merged)).toBe('yes');
    expect(merged._meta?.[FAN_OUT_META_KEY]).toEqual({ provider: 'late', providers: 3 });
  });

  it('all: every answer in the ranked order, an error only when none succeeded', async () => {
    const merged = await merge(settings('all'), [
      { provider: 'p1', result: new Promise((r) => setTimeout(() => r(answer('one')), 20)) },
      { provider: 'p2', result: Promise.reject(new Error('link down')) },
    ]);
    expect(merged.isError).toBeUndefined();
    expect((merged.structuredContent as { answers: unknown[] }).answers).toEqual([{ provider: 'p1', result: answer('one') }, { provider: 'p2', error: 'link down' }]);
    const none = await merge(settings('all'), [{ provider: 'p1', result: Promise.resolve(answer('x', true)) }]);
    expect(none.isError).toBe(true);
  });

  it('quorum: equal answers whatever their key order; too few providers is an error at once', async () => {
    const structured = (value: Record<string, unknown>): CallToolResult => ({ content: [], structuredContent: value });
    const calls = [
      { provider: 'p1', result: Promise.resolve(structured({ a: 1, b: 2 })) },
      { provider: 'p2', result: Promise.resolve(structured({ a: 9 })) },
      { provider: 'p3', result: Promise.resolve(structured({ b: 2, a: 1 })) },
      { provider: 'p4', result: never },
    ];
    const merged = await merge(settings('quorum', 2), calls);
    expect(merged.structuredContent).toEqual({ a: 1, b: 2 });
    expect(merged._meta?.[FAN_OUT_META_KEY]).toEqual({ provider: 'p3', providers: 4, agreed: 2, quorum: 2 });
    const tooFew = await merge(settings('quorum', 5), calls);
    expect(tooFew.isError).toBe(true);
    expect((tooFew.structuredContent as { error: string }).error).toBe('a quorum of 5 needs 5 providers; 4 serve "t" now');
  });
});
