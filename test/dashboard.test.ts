// The dashboard in real Chromium (Debian's package, driven by playwright-core)
// against a gateway with API keys: a visitor without a key sees the sign-in
// form and no data; with a key the page shows the providers, the tools and
// their routes, the calls this test made (recent calls and the charts), and
// its sync button reaches POST /v1/queue/sync, and the power mode. The page
// runs under a strict CSP without a single violation. HTTP-level checks
// first. A second gateway pair shows the mesh section: a peer and its tools.
import { existsSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../host/src/security/api-keys.js';
import { CONTENT_SECURITY_POLICY } from '../host/src/ui/dashboard.js';
import { eventually, NODE, REPLICA, startGateway } from './helpers/gateway.js';
import { rawRequest } from './helpers/auth.js';

const CHROMIUM = '/usr/bin/chromium';
let browser: Browser | undefined;
const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await browser?.close();
});

describe('the dashboard', async () => {
  const gateway = await startGateway({ auth: { api_keys: true }, ui: { enabled: true } });
  const key = new ApiKeyStore(gateway.db).create({ name: 'operator', scopes: [] }).key;
  const base = gateway.url.replace(/\/mcp$/, '');

  it('is off unless enabled', async () => {
    const plain = await startGateway();
    expect((await rawRequest(plain.url.replace(/\/mcp$/, '/ui'))).status).toBe(404);
  });

  it('serves a page with no inline script or style, under a strict CSP', async () => {
    const page = await rawRequest(`${base}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.body).not.toMatch(/<style|style=/);
    expect((await rawRequest(`${base}/ui/app.js`)).headers['content-type']).toMatch(/^text\/javascript/);
  });

  it('answers its data routes only with credentials', async () => {
    for (const path of ['/v1/tools', '/v1/analytics', '/v1/analytics/recent', '/v1/queue/status', '/v1/mesh']) {
      expect((await rawRequest(`${base}${path}`)).status, path).toBe(401);
      expect((await rawRequest(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } })).status, path).toBe(200);
    }
  });

  it('in Chromium: refuses a visitor without a key, then shows the calls made, and syncs the queue', async () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/setup.mjs installs Debian's chromium package`).toBe(true);
    const client = new Client({ name: 'dashboard-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    clients.push(client);
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'count_tokens', arguments: { text: `hello ${i}` } });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/.test(m.text())) violations.push(m.text());
    });
    const started = Date.now();
    await page.goto(`${base}/ui`);
    // Without a key: the sign-in form, the refusal, and no data.
    await page.locator('#signin').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#signin-reason').textContent()).toMatch(/refused the request \(401\)/);
    expect(await page.locator('#dashboard').isHidden()).toBe(true);

    await page.fill('#token', key);
    await page.click('#signin button[type=submit]');
    await page.locator('#dashboard').waitFor({ state: 'visible', timeout: 10_000 });
    const loadedMs = Date.now() - started;
    expect(await page.locator('#status').textContent()).toMatch(/^(ok|degraded)$/);
    expect(await page.locator('#providers tbody').textContent()).toContain('local');
    const toolRow = page.locator('#tools tbody tr', { hasText: 'count_tokens' });
    expect(await toolRow.count()).toBe(1);
    // The calls: three in recent calls, and a bar of 3 for count_tokens in the chart.
    expect(await page.locator('#recent tbody tr', { hasText: 'count_tokens' }).count()).toBe(3);
    expect(await page.locator('#recent tbody').textContent()).toContain('key:operator');
    expect(await page.locator('#chart-tools rect[data-label="count_tokens"]').getAttribute('data-value')).toBe('3');
    expect(await page.locator('#tool-stats tbody tr', { hasText: 'count_tokens' }).locator('td').nth(1).textContent()).toBe('3');
    // Power: the mode the gateway reports; no mesh section with the mesh off.
    expect(await page.locator('#power dd[data-key="mode"]').textContent()).toBe(gateway.power.status().mode);
    expect(await page.locator('#power dd[data-key="asleep"]').textContent()).toBe('no');
    expect(await page.locator('#mesh').isHidden()).toBe(true);

    const audited = () => gateway.db.prepare("SELECT count(*) FROM audit_log WHERE operation = 'POST /v1/queue/sync' AND principal_id = 'key:operator'").pluck().get() as number;
    const before = audited();
    await page.click('#sync');
    await page.locator('#sync-result', { hasText: /^delivered \d+, failed \d+/ }).waitFor({ timeout: 10_000 });
    await gateway.auditLog?.flush();
    expect(audited()).toBe(before + 1);
    expect(violations).toEqual([]);
    // A loose bound on a shared machine: the note in docs/operations.md has the measured figure.
    expect(loadedMs).toBeLessThan(10_000);
  });
});

describe('the dashboard with the mesh on', async () => {
  const peer = await startGateway({
    upstreams: [{ id: 'up', transport: 'stdio', command: NODE, args: [REPLICA], env: { REPLICA_NAME: 'peer' } }],
    mesh: { enabled: true, open: true, listen: ['/ip4/127.0.0.1/tcp/0'], announce_interval_ms: 300, share: ['whoami'] },
  });
  const gateway = await startGateway({ ui: { enabled: true }, mesh: { enabled: true, open: true, listen: ['/ip4/127.0.0.1/tcp/0'], announce_interval_ms: 300, bootstrap: peer.mesh!.addresses() } });
  const base = gateway.url.replace(/\/mcp$/, '');

  it('GET /v1/mesh says the mesh is off on a gateway without it', async () => {
    const plain = await startGateway();
    const res = await rawRequest(plain.url.replace(/\/mcp$/, '/v1/mesh'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ enabled: false });
  });

  it('in Chromium: shows this node, the peer, its state and the tool it shares', async () => {
    await eventually(async () => {
      const mesh = JSON.parse((await rawRequest(`${base}/v1/mesh`)).body) as { peers: { peer_id: string; state: string; tools: unknown[] }[] };
      return mesh.peers.some((p) => p.peer_id === peer.mesh!.peerId && p.state === 'up' && p.tools.length === 1) ? true : undefined;
    }, 15_000, 'the peer and its shared tool on the gateway');
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    // A loopback gateway without [auth]: no sign-in.
    await page.goto(`${base}/ui`);
    await page.locator('#mesh').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#mesh-node dd[data-key="peer id"]').textContent()).toBe(gateway.mesh!.peerId);
    const row = page.locator('#mesh-peers tbody tr', { hasText: peer.mesh!.peerId });
    expect(await row.count()).toBe(1);
    expect(await row.locator('td').nth(1).textContent()).toBe('up');
    expect(await row.locator('td').nth(2).textContent()).toBe('whoami');
  });
});
