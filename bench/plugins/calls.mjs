// What the plugin layers cost per call, each against a baseline measured in the
// same run: a local tool over MCP/HTTP vs the same tool called in process; a
// db_query (child process + IPC) vs better-sqlite3 in process; shell_run vs a
// bare spawn of the same program. Prints one JSON object. Needs the built host.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** @type {typeof import('../../host/src/index.js')} */
const { createGateway, createLogger, defineTool } = await import(join(root, 'host/dist/index.js'));
const N = Number(process.env.RUNS ?? 300);
const N_SHELL = Math.max(10, Math.floor(N / 6));

/**
 * @typedef {{ runs: number; median_us: number; p90_us: number; per_second: number }} Stats
 */

/**
 * @param {number[]} samples  ms per call
 * @returns {Stats}
 */
function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const total = samples.reduce((a, b) => a + b, 0);
  return { runs: samples.length, median_us: Math.round(at(0.5) * 1000), p90_us: Math.round(at(0.9) * 1000), per_second: Math.round((samples.length * 1000) / total) };
}

/**
 * @param {number} runs
 * @param {() => Promise<unknown>} fn
 */
async function timed(runs, fn) {
  for (let i = 0; i < Math.min(20, runs); i++) await fn(); // warm-up, outside the samples
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  return stats(samples);
}

/**
 * @param {string} name
 * @param {Stats} measured
 * @param {Stats} baseline
 */
function compare(name, measured, baseline) {
  return { name, measured, baseline, ratio_median: +(measured.median_us / Math.max(1, baseline.median_us)).toFixed(2) };
}

const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-bench-plugins-'));
const dbFile = join(dir, 'bench.db');
const seed = new Database(dbFile);
seed.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
const insert = seed.prepare('INSERT INTO t (v) VALUES (?)');
for (let i = 0; i < 1000; i++) insert.run(`value-${i}`);
seed.close();

const gateway = await createGateway({
  config: {
    gateway: { bind_address: '127.0.0.1:0', data_dir: join(dir, 'data') },
    plugins: {
      sqlite: { enabled: true, databases: { bench: dbFile } },
      shell: { enabled: true, commands: ['true'], roots: [dir] },
    },
  },
  logger: createLogger('error', () => undefined),
});
gateway.plugins.registerTool(
  defineTool({
    name: 'echo',
    description: 'Returns its input.',
    input: z.object({ text: z.string() }),
    handler: ({ text }) => ({ content: [{ type: 'text', text }] }),
  }),
);
const client = new Client({ name: 'bench', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
const signal = new AbortController().signal;
const sql = 'SELECT id, v FROM t WHERE id BETWEEN ? AND ?';

const results = [];
results.push(
  compare(
    'local tool over MCP/HTTP vs in process',
    await timed(N, () => client.callTool({ name: 'echo', arguments: { text: 'hi' } })),
    await timed(N, () => gateway.plugins.callTool('echo', { text: 'hi' }, { signal })),
  ),
);
const direct = new Database(dbFile, { readonly: true });
const stmt = direct.prepare(sql);
results.push(
  compare(
    'db_query (10 rows) in process plugin call vs better-sqlite3 direct',
    await timed(N, () => gateway.plugins.callTool('db_query', { database: 'bench', sql, params: [1, 10] }, { signal })),
    await timed(N, async () => stmt.all(1, 10)),
  ),
);
const run = promisify(execFile);
results.push(
  compare(
    'shell_run true vs execFile true',
    await timed(N_SHELL, () => gateway.plugins.callTool('shell_run', { command: 'true' }, { signal })),
    await timed(N_SHELL, () => run('true')),
  ),
);
direct.close();
await client.close();
await gateway.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ bench: 'plugins/calls', node: process.version, results }, null, 2));
