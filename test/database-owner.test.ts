// One offline queue per database file (storage/owner.ts). Two gateways on
// one data directory (`mcp-edge serve` and a client's `mcp-edge stdio` on the
// default one, or two stdio sessions) each rebuilt the queue from it and
// delivered the same calls, and nothing said so. Now the first owns the
// queue; a second one runs without it, says so, and takes it over once the
// first has stopped.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createGateway, type Gateway } from '../host/src/index.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { StorageError } from '../host/src/storage/database.js';
import { collect, spawnCli, startServeCli, tempDir, waitForExit, waitForOutput } from './helpers/processes.js';
import { eventually } from './helpers/gateway.js';
import { queuePacing } from '../host/src/power/gateway-power.js';

const quiet = createLogger('silent');
const inDir = (dataDir: string) => ({ gateway: { data_dir: dataDir, bind_address: '127.0.0.1:0' } });

async function toolNames(gateway: Gateway): Promise<string[]> {
  const client = new Client({ name: 'owner-test', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  try {
    return (await client.listTools()).tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

describe('a second gateway on the same database', () => {
  it('runs without the offline queue and says why, takes it over once the first has closed, and releases it at its own close', async () => {
    const dataDir = tempDir();
    const lines: string[] = [];
    const first = await createGateway({ config: inDir(dataDir), logger: quiet });
    const second = await createGateway({ config: inDir(dataDir), logger: createLogger('info', (line) => lines.push(line), 'json') });
    try {
      expect(await toolNames(first)).toContain('queue_status');
      const shared = await toolNames(second);
      expect(shared).toContain('count_tokens');
      expect(shared).not.toContain('queue_status');
      expect((await fetch(new URL('/v1/queue/status', second.url))).status).toBe(404);
      expect(lines.join('')).toContain(`in use by another mcp-edge (pid ${process.pid}, serving http on 127.0.0.1:0, since `);
      expect(lines.join('')).toContain('this gateway runs without the offline queue (no deferred calls, no MCP tasks; that one delivers what is queued) until that one stops');
      await first.close();
      // The second looks every 2 s: it takes the database over and starts the queue.
      await eventually(async () => (await toolNames(second)).includes('queue_status') || undefined, 10_000, 'the second gateway to run the queue');
      expect((await fetch(new URL('/v1/queue/status', second.url))).status).toBe(200);
      expect(lines.join('')).toContain('this one runs it now');
      expect(existsSync(join(dataDir, 'mcp-edge.db.owner'))).toBe(true);
    } finally {
      await first.close();
      await second.close();
    }
    expect(existsSync(join(dataDir, 'mcp-edge.db.owner'))).toBe(false);
    const third = await createGateway({ config: inDir(dataDir), logger: quiet });
    try {
      expect(await toolNames(third)).toContain('queue_status');
    } finally {
      await third.close();
    }
  });

  it('paces a queue it takes over as the power mode paces its loops', async () => {
    const dataDir = tempDir();
    const first = await createGateway({ config: inDir(dataDir), logger: quiet });
    const second = await createGateway({ config: { ...inDir(dataDir), power: { low_power_mode: true } }, logger: quiet });
    try {
      await first.close();
      const queue = await eventually(() => second.queue?.queue, 10_000, 'the second gateway to run the queue');
      expect(queue.deliveryPacing).toEqual(queuePacing(true, queue.tickMs));
      expect(queue.deliveryPacing).not.toEqual(queuePacing(false, queue.tickMs));
    } finally {
      await second.close();
    }
  });

  it('lets `mcp-edge stdio` start beside a running `mcp-edge serve`, without the queue, and refuses a mesh node there', async () => {
    const served = await startServeCli();
    const stdio = spawnCli(['stdio', '--data-dir', served.dataDir]);
    const stderr = collect(stdio.stderr);
    await waitForOutput(stdio.stderr, /runs without the offline queue/);
    expect(stderr.text()).toContain(`in use by another mcp-edge (pid ${served.child.pid}, serving http on 127.0.0.1:0`);
    stdio.kill('SIGKILL');
    const mesh = createGateway({ config: { ...inDir(served.dataDir), mesh: { enabled: true, open: true, listen: ['/ip4/127.0.0.1/tcp/0'] } }, http: false, logger: quiet });
    await expect(mesh).rejects.toThrow(new RegExp(`in use by another mcp-edge \\(pid ${served.child.pid}, .+\\), and a mesh node needs one of its own: give this gateway its own data directory`));
    served.child.kill('SIGKILL');
  });

  // The mark is made before the database opens: its folder's failure was a bare ENOTDIR / EACCES, not the database's refusal.
  it('refuses a data directory that cannot be created with the database\'s own message, naming what to set', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const start = createGateway({ config: inDir(join(file, 'data')), http: false, logger: quiet });
    await expect(start).rejects.toThrow(StorageError);
    await expect(start).rejects.toThrow(new RegExp(`^cannot create folder ${join(file, 'data')} for the database: ENOTDIR.*Set gateway\\.data_dir \\(or offline\\.persistence_path\\) to a writable place\\.$`));
  });

  it('takes over the mark of a gateway that was killed, and leaves none after a clean stop', async () => {
    const served = await startServeCli();
    served.child.kill('SIGKILL');
    await waitForExit(served.child);
    expect(existsSync(join(served.dataDir, 'mcp-edge.db.owner'))).toBe(true);
    const again = spawnCli(['serve', '--bind', '127.0.0.1:0', '--data-dir', served.dataDir]);
    const stderr = collect(again.stderr);
    const url = (await waitForOutput(again.stderr, /listening \{"url":"([^"]+)"/))[1]!;
    expect(stderr.text()).not.toContain('without the offline queue');
    // Answered: the CLI has its SIGTERM handler (installed once the gateway started), which closes the gateway.
    expect((await fetch(new URL('/health', url))).status).toBe(200);
    again.kill('SIGTERM');
    expect(await waitForExit(again)).toBe(0);
    expect(existsSync(join(served.dataDir, 'mcp-edge.db.owner'))).toBe(false);
  });
});
