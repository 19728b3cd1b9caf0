// The private network's cipher memory over time: N private nodes (full gateways, one process, all
// bootstrapping from the first) run for --minutes, and every --sample-s this prints one JSON line
// with the connections open, the connection ends ever opened (libp2p connection:open events, one
// per node of a connection), where xsalsa20 puts the next cipher's slot (a freed slot when there is
// one, else the end of the slot area) and its WebAssembly memory in pages (1000 at most; the process
// dies past that). The last line compares with pnet unguarded, where each connection end kept its
// two 64-byte slots for good: the slot area it would hold (projected from the ends opened, not
// measured) and whether that passed the 10 pages the memory starts with (its first grow, after which
// it grew on nearly every write until it failed).
//   node bench/mesh/pnet-memory.mjs [--nodes 50] [--minutes 10] [--sample-s 30] [--announce-ms 2000]
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '@libp2p/pnet';
import { createGateway, createLogger, loadCore } from '../../host/dist/index.js';

const args = process.argv.slice(2);
/** @param {string} flag @param {number} fallback */
const option = (flag, fallback) => {
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const nodes = option('--nodes', 50);
const minutes = option('--minutes', 10);
const sampleS = option('--sample-s', 30);
const announceMs = option('--announce-ms', 2000);

/** xsalsa20 as @libp2p/pnet loads it (one module, one memory, per process). */
const xsalsa20 = createRequire(createRequire(import.meta.url).resolve('@libp2p/pnet'))('xsalsa20');
const cipherMemory = () => {
  const cipher = xsalsa20(new Uint8Array(24), new Uint8Array(32));
  const sample = { next_cipher_slot: cipher._xor._pointer, memory_pages: cipher._xor._memory.buffer.byteLength / 65536 };
  cipher.finalize();
  return sample;
};

const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-pnet-memory-'));
const keyFile = join(dir, 'network.key');
const key = new Uint8Array(95);
generateKey(key);
writeFileSync(keyFile, key);
const core = await loadCore();
/** @type {import('../../host/dist/index.js').Gateway[]} */
const gateways = [];
let opened = 0;
const started = Date.now();
try {
  for (let i = 0; i < nodes; i++) {
    const bootstrap = i === 0 ? [] : (gateways[0]?.mesh?.addresses() ?? []);
    const gateway = await createGateway({
      core,
      logger: createLogger('silent'),
      config: {
        gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, `n${i}`) },
        audit: { enabled: false },
        mesh: { enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], network_key_file: keyFile, share: [`tool_${i}`], bootstrap, announce_interval_ms: announceMs },
      },
    });
    gateway.tools.register({ name: `tool_${i}`, description: 'Answers at once.', input: { type: 'object' }, handler: () => ({ content: [{ type: 'text', text: 'pong' }] }) });
    gateway.mesh?.node.addEventListener('connection:open', () => (opened += 1));
    gateways.push(gateway);
  }
  const sample = () => {
    const open = gateways.reduce((sum, g) => sum + (g.mesh?.node.getConnections().length ?? 0), 0);
    const line = { minute: Math.round((Date.now() - started) / 6000) / 10, connections_open: open, connections_opened: opened, ...cipherMemory(), rss_mb: Math.round(process.memoryUsage().rss / 1e6) };
    process.stdout.write(JSON.stringify(line) + '\n');
  };
  sample();
  const timer = setInterval(sample, sampleS * 1000);
  await new Promise((r) => setTimeout(r, minutes * 60_000));
  clearInterval(timer);
  sample();
  const unguardedSlotBytes = 144 + 128 * opened;
  const summary = { nodes, minutes, connection_ends_opened: opened, memory_pages_end: cipherMemory().memory_pages, unguarded_slot_area_bytes_projected: unguardedSlotBytes, unguarded_would_have_grown: unguardedSlotBytes > 10 * 65536 };
  process.stdout.write(JSON.stringify({ summary }) + '\n');
} finally {
  await Promise.allSettled(gateways.map((g) => g.close()));
  rmSync(dir, { recursive: true, force: true });
}
