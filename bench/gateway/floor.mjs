#!/usr/bin/env node
// The floor: the least a Node process in the path can cost. A plain node:http
// forwarder in front of the fixture, with a keep-alive pool to it, that does
// only what any MCP gateway must do with each message: read it whole, parse
// it and serialize it again (to route it and rewrite its id), and send the
// answer back with the session header. No MCP session of its own, no
// routing, no limits, no logging. The gap between mcp-edge and this row is
// what mcp-edge's own work costs; this row minus direct is what one more
// Node hop over HTTP costs on this machine.
//
//   node bench/gateway/floor.mjs UPSTREAM_URL   (prints "listening URL")
import http from 'node:http';
import { reserialize } from './reserialize.mjs';

const upstream = new URL(process.argv[2] ?? '');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
const PASSED_UP = ['accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'];
const PASSED_DOWN = ['content-type', 'mcp-session-id', 'cache-control'];

/** @param {http.IncomingMessage} stream */
function readAll(stream) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const body = reserialize(await readAll(req), req.headers['content-type'] ?? '');
    /** @type {http.OutgoingHttpHeaders} */
    const headers = { 'content-type': 'application/json', 'content-length': body.length };
    for (const name of PASSED_UP) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
    const answer = await new Promise((resolve, reject) => {
      const up = http.request({ agent, host: upstream.hostname, port: upstream.port, path: upstream.pathname, method: req.method, headers }, resolve);
      up.on('error', reject);
      up.end(body);
    });
    const type = String(answer.headers['content-type'] ?? '');
    const out = reserialize(await readAll(answer), type);
    /** @type {http.OutgoingHttpHeaders} */
    const down = { 'content-length': out.length };
    for (const name of PASSED_DOWN) if (answer.headers[name] !== undefined) down[name] = answer.headers[name];
    res.writeHead(answer.statusCode ?? 502, down).end(out);
  } catch (error) {
    res.writeHead(502, { 'content-type': 'text/plain' }).end(String(error));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
