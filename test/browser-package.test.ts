// The browser package (platforms/browser) in real Chromium (Debian's, driven
// over CDP by playwright-core; no browser download). A page served from
// 127.0.0.1 loads the bundle, reaches two MCP servers (mcp-edge gateways, one
// origin with the page: the test's server forwards /a/mcp and /b/mcp) and
// queues calls in IndexedDB while server A is down. The page is reloaded, and
// the browser is killed with SIGKILL and started again on the same profile;
// then A comes up and every acknowledged call reaches it exactly once. While
// the browser is offline (network emulation) nothing is sent; going online
// delivers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildBrowser, BROWSER_OUT } from '../scripts/build-browser.mjs';
import { createGateway, defineTool, type Gateway } from '../host/src/index.js';
import { tempDir, waitForOutput } from './helpers/processes.js';
import { silentLogger } from './helpers/queue.js';

const CHROMIUM = '/usr/bin/chromium';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const PAGE = `<!doctype html><script type="module">
import { createEdgeClient } from '/pkg/mcp-edge-browser.js';
try {
  window.edge = await createEdgeClient({ servers: [{ id: 'a', url: '/a/mcp' }, { id: 'b', url: '/b/mcp' }], retryMs: 300 });
  window.ready = 'ok';
} catch (error) {
  window.ready = String(error && error.stack || error);
}
</script>`;

const profile = tempDir('mcp-edge-browser-profile-');
const ports = { a: 0, b: 0 };
const gateways: { a?: Gateway; b?: Gateway } = {};
const effects: number[] = [];
let site: Server;
let siteUrl = '';
let browserProcess: ChildProcess | undefined;
let browser: Browser | undefined;

/** A gateway with one tool; `record` appends to `effects`. */
async function startGateway(port: number, tool: 'record' | 'note'): Promise<Gateway> {
  // The page's origin is allowed: the gateway refuses browser requests from origins it was not told of.
  const gateway = await createGateway({
    config: { gateway: { bind_address: `127.0.0.1:${port}`, data_dir: tempDir('mcp-edge-browser-gw-'), allowed_origins: [new URL(siteUrl).origin] } },
    logger: silentLogger,
  });
  gateway.tools.register(
    defineTool({
      name: tool,
      description: tool === 'record' ? 'Records call n.' : 'Answers n.',
      input: z.object({ n: z.number().int() }),
      handler: ({ n }) => {
        if (tool === 'record') effects.push(n);
        return { content: [{ type: 'text', text: `${tool} ${n}` }] };
      },
    }),
  );
  return gateway;
}

/** The page, the bundle, and /a/mcp, /b/mcp forwarded to the gateways (502 while one is down). */
function serveSite(): Server {
  return createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const upstream = /^\/(a|b)\/mcp$/.exec(path)?.[1] as 'a' | 'b' | undefined;
    if (upstream) {
      const forward = request({ host: '127.0.0.1', port: ports[upstream], path: '/mcp', method: req.method, headers: { ...req.headers, host: `127.0.0.1:${ports[upstream]}` } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      req.pipe(forward);
      return;
    }
    if (path === '/') return res.writeHead(200, { 'content-type': TYPES['.html']! }).end(PAGE);
    const file = join(BROWSER_OUT, path.replace(/^\/pkg\//, ''));
    if (!path.startsWith('/pkg/') || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
}

/** Starts Chromium on the test's profile and opens the page; resolves once the client is created. */
async function openPage(): Promise<Page> {
  browserProcess = spawn(
    CHROMIUM,
    ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-breakpad', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  const [, endpoint] = await waitForOutput(browserProcess.stderr, /DevTools listening on (ws:\/\/\S+)/, 30_000);
  browser = await chromium.connectOverCDP(endpoint!);
  const page = browser.contexts()[0]!.pages()[0] ?? (await browser.contexts()[0]!.newPage());
  await page.goto(siteUrl);
  await page.waitForFunction(() => (window as unknown as { ready?: string }).ready !== undefined, undefined, { timeout: 30_000 });
  expect(await page.evaluate(() => (window as unknown as { ready: string }).ready)).toBe('ok');
  return page;
}

/** SIGKILL to Chromium's process group: no shutdown, no flush it could do on the way out. */
async function killBrowser(): Promise<void> {
  const child = browserProcess;
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGKILL');
  await exited;
  browser = undefined;
}

type EdgeWindow = { edge: { defer(tool: string, args: object): Promise<string>; call(tool: string, args: object): Promise<{ content: { text: string }[] }>; depth(): Promise<number>; deliver(): Promise<number> } };
const depth = (page: Page) => page.evaluate(() => (window as unknown as EdgeWindow).edge.depth());
const defer = (page: Page, n: number) => page.evaluate((k) => (window as unknown as EdgeWindow).edge.defer('record', { n: k }), n);

/** Waits (bounded) until the page's queue is empty. */
async function untilEmpty(page: Page): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if ((await depth(page)) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the queue still holds ${await depth(page)} calls after 30 s`);
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/setup.mjs installs Debian's chromium package`).toBe(true);
  const { total } = await buildBrowser();
  console.log(`browser package: ${total.bytes} bytes, ${total.gzip} gzipped (bundle and component)`);
  for (const name of ['a', 'b'] as const) {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    ports[name] = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
  }
  site = serveSite();
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  gateways.b = await startGateway(ports.b, 'note');
}, 60_000);

afterAll(async () => {
  await killBrowser();
  site?.close();
  await gateways.a?.close();
  await gateways.b?.close();
  rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('the browser package in Chromium', () => {
  it('queues in IndexedDB across a reload and a browser kill, and delivers each call exactly once', async () => {
    let page = await openPage();
    // Server B is up: a call routes there now.
    const first = await page.evaluate(async () => {
      const edge = (window as unknown as EdgeWindow).edge;
      const result = await edge.call('note', { n: 1 });
      return { text: result.content[0]!.text, msSinceNavigation: performance.now() };
    });
    expect(first.text).toBe('note 1');
    console.log(`browser package: first tool call answered ${first.msSinceNavigation.toFixed(0)} ms after navigation (core load, connect, list, call)`);

    // Server A is down: calls to its tool are acknowledged once stored, and wait.
    for (const n of [1, 2, 3]) expect(await defer(page, n)).toMatch(/^[0-9a-f-]{36}$/);
    expect(await depth(page)).toBe(3);

    await page.reload();
    await page.waitForFunction(() => (window as unknown as { ready?: string }).ready === 'ok', undefined, { timeout: 30_000 });
    expect(await depth(page)).toBe(3);
    for (const n of [4, 5]) await defer(page, n);

    await killBrowser();
    page = await openPage();
    expect(await depth(page)).toBe(5);
    expect(effects).toEqual([]);

    // Offline: A comes up, but nothing is sent until the browser is online again.
    await page.context().setOffline(true);
    gateways.a = await startGateway(ports.a, 'record');
    expect(await page.evaluate(() => (window as unknown as EdgeWindow).edge.deliver())).toBe(0);
    expect(await depth(page)).toBe(5);
    expect(effects).toEqual([]);

    await page.context().setOffline(false); // fires 'online': the queue delivers
    await untilEmpty(page);
    expect(effects).toEqual([1, 2, 3, 4, 5]);
  }, 180_000);
});
