#!/usr/bin/env node
// The raw-socket floor: what the node-floor (floor.mjs) does, reading and
// writing HTTP/1.1 on the sockets itself instead of through node:http
// (raw-h1.mjs). Not a server to expose: it checks nothing. It shows how much
// of the node-floor's cost is node:http's own, i.e. the headroom a leaner
// front would have (bench/gateway/README.md, "the raw-socket floor").
//
//   node bench/gateway/floor-net.mjs UPSTREAM_URL   (prints "listening URL")
import { listenFloor, rawForwarder, readMessages } from './raw-h1.mjs';

const forward = rawForwarder(process.argv[2] ?? '');
listenFloor((client) => {
  readMessages(client, (requestLine, headers, body) => forward(requestLine.split(' ')[0] ?? 'POST', headers, body, client));
});
