// The load generator of bench/auth/run.mjs's in-flow figures, in its own
// process so that the gateway's process measures only the gateway: 10
// sessions calling count_tokens until `calls` are done, back to back (rate
// 0) or at `rate` calls/s in all, each client on its own fixed schedule (a
// client that falls behind calls at once, without bursting to catch up). It
// says "start" after the sessions are open and prints the wall time.
import http from 'node:http';
import { McpHttpClient } from '../gateway/client.mjs';

const [url = '', credential = '', callsArg = '20000', clientsArg = '10', rateArg = '0'] = process.argv.slice(2);
const calls = Number(callsArg);
const clientCount = Number(clientsArg);
const every = Number(rateArg) > 0 ? (1000 * clientCount) / Number(rateArg) : 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: clientCount + 2 });
const clients = Array.from({ length: clientCount }, () => new McpHttpClient(url, agent, undefined, credential ? { authorization: `Bearer ${credential}` } : {}));
await Promise.all(clients.map((c) => c.initialize()));
process.send?.('start');
let started = 0;
const t0 = performance.now();
await Promise.all(
  clients.map(async (client, i) => {
    let next = t0 + (every * i) / clientCount;
    while (started < calls) {
      if (every > 0) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next = Math.max(next + every, performance.now() - every);
      }
      started += 1;
      await client.callTool('count_tokens', { text: 'hi' });
    }
  }),
);
process.stdout.write(`${performance.now() - t0}\n`);
await Promise.all(clients.map((c) => c.close()));
agent.destroy();
