// The private network's cipher memory (host/src/mesh/pnet-guard.ts): 50
// private nodes in one process died after 7 to 10 minutes with a
// WebAssembly.Memory.grow() failure. @libp2p/pnet never finalized a
// connection's XSalsa20 ciphers, so the slot area of xsalsa20's one
// WebAssembly memory grew with every connection ever protected; and once that
// memory grew, each cipher's stale view made it grow again on nearly every
// write. Both are read here through xsalsa20's own objects (the module pnet
// loads): a new cipher's slot address, and the memory's size in pages. And a
// cipher finalized on a stale view threw, from a promise nobody awaits: an
// unhandled rejection, which ends a Node process.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNetworkKey } from '../host/src/mesh/identity.js';
import { eventually } from './helpers/gateway.js';
import { meshNodes } from './helpers/mesh-nodes.js';
import { ROOT } from './helpers/processes.js';

interface Cipher {
  _xor: { _pointer: number; _memory: Uint8Array };
  update(input: Uint8Array): Uint8Array;
  finalize(): void;
}
/** xsalsa20 as pnet loads it (one module, so one memory, per process). */
const xsalsa20 = createRequire(join(ROOT, 'node_modules/@libp2p/pnet/package.json'))('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => Cipher;
const newCipher = (): Cipher => xsalsa20(crypto.getRandomValues(new Uint8Array(24)), crypto.getRandomValues(new Uint8Array(32)));
/** Where the next cipher's slot is: the end of the slot area when no slot was given back. */
function nextSlot(): number {
  const cipher = newCipher();
  const slot = cipher._xor._pointer;
  cipher.finalize();
  return slot;
}
function memoryPages(): number {
  const cipher = newCipher();
  const pages = cipher._xor._memory.buffer.byteLength / 65536;
  cipher.finalize();
  return pages;
}

const CONNECTIONS = 20;
const mesh = meshNodes('mcp-edge-pnet-memory-');

describe('the private network cipher memory', () => {
  it('connections opened and closed give their cipher slots back; a stale memory view does not grow the memory', { timeout: 30_000 }, async () => {
    const keyFile = join(mesh.dir, 'network.key');
    writeNetworkKey(keyFile);
    const [a, b] = [await mesh.node(keyFile), await mesh.node(keyFile)];
    const before = nextSlot();
    for (let i = 0; i < CONNECTIONS; i++) {
      const connection = await a.dial(b.getMultiaddrs()[0]!);
      await connection.close();
    }
    // Unguarded, each connection kept its 4 slots here (2 ciphers on each side): 256 bytes.
    await eventually(() => (nextSlot() === before ? true : undefined), 10_000, `the slots of ${CONNECTIONS} closed connections given back (next slot ${nextSlot()}, was ${before})`);

    // Live ciphers, then one write larger than the free memory: it grows once. Unguarded, each
    // other cipher's next write grew it again (its view of the memory detached by the grow).
    const live = Array.from({ length: 40 }, () => newCipher());
    for (const cipher of live) cipher.update(new Uint8Array(1000));
    // Written before the grow, finalized after it without another write: its view is stale.
    const idle = newCipher();
    idle.update(new Uint8Array(1000));
    live[0]!.update(new Uint8Array(memoryPages() * 65536));
    const grown = memoryPages();
    for (const cipher of live) cipher.update(new Uint8Array(1000));
    expect(memoryPages()).toBe(grown);
    for (const cipher of live) cipher.finalize();
    // Regression: finalize cleared the slot through the stale view and threw (a detached ArrayBuffer); the guard
    // calls it from a promise nobody awaits, so a mesh node whose cipher memory grew ended at a connection's close.
    expect(() => idle.finalize()).not.toThrow();
  });
});
