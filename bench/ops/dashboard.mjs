#!/usr/bin/env node
// bench/ops/dashboard: how fast the dashboard (/ui) paints in real Chromium,
// and what it weighs, against a plain page measured in the same browser run.
//
// - baseline: a static page of the same shape (one HTML file, one script,
//   one style sheet, no data) served by a bare node:http server: what any page
//   costs this browser on this machine.
// - dashboard: GET /ui of a gateway in this process (no [auth], so no sign-in),
//   with CALLS calls already made so the charts have data. Measured: the
//   browser's first-contentful-paint, and the time until the data is on
//   screen (the recent-calls table holds the calls).
// - weight: the bytes of index.html, app.js and app.css as served, and gzipped.
//
//   node bench/ops/dashboard.mjs   (env: ROUNDS=7 CALLS=20 CHROMIUM=/usr/bin/chromium)
// Prints one JSON document: medians of the rounds (each round a new page in
// the same browser, cache off) and the ratio dashboard / baseline.
// Needs the built host (npm run build) and Debian's chromium (npm test installs it).
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { createGateway } from '../../host/dist/index.js';
import { createLogger } from '../../host/dist/telemetry/log.js';
import { McpHttpClient } from '../gateway/client.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const CALLS = Number(process.env.CALLS ?? 20);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const UI_FILES = ['/ui', '/ui/app.js', '/ui/app.css'];

/** @param {number[]} values */
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
/** @param {number} ms */
const ms = (ms) => Math.round(ms * 10) / 10;

/** A page of the dashboard's shape with nothing in it, on its own server. */
function startBaseline() {
  const files = {
    '/': ['text/html', '<!doctype html><html><head><link rel="stylesheet" href="/a.css"><script src="/a.js" defer></script></head><body><h1>baseline</h1><p id="done"></p></body></html>'],
    '/a.js': ['text/javascript', 'document.getElementById("done").textContent = "ready";'],
    '/a.css': ['text/css', 'body { font-family: sans-serif; }'],
  };
  const server = http.createServer((req, res) => {
    const file = files[/** @type {keyof typeof files} */ (req.url ?? '/')];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * Loads `url` in a fresh page; returns first-contentful-paint and the time until `readySelector` shows.
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {string} readySelector
 */
async function paint(browser, url, readySelector) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const started = performance.now();
  await page.goto(url);
  await page.locator(readySelector).first().waitFor({ state: 'visible', timeout: 30_000 });
  const readyMs = performance.now() - started;
  const fcp = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const seen = performance.getEntriesByName('first-contentful-paint')[0];
        if (seen) return resolve(seen.startTime);
        new PerformanceObserver((list) => resolve(list.getEntries()[0]?.startTime ?? -1)).observe({ type: 'paint', buffered: true });
      }),
  );
  await context.close();
  return { fcpMs: /** @type {number} */ (fcp), readyMs };
}

/** @param {string} base */
async function weight(base) {
  let bytes = 0;
  let gzip = 0;
  /** @type {Record<string, { bytes: number, gzip: number }>} */
  const files = {};
  for (const path of UI_FILES) {
    const body = Buffer.from(await (await fetch(base + path)).arrayBuffer());
    files[path] = { bytes: body.length, gzip: gzipSync(body, { level: 9 }).length };
    bytes += body.length;
    gzip += files[path].gzip;
  }
  return { bytes, gzip, files };
}

const dataDir = mkdtempSync(join(tmpdir(), 'mcp-edge-bench-dashboard-'));
const gateway = await createGateway({
  config: { gateway: { bind_address: '127.0.0.1:0', data_dir: dataDir }, ui: { enabled: true } },
  logger: createLogger('warn'),
});
const baseline = /** @type {http.Server} */ (await startBaseline());
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
try {
  const client = new McpHttpClient(gateway.url, new http.Agent({ keepAlive: true, maxSockets: 1 }));
  await client.initialize();
  for (let i = 0; i < CALLS; i++) await client.callTool('count_tokens', { text: `call ${i}` });
  await client.close();
  const base = gateway.url.replace(/\/mcp$/, '');
  const address = /** @type {import('node:net').AddressInfo} */ (baseline.address());
  const plainUrl = `http://127.0.0.1:${address.port}/`;
  /** @type {Record<'baseline' | 'dashboard', { fcpMs: number[], readyMs: number[] }>} */
  const runs = { baseline: { fcpMs: [], readyMs: [] }, dashboard: { fcpMs: [], readyMs: [] } };
  // One warm-up of each (the browser's own first start), then the two take turns.
  await paint(browser, plainUrl, '#done');
  await paint(browser, `${base}/ui`, '#recent tbody tr');
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, url, ready] of /** @type {const} */ ([
      ['baseline', plainUrl, '#done'],
      ['dashboard', `${base}/ui`, '#recent tbody tr'],
    ])) {
      const { fcpMs, readyMs } = await paint(browser, url, ready);
      runs[name].fcpMs.push(fcpMs);
      runs[name].readyMs.push(readyMs);
    }
  }
  const summary = (/** @type {'baseline' | 'dashboard'} */ name) => ({ first_contentful_paint_ms: ms(median(runs[name].fcpMs)), data_on_screen_ms: ms(median(runs[name].readyMs)) });
  const dash = summary('dashboard');
  const plain = summary('baseline');
  console.log(
    JSON.stringify(
      {
        bench: 'ops/dashboard',
        rounds: ROUNDS,
        calls_made: CALLS,
        chromium: browser.version(),
        baseline: plain,
        dashboard: dash,
        ratio_first_contentful_paint: Math.round((dash.first_contentful_paint_ms / plain.first_contentful_paint_ms) * 100) / 100,
        goal_first_paint_under_ms: 1000,
        weight: await weight(base),
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  baseline.close();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
}
