// Regenerates the codec corpus (see MANIFEST.md). Needs the `zstd` and `lz4`
// command-line tools (Debian packages zstd, lz4) and a built component
// (`node scripts/build-core.mjs`). Deterministic: rerunning rewrites the same bytes
// as long as the tool versions are the same (MANIFEST.md records them).
//
//   node test/corpus/codec/make.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { message as mcpMessage, messages, traffic, rng } from '../../../bench/codec/mcp-corpus.mjs';

const here = new URL('.', import.meta.url).pathname;
/**
 * @param {string} name
 * @param {Uint8Array} bytes
 */
const out = (name, bytes) => writeFileSync(join(here, name), bytes);
/**
 * Runs a reference tool with `input` on stdin; returns its stdout.
 * @param {string} cmd
 * @param {string[]} args
 * @param {Uint8Array} [input]
 */
const tool = (cmd, args, input) => execFileSync(cmd, args, { input, maxBuffer: 1 << 28 });

/** The component through jco's bindings, as the generated code instantiates it. */
async function loadComponent() {
  const dir = new URL('../../../host/src/core/generated/', import.meta.url);
  /** @type {typeof import('../../../host/src/core/generated/edge-core.js')} */
  const { instantiate } = await import(new URL('edge-core.js', dir).href);
  const { readFile } = await import('node:fs/promises');
  return instantiate(async (f) => WebAssembly.compile(await readFile(new URL(f, dir))), {});
}

const jsonl = traffic(42, 96 * 1024);
out('traffic.jsonl', jsonl);
out('traffic.jsonl.zst', tool('zstd', ['-19', '-q', '-c'], jsonl));
out('traffic.jsonl.lz4', tool('lz4', ['-9', '-q', '-c'], jsonl));
// Two zstd frames back to back: decoders must read all frames of a stream.
const half = jsonl.length >> 1;
out('traffic-2frames.zst', Buffer.concat([tool('zstd', ['-3', '-q', '-c'], jsonl.subarray(0, half)), tool('zstd', ['-3', '-q', '-c'], jsonl.subarray(half))]));

const next = rng(5);
const noise = Uint8Array.from({ length: 16384 }, () => Math.floor(next() * 256));
out('noise.bin', noise);
out('noise.bin.zst', tool('zstd', ['-3', '-q', '-c'], noise));
out('noise.bin.lz4', tool('lz4', ['-q', '-c'], noise));
out('empty.zst', tool('zstd', ['-q', '-c'], new Uint8Array()));
out('empty.lz4', tool('lz4', ['-q', '-c'], new Uint8Array()));

// A dictionary trained by the reference tool on 1 KB MCP messages, and one
// message compressed with it: proves we load `zstd --train` dictionaries.
const samplesDir = mkdtempSync(join(tmpdir(), 'codec-samples-'));
messages(11, 400, 1024).forEach((m, i) => writeFileSync(join(samplesDir, `s${String(i).padStart(4, '0')}.json`), m));
tool('zstd', ['--train', '-q', '--maxdict=8192', '-r', samplesDir, '-o', join(here, 'cli.dict')]);
rmSync(samplesDir, { recursive: true });
const message = mcpMessage(rng(12), 1, 1024); // what messages(12, 1, 1024) holds
out('message.json', message);
out('message.json.dict.zst', tool('zstd', ['-3', '-q', '-c', '-D', join(here, 'cli.dict')], message));

// Golden frames from the component, in the current format (version 2): the
// format must not drift. The version 1 goldens (`*.medg` without `.v2`) were
// written by the component before the compact header and are kept as they are,
// so readers keep proving they read version 1; this script no longer writes them.
const { codec } = await loadComponent();
out('traffic.jsonl.zstd.v2.medg', codec.pack(jsonl, { algorithm: 'zstd', level: 3 }));
out('traffic.jsonl.lz4.v2.medg', codec.pack(jsonl, { algorithm: 'lz4' }));
out('message.json.stored.v2.medg', codec.pack(message, { algorithm: 'stored' }));
const dict = codec.Dictionary.load(readFileSync(join(here, 'cli.dict')));
out('message.json.dict.v2.medg', dict.pack(message, 3));
console.log(`corpus written to ${here}; zstd ${tool('zstd', ['--version']).toString().trim()}; lz4 ${tool('lz4', ['--version']).toString().trim()}`);
