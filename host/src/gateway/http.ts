// MCP over Streamable HTTP at /mcp, behind the Host/Origin guard. This file
// checks each request (method, headers, session, body) and hands valid
// messages to the session's transport (streamable/session-transport.ts). The
// gateway loads it with the first /mcp request (gateway.ts), with the MCP SDK.
import { randomUUID } from '../crypto.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { HTTP_REFUSED, INVALID_REQUEST, SESSION_NOT_FOUND } from '../protocol/jsonrpc.js';
import { readJsonBody } from './body.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { isInitialize, isRequest, parseMessages } from './streamable/messages.js';
import { closesAt, countedAs, idlest, quotaRefusal, type SessionLimits, type SessionUse } from './session-limits.js';
import { dispatchRequestsDirectly, HttpSessionTransport, type SessionStreamOptions } from './streamable/session-transport.js';
import type { Logger } from '../telemetry/log.js';
import type { Principal } from '../security/principal.js';
import type { CredentialState } from '../security/authenticate.js';

export interface HttpDeps {
  maxBodyBytes: number;
  /** How many sessions, whose, and how long unused or idle ones stay (session-limits.ts). */
  limits: SessionLimits;
  /** Each session's event store bounds, and when a long call becomes a resumable stream. */
  streams: SessionStreamOptions;
  /** A new MCP server for a session opened by `principal`. */
  newMcpServer: (principal: Principal) => Server;
  /** Checks again the credential a session was last used with (security/authenticate.ts); absent with open access. */
  credentialState?: (principal: Principal, now: number) => CredentialState;
  /** Admits a POST's messages whole or throws (429 from the rate limits, security/rate-limit.ts); absent, all are admitted. */
  admit?: (principal: Principal, messages: readonly unknown[]) => void;
  /** A session ended (DELETE, or the gateway closing it). */
  sessionClosed?: (sessionId: string) => void;
  /** A request named another principal's session (refused as unknown): the audit log's denial. */
  foreignSession?: (principal: Principal, sessionId: string) => void;
  log: Logger;
}

interface Session extends SessionUse {
  transport: HttpSessionTransport;
  server: Server;
  /** Who opened it: only the same principal may use it. */
  principalId: string;
  /** That principal as its latest request authenticated it (a refreshed token moves its expiry). */
  principal: Principal;
}

/** How often open sessions' credentials are checked again: a revoked key's sessions close within this. */
const CREDENTIAL_CHECK_MS = 1000;

const PROTOCOL_VERSIONS = new Set(SUPPORTED_PROTOCOL_VERSIONS);

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

function checkPostHeaders(req: IncomingMessage): void {
  const accept = req.headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    throw new HttpRefusal(406, HTTP_REFUSED, 'Not Acceptable: the client must accept both application/json and text/event-stream.');
  }
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    throw new HttpRefusal(415, HTTP_REFUSED, 'Unsupported Media Type: Content-Type must be application/json.');
  }
}

function checkProtocolVersion(req: IncomingMessage): void {
  const version = req.headers['mcp-protocol-version'];
  if (typeof version === 'string' && !PROTOCOL_VERSIONS.has(version)) {
    throw new HttpRefusal(400, HTTP_REFUSED, `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}).`);
  }
}

/** Routes /mcp requests to per-session transports. */
export class McpHttpEndpoint {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  /** Sessions closed to make room for a newcomer. */
  private evicted = 0;
  private readonly credentialChecker: NodeJS.Timeout | undefined;

  constructor(private readonly deps: HttpDeps) {
    const limits = [deps.limits.idleMs, deps.limits.unusedMs].filter((ms) => ms > 0);
    if (limits.length > 0) {
      const every = Math.min(60_000, Math.max(250, Math.min(...limits) / 4));
      this.sweeper = setInterval(() => this.closeDue(), every).unref();
    }
    const check = deps.credentialState;
    if (check) this.credentialChecker = setInterval(() => this.recheckCredentials(check), CREDENTIAL_CHECK_MS).unref();
  }

  /**
   * Each request is authenticated, but an open GET stream sends on with no
   * request: a session whose key was revoked (or expired) is closed; one
   * whose token expired loses its GET stream, which the client reopens with
   * a fresh token (or cannot).
   */
  private recheckCredentials(check: NonNullable<HttpDeps['credentialState']>): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) {
      const state = check(session.principal, now);
      if (state === 'valid') continue;
      this.deps.log.debug(state === 'ended' ? "closing a session: its principal's credential was revoked or expired" : "ending a session's stream: its credential expired", { session: id, principal: session.principalId });
      if (state === 'ended') void session.server.close();
      else session.transport.dropStream();
    }
  }

  /**
   * Closes sessions past gateway.session_unused_seconds without a request, or
   * idle past gateway.session_idle_seconds: clients that left without a DELETE.
   */
  private closeDue(): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) {
      const due = closesAt(session, this.deps.limits);
      if (due === undefined || due > now) continue;
      this.deps.log.debug(session.requested ? 'closing an idle MCP session' : 'closing an MCP session that sent no request', { session: id });
      void session.server.close();
    }
  }

  /** Whether `req` is the GET stream of a session that never sent a request: a connection that may give way to a newcomer. */
  isUnusedStream(req: IncomingMessage): boolean {
    const id = req.headers['mcp-session-id'];
    if (req.method !== 'GET' || typeof id !== 'string') return false;
    const session = this.sessions.get(id);
    return session !== undefined && !session.requested;
  }

  /** Sessions closed to make room for a newcomer, since the start. */
  get evictedCount(): number {
    return this.evicted;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** What the sessions' event stores hold now, all together. */
  eventStoreTotals(): { events: number; bytes: number } {
    let events = 0;
    let bytes = 0;
    for (const { transport } of this.sessions.values()) {
      events += transport.store.eventCount;
      bytes += transport.store.byteCount;
    }
    return { events, bytes };
  }

  /** Serves one /mcp request; a refusal (HttpRefusal) is answered by answerError. */
  async handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    if (req.method === 'POST') return this.post(req, res, principal);
    if (req.method === 'GET') return this.get(req, res, principal);
    if (req.method === 'DELETE') return this.delete(req, res, principal);
    throw new HttpRefusal(405, HTTP_REFUSED, `Method ${req.method} is not allowed on /mcp; use POST, GET or DELETE.`, { allow: 'GET, POST, DELETE' });
  }

  private async post(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    checkPostHeaders(req);
    const messages = parseMessages(await readJsonBody(req, this.deps.maxBodyBytes));
    if (messages.some(isInitialize)) {
      if (messages.length > 1) throw new HttpRefusal(400, INVALID_REQUEST, 'Invalid Request: initialize must be sent alone, not in a batch.');
      if (req.headers['mcp-session-id'] !== undefined) throw new HttpRefusal(400, INVALID_REQUEST, 'Invalid Request: this session is already initialized.');
      return this.startSession(req, res, messages, principal);
    }
    const session = this.sessionOf(req, principal);
    checkProtocolVersion(req);
    this.deps.admit?.(principal, messages);
    if (messages.some(isRequest)) session.requested = true;
    session.transport.receive(req, res, messages);
  }

  private get(req: IncomingMessage, res: ServerResponse, principal: Principal): void {
    if (!(req.headers.accept ?? '').includes('text/event-stream')) {
      throw new HttpRefusal(406, HTTP_REFUSED, 'Not Acceptable: the client must accept text/event-stream.');
    }
    const session = this.sessionOf(req, principal);
    checkProtocolVersion(req);
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && lastEventId !== '') return session.transport.resume(res, lastEventId);
    if (session.transport.hasStream) throw new HttpRefusal(409, HTTP_REFUSED, 'Conflict: this session already has its GET stream open.');
    session.transport.openStream(res);
  }

  private async delete(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const session = this.sessionOf(req, principal);
    checkProtocolVersion(req);
    await session.server.close();
    res.writeHead(200).end();
  }

  /**
   * The open session a request names. Another principal's session is answered
   * exactly like an unknown one: a session id alone grants nothing, and the
   * answer does not tell whether the id exists.
   */
  private sessionOf(req: IncomingMessage, principal: Principal): Session {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string') {
      throw new HttpRefusal(400, HTTP_REFUSED, 'Bad Request: send an initialize request first, or the Mcp-Session-Id header of an open session.');
    }
    const session = this.sessions.get(id);
    if (session && session.principalId !== principal.id) this.deps.foreignSession?.(principal, id);
    if (!session || session.principalId !== principal.id) throw new HttpRefusal(404, SESSION_NOT_FOUND, 'Session not found: it expired or the gateway restarted. Initialize a new session.');
    session.principal = principal;
    return session;
  }

  private async startSession(req: IncomingMessage, res: ServerResponse, messages: ReturnType<typeof parseMessages>, principal: Principal): Promise<void> {
    const counted = countedAs(principal, req.socket.remoteAddress);
    const refusal = quotaRefusal(this.sessions.values(), counted, this.deps.limits);
    if (refusal) throw refusal;
    if (this.sessions.size >= this.deps.limits.maxSessions) await this.makeRoom();
    const server = this.deps.newMcpServer(principal);
    const transport = new HttpSessionTransport(randomUUID(), this.deps.streams);
    this.sessions.set(transport.sessionId, { transport, server, principalId: principal.id, principal, ...counted, openedAt: Date.now(), requested: false });
    transport.onclose = () => {
      this.sessions.delete(transport.sessionId);
      this.deps.sessionClosed?.(transport.sessionId);
    };
    await server.connect(transport);
    dispatchRequestsDirectly(server, transport);
    transport.receive(req, res, messages);
  }

  /** Closes the idlest session for a newcomer; refuses the newcomer when every session is in use. */
  private async makeRoom(): Promise<void> {
    const victim = idlest(this.sessions.values());
    if (!victim) {
      const max = this.deps.limits.maxSessions;
      throw new HttpRefusal(503, HTTP_REFUSED, `Too many sessions (${max}), all in use; try again later, or raise gateway.max_connections.`, { 'retry-after': '5' });
    }
    this.evicted++;
    this.deps.log.debug('closing the idlest MCP session to make room', { session: victim.transport.sessionId, requested: victim.requested });
    await victim.server.close();
  }

  async closeAll(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.credentialChecker) clearInterval(this.credentialChecker);
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(sessions.map((s) => s.server.close()));
  }
}
