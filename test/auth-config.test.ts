// The [auth] section: what the schema refuses (with the key and what to do),
// and the refusal to serve a reachable address with nobody asked who they are,
// proven on the real CLI.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../host/src/config/load.js';
import { isLoopbackHost } from '../host/src/security/exposure.js';
import { startGateway } from './helpers/gateway.js';
import { collect, spawnCli, tempDir, waitForExit, waitForOutput } from './helpers/processes.js';

const jwt = { issuer: 'https://idp.test', jwks_url: 'https://idp.test/jwks' };

describe('[auth] config', () => {
  it.each([
    [{ jwt }, /auth\.resource: set auth\.resource/],
    [{ resource: 'https://pi.test/mcp', jwt: { issuer: 'https://idp.test' } }, /auth\.jwt: set exactly one of jwks_url and jwks_file/],
    [{ resource: 'https://pi.test/mcp', jwt: { ...jwt, jwks_file: '/etc/jwks.json' } }, /auth\.jwt: set exactly one of jwks_url and jwks_file/],
    [{ resource: 'https://pi.test/mcp', jwt: { ...jwt, algorithms: ['HS256'] } }, /auth\.jwt\.algorithms\.0/],
    [{ resource: 'https://pi.test/mcp', jwt: { ...jwt, algorithms: ['none'] } }, /auth\.jwt\.algorithms\.0/],
    [{ resource: 'https://pi.test/mcp', jwt: { ...jwt, jwks_url: 'http://10.0.0.5/jwks' } }, /auth\.jwt\.jwks_url: the JWKS must be fetched over https/],
    [{ resource: 'https://pi.test/mcp#frag', jwt }, /auth\.resource: the resource is the absolute http\(s\) URL/],
    [{ resource: 'ftp://pi.test/mcp', jwt }, /auth\.resource: the resource is the absolute http\(s\) URL/],
    [{ api_keys: true, allow_unauthenticated: true }, /auth\.allow_unauthenticated: authentication is configured/],
    [{ required_scopes: ['has space'] }, /auth\.required_scopes\.0: a scope is/],
    [{ api_key: true }, /auth: unknown key api_key/],
  ])('refuses %j', (auth, message) => {
    expect(() => validateConfig({ auth })).toThrow(message);
  });

  it('accepts a JWKS over plain http from this machine only (a local identity provider)', () => {
    const config = validateConfig({ auth: { resource: 'https://pi.test/mcp', jwt: { ...jwt, jwks_url: 'http://127.0.0.1:8081/jwks' } } });
    expect(config.auth.jwt).toMatchObject({ algorithms: ['RS256', 'ES256'], clock_tolerance_seconds: 30, jwks_cooldown_seconds: 30 });
  });

  it('tells loopback bind hosts from reachable ones', () => {
    expect(['127.0.0.1', '127.4.5.6', '::1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'].map(isLoopbackHost)).toEqual([true, true, true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.1', '192.168.1.20', 'pi.local', '127.evil.example', '::ffff:10.0.0.1'].map(isLoopbackHost)).toEqual([false, false, false, false, false, false, false]);
  });
});

describe('a reachable bind address without authentication', () => {
  it('is refused by createGateway with what to configure', async () => {
    const start = startGateway({ gateway: { bind_address: '0.0.0.0:0' } });
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/0\.0\.0\.0:0 can be reached from other machines, and no authentication is configured/);
  });

  it('stops `mcp-edge serve --bind 0.0.0.0:0` with exit code 2 and how to configure auth', async () => {
    const child = spawnCli(['serve', '--bind', '0.0.0.0:0', '--data-dir', tempDir()]);
    const err = collect(child.stderr);
    expect(await waitForExit(child)).toBe(2);
    expect(err.text()).toMatch(/no authentication is configured/);
    expect(err.text()).toMatch(/api_keys = true .*mcp-edge keys create <name>/);
    expect(err.text()).toMatch(/auth\.allow_unauthenticated = true/);
    expect(err.text()).not.toMatch(/listening/);
  });

  it('is served with auth.allow_unauthenticated = true, with a warning at start', async () => {
    const dir = tempDir();
    const config = join(dir, 'mcp-edge.toml');
    writeFileSync(config, '[auth]\nallow_unauthenticated = true\n');
    const child = spawnCli(['serve', '--config', config, '--bind', '0.0.0.0:0', '--data-dir', dir]);
    const err = collect(child.stderr);
    await waitForOutput(child.stderr, /listening/);
    expect(err.text()).toMatch(/WARN .*serving 0\.0\.0\.0:0 WITHOUT authentication \(auth\.allow_unauthenticated = true\)/);
    child.kill('SIGTERM');
    await waitForExit(child);
  });

  it('stays the zero-config default on loopback: no credentials asked, no warning', async () => {
    const dir = tempDir();
    const child = spawnCli(['serve', '--bind', '127.0.0.1:0', '--data-dir', dir]);
    const err = collect(child.stderr);
    const [, url] = (await waitForOutput(child.stderr, /listening \{"url":"([^"]+)"/)) as RegExpMatchArray;
    const answer = await fetch(url!, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    expect(answer.status).toBe(200);
    expect(err.text()).not.toMatch(/WARN/);
    child.kill('SIGTERM');
    await waitForExit(child);
  });
});
