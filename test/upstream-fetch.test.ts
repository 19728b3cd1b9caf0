// Regression: the SDK's HTTP client transports share one abort signal across
// every fetch, and undici leaves a listener on it per request until GC. Through
// a busy gateway that grew past 1500 listeners (MaxListenersExceededWarning).
// isolatingFetch must leave none behind, and still stop a stream on abort.
import { createServer, type Server } from 'node:http';
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatingFetch } from '../host/src/providers/upstream/fetch.js';

let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      return; // stays open until the client goes away
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('isolatingFetch', () => {
  it('leaves no listener on the shared signal after many requests', async () => {
    const shared = new AbortController();
    for (let i = 0; i < 200; i++) await (await isolatingFetch(`${base}/json`, { signal: shared.signal })).json();
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });

  it('is needed: plain fetch with a shared signal keeps listeners (the control)', async () => {
    const shared = new AbortController();
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/json`, { signal: shared.signal })).json();
    expect(getEventListeners(shared.signal, 'abort').length).toBeGreaterThan(0);
  });

  it('still stops an open event stream when the shared signal aborts, then lets go of it', async () => {
    const shared = new AbortController();
    const response = await isolatingFetch(`${base}/stream`, { signal: shared.signal });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('first');
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    shared.abort(new Error('transport closed'));
    await expect(reader.read()).rejects.toThrow();
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });
});

describe('isolatingFetch under concurrency', () => {
  it('keeps one listener on the shared signal however many requests are in flight', async () => {
    const shared = new AbortController();
    const streams = await Promise.all(Array.from({ length: 40 }, () => isolatingFetch(`${base}/stream`, { signal: shared.signal })));
    const readers = streams.map((response) => response.body!.getReader());
    for (const reader of readers) expect(new TextDecoder().decode((await reader.read()).value)).toContain('first');
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    shared.abort(new Error('transport closed'));
    for (const reader of readers) await expect(reader.read()).rejects.toThrow();
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  });
});
