// Load: N clients, each with its own MCP session, each calling one tool back
// to back (closed loop), or at a fixed rate in all (open loop: each client its
// share, on a schedule, so that a call's latency is its own work and not the
// queue a saturated server builds: at saturation p50 is clients/throughput).
// Latency is per call; throughput counts calls that started and finished
// inside the measured window (after a warm-up).
import http from 'node:http';
import https from 'node:https';
import { McpHttpClient } from './client.mjs';

const TOOL = 'test_simple_text';
const EXPECTED_TEXT = 'This is a simple text response for testing.';
const SETUP_BATCH = 10;

/**
 * @param {number[]} sorted
 * @param {number} p  0..100
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, rank)] ?? NaN;
}

/**
 * Opens sessions a few at a time: some targets spawn a process per session.
 * @param {string} url
 * @param {number} count
 * @param {http.Agent} agent
 * @param {(i: number) => Record<string, string>} headersOf  sent with each client's every request (a peer's credential)
 */
async function openClients(url, count, agent, headersOf) {
  /** @type {McpHttpClient[]} */
  const clients = [];
  for (let i = 0; i < count; i += SETUP_BATCH) {
    const batch = Array.from({ length: Math.min(SETUP_BATCH, count - i) }, (_, j) => new McpHttpClient(url, agent, undefined, headersOf(i + j)));
    await Promise.all(batch.map((c) => c.initialize()));
    clients.push(...batch);
  }
  return clients;
}

/** @param {import('@modelcontextprotocol/sdk/types.js').CallToolResult} result */
function checkSimpleText(result) {
  const first = result?.content?.[0];
  const text = first?.type === 'text' ? first.text : undefined;
  if (result?.isError || text !== EXPECTED_TEXT) throw new Error(`unexpected tool result ${JSON.stringify(result).slice(0, 200)}`);
}

/**
 * @typedef {object} Call  what each client calls, and how an answer is checked (throws when wrong)
 * @property {string} tool
 * @property {Record<string, unknown>} args
 * @property {(result: import('@modelcontextprotocol/sdk/types.js').CallToolResult) => void} check
 */

/**
 * count_tokens of "hi", which mcp-edge serves itself (one token): the call of
 * the benches that measure the gateway's own layers (bench/auth, bench/ops).
 * @type {Call}
 */
export const COUNT_TOKENS = {
  tool: 'count_tokens',
  args: { text: 'hi' },
  check: (result) => {
    if (/** @type {{ tokens?: number }} */ (result.structuredContent)?.tokens !== 1) throw new Error(`unexpected result ${JSON.stringify(result).slice(0, 200)}`);
  },
};

/**
 * @param {McpHttpClient} client
 * @param {Call} call
 * @param {{ measureFrom: number; end: number; every: number; first: number }} clock  performance.now() times; every: ms between two calls of a client (0: back to back)
 * @param {number[]} samples  latencies (ms) of calls inside the window
 * @param {string[]} errors
 */
async function clientLoop(client, call, clock, samples, errors) {
  let next = clock.first;
  while (performance.now() < clock.end) {
    if (clock.every > 0) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // A client that fell behind calls at once, but does not burst to catch up.
      next = Math.max(next + clock.every, performance.now() - clock.every);
    }
    const start = performance.now();
    try {
      call.check(await client.callTool(call.tool, call.args));
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
      if (errors.length > 100) throw new Error(`too many errors, first: ${errors[0]}`);
      continue;
    }
    const end = performance.now();
    if (start >= clock.measureFrom && end <= clock.end) samples.push(end - start);
  }
}

/**
 * Runs one row: `clients` concurrent sessions against `url` for warmupMs +
 * measureMs, back to back or at `rate` calls/s in all. onWindowStart /
 * onWindowEnd (optional) mark the measured window. An https URL gets an
 * https.Agent with `tls` (CA, client certificate). `tool` is the fixture's
 * test_simple_text under the name the target gives it, unless `call` names
 * another tool, its arguments and its check; `headers` go with every request
 * (a credential the target asks for), or `headersOf(i)` per client.
 * `samplesOut`, when given, gets every latency of the window (tail.mjs pools them).
 * @param {string} url
 * @param {{ clients: number; warmupMs: number; measureMs: number; rate?: number; onWindowStart?: () => void; onWindowEnd?: () => void; tls?: import('node:tls').ConnectionOptions; tool?: string; call?: Call; headers?: Record<string, string>; headersOf?: (i: number) => Record<string, string>; samplesOut?: number[] }} options
 */
export async function runLoad(url, { clients, warmupMs, measureMs, rate = 0, onWindowStart, onWindowEnd, tls, tool = TOOL, call = { tool, args: {}, check: checkSimpleText }, headers = {}, headersOf, samplesOut }) {
  const pool = { keepAlive: true, maxSockets: clients + 4 };
  const agent = url.startsWith('https:') ? new https.Agent({ ...pool, ...tls }) : new http.Agent(pool);
  try {
    const sessions = await openClients(url, clients, agent, headersOf ?? (() => headers));
    const now = performance.now();
    const every = rate > 0 ? (1000 * clients) / rate : 0;
    /** @type {number[]} */
    const samples = [];
    /** @type {string[]} */
    const errors = [];
    const timer = setTimeout(() => onWindowStart?.(), warmupMs);
    // Clients start spread over one period, so that their calls are too.
    await Promise.all(sessions.map((c, i) => clientLoop(c, call, { measureFrom: now + warmupMs, end: now + warmupMs + measureMs, every, first: now + (every * i) / clients }, samples, errors)));
    clearTimeout(timer);
    // Loops stop at the window's end plus at most one call each.
    onWindowEnd?.();
    await Promise.all(sessions.map((c) => c.close()));
    samples.sort((a, b) => a - b);
    if (samplesOut) for (const sample of samples) samplesOut.push(sample);
    return {
      clients,
      calls: samples.length,
      errors: errors.length,
      callsPerSec: round(samples.length / (measureMs / 1000), 0),
      p50Ms: round(percentile(samples, 50), 3),
      p99Ms: round(percentile(samples, 99), 3),
    };
  } finally {
    agent.destroy();
  }
}

/** The unmeasured pass before a target's rows: this long, at this many clients unless told otherwise. */
export const WARMUP_MS = 5000;
export const WARMUP_CLIENTS = 10;

/**
 * Calls `url` for WARMUP_MS, unmeasured: what a process pays once (JIT, a
 * token vocabulary) is not a per-call cost. Long enough for the JIT: the
 * direct fixture served ~5,000 calls/s at 10 clients after 1 s at 1 client,
 * and ~10,500 once ~3 s at 10 clients had passed (bench/gateway/README.md,
 * "the warm-up, and what it changes").
 * @param {string} url
 * @param {Omit<Parameters<typeof runLoad>[1], 'clients' | 'warmupMs' | 'measureMs'> & { clients?: number }} [options]
 */
export function warmUp(url, options = {}) {
  return runLoad(url, { clients: WARMUP_CLIENTS, ...options, warmupMs: 0, measureMs: WARMUP_MS });
}

/**
 * @param {number} value
 * @param {number} digits
 */
export function round(value, digits) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
