// docs/security.md, run as written: the mTLS setup between two gateways
// (certificates made by its shell block, both configs loaded as written,
// its curl checks), with B's address 10.0.0.2:8443 replaced by 127.0.0.1 and
// a free port, and /etc/mcp-edge/tls by the folder the certificates are in.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import { connectClient, eventually, freePort, startGateway } from './helpers/gateway.js';
import { ROOT, tempDir } from './helpers/processes.js';

const doc = readFileSync(join(ROOT, 'docs/security.md'), 'utf8');

/** The code block after `<!-- example: NAME -->`. */
function example(name: string): string {
  const match = doc.match(new RegExp(`<!-- example: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``));
  if (!match?.[1]) throw new Error(`docs/security.md has no example "${name}"`);
  return match[1];
}

describe('docs/security.md: mTLS between two gateways', () => {
  it('makes the certificates, and the two configs connect A to B over mTLS; the checks pass', { timeout: 60_000 }, async () => {
    const work = tempDir();
    const port = await freePort();
    const local = (text: string) => text.replaceAll('10.0.0.2:8443', `127.0.0.1:${port}`).replaceAll('10.0.0.2', '127.0.0.1').replaceAll('/etc/mcp-edge/tls', join(work, 'mcp-edge-pki'));
    execFileSync('bash', ['-euc', local(example('mtls-certificates'))], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });

    const configB = parseConfig(local(example('mtls-gateway-b')), 'gateway B');
    const b = await startGateway(configB);
    expect(b.url).toBe(`https://127.0.0.1:${port}/mcp`);
    const configA = parseConfig(local(example('mtls-gateway-a')), 'gateway A');
    const a = await startGateway(configA);
    await eventually(() => (a.health().providers.find((p) => p.id === 'b')?.state === 'up' ? true : undefined), 20_000, 'upstream b to be up');
    const client = await connectClient(a);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('b__edge_compress');
    expect((await client.callTool({ name: 'b__edge_compress', arguments: { text: 'over mTLS', algorithm: 'zstd' } })).isError).toBeFalsy();

    // The check block, line by line: each must succeed (the second one by curl failing). Run
    // asynchronously: the gateways answering curl live in this process.
    const [cd, ...checks] = local(example('mtls-check')).trim().split('\n');
    expect(cd).toBe(`cd ${join(work, 'mcp-edge-pki')}`);
    for (const line of checks) {
      const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile('bash', ['-c', line], { cwd: join(work, 'mcp-edge-pki'), timeout: 20_000 }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stderr }));
      });
      expect(run.code, `${line}\n${run.stderr}`).toBe(0);
    }
  });
});
