// security.attestation_required on the mesh, against Debian's swtpm: A calls
// a peer's tools, and serves a peer's calls, only once the peer's fresh quote
// (asked over libp2p) verifies against A's reference policy and its TPM
// certified the peer's libp2p key; again after the interval. B passes; C's
// config is trusted but its peer key is a file (key_not_bound); D has no
// TPM; E runs a config A does not trust (policy_mismatch). A relay (B's TPM
// answering for another peer key) is refused.
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { POLICY_DENIED } from '../host/src/protocol/jsonrpc.js';
import { meshChannel } from '../host/src/mesh/attestation.js';
import type { AuditEvent } from '../host/src/security/audit/event.js';
import { AuditStore } from '../host/src/security/audit/store.js';
import { PeerAttestation, PeerNotAttested } from '../host/src/security/tpm/peer-attestation.js';
import type { TpmStatus } from '../host/src/security/tpm/service.js';
import { connectClient, EVERYTHING, eventually, NODE, REPLICA, startGateway, textOf } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';
import { silentLogger } from './helpers/queue.js';
import { startSwtpm } from './helpers/swtpm.js';

const keyFile = join(tempDir('mcp-edge-mesh-attest-'), 'mesh.key');
writeNetworkKey(keyFile);
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];

function meshNode(name: string, share: string[], extra: EdgeConfigInput = {}, bootstrap: string[] = []): Promise<Gateway> {
  return startGateway({
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: name } }],
    ...extra,
    mesh: { enabled: true, listen: LOOPBACK, network_key_file: keyFile, share, bootstrap, announce_interval_ms: 300, ...extra.mesh },
  });
}

const attests = (gateway: Gateway, peer: string) =>
  [...new AuditStore(gateway.db).rows(undefined, undefined)].filter((r) => r.operation === 'attest' && r.target === `mesh:${peer}`);

async function refusal(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ code?: number; message: string }> {
  try {
    const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { text: string }[] };
    return { message: result.isError ? (result.content[0]?.text ?? '') : `answered: ${textOf(result)}` };
  } catch (err) {
    return { code: (err as { code?: number }).code, message: (err as Error).message };
  }
}

describe('a gateway that requires mesh peers to attest', () => {
  let a: Gateway;
  let b: Gateway;
  let c: Gateway;
  let d: Gateway;
  let e: Gateway;
  let onA: Client;
  beforeAll(async () => {
    const [tpmB, tpmC, tpmE] = await Promise.all([startSwtpm(), startSwtpm(), startSwtpm()]);
    const withTpm = (tcti: string, identity: 'tpm' | 'file'): EdgeConfigInput => ({ security: { use_tpm: true, tpm_device: tcti, tpm_pcrs: [0] }, mesh: { identity } });
    b = await meshNode('B', ['whoami'], withTpm(tpmB.tcti, 'tpm'));
    c = await meshNode('C', ['write'], withTpm(tpmC.tcti, 'file'));
    const digest = (g: Gateway) => (g.health().tpm as Extract<TpmStatus, { enabled: true }>);
    a = await startGateway({
      upstreams: [{ id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING] }],
      security: {
        attestation_required: true,
        attestation_interval_seconds: 1,
        tpm_pcrs: [0],
        attestation_policy: { code: [digest(b).code_digest], config: [digest(b).config_digest, digest(c).config_digest] },
      },
      mesh: { enabled: true, listen: LOOPBACK, network_key_file: keyFile, share: ['echo'], bootstrap: [...b.mesh!.addresses(), ...c.mesh!.addresses()], announce_interval_ms: 300 },
    });
    d = await meshNode('D', ['cancelled'], {}, a.mesh!.addresses());
    // E's TPM and key are genuine, but its config (another REPLICA_NAME, another TPM) is not in A's policy.
    e = await meshNode('E', ['waiting'], withTpm(tpmE.tcti, 'tpm'), a.mesh!.addresses());
    onA = await connectClient(a);
    await eventually(async () => {
      const names = (await onA.listTools()).tools.map((t) => t.name);
      return ['whoami', 'write', 'cancelled', 'waiting'].every((n) => names.includes(n)) ? true : undefined;
    }, 30_000, "B's, C's, D's and E's tools on A");
  }, 150_000);

  it("calls B's tool once B's quote verified, serves B's calls, and audits the attestation", async () => {
    expect(textOf(await onA.callTool({ name: 'whoami' }))).toBe('B');
    const onB = await connectClient(b);
    await eventually(async () => ((await onB.listTools()).tools.some((t) => t.name === 'echo') ? true : undefined), 20_000, "A's echo on B");
    expect(textOf(await onB.callTool({ name: 'echo', arguments: { message: 'from B' } }))).toContain('from B');
    const rows = await eventually(() => (attests(a, b.mesh!.peerId).length > 0 ? attests(a, b.mesh!.peerId) : undefined));
    expect(rows.every((r) => r.outcome === 'ok')).toBe(true);
  }, 30_000);

  it('quotes B again once the interval passed', async () => {
    await onA.callTool({ name: 'whoami' });
    const before = await eventually(() => attests(a, b.mesh!.peerId).length || undefined);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(textOf(await onA.callTool({ name: 'whoami' }))).toBe('B');
    await eventually(() => (attests(a, b.mesh!.peerId).length > before ? true : undefined), 5_000, 'a second attestation of B');
  }, 20_000);

  it('refuses E both ways: its config is not in the policy', async () => {
    expect((await refusal(onA, 'waiting')).message).toMatch(/mesh peer .* is not admitted: attestation failed \(policy_mismatch/);
    const onE = await connectClient(e);
    await eventually(async () => ((await onE.listTools()).tools.some((t) => t.name === 'echo') ? true : undefined), 20_000, "A's echo on E");
    const refused = await refusal(onE, 'echo', { message: 'from E' });
    expect(refused.code).toBe(POLICY_DENIED);
    expect(refused.message).toMatch(/attest with their TPM \(security\.attestation_required\).*policy_mismatch/s);
    const rows = await eventually(() => (attests(a, e.mesh!.peerId).length >= 2 ? attests(a, e.mesh!.peerId) : undefined));
    expect(rows.every((r) => r.outcome === 'denied' && /^policy_mismatch: /.test(r.detail ?? ''))).toBe(true);
  }, 30_000);

  it('refuses C, whose quote passes but whose peer key is a file, not a key of its TPM', async () => {
    expect((await refusal(onA, 'write')).message).toMatch(/not admitted: attestation failed \(key_not_bound: the peer is known by a key no TPM holds/);
    const row = await eventually(() => attests(a, c.mesh!.peerId).at(-1));
    expect(row).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^key_not_bound: /) });
  }, 30_000);

  it("refuses answers from B's TPM for another peer's key (a relay)", async () => {
    const events: AuditEvent[] = [];
    const audit = { record: (event: AuditEvent) => (events.push(event), true), admits: () => true };
    const verifier = new PeerAttestation({ verifier: { pcrs: [0], policy: {} }, intervalMs: 60_000 }, audit, silentLogger);
    const eKey = createPublicKey({ key: Buffer.from(e.mesh!.node.peerId.publicKey!.raw), format: 'der', type: 'spki' });
    const bKey = createPublicKey({ key: Buffer.from(b.mesh!.node.peerId.publicKey!.raw), format: 'der', type: 'spki' });
    const viaB = meshChannel(a.mesh!.node, b.mesh!.peerId);
    const relayed = await verifier.admit('relay', 'a relay of B', viaB, () => eKey).catch((err: unknown) => err);
    expect(relayed).toBeInstanceOf(PeerNotAttested);
    expect((relayed as Error).message).toMatch(/key_not_bound: the TPM that quoted holds another key than the peer's/);
    // The same answers for B's own key pass: what failed was the key, not B.
    await verifier.admit('b', 'B', viaB, () => bKey);
    expect(events.map((ev) => ev.outcome)).toEqual(['denied', 'ok']);
  }, 30_000);

  it('refuses D, which has no TPM to answer with, without harm to the others', async () => {
    const onD = await connectClient(d);
    await eventually(async () => ((await onD.listTools()).tools.some((t) => t.name === 'echo') ? true : undefined), 20_000, "A's echo on D");
    const refused = await refusal(onD, 'echo', { message: 'from D' });
    expect(refused.code).toBe(POLICY_DENIED);
    expect(refused.message).toMatch(/not admitted: attestation failed \(unreachable: the peer answers no attestation question: it runs without a TPM/);
    expect((await refusal(onA, 'cancelled')).message).toMatch(/not admitted: attestation failed \(unreachable: the peer answers no attestation/);
    expect(attests(a, d.mesh!.peerId).every((r) => r.outcome === 'denied')).toBe(true);
    expect(textOf(await onA.callTool({ name: 'whoami' }))).toBe('B');
    writeFileSync(join(a.dataDir, 'still-writable'), '');
  }, 30_000);
});
