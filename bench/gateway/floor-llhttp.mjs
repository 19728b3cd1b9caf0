#!/usr/bin/env node
// The llhttp floor: the raw-socket floor (floor-net.mjs) with its requests
// parsed by llhttp, the parser node:http itself uses (`_http_common`'s
// HTTPParser: not a documented API, a bench probe only), and no
// IncomingMessage or ServerResponse around it. The gap between it and the
// net-floor is what a front that keeps Node's parser (and its strictness
// against request smuggling) but not node:http's objects would still pay; the
// gap between it and the node-floor is what such a front would save
// (bench/gateway/README.md, "December 8: the llhttp floor").
//
//   node bench/gateway/floor-llhttp.mjs UPSTREAM_URL   (prints "listening URL")
import { createRequire } from 'node:module';
import { listenFloor, rawForwarder } from './raw-h1.mjs';

/** @type {{ HTTPParser: any; methods: string[] }} */
const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common');
/** The gateway's own header size limit (host/src/gateway/connections.ts). */
const MAX_HEADER_BYTES = 16 * 1024;

const forward = rawForwarder(process.argv[2] ?? '');
listenFloor((client) => {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, MAX_HEADER_BYTES, 0);
  /** @type {Record<string, string>} */
  let headers = {};
  let method = 'POST';
  /** @type {Buffer[]} */
  let chunks = [];
  /** Header lines handed over before the head's end (a head that came in pieces); complete then gets none. */
  let early = /** @type {string[]} */ ([]);
  parser[HTTPParser.kOnHeaders] = (/** @type {string[]} */ lines) => void early.push(...lines);
  parser[HTTPParser.kOnHeadersComplete] = (/** @type {number} */ _major, /** @type {number} */ _minor, /** @type {string[] | undefined} */ lines, /** @type {number} */ methodIndex) => {
    const raw = lines ?? early;
    early = [];
    headers = {};
    for (let i = 0; i < raw.length; i += 2) headers[(raw[i] ?? '').toLowerCase()] = raw[i + 1] ?? '';
    method = methods[methodIndex] ?? 'POST';
    chunks = [];
    return 0;
  };
  // The parser hands a view of its own buffer: copied before the next read reuses it.
  parser[HTTPParser.kOnBody] = (/** @type {Buffer} */ b) => void chunks.push(Buffer.from(b));
  parser[HTTPParser.kOnMessageComplete] = () => forward(method, headers, chunks.length === 1 ? chunks[0] ?? Buffer.alloc(0) : Buffer.concat(chunks), client);
  client.on('data', (data) => {
    if (parser.execute(data) instanceof Error) client.destroy();
  });
  client.on('close', () => parser.close());
});
