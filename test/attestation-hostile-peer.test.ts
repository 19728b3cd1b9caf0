// A queue destination that gateways with security.attestation_required must
// attest over its REST routes, misbehaving on them. The attempt is shared by
// every delivery to that destination, so one that never ended stopped them
// all for good, and an endless answer was read until memory ran out.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../host/src/security/audit/event.js';
import { PeerAttestation, PeerNotAttested } from '../host/src/security/tpm/peer-attestation.js';
import { silentLogger } from './helpers/queue.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

/** A destination whose every request is handled by `handle`; resolves with its base URL and the paths it was asked. */
async function destination(handle: (res: ServerResponse) => void): Promise<{ base: string; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    handle(res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

function attestation(events: AuditEvent[]): PeerAttestation {
  const audit = { record: (e: AuditEvent) => (events.push(e), true), admits: () => true };
  return new PeerAttestation({ verifier: { pcrs: [0], policy: {} }, intervalMs: 60_000, answerTimeoutMs: 500 }, audit, silentLogger);
}

describe('a destination that misbehaves on its attestation routes', () => {
  it('is refused once its answer is overdue, and asked again by the next delivery', async () => {
    const silent = await destination(() => undefined);
    const events: AuditEvent[] = [];
    const deliver = attestation(events).fetchFor('d', `${silent.base}/mcp`, (url, init) => fetch(url, init));
    for (let attempt = 1; attempt <= 2; attempt++) {
      const started = Date.now();
      const refused = await deliver(`${silent.base}/mcp`, { method: 'POST' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(PeerNotAttested);
      expect((refused as Error).message).toMatch(/attestation failed \(unreachable: .*\/v1\/attestation\/identity did not answer within 500 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    expect(silent.asked).toEqual(['/v1/attestation/identity', '/v1/attestation/identity']);
    expect(events.map((e) => e.outcome)).toEqual(['denied', 'denied']);
  });

  it('is refused when an answer passes 1 MiB, and that answer is not read further', async () => {
    let sent = 0;
    const endless = await destination((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const more = () => {
        while (!res.destroyed && sent < 256 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed && sent < 256 * 1024 * 1024) res.once('drain', more);
      };
      more();
    });
    const deliver = attestation([]).fetchFor('d', `${endless.base}/mcp`, (url, init) => fetch(url, init));
    const refused = await deliver(`${endless.base}/mcp`, { method: 'POST' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PeerNotAttested);
    expect((refused as Error).message).toMatch(/\/v1\/attestation\/identity's answer is larger than 1048576 bytes/);
    expect(sent).toBeLessThan(32 * 1024 * 1024);
  });
});
