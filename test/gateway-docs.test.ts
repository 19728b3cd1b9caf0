// The example mcp-edge.toml in docs/upstreams.md, loaded as written (with its
// environment variables pointed at real servers) and served.
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import { connectClient, eventually, EVERYTHING, freePort, NODE, startGateway, textOf } from './helpers/gateway.js';
import { ROOT, tempDir, waitForOutput } from './helpers/processes.js';

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

function exampleToml(): string {
  const doc = readFileSync(join(ROOT, 'docs/upstreams.md'), 'utf8');
  const match = doc.match(/```toml\n([\s\S]*?)```/);
  if (!match?.[1]) throw new Error('docs/upstreams.md has no toml example');
  return match[1];
}

async function everythingHttp(): Promise<string> {
  const port = await freePort();
  const child = spawn(NODE, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForOutput(child.stderr, /listening on port/i, 15_000);
  return `http://127.0.0.1:${port}/mcp`;
}

describe('docs/upstreams.md example', () => {
  it('loads, starts every upstream and serves the merged, routed view', { timeout: 120_000 }, async () => {
    const files = realpathSync(tempDir());
    writeFileSync(join(files, 'note.txt'), 'edge note');
    const env = {
      ...process.env,
      FILES_ROOT: files,
      MEMORY_FILE: join(files, 'memory.jsonl'),
      SEARCH_NEAR_URL: await everythingHttp(),
      SEARCH_FAR_URL: await everythingHttp(),
    };
    const config = parseConfig(exampleToml(), 'docs/upstreams.md', env);
    expect(config.upstreams.map((u) => u.id)).toEqual(['everything', 'files', 'memory', 'search-near', 'search-far']);
    const gateway = await startGateway({ ...config, gateway: { ...config.gateway, bind_address: '127.0.0.1:0' } });
    // npx on a busy machine may need longer than the first attempt: the gateway retries on its own.
    await eventually(() => (gateway.health().providers.every((p) => p.state === 'up') ? true : undefined), 60_000, 'every upstream up');
    expect(gateway.health().providers.map((p) => p.id)).toEqual(['local', 'everything', 'files', 'memory', 'search-near', 'search-far']);
    const client = await connectClient(gateway);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'search__echo', 'search__get-sum', 'read_text_file', 'read_graph']));
    expect(names).not.toContain('get-env');
    expect(names).not.toContain('write_file');
    expect(textOf(await client.callTool({ name: 'search__echo', arguments: { message: 'replicated' } }))).toContain('replicated');
    expect(textOf(await client.callTool({ name: 'read_text_file', arguments: { path: join(files, 'note.txt') } }))).toBe('edge note');
    const report = JSON.parse(String(((await client.readResource({ uri: 'mcp-edge://providers' })).contents[0] as { text: string }).text));
    const near = report.providers.find((p: { id: string }) => p.id === 'search-near');
    expect(near.routing.calls).toBe(1);
  });
});
