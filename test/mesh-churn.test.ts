// A mesh of 32 real libp2p nodes with churn: a seed that every node
// bootstraps from and an observer A (both in this process), and 30 nodes in
// six child processes of five (test/fixtures/mesh-nodes.mjs), each sharing a
// tool of its own that answers with its peer id. Two of those processes are
// killed with SIGKILL (10 of 32 nodes, 31%, gone without a word) and replaced
// by new processes whose nodes (new peer ids) share the same tools.
// Afterwards every shared tool is still resolvable from A (its lookup names a
// live provider and no killed one) and callable through A's MCP client.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { connectClient, eventually, startGateway, textOf } from './helpers/gateway.js';
import { ROOT, spawnScript, tempDir, waitForExit } from './helpers/processes.js';

const PROCESSES = 6;
const PER_PROCESS = 5;
const TOOLS = PROCESSES * PER_PROCESS;
/** The processes killed: 10 of the 32 nodes. */
const KILLED = [1, 4];
const FIXTURE = join(ROOT, 'test/fixtures/mesh-nodes.mjs');
// Every node signs an announcement each interval and every other node checks its signature: at 1 s
// that is ~1000 signature checks a second for 32 nodes, more than a loaded 2-core machine gives
// this test. 5 s (the default is 10 s) keeps the nodes ahead of their work; nodes hear each other
// sooner anyway (asked on connect, announced to each new subscriber).
const mesh = { enabled: true, open: true, listen: ['/ip4/127.0.0.1/tcp/0'], announce_interval_ms: 5000 };
const toolName = (i: number) => `churn_tool_${i}`;
const dir = tempDir('mcp-edge-churn-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface NodeInfo {
  index: number;
  peerId: string;
  addresses: string[];
}

/** A child process holding PER_PROCESS nodes, and what it prints line by line. */
interface NodeProcess {
  child: ChildProcess;
  nodes: NodeInfo[];
  next(key: 'ready' | 'status' | 'parked', ms: number): Promise<unknown>;
}

/** The `key` lines a child prints (JSON, one per line), handed out in order. */
function lineReader(child: ChildProcess): NodeProcess['next'] {
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  return (key, ms) =>
    eventually(() => {
      const at = lines.findIndex((line) => key in line);
      return at < 0 ? undefined : lines.splice(at, 1)[0]![key];
    }, ms, `"${key}" from a mesh-nodes process (stderr: ${stderr})`);
}

/** Spawns a process for `count` nodes from `first` on, each in a data dir of its own under `generation`; parked, it starts them on `start()`. */
function spawnProcess(first: number, bootstrap: string[], generation: string, options: { count?: number; shareTools?: boolean; parked?: boolean } = {}): { child: ChildProcess; next: NodeProcess['next'] } {
  const spec = { first, count: options.count ?? PER_PROCESS, prefix: 'churn_tool', dir: join(dir, generation), mesh: { ...mesh, bootstrap }, shareTools: options.shareTools ?? true, parked: options.parked ?? false };
  const child = spawnScript(FIXTURE, [JSON.stringify(spec)]);
  return { child, next: lineReader(child) };
}

/** Starts one process of nodes and waits for them. */
async function startProcess(first: number, bootstrap: string[], generation: string, count = PER_PROCESS, shareTools = true): Promise<NodeProcess> {
  const { child, next } = spawnProcess(first, bootstrap, generation, { count, shareTools });
  const nodes = (await next('ready', 60_000)) as NodeInfo[];
  return { child, nodes, next };
}

/** `eventually` at a slower pace: each check walks A's whole catalog, and A shares its process with this test. */
async function poll(check: () => true | undefined, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// Once opt-in: about one run in four failed under load, a call to a live peer ending with "the mesh
// connection ... closed before it answered". libp2p's connection monitor aborted live connections (its
// ping stream refused over libp2p's per-connection ping stream limit while kad-dht pinged the same
// peer), and the gossip repair then closed the peer's other connections, the one carrying the call
// among them: test/mesh-live-links.test.ts reproduces each on two nodes (issue 15).
describe('a 32-node mesh under churn', () => {
  it('keeps every shared tool resolvable and callable after 31% of the nodes are killed and replaced', { timeout: 180_000 }, async () => {
    // About 50 s on a 2-core machine beside other work (load ~10); the time limit leaves room for a slower
    // machine, so that a slow phase fails at its own deadline, with the mesh's state, rather than here.
    // When each phase ended (s from the start): printed at the end, and on a failure (a timeout included).
    const started = performance.now();
    const phases: Record<string, number> = {};
    const phase = (name: string) => (phases[name] = Math.round((performance.now() - started) / 100) / 10);
    onTestFailed(() => console.log(JSON.stringify({ churn_phases_s: phases })));
    // The seed meets every node: a process of its own, so this one's (A's and the test's) work does not slow it.
    // The first process's first node is a second bootstrap peer for the rest, as a mesh has several:
    // 30 nodes joining through one seed at once is the seed's handshakes, DHT queries and gossip at once.
    const seed = await startProcess(0, [], 'seed', 1, false);
    const first = await startProcess(0, seed.nodes[0]!.addresses, 'first');
    const bootstrap = [...seed.nodes[0]!.addresses, ...first.nodes[0]!.addresses];
    const a = await startGateway({ audit: { enabled: false }, mesh: { ...mesh, bootstrap } });
    const processes = [first, ...(await Promise.all(Array.from({ length: PROCESSES - 1 }, (_, p) => startProcess((p + 1) * PER_PROCESS, bootstrap, 'first'))))];
    const providerOf = (i: number): string => processes[Math.floor(i / PER_PROCESS)]!.nodes[i % PER_PROCESS]!.peerId;

    /** Every tool listed on A (read in process: this polls), and A's directory naming its current provider. */
    let last = '';
    const allListed = (): true | undefined => {
      const listed = new Set(a.aggregator.listTools().map((t) => t.name));
      const heard = new Set(a.mesh!.discovery.entries().map(([peer]) => peer));
      const missing = Array.from({ length: TOOLS }, (_, i) => i).filter((i) => !listed.has(toolName(i)) || !heard.has(providerOf(i)));
      last = `missing on A: ${missing.join(',') || 'none'}; A hears ${heard.size} peers over ${a.mesh!.node.getConnections().length} connections`;
      return missing.length === 0 ? true : undefined;
    };
    /** A failure with each node's connections and peers heard, as its process reports them. */
    const withStatus = async (err: Error): Promise<never> => {
      const statuses = await Promise.all(
        [seed, ...processes].map(async (p) => {
          p.child.stdin!.write('status\n');
          return JSON.stringify(await p.next('status', 5_000).catch(() => 'no answer'));
        }),
      );
      throw new Error(`${err.message} (${last}; per node: ${statuses.join(' ')})`);
    };
    phase('processes started');
    await poll(allListed, 45_000, `all ${TOOLS} shared tools listed on A`).catch(withStatus);
    phase('all listed on A');

    // Churn: SIGKILL two processes (their nodes vanish without closing anything) and start replacements
    // (new peer ids) in processes loaded beforehand.
    const parked = KILLED.map((p) => spawnProcess(p * PER_PROCESS, bootstrap, 'replacement', { parked: true }));
    await Promise.all(parked.map((p) => p.next('parked', 60_000)));
    const killed = KILLED.flatMap((p) => processes[p]!.nodes.map((n) => n.peerId));
    await Promise.all(
      KILLED.map(async (p, k) => {
        processes[p]!.child.kill('SIGKILL');
        await waitForExit(processes[p]!.child);
        const { child, next } = parked[k]!;
        child.stdin!.write('start\n');
        processes[p] = { child, next, nodes: (await next('ready', 60_000)) as NodeInfo[] };
      }),
    );
    expect(killed.some((peer) => processes.some((p) => p.nodes.some((n) => n.peerId === peer)))).toBe(false);
    const killedGone = (): true | undefined => {
      if (!allListed()) return undefined;
      const heard = new Set(a.mesh!.discovery.entries().map(([peer]) => peer));
      const stale = killed.filter((peer) => heard.has(peer));
      last += `; killed peers still heard: ${stale.length}`;
      return stale.length === 0 ? true : undefined;
    };
    phase('killed and replaced');
    await poll(killedGone, 45_000, 'the replacements listed on A and the killed nodes gone').catch(withStatus);
    phase('replacements listed, killed gone');

    const client = await connectClient(a);
    for (let i = 0; i < TOOLS; i++) {
      const providers = await a.mesh!.lookup(toolName(i));
      expect(providers, toolName(i)).toEqual([providerOf(i)]);
      // A failed call says which node it went to and A's links to it (seen once under load 4+: a dial that timed out).
      const answer = await client.callTool({ name: toolName(i), arguments: {} }).catch((err: Error) => {
        last = `calling ${toolName(i)} on node ${i}: A's links to it: ${JSON.stringify(a.mesh!.links(providerOf(i)))}`;
        return withStatus(err);
      });
      expect(textOf(answer), toolName(i)).toBe(providerOf(i));
    }
    phase('all called');
    console.log(JSON.stringify({ churn_phases_s: phases }));
  });
});
