// The load generator of bench/auth/side-by-side.mjs: 10 sessions calling
// count_tokens until told to stop, `rate` calls per second in all (each
// session its share, on a fixed schedule; a session behind it calls at once),
// or back to back with rate 0. Says "ready" once the sessions are open, and
// answers "count" with the calls answered so far.
import http from 'node:http';
import { McpHttpClient } from '../gateway/client.mjs';

const [url = '', credential = '', clientsArg = '10', rateArg = '0'] = process.argv.slice(2);
/** Ms between two calls of one session (0: back to back). */
const every = Number(rateArg) > 0 ? (1000 * Number(clientsArg)) / Number(rateArg) : 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(clientsArg) + 2 });
const clients = Array.from({ length: Number(clientsArg) }, () => new McpHttpClient(url, agent, undefined, credential ? { authorization: `Bearer ${credential}` } : {}));
await Promise.all(clients.map((c) => c.initialize()));
let answered = 0;
let stop = false;
process.on('message', (m) => {
  if (m === 'count') process.send?.(answered);
  if (m === 'stop') stop = true;
});
process.send?.('ready');
await Promise.all(
  clients.map(async (client, i) => {
    // Sessions start spread over one period, so that the calls are too.
    let next = performance.now() + (every * i) / clients.length;
    while (!stop) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next = Math.max(next + every, performance.now() - every);
      await client.callTool('count_tokens', { text: 'hi' });
      answered += 1;
    }
  }),
);
await Promise.all(clients.map((c) => c.close()));
agent.destroy();
process.disconnect?.();
