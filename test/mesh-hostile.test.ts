// The mesh port as a hostile network sees it: connections reset mid-handshake,
// inbound (a scanner, a peer that drops its link) and outbound (a bootstrap
// address whose listener resets every dial). The gateway must neither crash
// (an uncaught ECONNRESET ends the process) nor stop serving its own client.
import net from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, eventually, startGateway, textOf } from './helpers/gateway.js';

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0'];
const servers: net.Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

/** Opens `count` TCP connections to `port` and resets each, some before and some after a multistream header. */
async function resetStorm(port: number, count: number): Promise<number> {
  let reset = 0;
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => resolve());
        socket.on('connect', () => {
          if (i % 2) socket.write('\x13/multistream/1.0.0\n');
          setTimeout(() => {
            socket.resetAndDestroy();
            reset += 1;
            resolve();
          }, i % 5);
        });
      }),
    ),
  );
  return reset;
}

/** Count of uncaught exceptions while `run` runs (vitest would report them too, after the fact). */
async function uncaughtDuring(run: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const record = (err: Error) => seen.push(err);
  process.on('uncaughtException', record);
  try {
    await run();
  } finally {
    process.off('uncaughtException', record);
  }
  return seen;
}

describe('the mesh port under resets', () => {
  it('survives 500 inbound connections reset mid-handshake and still serves calls', async () => {
    const gateway = await startGateway({ mesh: { enabled: true, open: true, listen: LOOPBACK } });
    const port = Number(gateway.mesh!.addresses()[0]!.split('/tcp/')[1]!.split('/')[0]);
    const errors = await uncaughtDuring(async () => {
      let reset = 0;
      for (let round = 0; round < 10; round++) reset += await resetStorm(port, 50);
      expect(reset).toBe(500);
    });
    expect(errors).toEqual([]);
    const client = await connectClient(gateway);
    expect(textOf(await client.callTool({ name: 'count_tokens', arguments: { text: 'still here' } }))).toMatch(/\d+/);
  });

  it('survives bootstrap dials to a listener that resets every connection', async () => {
    let accepted = 0;
    const resetter = net.createServer((socket) => {
      accepted += 1;
      // Reset at once, after sending a header, or after the dialer's first bytes.
      if (accepted % 3 === 0) socket.resetAndDestroy();
      else if (accepted % 3 === 1) {
        socket.write('\x13/multistream/1.0.0\n');
        setTimeout(() => socket.resetAndDestroy(), 2);
      } else socket.once('data', () => socket.resetAndDestroy());
    });
    servers.push(resetter);
    await new Promise<void>((resolve) => resetter.listen(0, '127.0.0.1', resolve));
    const { port } = resetter.address() as net.AddressInfo;
    const ids = await Promise.all(Array.from({ length: 3 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()));
    const errors = await uncaughtDuring(async () => {
      const gateway = await startGateway({
        mesh: { enabled: true, open: true, listen: LOOPBACK, announce_interval_ms: 100, bootstrap: ids.map((id) => `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`) },
      });
      // keepJoined dials the bootstrap peers again every announce interval: many resets.
      await eventually(() => (accepted >= 60 ? true : undefined), 20_000, 'the gateway to dial the resetting bootstrap 60 times');
      const client = await connectClient(gateway);
      expect(textOf(await client.callTool({ name: 'count_tokens', arguments: { text: 'still here' } }))).toMatch(/\d+/);
    });
    expect(errors).toEqual([]);
  });
});
