// security.attestation_required: a sender gateway delivers queued calls to a
// peer mcp-edge only after the peer's TPM quote (swtpm) verifies against the
// sender's reference policy; a peer that fails is refused, its calls wait,
// and the refusal is in the audit log. Re-attestation after the interval.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../host/src/index.js';
import type { AuditEvent } from '../host/src/security/audit/event.js';
import { AuditStore } from '../host/src/security/audit/store.js';
import { PeerAttestation, PeerNotAttested } from '../host/src/security/tpm/peer-attestation.js';
import type { TpmStatus } from '../host/src/security/tpm/service.js';
import { eventually, startGateway } from './helpers/gateway.js';
import { recordTool, silentLogger } from './helpers/queue.js';
import { startSwtpm, type SoftwareTpm } from './helpers/swtpm.js';

let swtpm: SoftwareTpm;
let peer: Gateway;
let measured: Extract<TpmStatus, { enabled: true }>;
const effects: number[] = [];

async function startPeer(extra: Record<string, unknown> = {}): Promise<Gateway> {
  const g = await startGateway({ security: { use_tpm: true, tpm_device: swtpm.tcti }, ...extra });
  g.tools.register(recordTool(effects));
  return g;
}

async function sender(policy: { code: string[]; config: string[] }): Promise<{ gateway: Gateway; client: Client }> {
  const gateway = await startGateway({
    security: { attestation_required: true, attestation_policy: policy, attestation_ek_ca: join(swtpm.dir, 'ca', 'issuercert.pem') },
    offline: { destinations: { peer: { url: peer.url } }, deferrable_tools: { record: 'peer' }, retry_base_ms: 60_000 },
  });
  const client = new Client({ name: 'tpm-peers', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  return { gateway, client };
}

const defer = (client: Client, n: number) => client.request({ method: 'tools/call', params: { name: 'record', arguments: { n }, task: { ttl: 60_000 } } }, CreateTaskResultSchema);

async function sync(gateway: Gateway): Promise<any> {
  const res = await fetch(new URL('/v1/queue/sync', gateway.url), { method: 'POST' });
  expect(res.status).toBe(200);
  return res.json();
}

beforeAll(async () => {
  swtpm = await startSwtpm();
  peer = await startPeer();
  measured = peer.health().tpm as Extract<TpmStatus, { enabled: true }>;
}, 60_000);

afterAll(async () => {
  await swtpm?.stop();
});

describe('a sender with attestation_required', () => {
  it('delivers to a peer whose fresh quote verifies, and audits the attestation', async () => {
    const { gateway, client } = await sender({ code: [measured.code_digest], config: [measured.config_digest] });
    await defer(client, 1); // enqueueing kicks a delivery attempt of its own
    expect(await sync(gateway)).toMatchObject({ unreachable: [] });
    await eventually(() => (effects.includes(1) ? true : undefined), 10_000, 'the call delivered');
    expect(effects).toEqual([1]);
    const rows = await eventually(() => {
      const found = [...new AuditStore(gateway.db).rows(undefined, undefined)].filter((r) => r.operation === 'attest');
      return found.length > 0 ? found : undefined;
    });
    expect(rows).toEqual([expect.objectContaining({ outcome: 'ok', target: 'peer' })]);
    await client.close();
  });

  it('refuses a peer whose measured config is not in its reference policy: the call waits, the refusal is audited', async () => {
    const { gateway, client } = await sender({ code: [measured.code_digest], config: ['00'.repeat(32)] });
    await defer(client, 2);
    const report = await sync(gateway);
    expect(report.unreachable).toEqual(['peer']);
    expect(effects).not.toContain(2);
    const lane = (await (await fetch(new URL('/v1/queue/status', gateway.url))).json()).destinations[0];
    expect(lane).toMatchObject({ destination: 'peer', depth: 1 });
    expect(lane.last_error).toMatch(/not admitted: attestation failed \(policy_mismatch: the gateway's config digest/);
    const denied = await eventually(() => [...new AuditStore(gateway.db).rows(undefined, undefined)].find((r) => r.operation === 'attest' && r.outcome === 'denied'));
    expect(denied).toMatchObject({ target: 'peer', detail: expect.stringMatching(/^policy_mismatch: /) });
    await client.close();
  });
});

describe('re-attestation', () => {
  it('quotes the peer again after the interval, and refuses it once its config changed', async () => {
    let now = 1_000_000;
    const events: AuditEvent[] = [];
    const audit = { record: (e: AuditEvent) => (events.push(e), true), admits: () => true };
    const attestation = new PeerAttestation(
      { verifier: { pcrs: [0, 1, 2, 3, 4, 5, 6, 7], policy: { config: [measured.config_digest] } }, intervalMs: 300_000 },
      audit,
      silentLogger,
      () => now,
    );
    const quotes = (): number => events.length;
    const fetchPeer = attestation.fetchFor('peer', peer.url, (url, init) => fetch(url, init));
    const health = new URL('/health', peer.url).toString();
    expect((await fetchPeer(health)).status).toBe(200);
    expect((await fetchPeer(health)).status).toBe(200);
    expect(quotes()).toBe(1);
    now += 299_999;
    await fetchPeer(health);
    expect(quotes()).toBe(1);
    now += 1;
    await fetchPeer(health);
    expect(events.map((e) => e.outcome)).toEqual(['ok', 'ok']);

    // The peer restarts with another config: same TPM and AK, another measurement.
    const address = new URL(peer.url).host;
    await peer.close();
    peer = await startPeer({ gateway: { request_timeout_ms: 12_345, bind_address: address } });
    now += 300_000;
    const refused = await fetchPeer(health).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PeerNotAttested);
    expect(events.at(-1)).toMatchObject({ operation: 'attest', outcome: 'denied', target: 'peer', detail: expect.stringMatching(/^policy_mismatch/) });
  });
});
