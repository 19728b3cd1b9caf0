// What the raw-socket floors (floor-net.mjs, floor-llhttp.mjs) share:
// HTTP/1.1 messages read by hand, and the fixture reached through a
// keep-alive pool of raw sockets, each message read whole, parsed and
// serialized again, the session header passed on. Bodies come with
// content-length (chunked answers are decoded), one request at a time per
// connection. Not a server to expose: it checks nothing.
import net from 'node:net';
import { reserialize } from './reserialize.mjs';

const PASSED_UP = ['accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'];
const PASSED_DOWN = ['content-type', 'mcp-session-id', 'cache-control'];

/** @typedef {(startLine: string, headers: Record<string, string>, body: Buffer) => void} OnMessage */

/**
 * The chunked body that starts at `at`: its bytes and where the message ends, or undefined when incomplete.
 * @param {Buffer} buf
 * @param {number} at
 */
function chunked(buf, at) {
  /** @type {Buffer[]} */
  const parts = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.toString('latin1', at, eol), 16);
    if (buf.length < eol + 4 + size) return undefined;
    if (size === 0) return { body: Buffer.concat(parts), end: eol + 4 };
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 4 + size;
  }
}

/**
 * Calls `onMessage` with each HTTP/1.1 message read from `socket`.
 * @param {net.Socket} socket
 * @param {OnMessage} onMessage
 */
export function readMessages(socket, onMessage) {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const lines = buf.toString('latin1', 0, headEnd).split('\r\n');
      /** @type {Record<string, string>} */
      const headers = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let message;
      if (headers['transfer-encoding'] === 'chunked') {
        message = chunked(buf, headEnd + 4);
        delete headers['transfer-encoding'];
      } else {
        const end = headEnd + 4 + Number(headers['content-length'] ?? 0);
        message = buf.length < end ? undefined : { body: buf.subarray(headEnd + 4, end), end };
      }
      if (!message) return;
      buf = buf.subarray(message.end);
      onMessage(lines[0] ?? '', headers, message.body);
    }
  });
}

/**
 * A forwarder to the fixture at `upstreamUrl`: `forward(method, headers, body, client)` sends one
 * request on and writes the fixture's answer to `client`.
 * @param {string} upstreamUrl
 */
export function rawForwarder(upstreamUrl) {
  const upstream = new URL(upstreamUrl);
  const host = `${upstream.hostname}:${upstream.port}`;
  /** @typedef {net.Socket & { answer?: OnMessage }} UpstreamSocket */
  /** @type {UpstreamSocket[]} */
  const idle = [];

  /** An idle pooled connection to the fixture, or a new one; it goes back to the pool once answered, and leaves it when closed. */
  function upstreamSocket() {
    const pooled = idle.pop();
    if (pooled) return pooled;
    /** @type {UpstreamSocket} */
    const socket = net.connect(Number(upstream.port), upstream.hostname);
    socket.setNoDelay(true);
    const drop = () => {
      const at = idle.indexOf(socket);
      if (at >= 0) idle.splice(at, 1);
    };
    socket.on('close', drop);
    socket.on('error', drop);
    socket.on('end', () => socket.destroy());
    readMessages(socket, (status, headers, body) => {
      const answer = socket.answer;
      socket.answer = undefined;
      idle.push(socket);
      answer?.(status, headers, body);
    });
    return socket;
  }

  /**
   * @param {string} method
   * @param {Record<string, string>} headers  lower-case names
   * @param {Buffer} body
   * @param {net.Socket} client
   */
  return function forward(method, headers, body, client) {
    const out = reserialize(body, headers['content-type'] ?? '');
    let head = `${method} ${upstream.pathname} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\ncontent-length: ${out.length}\r\n`;
    for (const name of PASSED_UP) if (headers[name] !== undefined) head += `${name}: ${headers[name]}\r\n`;
    const up = upstreamSocket();
    up.answer = (statusLine, answerHeaders, answer) => {
      const back = reserialize(answer, answerHeaders['content-type'] ?? '');
      let down = `HTTP/1.1 ${statusLine.split(' ').slice(1).join(' ')}\r\ncontent-length: ${back.length}\r\n`;
      for (const name of PASSED_DOWN) if (answerHeaders[name] !== undefined) down += `${name}: ${answerHeaders[name]}\r\n`;
      client.write(Buffer.concat([Buffer.from(`${down}\r\n`, 'latin1'), back]));
    };
    up.write(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), out]));
  };
}

/**
 * Listens on 127.0.0.1 with `onConnection` and prints "listening URL".
 * @param {(socket: net.Socket) => void} onConnection
 */
export function listenFloor(onConnection) {
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => client.destroy());
    onConnection(client);
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
    process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
  });
}
