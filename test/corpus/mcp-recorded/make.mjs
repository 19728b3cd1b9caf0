// Records real MCP traffic for the codec's dictionary measurements: seeded
// sessions against the reference servers (everything, filesystem, memory),
// each a child process over stdio, every JSON-RPC line kept exactly as it
// crossed the pipe. Whole sessions go to train or to test, never single lines,
// so a dictionary trained on train has not seen the test session's traffic.
//
//   node test/corpus/mcp-recorded/make.mjs     # writes traffic.jsonl + sessions.json here
import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { rng } from '../../../bench/codec/mcp-corpus.mjs';
import { RecordingStdioTransport } from './record.mjs';
import { CALL_TIMEOUT_MS, everythingSession, filesystemSession, memorySession } from './sessions.mjs';
import { int, pick, words, writeTree } from './tree.mjs';

const here = new URL('.', import.meta.url).pathname;
const root = new URL('../../../', import.meta.url).pathname;
const SESSION_TIMEOUT_MS = 120_000;

/** @typedef {import('../../../bench/codec/mcp-corpus.mjs').Random} Random */
/** @typedef {import('./sessions.mjs').SessionContext} SessionContext */
/**
 * @typedef {object} ServerPlan
 * @property {string} pkg  the npm package of the reference server
 * @property {string[]} [args]
 * @property {number} calls
 * @property {(client: Client, next: Random, context: SessionContext) => Promise<import('./sessions.mjs').Stats>} run
 */
/** @typedef {{ server: string; seed: number; split: 'train' | 'test' }} PlanEntry */

// Seeds per server: the first three sessions train, the last two are held out.
/** @type {Record<string, ServerPlan>} */
const SERVERS = {
  everything: { pkg: '@modelcontextprotocol/server-everything', args: ['stdio'], calls: 28, run: everythingSession },
  filesystem: { pkg: '@modelcontextprotocol/server-filesystem', calls: 28, run: filesystemSession },
  memory: { pkg: '@modelcontextprotocol/server-memory', calls: 28, run: memorySession },
};
/** @type {PlanEntry[]} */
const PLAN = [
  ...[11, 12, 13].flatMap((seed) => Object.keys(SERVERS).map((server) => ({ server, seed, split: /** @type {const} */ ('train') }))),
  ...[21, 22].flatMap((seed) => Object.keys(SERVERS).map((server) => ({ server, seed, split: /** @type {const} */ ('test') }))),
];

/** @param {string} pkg */
function packageInfo(pkg) {
  const dir = join(root, 'node_modules', pkg);
  const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const bin = typeof json.bin === 'string' ? json.bin : Object.values(json.bin)[0];
  return { version: json.version, entry: join(dir, bin) };
}

/**
 * A client that answers the server's requests (roots, sampling, elicitation) with seeded, canned data.
 * @param {Random} next
 * @param {string} rootUri
 */
function makeClient(next, rootUri) {
  const client = new Client(
    { name: 'mcp-edge-recorder', version: '0.1.0' },
    { capabilities: { roots: { listChanged: true }, sampling: {}, elicitation: { form: {} } } },
  );
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: rootUri, name: 'workspace' }] }));
  client.setRequestHandler(CreateMessageRequestSchema, () => ({
    model: 'recorder-canned-1', role: /** @type {const} */ ('assistant'), stopReason: 'endTurn',
    content: { type: /** @type {const} */ ('text'), text: words(next, int(next, 5, 60)) },
  }));
  client.setRequestHandler(ElicitRequestSchema, () => (next() < 0.25 ? { action: pick(next, /** @type {const} */ (['decline', 'cancel'])) } : {
    action: /** @type {const} */ ('accept'),
    content: { name: pick(next, ['Ada Lovelace', 'Grace Hopper', 'Alan Turing']), check: next() < 0.5, email: `user${int(next, 1, 99)}@example.com`, integer: int(next, 1, 100) },
  }));
  return client;
}

/**
 * One seeded session against one freshly started server; returns its lines and stats.
 * @param {PlanEntry} entry
 * @param {string} tmp
 */
async function recordSession({ server, seed }, tmp) {
  const spec = SERVERS[server];
  if (!spec) throw new Error(`no plan for server "${server}"`);
  const next = rng(seed * 7919 + server.length);
  /** @type {NodeJS.ProcessEnv} */
  const env = { PATH: process.env.PATH, TZ: 'UTC', LANG: 'C' };
  const args = [packageInfo(spec.pkg).entry, ...(spec.args ?? [])];
  /** @type {SessionContext} */
  const context = { calls: spec.calls };
  let rootUri = 'file:///srv/workspace';
  if (server === 'filesystem') {
    // One path for every session, as one deployment's root would be; refilled per seed.
    const workspace = join(tmp, 'workspace');
    rmSync(workspace, { recursive: true, force: true });
    mkdirSync(workspace);
    const root = realpathSync(workspace);
    context.root = root;
    context.files = writeTree(root, next);
    args.push(root);
    rootUri = pathToFileURL(root).href;
  }
  if (server === 'memory') env.MEMORY_FILE_PATH = join(tmp, `memory-${seed}.jsonl`);
  /** @type {import('./record.mjs').LoggedLine[]} */
  const log = [];
  const transport = new RecordingStdioTransport({ command: process.execPath, args, env, cwd: tmp }, log);
  const client = makeClient(next, rootUri);
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  try {
    const session = (async () => {
      await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
      return spec.run(client, next, context);
    })();
    /** @type {Promise<never>} */
    const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${server} seed ${seed}: session over ${SESSION_TIMEOUT_MS} ms`)), SESSION_TIMEOUT_MS); });
    const stats = await Promise.race([session, limit]);
    // Late server messages (a progress notification, a log line) still belong to the session.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (transport.strayLines.length) throw new Error(`non-JSON lines on stdout: ${transport.strayLines.join(' | ')}`);
    return { log, stats };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nserver stderr:\n${transport.stderrTail}`);
  } finally {
    clearTimeout(timer);
    await client.close().catch(() => {});
    await transport.close();
  }
}

async function main() {
  // A fixed name, not mkdtemp: the root path is in most filesystem messages, and
  // a random suffix would make every rerun differ from the committed corpus.
  const tmp = join(tmpdir(), 'mcp-edge-recorded');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  /** @type {string[]} */
  const lines = [];
  /** @type {import('../../../bench/codec/recorded.mjs').RecordedSession[]} */
  const sessions = [];
  try {
    for (const entry of PLAN) {
      const { log, stats } = await recordSession(entry, tmp);
      sessions.push({ ...entry, start: lines.length, count: log.length, directions: log.map((l) => l.dir).join('') });
      lines.push(...log.map((l) => l.line));
      const bytes = log.reduce((n, l) => n + Buffer.byteLength(l.line) + 1, 0);
      console.error(`${entry.split} ${entry.server} seed ${entry.seed}: ${log.length} lines, ${bytes} B, ${stats.calls} calls ok, ${stats.errors.length} protocol errors${stats.errors.length ? ` (${stats.errors.slice(0, 3).join('; ')})` : ''}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  /** @type {Record<string, string>} */
  const versions = Object.fromEntries(Object.values(SERVERS).map((s) => [s.pkg, packageInfo(s.pkg).version]));
  versions['@modelcontextprotocol/sdk'] = JSON.parse(readFileSync(join(root, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8')).version;
  writeFileSync(join(here, 'traffic.jsonl'), lines.join('\n') + '\n');
  const sidecar = { lines: lines.length, versions, node: process.version, sessions };
  writeFileSync(join(here, 'sessions.json'), JSON.stringify(sidecar, null, 1) + '\n');
  console.error(`wrote ${lines.length} lines, ${Buffer.byteLength(lines.join('\n')) + 1} B`);
}

await main();
