// security.attestation_required on the mesh, against Debian's swtpm: A calls
// a peer's tools, and serves a peer's calls, only once the peer's fresh quote
// (asked over libp2p) verifies against A's reference policy; again after the
// interval. B passes; C runs another config (policy_mismatch); D has no TPM.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EdgeConfigInput } from '../host/src/config/schema.js';
import type { Gateway } from '../host/src/gateway/gateway.js';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { POLICY_DENIED } from '../host/src/protocol/jsonrpc.js';
import { AuditStore } from '../host/src/security/audit/store.js';
import type { TpmStatus } from '../host/src/security/tpm/service.js';
import { connectClient, EVERYTHING, eventually, NODE, REPLICA, startGateway, textOf } from './helpers/gateway.js';
import { tempDir } from './helpers/processes.js';
import { startSwtpm } from './helpers/swtpm.js';

const keyFile = join(tempDir('mcp-edge-mesh-attest-'), 'mesh.key');
writeNetworkKey(keyFile);
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];

function meshNode(name: string, share: string[], extra: EdgeConfigInput = {}, bootstrap: string[] = []): Promise<Gateway> {
  return startGateway({
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: name } }],
    mesh: { enabled: true, listen: LOOPBACK, network_key_file: keyFile, share, bootstrap, announce_interval_ms: 300 },
    ...extra,
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
  let onA: Client;
  beforeAll(async () => {
    const [tpmB, tpmC] = await Promise.all([startSwtpm(), startSwtpm()]);
    b = await meshNode('B', ['whoami'], { security: { use_tpm: true, tpm_device: tpmB.tcti, tpm_pcrs: [0] } });
    const measured = b.health().tpm as Extract<TpmStatus, { enabled: true }>;
    a = await startGateway({
      upstreams: [{ id: 'ev', transport: 'stdio', command: NODE, args: [EVERYTHING] }],
      security: { attestation_required: true, attestation_interval_seconds: 1, tpm_pcrs: [0], attestation_policy: { code: [measured.code_digest], config: [measured.config_digest] } },
      mesh: { enabled: true, listen: LOOPBACK, network_key_file: keyFile, share: ['echo'], bootstrap: b.mesh!.addresses(), announce_interval_ms: 300 },
    });
    // C's TPM is genuine, but its config (another REPLICA_NAME, another TPM) is not in A's policy.
    c = await meshNode('C', ['write'], { security: { use_tpm: true, tpm_device: tpmC.tcti, tpm_pcrs: [0] } }, a.mesh!.addresses());
    d = await meshNode('D', ['cancelled'], {}, a.mesh!.addresses());
    onA = await connectClient(a);
    await eventually(async () => {
      const names = (await onA.listTools()).tools.map((t) => t.name);
      return ['whoami', 'write', 'cancelled'].every((n) => names.includes(n)) ? true : undefined;
    }, 20_000, "B's, C's and D's tools on A");
  }, 120_000);

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

  it('refuses C both ways: its config is not in the policy', async () => {
    expect((await refusal(onA, 'write')).message).toMatch(/mesh peer .* is not admitted: attestation failed \(policy_mismatch/);
    const onC = await connectClient(c);
    await eventually(async () => ((await onC.listTools()).tools.some((t) => t.name === 'echo') ? true : undefined), 20_000, "A's echo on C");
    const refused = await refusal(onC, 'echo', { message: 'from C' });
    expect(refused.code).toBe(POLICY_DENIED);
    expect(refused.message).toMatch(/attest with their TPM \(security\.attestation_required\).*policy_mismatch/s);
    const rows = await eventually(() => (attests(a, c.mesh!.peerId).length >= 2 ? attests(a, c.mesh!.peerId) : undefined));
    expect(rows.every((r) => r.outcome === 'denied' && /^policy_mismatch: /.test(r.detail ?? ''))).toBe(true);
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
