// What a recorded session does on each reference server: seeded, varied calls
// of the kinds an agent makes (listing, reading, searching, writing, building a
// memory graph, trying demo tools), including a few that fail on purpose so
// error results are in the corpus too. Every call has a timeout.
import { join } from 'node:path';
import { int, pick, words, WORDS } from './tree.mjs';

export const CALL_TIMEOUT_MS = 15_000;
const opts = { timeout: CALL_TIMEOUT_MS };

/** @typedef {import('@modelcontextprotocol/sdk/client/index.js').Client} Client */
/** @typedef {import('@modelcontextprotocol/sdk/shared/protocol.js').RequestOptions} RequestOptions */
/** @typedef {import('../../../bench/codec/mcp-corpus.mjs').Random} Random */
/** @typedef {import('./tree.mjs').Files} Files */
/** @typedef {{ calls: number; errors: string[]; progress?: number }} Stats  calls that succeeded; errors, as short texts */
/**
 * What a session works with: how many calls to make, and for the filesystem
 * server the workspace root and its files (kept current as the session writes).
 * @typedef {{ calls: number; root?: string; files?: Files }} SessionContext
 */
/** @typedef {[name: string, args: Record<string, unknown>]} ToolCall */

/** @param {unknown} err */
const short = (err) => String(err instanceof Error ? err.message : err).slice(0, 100);

/**
 * Calls a tool; protocol errors are part of the traffic, so they are counted, not fatal.
 * @param {Client} client
 * @param {Stats} stats
 * @param {string} name
 * @param {Record<string, unknown>} args
 * @param {RequestOptions} [extra]
 */
async function call(client, stats, name, args, extra = {}) {
  try {
    await client.callTool({ name, arguments: args }, undefined, { ...opts, ...extra });
    stats.calls++;
  } catch (err) {
    stats.errors.push(`${name}: ${short(err)}`);
  }
}

/**
 * The listings a client makes after initialize. Like many clients it lists
 * prompts and resources without checking the capabilities, so servers that
 * have none answer with JSON-RPC errors (method not found): real error traffic.
 * @param {Client} client
 * @param {Stats} stats
 */
export async function discover(client, stats) {
  await client.listTools(undefined, opts);
  for (const list of [() => client.listPrompts(undefined, opts), () => client.listResources(undefined, opts)]) {
    await list().catch((err) => stats.errors.push(short(err)));
  }
  if (client.getServerCapabilities()?.resources) await client.listResourceTemplates(undefined, opts);
}

// ---- filesystem -------------------------------------------------------------

const parentOf = (/** @type {string} */ path) => path.split('/').slice(0, -1).join('/');

/**
 * @param {Random} next
 * @param {string} root
 * @param {Files} files
 * @returns {ToolCall}
 */
function filesystemStep(next, root, files) {
  const paths = Object.keys(files);
  const file = pick(next, paths);
  const text = files[file] ?? '';
  const dirs = [...new Set(paths.map(parentOf).filter(Boolean))];
  const dir = pick(next, dirs);
  const abs = (/** @type {string} */ p) => join(root, p);
  const lines = (/** @type {string} */ text) => text.split('\n').filter((l) => l.trim().length > 3);
  const roll = next();
  if (roll < 0.12) return ['list_directory', { path: abs(next() < 0.3 ? '' : dir) }];
  if (roll < 0.18) return ['list_directory_with_sizes', { path: abs(dir), sortBy: next() < 0.5 ? 'name' : 'size' }];
  if (roll < 0.36) {
    /** @type {Record<string, unknown>} */
    const args = { path: abs(file) };
    if (next() < 0.3) args[next() < 0.5 ? 'head' : 'tail'] = int(next, 2, 12);
    return [next() < 0.8 ? 'read_text_file' : 'read_file', args];
  }
  if (roll < 0.42) return ['read_multiple_files', { paths: [pick(next, paths), pick(next, paths)].map(abs) }];
  if (roll < 0.52) return ['get_file_info', { path: abs(next() < 0.8 ? file : dir) }];
  if (roll < 0.60) return ['search_files', { path: abs(next() < 0.5 ? '' : dir.split('/')[0] ?? ''), pattern: pick(next, ['*.json', '**/*.md', '**/*.log', '*.csv', `**/*${pick(next, WORDS).slice(0, 3)}*`]) }];
  if (roll < 0.66) return ['directory_tree', { path: abs(dir.split('/')[0] ?? ''), ...(next() < 0.3 ? { excludePatterns: ['*.log'] } : {}) }];
  if (roll < 0.76) {
    const path = `${dir}/${pick(next, WORDS)}-${int(next, 100, 999)}.md`;
    const content = `# ${words(next, 3)}\n\n${words(next, int(next, 10, 60))}\n`;
    files[path] = content;
    return ['write_file', { path: abs(path), content }];
  }
  if (roll < 0.88) {
    const candidates = lines(text);
    if (candidates.length === 0) return ['read_text_file', { path: abs(file) }];
    const oldText = pick(next, candidates);
    const newText = `${oldText} ${words(next, int(next, 1, 4))}`;
    const dryRun = next() < 0.3;
    if (!dryRun) files[file] = text.replace(oldText, newText);
    return ['edit_file', { path: abs(file), edits: [{ oldText, newText }], dryRun }];
  }
  if (roll < 0.92) return ['create_directory', { path: abs(`${dir}/${pick(next, WORDS)}`) }];
  if (roll < 0.95) {
    const destination = `${parentOf(file)}/${pick(next, WORDS)}-moved-${int(next, 1, 99)}${file.slice(file.lastIndexOf('.'))}`;
    if (files[destination] !== undefined) return ['get_file_info', { path: abs(file) }];
    files[destination] = text;
    delete files[file];
    return ['move_file', { source: abs(file), destination: abs(destination) }];
  }
  // Failures an agent runs into: a missing file, a path outside the allowed root.
  if (roll < 0.97) return ['read_text_file', { path: abs(`${dir}/missing-${int(next, 1, 99)}.txt`) }];
  if (roll < 0.985) return ['list_directory', { path: '/etc' }];
  // A misspelt tool: a JSON-RPC error response, not a tool result.
  return [pick(next, ['read_files', 'list_dir', 'stat_file']), { path: abs(file) }];
}

/**
 * @param {Client} client
 * @param {Random} next
 * @param {SessionContext} context
 * @returns {Promise<Stats>}
 */
export async function filesystemSession(client, next, { root, files, calls }) {
  if (root === undefined || files === undefined) throw new Error('a filesystem session needs the workspace root and its files');
  /** @type {Stats} */
  const stats = { calls: 0, errors: [] };
  await discover(client, stats);
  await call(client, stats, 'list_allowed_directories', {});
  for (let i = 0; i < calls; i++) {
    const [name, args] = filesystemStep(next, root, files);
    await call(client, stats, name, args);
  }
  return stats;
}

// ---- memory -----------------------------------------------------------------

const PEOPLE = ['Ada Lovelace', 'Alan Turing', 'Grace Hopper', 'Edsger Dijkstra', 'Barbara Liskov', 'Ken Thompson', 'Frances Allen', 'Donald Knuth', 'Margaret Hamilton', 'John Backus'];
const THINGS = ['edge-gateway', 'sensor-hub', 'billing-service', 'queue-worker', 'build-farm', 'north-office', 'release-2026-q1', 'incident-4711', 'design-review', 'mesh-node-7'];
/** @type {Record<string, string[]>} */
const TYPES = { person: PEOPLE, project: THINGS.slice(0, 5), place: ['north-office', 'mesh-node-7'], event: ['release-2026-q1', 'incident-4711', 'design-review'] };
const RELATIONS = ['works_on', 'owns', 'reviewed', 'located_in', 'depends_on', 'reported', 'mentors', 'attended'];

/** @param {Random} next */
function observation(next) {
  return pick(next, [
    () => `prefers ${words(next, 2)}`,
    () => `last seen ${int(next, 1, 28)} Jan 2026 at ${pick(next, THINGS)}`,
    () => `owns the ${words(next, 1)} ${words(next, 1)} budget`,
    () => `reported ${int(next, 1, 40)} issues about ${words(next, 2)}`,
    () => `${words(next, int(next, 4, 12))}`,
  ])();
}

/** @param {Random} next */
function entity(next) {
  const entityType = pick(next, Object.keys(TYPES));
  return { name: pick(next, TYPES[entityType] ?? []), entityType, observations: Array.from({ length: int(next, 1, 4) }, () => observation(next)) };
}

const allNames = () => [...PEOPLE, ...THINGS];

/**
 * @param {Random} next
 * @param {string[]} known  entity names created so far
 * @returns {ToolCall}
 */
function memoryStep(next, known) {
  const some = (/** @type {number} */ n) => Array.from({ length: n }, () => pick(next, known.length ? known : allNames()));
  const roll = next();
  if (roll < 0.2 || known.length < 3) {
    const entities = Array.from({ length: int(next, 1, 4) }, () => entity(next));
    for (const e of entities) if (!known.includes(e.name)) known.push(e.name);
    return ['create_entities', { entities }];
  }
  if (roll < 0.36) return ['create_relations', { relations: Array.from({ length: int(next, 1, 4) }, () => ({ from: some(1)[0], to: some(1)[0], relationType: pick(next, RELATIONS) })) }];
  if (roll < 0.52) return ['add_observations', { observations: Array.from({ length: int(next, 1, 3) }, () => ({ entityName: some(1)[0], contents: [observation(next)] })) }];
  if (roll < 0.68) return ['search_nodes', { query: pick(next, [pick(next, WORDS), pick(next, known).split(' ')[0], pick(next, Object.keys(TYPES))]) }];
  if (roll < 0.87) return ['open_nodes', { names: some(int(next, 1, 3)) }];
  if (roll < 0.90) return ['read_graph', {}];
  if (roll < 0.95) return ['delete_observations', { deletions: [{ entityName: some(1)[0], observations: [observation(next)] }] }];
  if (roll < 0.965) return [pick(next, ['find_nodes', 'open_node']), { query: pick(next, known) }];
  if (roll < 0.98) return ['delete_relations', { relations: [{ from: some(1)[0], to: some(1)[0], relationType: pick(next, RELATIONS) }] }];
  const [gone = ''] = some(1);
  known.splice(known.indexOf(gone), 1);
  return ['delete_entities', { entityNames: [gone] }];
}

/**
 * @param {Client} client
 * @param {Random} next
 * @param {SessionContext} context
 * @returns {Promise<Stats>}
 */
export async function memorySession(client, next, { calls }) {
  /** @type {Stats} */
  const stats = { calls: 0, errors: [] };
  await discover(client, stats);
  /** @type {string[]} */
  const known = [];
  for (let i = 0; i < calls; i++) {
    const [name, args] = memoryStep(next, known);
    await call(client, stats, name, args);
  }
  return stats;
}

// ---- everything -------------------------------------------------------------

/**
 * One step against the everything server: a tool call (with request options),
 * a resource read, a prompt, a completion, a subscription, a log level, a
 * static document read, or a ping.
 * @typedef {['tool', string, Record<string, unknown>, RequestOptions?]
 *   | ['read' | 'subscribe', string]
 *   | ['prompt', string, Record<string, string>]
 *   | ['complete', string, string]
 *   | ['level', import('@modelcontextprotocol/sdk/types.js').LoggingLevel]
 *   | ['static'] | ['ping']} Step
 */

/**
 * @param {Random} next
 * @param {Stats} stats
 * @returns {Step}
 */
function everythingStep(next, stats) {
  const roll = next();
  if (roll < 0.12) return ['tool', 'echo', { message: words(next, int(next, 2, 30)) }];
  if (roll < 0.18) return ['tool', 'get-sum', { a: int(next, -1000, 1000), b: Math.round(next() * 1e4) / 100 }];
  if (roll < 0.24) return ['tool', 'get-structured-content', { location: pick(next, ['New York', 'Chicago', 'Los Angeles']) }];
  if (roll < 0.31) return ['tool', 'get-annotated-message', { messageType: pick(next, ['error', 'success', 'debug']), includeImage: next() < 0.3 }];
  if (roll < 0.34) return ['tool', 'get-tiny-image', {}];
  if (roll < 0.40) return ['tool', 'get-resource-links', { count: int(next, 1, 6) }];
  if (roll < 0.46) return ['tool', 'get-resource-reference', { resourceType: next() < 0.6 ? 'text' : 'blob', resourceId: int(next, 1, 50) }];
  if (roll < 0.49) return ['tool', 'trigger-long-running-operation', { duration: 0.3, steps: int(next, 2, 5) }, { onprogress: () => void (stats.progress = (stats.progress ?? 0) + 1) }];
  if (roll < 0.54) return ['tool', 'trigger-sampling-request', { prompt: `Summarise: ${words(next, int(next, 5, 25))}`, maxTokens: int(next, 50, 400) }];
  if (roll < 0.57) return ['tool', 'trigger-elicitation-request', {}];
  if (roll < 0.59) return ['tool', 'get-roots-list', {}];
  if (roll < 0.61) {
    const text = `${words(next, int(next, 20, 80))}\n`;
    return ['tool', 'gzip-file-as-resource', { name: `${pick(next, WORDS)}.txt.gz`, data: `data:text/plain;base64,${Buffer.from(text).toString('base64')}`, outputType: next() < 0.5 ? 'resource' : 'resourceLink' }];
  }
  if (roll < 0.70) return ['read', `demo://resource/dynamic/${next() < 0.7 ? 'text' : 'blob'}/${int(next, 1, 40)}`];
  if (roll < 0.80) return ['prompt', ...pick(next, /** @type {(() => [string, Record<string, string>])[]} */ ([
    () => ['simple-prompt', {}],
    () => ['args-prompt', { city: pick(next, ['Lisbon', 'Osaka', 'Denver', 'Nairobi']), ...(next() < 0.5 ? { state: pick(next, ['Colorado', 'Kansai', 'Lisboa']) } : {}) }],
    () => ['resource-prompt', { resourceType: next() < 0.5 ? 'Text' : 'Blob', resourceId: String(int(next, 1, 20)) }],
  ]))()];
  if (roll < 0.84) return ['complete', pick(next, ['department', 'name']), pick(next, ['', 'E', 'M', 'S', 'A'])];
  if (roll < 0.88) return ['subscribe', `demo://resource/dynamic/text/${int(next, 1, 10)}`];
  if (roll < 0.92) return ['level', pick(next, ['debug', 'info', 'warning', 'error'])];
  if (roll < 0.94) return ['static'];
  // Requests the server refuses with a JSON-RPC error: an unknown resource or prompt.
  if (roll < 0.965) return next() < 0.5 ? ['read', `demo://resource/static/document/missing-${int(next, 1, 9)}.md`] : ['prompt', 'summary-prompt', {}];
  return ['ping'];
}

/**
 * Runs one everything-server step; `docs` are the static document URIs it listed.
 * @param {Client} client
 * @param {Random} next
 * @param {Stats} stats
 * @param {Step} step
 * @param {string[]} docs
 */
async function everythingCall(client, next, stats, step, docs) {
  if (step[0] === 'tool') return call(client, stats, step[1], step[2], step[3]);
  try {
    if (step[0] === 'read') await client.readResource({ uri: step[1] }, opts);
    if (step[0] === 'static' && docs.length) await client.readResource({ uri: pick(next, docs) }, opts);
    if (step[0] === 'prompt') await client.getPrompt({ name: step[1], arguments: step[2] }, opts);
    if (step[0] === 'complete') {
      const [, name, value] = step;
      const context = name === 'name' ? { arguments: { department: pick(next, ['Engineering', 'Sales', 'Marketing', 'Support']) } } : undefined;
      await client.complete({ ref: { type: 'ref/prompt', name: 'completable-prompt' }, argument: { name, value }, ...(context ? { context } : {}) }, opts);
    }
    if (step[0] === 'subscribe') {
      await client.subscribeResource({ uri: step[1] }, opts);
      await client.unsubscribeResource({ uri: step[1] }, opts);
    }
    if (step[0] === 'level') await client.setLoggingLevel(step[1], opts);
    if (step[0] === 'ping') await client.ping(opts);
    stats.calls++;
  } catch (err) {
    stats.errors.push(`${step[0]} ${step[1] ?? ''}: ${short(err)}`);
  }
}

/**
 * @param {Client} client
 * @param {Random} next
 * @param {SessionContext} context
 * @returns {Promise<Stats>}
 */
export async function everythingSession(client, next, { calls }) {
  /** @type {Stats} */
  const stats = { calls: 0, errors: [], progress: 0 };
  await discover(client, stats);
  const { resources } = await client.listResources(undefined, opts);
  const docs = resources.map((r) => r.uri).filter((u) => u.includes('/static/'));
  for (let i = 0; i < calls; i++) await everythingCall(client, next, stats, everythingStep(next, stats), docs);
  return stats;
}
