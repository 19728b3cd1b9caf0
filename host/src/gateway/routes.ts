// Every HTTP route the gateway serves, in one table. The server dispatches only
// through it (a handler for a route not listed here is refused when it is
// registered) and `mcp-edge help` prints it, so the two cannot drift apart.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../security/principal.js';
import { RESOURCE_METADATA_PATH } from '../security/resource-metadata.js';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface RouteSpec {
  method: HttpMethod;
  path: string;
  /** One line for `mcp-edge help`. */
  summary: string;
  /** public: answered without credentials (it says nothing sensitive); else the caller is authenticated first. */
  access?: 'public';
  /** admin: an operator's action (changes how the gateway runs); authorization for admin routes comes with [policy]. */
  admin?: true;
  /** Served only when this part of the config is set (its handler is registered then); always otherwise. */
  servedWith?: string;
}

/** The path of the MCP endpoint. */
export const MCP_PATH = '/mcp';

export const ROUTES: readonly RouteSpec[] = [
  { method: 'POST', path: MCP_PATH, summary: 'MCP over Streamable HTTP: JSON-RPC requests, notifications, responses' },
  { method: 'GET', path: MCP_PATH, summary: "MCP: a session's stream of server messages (SSE)" },
  { method: 'DELETE', path: MCP_PATH, summary: 'MCP: end a session' },
  { method: 'GET', path: '/health', summary: 'status ok or degraded (200), down (503), with the reasons', access: 'public' },
  { method: 'GET', path: '/metrics', summary: 'metrics in the Prometheus text format (public with auth.public_metrics)' },
  { method: 'GET', path: RESOURCE_METADATA_PATH, summary: 'OAuth protected resource metadata (RFC 9728), with [auth.jwt]', access: 'public', servedWith: '[auth.jwt]' },
  { method: 'GET', path: `${RESOURCE_METADATA_PATH}${MCP_PATH}`, summary: '... the same, at the path RFC 9728 derives from /mcp', access: 'public', servedWith: '[auth.jwt]' },
  { method: 'GET', path: '/v1/queue/status', summary: 'the offline queue: depth, destinations, failures' },
  { method: 'POST', path: '/v1/queue/sync', summary: 'deliver the waiting calls now' },
  { method: 'GET', path: '/v1/queue/metrics', summary: "the offline queue's metrics (Prometheus text in JSON)" },
  { method: 'GET', path: '/v1/power', summary: 'power: mode, why, since when, asleep or not' },
  { method: 'POST', path: '/v1/power', summary: 'set the power mode: {"mode": "low" | "normal" | "auto"} (admin)', admin: true },
  { method: 'GET', path: '/v1/log', summary: 'logs: level, format, who set them and when' },
  { method: 'POST', path: '/v1/log', summary: 'set the log level: {"level": "debug" | "info" | "warn" | "error" | "silent"} (admin)', admin: true },
  { method: 'GET', path: '/v1/analytics', summary: 'usage per tool, provider, principal and hour (?from, to, tool, provider, principal); off with analytics.enabled = false' },
  { method: 'GET', path: '/v1/analytics/recent', summary: 'the last 100 tool calls, newest first; off with analytics.enabled = false' },
  { method: 'GET', path: '/v1/tools', summary: 'every tool offered and the providers its calls are routed to' },
  { method: 'GET', path: '/v1/mesh', summary: 'the mesh: this node, its peers, their state and shared tools ({"enabled": false} with the mesh off)' },
  { method: 'POST', path: '/v1/mesh/ping', summary: 'the round trip to a mesh peer: {"peer": "<peer id>"} -> {"rtt_ms"}' },
  { method: 'GET', path: '/ui', summary: 'the dashboard (with ui.enabled; its data comes from the API, asked with your credentials)', access: 'public', servedWith: '[ui]' },
  { method: 'GET', path: '/ui/app.js', summary: "... the dashboard's script", access: 'public', servedWith: '[ui]' },
  { method: 'GET', path: '/ui/app.css', summary: "... the dashboard's style sheet", access: 'public', servedWith: '[ui]' },
  { method: 'GET', path: '/v1/idempotency/status', summary: 'repeated calls answered from memory (as a destination)' },
  { method: 'POST', path: '/v1/chat/completions', summary: 'OpenAI-compatible chat completions (SSE with stream: true): local model first, cloud fallback' },
  { method: 'POST', path: '/v1/mcp/completions', summary: 'completions in the JSON of docs/inference.md, same engines and fallback' },
  { method: 'GET', path: '/v1/completions/task', summary: 'a completion queued while the cloud was unreachable (?id=<task_id> of its 202): state, then result', servedWith: '[models] cloud_endpoint' },
  { method: 'GET', path: '/v1/attestation/identity', summary: "the TPM's attestation key and EK certificate", servedWith: 'security.use_tpm' },
  { method: 'POST', path: '/v1/attestation/quote', summary: 'a TPM quote of the PCRs for {"nonce": hex}, with the event log', servedWith: 'security.use_tpm' },
  { method: 'POST', path: '/v1/attestation/activate', summary: 'answer a credential challenge {"blob","secret"} (binds the AK to the EK)', servedWith: 'security.use_tpm' },
];

/** "METHOD /path", the key of a route. */
export const routeKey = (method: string, path: string): string => `${method} ${path}`;

/** The table as `mcp-edge help` shows it. */
export function routesHelp(indent = '  '): string {
  const width = Math.max(...ROUTES.map((r) => r.path.length));
  return ROUTES.map((r) => `${indent}${r.method.padEnd(6)} ${r.path.padEnd(width)}  ${r.summary}`).join('\n');
}

/**
 * A route's handler: it writes the whole answer. `principal` is who is
 * calling; on a public route, which refuses no one, it is undefined unless
 * the caller sent valid credentials anyway.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, principal: Principal | undefined) => Promise<void> | void;
/** The principal of a route that is not public (a programming error otherwise, not a client's). */
export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) throw new Error('this route needs an authenticated principal but is marked public in gateway/routes.ts');
  return principal;
}

/** A JSON route's handler: its return value is the 200 answer's body. */
export type RestHandler = (req: IncomingMessage, principal: Principal | undefined) => Promise<unknown> | unknown;

/** Where parts of the gateway (the offline queue) register their JSON routes. */
export interface RouteRegistry {
  set(route: string, handler: RestHandler): void;
}

/** What a request finds in the table. */
export type RouteMatch = { handler: RouteHandler; public: boolean; route: string } | { status: 405; allow: string; message: string } | { status: 404; message: string };

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'DELETE'];
const KNOWN = new Set(ROUTES.map((r) => routeKey(r.method, r.path)));

/** The gateway's handlers, one per route of ROUTES. */
export class RouteTable implements RouteRegistry {
  private readonly handlers = new Map<string, RouteHandler>();
  private readonly publicRoutes = new Set(ROUTES.filter((r) => r.access === 'public').map((r) => routeKey(r.method, r.path)));

  constructor(private readonly json: (res: ServerResponse, body: unknown) => void) {}

  /** Registers the handler of a listed route. */
  handle(route: string, handler: RouteHandler): void {
    if (!KNOWN.has(route)) throw new Error(`route "${route}" is not in the gateway's route table (gateway/routes.ts): add it there, so that mcp-edge help lists it`);
    this.handlers.set(route, handler);
  }

  /** Registers a JSON route. */
  set(route: string, handler: RestHandler): void {
    this.handle(route, async (req, res, principal) => this.json(res, await handler(req, principal)));
  }

  /** Serves a listed route without credentials too (GET /metrics with auth.public_metrics). */
  makePublic(route: string): void {
    if (!KNOWN.has(route)) throw new Error(`route "${route}" is not in the gateway's route table (gateway/routes.ts)`);
    this.publicRoutes.add(route);
  }

  /** The routes that have a handler, in table order. */
  served(): string[] {
    return ROUTES.map((r) => routeKey(r.method, r.path)).filter((key) => this.handlers.has(key));
  }

  find(method: string, path: string): RouteMatch {
    // HEAD is a GET without its body (RFC 9110; Node leaves the body out), as monitors ask /health.
    // Not on /mcp: a GET there opens a session's event stream.
    if (method === 'HEAD' && path !== MCP_PATH && this.handlers.has(routeKey('GET', path))) method = 'GET';
    const key = routeKey(method, path);
    const handler = this.handlers.get(key);
    if (handler) return { handler, public: this.publicRoutes.has(key), route: key };
    const methods = METHODS.filter((m) => this.handlers.has(routeKey(m, path)));
    if (methods.length > 0) return { status: 405, allow: methods.join(', '), message: `Method ${method} is not allowed on ${path}; use ${methods.join(' or ')}.` };
    return { status: 404, message: `No route for ${method} ${path}. MCP is served at ${MCP_PATH}; mcp-edge help lists every route.` };
  }
}
