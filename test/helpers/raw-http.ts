// Raw HTTP and TCP for the hostile-client tests: requests whose every header
// and byte the test decides (fetch and the SDK would fix them up), sockets
// that say nothing or trickle, and an MCP session opened by hand.
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll } from 'vitest';

const sockets = new Set<Socket>();
afterAll(() => {
  for (const socket of sockets) socket.destroy();
});

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One HTTP request to 127.0.0.1:port, on its own connection; Host is the loopback one unless given. */
export function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const all = { host: `127.0.0.1:${port}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers };
    const req = request({ host: '127.0.0.1', port, path, method, headers: all, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const isJson = String(res.headers['content-type']).startsWith('application/json');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: isJson && text ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** GET /health: whether the gateway still answers a newcomer. */
export function health(port: number): Promise<RawAnswer> {
  return rawRequest(port, 'GET', '/health');
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

/** Opens an MCP session by hand (initialize, then notifications/initialized) and returns its id. */
export async function openSession(port: number): Promise<string> {
  const init = await rawRequest(port, 'POST', '/mcp', {}, JSON.stringify(INITIALIZE));
  const id = init.headers['mcp-session-id'];
  if (init.status !== 200 || typeof id !== 'string') throw new Error(`initialize answered ${init.status}: ${init.text}`);
  await rpc(port, id, { jsonrpc: '2.0', method: 'notifications/initialized' });
  return id;
}

/** Sends one JSON-RPC message on a session; a response's JSON comes back in `json` (SSE answers are unwrapped). */
export async function rpc(port: number, sessionId: string, message: object): Promise<RawAnswer> {
  const answer = await rawRequest(port, 'POST', '/mcp', { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }, JSON.stringify(message));
  if (answer.json === null && answer.text.includes('data: ')) {
    const data = answer.text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).filter((l) => l.startsWith('{'));
    if (data.length > 0) answer.json = JSON.parse(data[data.length - 1]!);
  }
  return answer;
}

/** A TCP connection to 127.0.0.1:port, destroyed after the test file; resolves once connected. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // a reset is an outcome the tests look at, not a failure
    socket.once('error', reject);
  });
}

/** Resolves when the peer closes `socket` (or it errors): the gateway let go of it. */
export function closedByPeer(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    socket.resume();
  });
}

/** The head of a request as raw bytes: "METHOD path HTTP/1.1", Host (the loopback one) and `headers`. */
export function requestHead(port: number, method: string, path: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Headers of a POST to /mcp whose body comes in chunks, as slowly as the test likes. */
export const CHUNKED_MCP_POST = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'Transfer-Encoding': 'chunked',
};

/** Everything the peer sends on `socket` until it closes it. */
export function answerOf(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.once('close', () => resolve(text));
  });
}

/** Opens a session's GET stream (SSE) and holds it; resolves once the gateway answered 200. */
export function openStream(port: number, sessionId: string): Promise<{ close: () => void; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const headers = { host: `127.0.0.1:${port}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
    const req = request({ host: '127.0.0.1', port, path: '/mcp', method: 'GET', headers, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET stream answered ${res.statusCode}`));
      res.resume();
      const closed = new Promise<void>((done) => res.once('close', () => done()));
      resolve({ close: () => req.destroy(), closed });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}
