// The load generator of bench/auth/run.mjs's in-flow figures, in its own
// process so that the gateway's process measures only the gateway: 10
// sessions calling count_tokens back to back until `calls` are done. It
// says "start" after the sessions are open and prints the wall time.
import http from 'node:http';
import { McpHttpClient } from '../gateway/client.mjs';

const [url = '', credential = '', callsArg = '20000', clientsArg = '10'] = process.argv.slice(2);
const calls = Number(callsArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(clientsArg) + 2 });
const clients = Array.from({ length: Number(clientsArg) }, () => new McpHttpClient(url, agent, undefined, credential ? { authorization: `Bearer ${credential}` } : {}));
await Promise.all(clients.map((c) => c.initialize()));
process.send?.('start');
let started = 0;
const t0 = performance.now();
await Promise.all(
  clients.map(async (client) => {
    while (started < calls) {
      started += 1;
      await client.callTool('count_tokens', { text: 'hi' });
    }
  }),
);
process.stdout.write(`${performance.now() - t0}\n`);
await Promise.all(clients.map((c) => c.close()));
agent.destroy();
