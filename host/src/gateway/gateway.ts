// The gateway: config + core + storage + tools, served over HTTP and/or stdio.
// `createGateway` is the one way to start it, from the CLI and the npm API alike.
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { validateConfig } from '../config/load.js';
import type { EdgeConfig, EdgeConfigInput } from '../config/schema.js';
import { componentSize, loadCore, type EdgeCore } from '../core/index.js';
import { queueMetrics, startOfflineQueue, type QueueHooks } from '../queue/index.js';
import { eventStoreMetrics, gatewayMetrics } from '../telemetry/metrics.js';
import { openDatabase, type Db } from '../storage/database.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { configuredPlugins } from '../plugins/index.js';
import { LocalProvider } from '../providers/local/provider.js';
import { registerBuiltinTools } from '../tools/builtin.js';
import type { ToolRegistry } from '../tools/registry.js';
import { allowedHostValues, checkRequest, type GuardOptions } from './guard.js';
import { answerError, McpHttpEndpoint, sendJson, type RestHandler } from './http.js';
import { ClientSession, createMcpServer } from './mcp-server.js';
import { Aggregator, type ListPart } from './aggregator/aggregator.js';
import { UpstreamProvider } from '../providers/upstream/upstream.js';
import type { Provider } from '../providers/provider.js';
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { VERSION } from '../version.js';

export interface GatewayOptions {
  /** Configuration, as in mcp-edge.toml; validated. Defaults everywhere. */
  config?: EdgeConfigInput | EdgeConfig;
  /** Serve HTTP on gateway.bind_address (default true). Off for stdio-only use. */
  http?: boolean;
  /** Where log lines go; stderr at "info" by default. */
  logger?: Logger;
  /** A core already loaded (tests and embedders that load it once). */
  core?: EdgeCore;
}

export interface HealthReport {
  status: 'ok';
  version: string;
  uptime_seconds: number;
  core: { version: string; features: readonly string[]; component_bytes: number | null };
  sessions: number;
  providers: { id: string; kind: string; state: string; detail?: string }[];
}

/** The default data directory: $MCP_EDGE_DATA_DIR, else the XDG data home. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MCP_EDGE_DATA_DIR) return resolve(env.MCP_EDGE_DATA_DIR);
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'mcp-edge');
}

export class Gateway {
  /** In-process tools, resources and prompts: the npm API for plugins. */
  readonly plugins = new LocalProvider();
  readonly rest = new Map<string, RestHandler>();
  readonly aggregator: Aggregator;
  private readonly sessions = new Set<ClientSession>();
  private readonly startedAt = Date.now();
  private httpServer: HttpServer | undefined;
  private endpoint: McpHttpEndpoint | undefined;
  private componentBytes: number | null = null;
  /** The offline queue (deferred calls as MCP tasks); see host/src/queue/. */
  queue: QueueHooks | undefined;

  private constructor(
    readonly config: EdgeConfig,
    readonly core: EdgeCore,
    readonly db: Db,
    readonly dataDir: string,
    readonly log: Logger,
  ) {
    const router = core.createRouter({
      failureThreshold: config.routing.failure_threshold,
      openMs: config.routing.open_ms,
      maxOpenMs: Math.max(config.routing.max_open_ms, config.routing.open_ms),
      latencyAlpha: config.routing.latency_alpha,
      costWeightMs: config.routing.cost_weight_ms,
    });
    this.aggregator = new Aggregator({ router, routing: config.routing, aggregation: config.aggregation, log });
    this.aggregator.onListChanged((part) => this.notifyListChanged(part));
    this.aggregator.add(this.plugins);
    for (const upstream of config.upstreams) {
      this.aggregator.add(
        new UpstreamProvider({
          config: upstream,
          log,
          clientInfo: { name: 'mcp-edge', version: VERSION },
          onNotification: (_id, n, sessionId) => this.forwardNotification(n, sessionId),
        }),
      );
    }
    this.rest.set('GET /health', () => this.health());
  }

  static async start(options: GatewayOptions = {}): Promise<Gateway> {
    const config = validateConfig(options.config ?? {}, 'gateway config');
    const log = options.logger ?? createLogger();
    const core = options.core ?? (await loadCore());
    const dataDir = config.gateway.data_dir ? resolve(config.gateway.data_dir) : defaultDataDir();
    const db = openDatabase(dataDir);
    const gateway = new Gateway(config, core, db, dataDir, log);
    gateway.componentBytes = (await componentSize()) ?? null;
    registerBuiltinTools(gateway.tools, core);
    try {
      for (const plugin of await configuredPlugins(config.plugins)) gateway.plugins.use(plugin);
      gateway.queue = await startOfflineQueue(config, db, core, log, gateway.tools, gateway.rest, gateway.aggregator);
    } catch (err) {
      db.close();
      throw err;
    }
    await gateway.aggregator.start();
    if (options.http !== false) await gateway.listen();
    return gateway;
  }

  /** The local provider's tools (the gateway's own and the plugins'). */
  get tools(): ToolRegistry {
    return this.plugins.tools;
  }

  /** The Streamable HTTP endpoint, e.g. http://127.0.0.1:8080/mcp. */
  get url(): string {
    const address = this.httpServer?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the gateway is not serving HTTP');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}/mcp`;
  }

  health(): HealthReport {
    return {
      status: 'ok',
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      core: { version: this.core.version, features: this.core.features, component_bytes: this.componentBytes },
      sessions: this.sessions.size,
      providers: this.aggregator.slots.map(({ provider }) => {
        const h = provider.health();
        return { id: provider.id, kind: provider.kind, state: h.state, ...(h.detail ? { detail: h.detail } : {}) };
      }),
    };
  }

  /** Adds a provider (a local plugin set, a peer) beside those from the config, and starts it. */
  async addProvider(provider: Provider): Promise<void> {
    this.aggregator.add(provider);
    await provider.start();
  }

  /** Creates an MCP server for one client; the gateway tracks it until it closes. */
  newMcpServer(): Server {
    const session = createMcpServer({
      identity: { name: 'mcp-edge', version: VERSION },
      aggregator: this.aggregator,
      requestTimeoutMs: this.config.gateway.request_timeout_ms,
      ...(this.queue ? { queue: { taskStore: this.queue.taskStore, intercept: this.queue.intercept } } : {}),
    });
    this.sessions.add(session);
    session.server.onclose = () => this.sessions.delete(session);
    return session.server;
  }

  /** Serves one client over an already-open transport (stdio, for example). */
  async connect(transport: Transport): Promise<Server> {
    const server = this.newMcpServer();
    await server.connect(transport);
    return server;
  }

  private notifyListChanged(part: ListPart): void {
    for (const { server } of this.sessions) {
      const sent = part === 'tools' ? server.sendToolListChanged() : part === 'prompts' ? server.sendPromptListChanged() : server.sendResourceListChanged();
      sent.catch(() => undefined);
    }
  }

  /**
   * An upstream's log message goes to every client (each filters by its
   * level), or only to `sessionId` when it came on that client's own
   * upstream connection; a resource update goes to its subscribers.
   */
  private forwardNotification(notification: ServerNotification, sessionId?: string): void {
    for (const session of this.sessions) {
      if (sessionId !== undefined && session.server.transport?.sessionId !== sessionId) continue;
      if (notification.method === 'notifications/message') session.log(notification.params);
      else if (notification.method === 'notifications/resources/updated') session.resourceUpdated(notification.params.uri);
    }
  }

  private async listen(): Promise<void> {
    const bind = this.config.gateway.bind_address;
    const host = bind.slice(0, bind.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    const port = Number(bind.slice(bind.lastIndexOf(':') + 1));
    this.endpoint = new McpHttpEndpoint({
      maxBodyBytes: this.config.gateway.max_body_bytes,
      maxSessions: this.config.gateway.max_connections,
      sessionIdleMs: this.config.gateway.session_idle_seconds * 1000,
      streams: {
        limits: { maxEvents: this.config.gateway.event_store_max_events, maxBytes: this.config.gateway.event_store_max_bytes },
        streamAfterMs: this.config.gateway.stream_after_ms,
      },
      newMcpServer: () => this.newMcpServer(),
      sessionClosed: (id) => this.aggregator.sessionClosed(id),
      rest: this.rest,
      log: this.log,
    });
    const server = createServer();
    server.maxConnections = this.config.gateway.max_connections;
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolveListen());
    });
    this.httpServer = server;
    const guard: GuardOptions = {
      bindAddress: bind,
      port: (server.address() as AddressInfo).port,
      allowedHosts: this.config.gateway.allowed_hosts,
      allowedOrigins: this.config.gateway.allowed_origins,
    };
    const hosts = allowedHostValues(guard);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.route(req, res, hosts, guard).catch((err: unknown) => answerError(res, err, this.log));
    });
    this.log.info(`mcp-edge ${VERSION} listening`, { url: this.url, data_dir: this.dataDir });
  }

  private async route(req: IncomingMessage, res: ServerResponse, hosts: Set<string>, guard: GuardOptions): Promise<void> {
    const verdict = checkRequest(req, hosts, guard);
    if (!verdict.ok) return sendJson(res, 403, { jsonrpc: '2.0', error: { code: -32000, message: verdict.reason }, id: null });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/mcp' && this.endpoint) return this.endpoint.handle(req, res);
    if (req.method === 'GET' && path === '/metrics') return this.sendMetrics(res);
    const handler = this.rest.get(`${req.method} ${path}`);
    if (handler) return sendJson(res, 200, await handler(req));
    sendJson(res, 404, { error: `No route for ${req.method} ${path}. MCP is served at /mcp; health at GET /health; metrics at GET /metrics.` });
  }

  private sendMetrics(res: ServerResponse): void {
    const stores = this.endpoint ? eventStoreMetrics(this.endpoint.eventStoreTotals()) : '';
    const text = gatewayMetrics(this.health(), stores + (this.queue ? queueMetrics(this.queue.queue) : ''));
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Stops serving, closes every session and the database. */
  async close(): Promise<void> {
    await this.queue?.close();
    await this.endpoint?.closeAll();
    await Promise.allSettled([...this.sessions].map((s) => s.server.close()));
    await this.aggregator.close();
    if (this.httpServer) {
      const server = this.httpServer;
      this.httpServer = undefined;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    if (this.db.open) this.db.close();
  }
}

/** Starts a gateway in this process; the npm embedding API's front door. */
export function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  return Gateway.start(options);
}
