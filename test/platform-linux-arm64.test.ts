// The single-file arm64 executable, run under user-mode emulation as it would
// run on a Raspberry Pi or a Jetson: `qemu-aarch64 -L /usr/aarch64-linux-gnu
// mcp-edge-linux-arm64 serve` (binfmt is not mounted here, so qemu is called
// by name). It answers /health, lists tools, counts tokens in the core, queues
// calls for a peer that is down, and keeps them through SIGKILL: after a
// restart they are still queued and reach the peer once it is up.
//
// The build (scripts/build-platform.mjs) is cached on its sources in
// ~/.cache/mcp-edge/platforms/, so only the first run cross-compiles.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { GetTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens, createGateway, type Gateway } from '../host/src/index.js';
import { ROOT, tempDir, waitForOutput } from './helpers/processes.js';
import { recordTool, silentLogger } from './helpers/queue.js';

const QEMU = '/usr/bin/qemu-aarch64';
const SYSROOT = '/usr/aarch64-linux-gnu';
const BINARY = join(ROOT, 'target/platforms/mcp-edge-linux-arm64');
const PROMPT = 'The Raspberry Pi counts tokens with the same core as the cloud.';

const work = tempDir('mcp-edge-arm64-');
const running = new Set<ChildProcess>();
let destPort = 0;
let destination: Gateway | undefined;
const effects: number[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts the arm64 executable under qemu; resolves with its MCP URL once it listens. */
async function startArm64(config: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(QEMU, ['-L', SYSROOT, BINARY, 'serve', '--config', config], {
    cwd: work,
    env: { PATH: process.env.PATH, HOME: work, MCP_EDGE_APP_DIR: join(work, 'app') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // Emulated, the first start also unpacks the app: allow a minute.
  const [, url] = await waitForOutput(child.stderr, /listening \{"url":"([^"]+)"/, 120_000);
  return { child, url: url! };
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function rest(url: string, method: string, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(new URL(path, url), { method });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'arm64-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

beforeAll(async () => {
  expect(existsSync(QEMU), `no ${QEMU}: scripts/setup.mjs installs Debian's qemu-user`).toBe(true);
  expect(existsSync(join(SYSROOT, 'lib/ld-linux-aarch64.so.1')), `no arm64 libraries in ${SYSROOT}: install g++-aarch64-linux-gnu`).toBe(true);
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-platform.mjs'), 'linux-arm64'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  destPort = await freePort();
}, 1_800_000);

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await destination?.close();
});

describe('mcp-edge-linux-arm64 under qemu-aarch64', () => {
  it('is an arm64 ELF executable', () => {
    const head = readFileSync(BINARY).subarray(0, 20);
    expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(head.readUInt16LE(18)).toBe(183); // e_machine: EM_AARCH64
  });

  it("reads NODE_OPTIONS, which the systemd unit's young-generation cap relies on", () => {
    // A Node SEA may be built to ignore NODE_OPTIONS (sea-config execArgvExtension "none"); a preload
    // given there proves the executable's Node parses it, the same parse that takes --max-semi-space-size.
    const probe = join(work, 'node-options-probe.cjs');
    const seen = join(work, 'node-options-seen.json');
    writeFileSync(probe, `require('node:fs').writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ arch: process.arch, options: process.env.NODE_OPTIONS }));\n`);
    const options = `--require ${probe} --max-semi-space-size=8`;
    const out = execFileSync(QEMU, ['-L', SYSROOT, BINARY, '--version'], {
      cwd: work,
      env: { PATH: process.env.PATH, HOME: work, MCP_EDGE_APP_DIR: join(work, 'app'), NODE_OPTIONS: options },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(JSON.parse(readFileSync(seen, 'utf8'))).toEqual({ arch: 'arm64', options });
  }, 180_000);

  it('serves /health and MCP, counts tokens in the core, and keeps its queue through SIGKILL', async () => {
    const config = join(work, 'mcp-edge.toml');
    writeFileSync(
      config,
      [
        '[gateway]',
        'bind_address = "127.0.0.1:0"',
        `data_dir = "${join(work, 'data')}"`,
        '[offline]',
        'retry_base_ms = 60000',
        `[offline.destinations.peer]`,
        `url = "http://127.0.0.1:${destPort}/mcp"`,
        '[offline.deferrable_tools]',
        'record = "peer"',
      ].join('\n'),
    );
    let { child, url } = await startArm64(config);
    const health = await rest(url, 'GET', '/health');
    expect(['ok', 'degraded']).toContain(health.status); // degraded once the peer's first delivery fails
    expect(health.core).toMatchObject({ version: '0.1.0' });
    expect((health.core as { features: string[] }).features).toContain('simd128');
    const idleRssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
    console.log(`mcp-edge-linux-arm64: ${statSync(BINARY).size} bytes; RSS after /health under qemu-aarch64: ${idleRssKb} kB`);

    let client = await connect(url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['count_tokens', 'queue_status', 'record']));
    const counted = await client.callTool({ name: 'count_tokens', arguments: { text: PROMPT, tokenizer: 'cl100k_base' } });
    expect(counted.structuredContent).toMatchObject({ tokenizer: 'cl100k_base', tokens: await countTokens(PROMPT) });

    const tasks: string[] = [];
    for (const n of [1, 2, 3]) {
      const deferred = await client.callTool({ name: 'record', arguments: { n }, _meta: { 'dev.mcp-edge/deferrable': true } });
      tasks.push((deferred.structuredContent as { taskId: string }).taskId);
    }
    expect(new Set(tasks).size).toBe(3);
    expect((await rest(url, 'GET', '/v1/queue/status')).depth).toBe(3);
    await client.close();

    // Acknowledged means on disk: a SIGKILL right after loses nothing.
    await killHard(child);
    ({ child, url } = await startArm64(config));
    expect((await rest(url, 'GET', '/v1/queue/status')).depth).toBe(3);

    destination = await createGateway({ config: { gateway: { bind_address: `127.0.0.1:${destPort}`, data_dir: tempDir('mcp-edge-peer-') } }, logger: silentLogger });
    destination.tools.register(recordTool(effects));
    expect(await rest(url, 'POST', '/v1/queue/sync')).toMatchObject({ delivered: 3, unreachable: [] });
    expect(effects).toEqual([1, 2, 3]);
    expect((await rest(url, 'GET', '/v1/queue/status')).depth).toBe(0);
    client = await connect(url);
    const done = await client.request({ method: 'tasks/get', params: { taskId: tasks[0]! } }, GetTaskResultSchema);
    expect(done.status).toBe('completed');
    await client.close();
  }, 600_000);
});
