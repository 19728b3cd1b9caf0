// The mesh over REST: GET /v1/mesh (the mcp-edge://mesh report, or
// {"enabled": false} with the mesh off) and POST /v1/mesh/ping (the round trip
// to a peer). Registered whether or not the mesh is on, so that `mcp-edge mesh
// peers|tools|ping` get a clear answer either way; imports no libp2p module.
import type { IncomingMessage } from 'node:http';
import { readJsonBody } from '../gateway/body.js';
import type { RouteRegistry } from '../gateway/routes.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { HTTP_REFUSED } from '../protocol/jsonrpc.js';
import type { Mesh } from './mesh.js';
import { meshReport } from './resources.js';

/** `mesh()` is the running mesh, undefined while it is off (it starts after the routes are set). */
export function meshRoutes(mesh: () => Mesh | undefined, routes: RouteRegistry): void {
  routes.set('GET /v1/mesh', () => {
    const running = mesh();
    return running ? { enabled: true, ...meshReport(running) } : { enabled: false };
  });
  routes.set('POST /v1/mesh/ping', async (req: IncomingMessage) => {
    const body = (await readJsonBody(req, 4096)) as { peer?: unknown } | null;
    const running = mesh();
    if (!running) throw new HttpRefusal(409, HTTP_REFUSED, 'The mesh is off: set [mesh] enabled = true to join one.');
    if (typeof body?.peer !== 'string') throw new HttpRefusal(400, HTTP_REFUSED, 'Send {"peer": "<peer id>"} (GET /v1/mesh lists the peers).');
    try {
      return { peer: body.peer, rtt_ms: await running.ping(body.peer) };
    } catch (err) {
      throw new HttpRefusal(502, HTTP_REFUSED, (err as Error).message);
    }
  });
}
