// The HTTP face of the gateway: MCP over Streamable HTTP at /mcp and the REST
// endpoints, behind the Host/Origin guard.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { BodyError, readJsonBody } from './body.js';
import type { Logger } from '../telemetry/log.js';

/** A REST route: method + exact path -> handler returning a JSON body. */
export type RestHandler = (req: IncomingMessage) => Promise<unknown> | unknown;

export interface HttpDeps {
  maxBodyBytes: number;
  /** Most concurrent MCP sessions; new ones are refused beyond it. */
  maxSessions: number;
  newMcpServer: () => Server;
  rest: Map<string, RestHandler>;
  log: Logger;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });
}

/** Routes /mcp requests to per-session transports. */
export class McpHttpEndpoint {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly deps: HttpDeps) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readJsonBody(req, this.deps.maxBodyBytes) : undefined;
    if (typeof sessionId === 'string') {
      const session = this.sessions.get(sessionId);
      if (!session) return sendRpcError(res, 404, -32001, 'Session not found: it expired or the gateway restarted. Initialize a new session.');
      return session.transport.handleRequest(req, res, body);
    }
    if (req.method === 'POST' && isInitializeRequest(body)) return this.startSession(req, res, body);
    sendRpcError(res, 400, -32600, 'Bad request: send an initialize request first, or the mcp-session-id header of an open session.');
  }

  private async startSession(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    if (this.sessions.size >= this.deps.maxSessions) {
      return sendRpcError(res, 503, -32000, `Too many sessions (${this.deps.maxSessions}); close one or raise gateway.max_connections.`);
    }
    const server = this.deps.newMcpServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.sessions.set(id, { transport, server });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async closeAll(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(sessions.map((s) => s.server.close()));
  }
}

/** Turns a failure inside request handling into a clear HTTP answer. */
export function answerError(res: ServerResponse, err: unknown, log: Logger): void {
  if (err instanceof BodyError) return sendRpcError(res, err.status, err.rpcCode, err.message);
  log.error('request failed', { error: (err as Error).stack ?? String(err) });
  if (!res.headersSent) sendRpcError(res, 500, -32603, 'Internal error in the gateway; see its log.');
  else res.end();
}
