// The component in a real browser: headless Chromium (Debian's package) loads
// test/browser/codec-page.js from a server on 127.0.0.1, which imports the
// core facade from host/dist exactly as a browser app would. The page packs
// and unpacks through the direct lane, the output pool and a dictionary, and
// posts what it saw; the assertions are here.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const PAGE = '<!doctype html><script type="module" src="/test/browser/codec-page.js"></script>';

/** Serves the page and the repository's files under /host/dist and /test/browser; resolves with the posted report. */
function serve(): { server: Server; report: Promise<Record<string, unknown>> } {
  let deliver: (report: Record<string, unknown>) => void = () => {};
  const report = new Promise<Record<string, unknown>>((resolve) => {
    deliver = resolve;
  });
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (req.method === 'POST' && path === '/result') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        res.end();
        deliver(JSON.parse(body) as Record<string, unknown>);
      });
      return;
    }
    if (path === '/') return res.writeHead(200, { 'content-type': TYPES['.html']! }).end(PAGE);
    const file = join(ROOT, path);
    const allowed = path.startsWith('/host/dist/') || path.startsWith('/test/browser/');
    if (!allowed || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return { server, report };
}

describe('codec in Chromium', () => {
  const profile = tempDir('mcp-edge-chromium-');
  const { server, report } = serve();
  let chromium: ReturnType<typeof spawn> | undefined;
  afterAll(async () => {
    server.close();
    if (chromium && chromium.exitCode === null && chromium.signalCode === null) {
      const exited = new Promise((resolve) => chromium?.once('exit', resolve));
      process.kill(-(chromium.pid ?? 0), 'SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    }
    // Chromium's helper processes may still be closing files in the profile.
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('runs the component facade: direct lane, pooled outputs, a dictionary', async () => {
    expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/setup.mjs installs Debian's chromium package`).toBe(true);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // detached: its own process group, so the helpers it forks die with it (see afterAll).
    chromium = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-breakpad', `--user-data-dir=${profile}`, `http://127.0.0.1:${port}/`], {
      stdio: 'ignore',
      detached: true,
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Chromium posted no report within 60 s')), 60_000);
    });
    const seen = await Promise.race([report, timeout]).finally(() => clearTimeout(timer));
    expect(seen.error).toBeUndefined();
    expect(seen.lane).toBe('direct');
    expect(seen.features).toContain('simd128');
    expect(seen.roundTrips).toEqual({ stored: true, zstd: true, lz4: true });
    expect(seen.pooled).toBe(true);
    expect(seen.afterTransfer).toBe(true);
    expect(seen.dictionary).toEqual({ lane: 'direct', roundTrip: true, smaller: true, withoutIt: 'dictionary-required' });
  }, 90_000);
});
