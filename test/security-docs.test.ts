// docs/security.md's API-key and OAuth examples, run as written: the config
// blocks are loaded and served (only the port, the data dir and the JWKS
// address point at this machine), the `mcp-edge keys` lines run on the real
// CLI, the client example runs as a Node program, and the metadata document
// the page shows is the one the gateway serves. And the mTLS setup between two
// gateways (certificates made by its shell block, both configs loaded as written,
// its curl checks), with B's address 10.0.0.2:8443 replaced by 127.0.0.1 and a
// free port, and /etc/mcp-edge/tls by the folder the certificates are in.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import { connectClient, eventually, freePort, startGateway } from './helpers/gateway.js';
import { challengeOf, jwksServer, postMcp, rawRequest, signingKey, TOOLS_LIST } from './helpers/auth.js';
import { collect, ROOT, spawnCli, tempDir, waitForExit } from './helpers/processes.js';
import { SignJWT } from 'jose';
import { docPage } from './helpers/docs.js';

const run = promisify(execFile);
const { text: page, example } = docPage('docs/security.md');
const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});


/** Runs one documented `mcp-edge ...` line on the real CLI, against `config` and `dataDir`. */
async function cli(line: string, config: string, dataDir: string): Promise<{ code: number | NodeJS.Signals; out: string; err: string }> {
  expect(line.startsWith('mcp-edge ')).toBe(true);
  const child = spawnCli([...line.slice('mcp-edge '.length).split(/\s+/), '--config', config, '--data-dir', dataDir]);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const code = await waitForExit(child);
  return { code, out: out.text(), err: err.text() };
}

/** Runs a JS example as a module inside the repository. */
async function runExample(name: string, env: Record<string, string>): Promise<string> {
  const dir = join(ROOT, 'target/docs-examples');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, example(name, 'js'));
  const { stdout } = await run(process.execPath, [file], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return stdout;
}

describe('docs/security.md: API keys', () => {
  it('serves the config as written on a reachable address, creates, lists and revokes keys with the documented commands, and the client example uses one', { timeout: 60_000 }, async () => {
    const toml = example('api-keys-config', 'toml');
    const dataDir = tempDir();
    const configFile = join(dataDir, 'mcp-edge.toml');
    writeFileSync(configFile, toml);
    const config = parseConfig(toml, 'docs/security.md', {});
    expect(config.gateway.bind_address).toBe('0.0.0.0:8080');
    const gateway = await startGateway({ ...config, gateway: { ...config.gateway, bind_address: '0.0.0.0:0', data_dir: dataDir } });
    const url = `http://127.0.0.1:${new URL(gateway.url).port}/mcp`;

    const [create, list, revoke] = example('api-keys-commands', 'sh').trim().split('\n');
    const created = await cli(create!, configFile, dataDir);
    expect(created.code).toBe(0);
    const key = created.out.trim();
    expect(key).toMatch(/^mcpe_/);
    const listed = await cli(list!, configFile, dataDir);
    expect(listed.out).toMatch(/^line-3-agent\s+active\s+mcp:tools\s+/m);

    expect(await runExample('api-keys-client', { MCP_EDGE_URL: url, MCP_EDGE_KEY: key })).toBe('tools listed\n');
    await expect(runExample('api-keys-client', { MCP_EDGE_URL: url, MCP_EDGE_KEY: 'mcpe_000000000000_' + 'x'.repeat(43) })).rejects.toThrow();

    expect((await cli(revoke!, configFile, dataDir)).code).toBe(0);
    const refused = await postMcp(url, TOOLS_LIST, `Bearer ${key}`);
    expect(refused.status).toBe(401);
  });
});

describe('docs/security.md: OAuth', () => {
  it('serves the documented metadata, points a token-less client at it, and accepts a token the documented issuer minted for the resource', async () => {
    const config = parseConfig(example('oauth-config', 'toml'), 'docs/security.md', {});
    const jwt = config.auth.jwt!;
    const key = await signingKey('shop-floor-1');
    const jwks = await jwksServer([key]);
    const gateway = await startGateway({ ...config, auth: { ...config.auth, jwt: { ...jwt, jwks_url: jwks.url } } });
    const origin = new URL(gateway.url).origin;

    const documented = JSON.parse(example('oauth-metadata', 'json'));
    const served = await rawRequest(`${origin}/.well-known/oauth-protected-resource/mcp`, { headers: { host: new URL(origin).host } });
    expect(served.json()).toEqual(documented);
    const challenge = challengeOf(await postMcp(gateway.url, TOOLS_LIST));
    expect(page).toContain(`resource_metadata="${challenge.resource_metadata}"`);

    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: jwt.issuer, aud: config.auth.resource, sub: 'operator-anna', exp: now + 300, scope: 'openid mcp:tools' })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .sign(key.privateKey);
    const client = new Client({ name: 'oauth-client', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });
});

describe('docs/security.md: mTLS between two gateways', () => {
  it('makes the certificates, and the two configs connect A to B over mTLS; the checks pass', { timeout: 60_000 }, async () => {
    const work = tempDir();
    const port = await freePort();
    const local = (text: string) => text.replaceAll('10.0.0.2:8443', `127.0.0.1:${port}`).replaceAll('10.0.0.2', '127.0.0.1').replaceAll('/etc/mcp-edge/tls', join(work, 'mcp-edge-pki'));
    execFileSync('bash', ['-euc', local(example('mtls-certificates', 'sh'))], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });

    const configB = parseConfig(local(example('mtls-gateway-b', 'toml')), 'gateway B');
    const b = await startGateway(configB);
    expect(b.url).toBe(`https://127.0.0.1:${port}/mcp`);
    const configA = parseConfig(local(example('mtls-gateway-a', 'toml')), 'gateway A');
    // A's bind is its default, 127.0.0.1:8080, which the OAuth example's gateway above holds until the file ends.
    const a = await startGateway({ ...configA, gateway: { ...configA.gateway, bind_address: '127.0.0.1:0' } });
    await eventually(() => (a.health().providers.find((p) => p.id === 'b')?.state === 'up' ? true : undefined), 20_000, 'upstream b to be up');
    const client = await connectClient(a);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('b__edge_compress');
    expect((await client.callTool({ name: 'b__edge_compress', arguments: { text: 'over mTLS', algorithm: 'zstd' } })).isError).toBeFalsy();

    // The check block, line by line: each must succeed (the second one by curl failing). Run
    // asynchronously: the gateways answering curl live in this process.
    const [cd, ...checks] = local(example('mtls-check', 'sh')).trim().split('\n');
    expect(cd).toBe(`cd ${join(work, 'mcp-edge-pki')}`);
    for (const line of checks) {
      const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile('bash', ['-c', line], { cwd: join(work, 'mcp-edge-pki'), timeout: 20_000 }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stderr }));
      });
      expect(run.code, `${line}\n${run.stderr}`).toBe(0);
    }
  });
});
