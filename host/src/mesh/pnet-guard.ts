// Guards around two faults under the private network's cipher (@libp2p/pnet
// 3.0.27 over xsalsa20 1.2.0): XSalsa20 in a WebAssembly module whose one
// memory (10 to 1000 pages, 640 KiB to 64 MiB) every cipher in the process
// shares: a 64-byte slot per cipher, then scratch space for each write.
// 1. pnet never finalizes a connection's two ciphers: their slots stay taken
//    for good, so the slot area grows by 128 bytes with every connection the
//    process ever protected (measured: 256 bytes per connection between two
//    nodes of one process). Past 640 KiB (some 5,000 connections over a
//    node's life) a write grows the memory; so does one write larger than the
//    free space, a backed-up socket's queue say.
// 2. Each cipher keeps its own view of the memory, and a grow detaches every
//    other cipher's view. xsalsa20 takes a detached view (length 0) for too
//    small and grows the memory again on that cipher's next write, detaching
//    the others once more: from the first grow on, the memory grows on nearly
//    every write until WebAssembly.Memory.grow() fails and the process dies
//    (50 private nodes in one process: after 7 to 10 minutes, bench/mesh).
// Fixed here: a connection's ciphers are finalized (their slots reused) once
// both the protected stream and the one under it closed, when no write can
// come any more; and a cipher whose view went stale takes the current one
// before it writes.
import type { ConnectionProtector, MessageStream } from '@libp2p/interface';

/** The parts of xsalsa20's cipher the guard uses (its `_xor` is the WebAssembly one). */
interface Cipher {
  _xor: WasmCipher | null;
  finalize(): void;
}
interface WasmCipher {
  _memory: Uint8Array;
  realloc(size: number): void;
  update(input: Uint8Array, output: Uint8Array): void;
  finalize(): void;
}

function isCipher(value: unknown): value is Cipher {
  const xor = (value as { _xor?: unknown } | null)?._xor;
  return typeof (value as { finalize?: unknown } | null)?.finalize === 'function' && typeof xor === 'object' && xor !== null && (xor as { _memory?: unknown })._memory instanceof Uint8Array;
}

/** The two ciphers pnet's protected stream holds, or undefined when pnet changed. */
function ciphersOf(stream: MessageStream): [Cipher, Cipher] | undefined {
  const { inboundXor, outboundXor } = stream as unknown as { inboundXor?: unknown; outboundXor?: unknown };
  return isCipher(inboundXor) && isCipher(outboundXor) ? [inboundXor, outboundXor] : undefined;
}

let viewsGuarded = false;

/**
 * Makes each write and the finalize of the WebAssembly cipher (prototype of
 * `cipher._xor`) use the memory's current view. finalize clears the cipher's
 * slot through its view: on a stale one it threw (a detached ArrayBuffer),
 * from a promise nobody awaits, and an unhandled rejection ends the process.
 */
function guardViews(cipher: Cipher): void {
  if (viewsGuarded || !cipher._xor) return;
  viewsGuarded = true;
  const proto = Object.getPrototypeOf(cipher._xor) as WasmCipher;
  // Every grow goes through realloc, and the cipher that grew holds the fresh view.
  let current: Uint8Array | undefined;
  const fresh = (xor: WasmCipher): void => {
    if (current && xor._memory.buffer !== current.buffer) xor._memory = current;
  };
  const realloc = proto.realloc;
  proto.realloc = function guardedRealloc(this: WasmCipher, size: number): void {
    realloc.call(this, size);
    current = this._memory;
  };
  const update = proto.update;
  proto.update = function guardedUpdate(this: WasmCipher, input: Uint8Array, output: Uint8Array): void {
    fresh(this);
    update.call(this, input, output);
  };
  const finalize = proto.finalize;
  proto.finalize = function guardedFinalize(this: WasmCipher): void {
    fresh(this);
    finalize.call(this);
  };
}

/** Resolves once `stream` closed (cleanly, aborted or reset: each ends with a 'close' event). */
function closed(stream: MessageStream): Promise<void> {
  if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') return Promise.resolve();
  return new Promise((resolve) => stream.addEventListener('close', () => resolve(), { once: true }));
}

/** pnet's protector, with its ciphers finalized after their connection and their memory views kept current. */
export function guardedProtector(protector: ConnectionProtector): ConnectionProtector {
  return {
    async protect(connection, options) {
      const protectedStream = await protector.protect(connection, options);
      const ciphers = ciphersOf(protectedStream);
      if (ciphers) {
        guardViews(ciphers[0]);
        void Promise.all([closed(connection), closed(protectedStream)]).then(() => {
          for (const cipher of ciphers) if (cipher._xor) cipher.finalize();
        });
      }
      return protectedStream;
    },
  };
}
