// The gateway: config + core + storage + tools, served over HTTP and/or stdio.
// `createGateway` is the one way to start it, from the CLI and the npm API alike.
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { validateConfig } from '../config/load.js';
import { resolveSettings, type GatewaySettings } from '../config/resolve.js';
import type { EdgeConfig, EdgeConfigInput } from '../config/schema.js';
import { componentSize, loadCore, type EdgeCore, type EncodeOptions } from '../core/index.js';
import { queueMetrics, startOfflineQueue, type LocalDestination, type QueueHooks } from '../queue/index.js';
import { COMPLETION_TASK_PATH, completionDeliverer, MODELS_DESTINATION } from '../models/offline.js';
import { completionDeferral, completionTaskHandler } from '../models/offline-tasks.js';
import { authMetrics, connectionMetrics, eventStoreMetrics, gatewayMetrics, pinningMetrics, processMetrics, sampleProcess, tlsMetrics } from '../telemetry/metrics.js';
import { openDatabaseFile, type Db } from '../storage/database.js';
import { QueueOwnership } from './queue-ownership.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { configuredPlugins } from '../plugins/index.js';
import { LocalProvider } from '../providers/local/provider.js';
import { registerBuiltinTools } from '../tools/builtin.js';
import { generateTool } from '../tools/generate.js';
import { CoreWorkers } from '../offload/pool.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { TokenizerChoice } from '../tokenizer/api.js';
import type { Vocabularies } from '../tokenizer/vocabularies.js';
import { loadConfiguredTokenizers } from '../tokenizer/configured.js';
import { allowedHostValues, checkRequest, type GuardOptions } from './guard.js';
import type { McpHttpEndpoint } from './http.js';
import { answerError, sendJson } from './respond.js';
import { ConnectionGuard, httpServerOptions, MAX_HEADER_LINES } from './connections.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { guardDepth } from '../protocol/json-depth.js';
import { assessHealth, httpStatusOf, type HealthReport } from './health.js';
import { MCP_PATH, requirePrincipal, routeKey, RouteTable } from './routes.js';
import type { Authenticator } from '../security/authenticate.js';
import { createAuthenticator, type CredentialAuthenticator } from '../security/credentials.js';
import { checkExposure } from '../security/exposure.js';
import { protectedResourceMetadata, RESOURCE_METADATA_PATH } from '../security/resource-metadata.js';
import { STDIO_PRINCIPAL, type Principal } from '../security/principal.js';
import { ToolPins, type PinSummary } from '../security/pinning/pins.js';
import { PinStore } from '../security/pinning/store.js';
import { HTTP_REFUSED } from '../protocol/jsonrpc.js';
import { Policy, type Denial } from '../security/policy.js';
import { policyMetrics } from '../security/policy-metrics.js';
import { RateLimiter } from '../security/rate-limit.js';
import type { ClientSession, createMcpServer } from './mcp-server.js';
import { GatewayTls, type TlsReloadReport } from './tls.js';
import { Aggregator, type ListPart } from './aggregator/aggregator.js';
import type { Provider } from '../providers/provider.js';
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { VERSION } from '../version.js';
import type { Mesh } from '../mesh/mesh.js';
import type { SharedContext } from '../mesh/context/context.js';
import { meshResources } from '../mesh/resources.js';
import { meshRoutes } from '../mesh/routes.js';
import type { PowerControl } from '../power/power.js';
import { gatewayPower, powerRoutes, queuePacing } from '../power/gateway-power.js';
import { powerMetrics } from '../power/power.js';
import { chatCompletionsHandler, createModelService, mcpCompletionsHandler, type ModelService } from '../models/index.js';
import { gatewaySampling } from '../models/sampling.js';
import type { TpmService } from '../security/tpm/service.js';
import { attestingFetches, createPeerAttestation, type PeerAttestation } from '../security/tpm/peer-attestation.js';
import { startAnalytics, type Analytics } from '../analytics/index.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { httpLogContext, runInRequest, currentLogContext } from '../telemetry/log-context.js';
import { logRoutes, LogSwitch } from '../telemetry/log-switch.js';
import { serveDashboard } from '../ui/dashboard.js';
import { AuditLog, NO_AUDIT, type AuditRecorder } from '../security/audit/log.js';
import type { AuditEvent } from '../security/audit/event.js';
import { auditMetrics, denialEvent, pluginSwitchEvent, routeEvent } from '../security/audit/gateway-hooks.js';

export type { HealthReport } from './health.js';

// Not `import { createServer } from 'node:http'`: the ES module facade of node:http reads
// every export, and its lazy WebSocket getter loads Node's bundled undici (~40 ms and
// ~13 MB at start, measured on Node 24; bench/startup/README.md). fetch still loads it on first use.
const { createServer } = process.getBuiltinModule('node:http');

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

export class Gateway {
  /** In-process tools, resources and prompts: the npm API for plugins. */
  readonly plugins = new LocalProvider();
  readonly aggregator: Aggregator;
  /** Tool pinning: upstream tool definitions checked against their approved digests (security/pinning/). */
  readonly pins: ToolPins;
  private readonly routes = new RouteTable((res, body) => sendJson(res, 200, body));
  private readonly sessions = new Set<ClientSession>();
  /** Who may call: every HTTP request but a public route's is authenticated by it first. */
  private readonly authenticator: Authenticator;
  /** The configured credentials ([auth]); undefined when nobody is asked (open access). */
  private readonly credentials: CredentialAuthenticator | undefined;
  /** [authorization]: who may use what; undefined when the config has none (everything allowed). */
  readonly policy: Policy | undefined;
  /** [rate_limits]: token buckets per principal and tool; undefined when the config has none. */
  readonly limiter: RateLimiter | undefined;
  private readonly startedAt = Date.now();
  private httpServer: HttpServer | undefined;
  /** /mcp's endpoint, from the first MCP request on (openEndpoint). */
  private endpoint: McpHttpEndpoint | undefined;
  private endpointOpening: Promise<McpHttpEndpoint> | undefined;
  /** mcp-server.ts's createMcpServer once loadMcp() has loaded it. */
  private mcpServerOf: typeof createMcpServer | undefined;
  private connections: ConnectionGuard | undefined;
  private componentBytes: number | null = null;
  /** Whether this gateway runs the database's offline queue, now or once it takes it over (queue-ownership.ts). */
  private ownership: QueueOwnership | undefined;
  private closing = false;
  /** Worker threads for the heavy core work of big requests (offload/pool.ts); none run until one is needed. */
  readonly workers: CoreWorkers;
  /** Power management ([power]: low power mode, sleep on idle; power/power.ts). */
  readonly power: PowerControl;
  /** Local and cloud models ([models]): generate(), and the completions routes; see host/src/models/. */
  readonly models: ModelService;
  /** The offline queue (deferred calls as MCP tasks); see host/src/queue/. */
  queue: QueueHooks | undefined;
  /** Peer gateways over libp2p ([mesh]); undefined while the mesh is off. */
  mesh: Mesh | undefined;
  /** The TPM (security.use_tpm): quotes, identity, credential activation; see host/src/security/tpm/. */
  tpm: TpmService | undefined;
  /** Usage analytics ([analytics]); undefined when analytics.enabled = false. */
  analytics: Analytics | undefined;
  /** OpenTelemetry traces and metrics ([telemetry]); undefined unless telemetry.enabled. */
  telemetry: Telemetry | undefined;
  /** The audit log ([audit]); undefined when audit.enabled = false. */
  readonly auditLog: AuditLog | undefined;
  /** Where audited events go: the audit log, or nowhere when it is off. */
  readonly audit: AuditRecorder;

  private constructor(
    /** The configuration, resolved into the options each part takes (config/resolve.ts). */
    readonly settings: GatewaySettings,
    readonly core: EdgeCore,
    readonly db: Db,
    /** The vocabularies count_tokens knows: the tiktoken encodings and the configured tokenizer.json files. */
    readonly vocabularies: Vocabularies,
    readonly log: Logger,
    /** The HTTPS listener and the outgoing connections' own TLS settings (gateway/tls.ts). */
    readonly tls: GatewayTls,
    auth: { authenticator: Authenticator; credentials?: CredentialAuthenticator },
    /** The log level and format while running ([log] already applied; POST /v1/log, SIGHUP; telemetry/log-switch.ts). */
    readonly logs: LogSwitch,
  ) {
    // A client certificate, when the listener asks for one, is checked before the configured credentials.
    this.authenticator = tls.authenticator(auth.authenticator);
    this.credentials = auth.credentials;
    const onDenied = (denial: Denial) => this.denied(denial);
    this.workers = new CoreWorkers({ files: settings.tokenizers });
    this.auditLog = settings.audit.enabled ? new AuditLog(db, settings.audit, log) : undefined;
    this.audit = this.auditLog ?? NO_AUDIT;
    this.plugins.onSwitch((name, enabled) => this.audit.record(pluginSwitchEvent(name, enabled)));
    this.pins = new ToolPins(new PinStore(db), new Map(settings.upstreams.map((u) => [u.id, u.pinning])), log);
    const router = core.createRouter(settings.router);
    this.aggregator = new Aggregator({ router, settings: settings.aggregator, log, pins: this.pins });
    this.policy = settings.authorization ? new Policy(settings.authorization, { catalog: this.aggregator, onDenied }) : undefined;
    this.limiter = settings.rateLimits ? new RateLimiter(settings.rateLimits, onDenied) : undefined;
    this.aggregator.onListChanged((part) => this.notifyListChanged(part));
    this.aggregator.add(this.plugins);
    // Before the upstreams: their sampling requests may be answered by these models ([models] answer_sampling).
    this.models = createModelService(settings.models, log, core.decideModel, core.tokenizer);
    this.routes.handle('GET /health', (_req, res, principal) => {
      const report = this.health();
      // Anyone may ask whether it is up; what it runs and what failed is for callers who authenticated.
      sendJson(res, httpStatusOf(report.status), this.credentials && !principal ? { status: report.status } : report);
    });
    this.routes.handle('GET /metrics', (_req, res) => this.sendMetrics(res));
    this.routes.handle('POST /v1/chat/completions', chatCompletionsHandler(this.models, settings.http.maxBodyBytes));
    this.routes.handle('POST /v1/mcp/completions', mcpCompletionsHandler(this.models, settings.http.maxBodyBytes));
    this.routes.set('GET /v1/tools', () => ({ tools: this.aggregator.toolRouting() }));
    meshRoutes(() => this.mesh, this.routes);
    if (settings.ops.ui.enabled) serveDashboard(this.routes);
    if (settings.auth.publicMetrics) this.routes.makePublic('GET /metrics');
    this.power = gatewayPower(settings.power, { router, aggregator: this.aggregator, pins: this.pins, queue: () => this.queue, log });
    powerRoutes(this.power, this.routes);
    logRoutes(this.logs, this.routes);
    const metadata = protectedResourceMetadata(settings.auth);
    if (metadata) {
      for (const path of [RESOURCE_METADATA_PATH, RESOURCE_METADATA_PATH + MCP_PATH]) this.routes.handle(routeKey('GET', path), (_req, res) => sendJson(res, 200, metadata));
    }
  }

  /**
   * The upstreams of the config, after the local provider. Their module (the
   * SDK's Client and every schema of the protocol) is loaded only when there is
   * one: an idle gateway on its defaults does not hold it.
   */
  private async addUpstreams(): Promise<void> {
    if (this.settings.upstreams.length === 0) return;
    const { UpstreamProvider } = await import('../providers/upstream/upstream.js');
    const sampling = gatewaySampling(this.models);
    for (const upstream of this.settings.upstreams) {
      const upstreamTls = this.tls.upstreamTls(upstream.id);
      this.aggregator.add(
        new UpstreamProvider({
          settings: upstream,
          log: this.log,
          clientInfo: { name: 'mcp-edge', version: VERSION },
          onNotification: (_id, n, sessionId) => this.forwardNotification(n, sessionId),
          sampling,
          ...(upstreamTls ? { tls: upstreamTls } : {}),
        }),
      );
    }
  }

  static async start(options: GatewayOptions = {}): Promise<Gateway> {
    const config = validateConfig(options.config ?? {}, 'gateway config');
    const settings = resolveSettings(config);
    const log = options.logger ?? createLogger();
    // [log] first: every line from here on is in the configured format.
    const logs = new LogSwitch(log);
    logs.configure(settings.ops.log);
    if (options.http !== false) checkExposure(settings.http.bindAddress, settings.http.host, settings.auth, settings.http.tls?.clientCertificates?.mode ?? 'off', log);
    const core = options.core ?? (await loadCore());
    const vocabularies = await loadConfiguredTokenizers(core, settings.tokenizers);
    const tls = await GatewayTls.open(settings, log, options.http !== false);
    let db: Db | undefined;
    let tpm: TpmService | undefined;
    let gateway: Gateway;
    let auditLog: AuditLog | undefined;
    let telemetry: Telemetry | undefined;
    let peerAttestation: PeerAttestation | undefined;
    // Before the database opens: only the gateway that owns it runs its offline queue (queue-ownership.ts).
    const ownership = QueueOwnership.claim(settings, options.http !== false, log);
    try {
      db = openDatabaseFile(settings.databaseFile);
      const auth = await createAuthenticator(settings.auth, db, log);
      gateway = new Gateway(settings, core, db, vocabularies, log, tls, auth, logs);
      gateway.ownership = ownership;
      await gateway.addUpstreams();
      auditLog = gateway.auditLog;
      gateway.componentBytes = (await componentSize()) ?? null;
      registerBuiltinTools(gateway.tools, core, gateway.vocabularies, gateway.workers);
      if (settings.models.generateTool) gateway.tools.register(generateTool(gateway.models));
      for (const plugin of await configuredPlugins(settings.plugins, log)) gateway.plugins.use(plugin);
      peerAttestation = createPeerAttestation(settings.peerAttestation, gateway.audit, log);
      const destinationFetches = attestingFetches(peerAttestation, settings.queue.destinations, tls.destinationFetches(Object.keys(settings.queue.destinations)));
      if (settings.tpm.enabled) {
        // Loaded only when enabled: the TPM bindings load libtss2 through koffi.
        const { TpmService } = await import('../security/tpm/service.js');
        const { tpmQuoteTool } = await import('../security/tpm/tool.js');
        tpm = await TpmService.start(settings.tpm, config, log);
        tpm.registerRoutes(gateway.routes);
        gateway.tools.register(tpmQuoteTool(tpm));
        gateway.tpm = tpm;
      }
      const countTokens = async (texts: readonly string[]) => (await gateway.vocabularies.get('cl100k_base')).countMany(texts);
      if (settings.ops.telemetry.enabled) {
        // Loaded only when enabled: the OpenTelemetry SDK is ~230 modules, a third of a start's.
        const { Telemetry } = await import('../telemetry/telemetry.js');
        gateway.telemetry = telemetry = new Telemetry(settings.ops.telemetry, db, core.codec, log, { sessions: () => gateway.sessions.size });
      }
      gateway.analytics = startAnalytics(settings.ops.analytics, db, log, countTokens, gateway.routes, gateway.plugins);
      const startQueue = async () => {
        gateway.queue = await startOfflineQueue(settings.queue, db!, core, log, gateway.tools, gateway.routes, gateway.aggregator, destinationFetches, gateway.modelDestinations());
        gateway.queueCompletions();
      };
      await ownership.whenOwned(startQueue, () => gateway.lateQueueStarted());
    } catch (err) {
      await tpm?.close();
      await telemetry?.close();
      await auditLog?.close();
      db?.close();
      ownership.release();
      await tls.close();
      throw err;
    }
    // Upstreams connect in the background: the gateway answers at once, /health says which are still
    // connecting, their tools are listed (list_changed) as they arrive, and a call to one waits (aggregator/connecting.ts).
    gateway.aggregator.start();
    gateway.pins.watch();
    if (settings.mesh) {
      try {
        // Loaded only when enabled: libp2p is most of a cold start otherwise.
        const { Mesh } = await import('../mesh/mesh.js');
        // The schema allows identity "tpm" only with use_tpm, so the TPM is open here.
        const privateKey = settings.mesh.identity === 'tpm' ? await gateway.tpm!.meshIdentity() : undefined;
        gateway.mesh = await Mesh.start(settings.mesh, gateway.aggregator, log, {
          ...(privateKey ? { privateKey } : {}),
          ...(gateway.tpm ? { prover: gateway.tpm.prover(settings.mesh.identity === 'tpm') } : {}),
          ...(peerAttestation ? { attestation: peerAttestation } : {}),
          db: gateway.db,
          ...(gateway.queue ? { runOnce: gateway.queue.runOnce } : {}),
        });
        const { registerFanOutTools } = await import('../mesh/fan-out.js');
        registerFanOutTools(gateway.tools, gateway.aggregator, settings.mesh.fanOut);
        const { resource, template } = meshResources(gateway.mesh);
        gateway.plugins.registerResource(resource);
        gateway.plugins.registerResourceTemplate(template);
        if (gateway.mesh.context) await gateway.serveContext(gateway.mesh.context);
      } catch (err) {
        await gateway.close();
        throw err;
      }
    }
    // The loops and upstreams exist now: low power (from the config or the sensors) paces them, and the idle count starts.
    gateway.power.configure(settings.power);
    // The idle count starts over once every upstream's first start ended: a child just started is not stopped at once.
    void gateway.aggregator.ready().then(() => gateway.power.touch());
    if (options.http !== false) {
      try {
        await gateway.listen();
      } catch (err) {
        // The port is taken, say: nothing is left open (the database, its owner mark, the upstreams).
        await gateway.close();
        throw err;
      }
    }
    return gateway;
  }

  /** The shared context's resources and tools; each change notifies the subscribers of the URIs it touched. */
  private async serveContext(context: SharedContext): Promise<void> {
    const { contextResources, contextTools } = await import('../mesh/context/mcp.js');
    const { resources, templates } = contextResources(context);
    for (const resource of resources) this.plugins.registerResource(resource);
    for (const template of templates) this.plugins.registerResourceTemplate(template);
    for (const tool of contextTools(context)) this.tools.register(tool);
    context.onUpdated((uri) => this.forwardNotification({ method: 'notifications/resources/updated', params: { uri } }));
  }

  /** Resolves when every upstream's first connection attempt ended (up or failed): what a stdio client waits for. */
  ready(): Promise<void> {
    return this.aggregator.ready();
  }

  /** Where the gateway keeps its state. */
  get dataDir(): string {
    return this.settings.dataDir;
  }

  /** The local provider's tools (the gateway's own and the plugins'). */
  get tools(): ToolRegistry {
    return this.plugins.tools;
  }

  /** The Streamable HTTP endpoint, e.g. http://127.0.0.1:8080/mcp (https:// when it serves TLS). */
  get url(): string {
    const address = this.httpServer?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the gateway is not serving HTTP');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.tls.scheme}://${host}:${address.port}${MCP_PATH}`;
  }

  /**
   * Re-reads every TLS file (the listener's certificate, key and client CA,
   * and each upstream's and destination's): what SIGHUP does. Files that
   * are unusable leave the previous ones in use; the report says why.
   */
  reloadTls(): Promise<TlsReloadReport> {
    return this.tls.reload();
  }

  /**
   * Applies a new config's [power] section (SIGHUP): the mode, sleep on idle
   * and power.auto. An operator's mode (POST /v1/power) is cleared. The rest
   * of the config is not reloaded (restart for it).
   */
  reloadPower(config: EdgeConfigInput | EdgeConfig): void {
    this.power.configure(resolveSettings(validateConfig(config, 'gateway config')).power);
  }

  /**
   * Applies a new config's [log] section (SIGHUP): its level and format, or
   * what the logger started with where it sets none. An operator's level
   * (POST /v1/log) is cleared.
   */
  reloadLog(config: EdgeConfigInput | EdgeConfig): void {
    this.logs.configure(resolveSettings(validateConfig(config, 'gateway config')).ops.log);
  }

  /** The HTTP routes this gateway serves, as "METHOD /path" (the table in gateway/routes.ts). */
  servedRoutes(): string[] {
    return this.routes.served();
  }

  /** With a cloud to wait for, completions only it could serve queue as tasks (models/offline.ts). */
  private modelDestinations(): Record<string, LocalDestination> {
    if (!this.models.cloud) return {};
    return { [MODELS_DESTINATION]: { deliver: completionDeliverer(this.models), tools: this.settings.models.generateTool ? ['generate'] : [] } };
  }

  private queueCompletions(): void {
    if (!this.models.cloud || !this.queue) return;
    this.models.deferral = completionDeferral(this.queue.queue);
    this.routes.handle(`GET ${COMPLETION_TASK_PATH}`, completionTaskHandler(this.queue.queue, sendJson));
  }

  /** The exact token count of `text` for a tiktoken encoding or a configured tokenizer.json ([tokenizers]). */
  async countTokens(text: string, options: TokenizerChoice & EncodeOptions = {}): Promise<number> {
    const tokenizer = await this.vocabularies.get(options.tokenizer ?? 'cl100k_base');
    return tokenizer.count(text, options);
  }

  health(): HealthReport {
    const providers = this.aggregator.slots.map(({ provider }) => {
      const h = provider.health();
      return { id: provider.id, kind: provider.kind, state: h.state, ...(h.detail ? { detail: h.detail } : {}) };
    });
    const databaseProblem = this.databaseProblem();
    // A queue on an unreadable database cannot report; the database reason says enough then.
    const destinations = this.queue && databaseProblem === undefined ? this.queue.queue.status().destinations : [];
    const pinning = this.pinSummaries();
    const tls = this.tls.status();
    return {
      ...assessHealth({ providers, destinations, databaseProblem, pinning, tlsProblems: this.tls.problems(), tpmProblems: this.tpm?.problems() ?? [] }),
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      core: { version: this.core.version, features: this.core.features, component_bytes: this.componentBytes },
      sessions: this.sessions.size,
      providers,
      ...(tls ? { tls } : {}),
      power: this.power.status(),
      tpm: this.tpm?.status() ?? { enabled: false },
    };
  }

  /** Tool pinning of each upstream that has it on. */
  private pinSummaries(): (PinSummary & { upstream: string })[] {
    return this.settings.upstreams.flatMap((u) => {
      const summary = this.pins.summary(u.id);
      return summary && summary.mode !== 'off' ? [{ upstream: u.id, ...summary }] : [];
    });
  }

  /** Why the database cannot be read, or undefined when it can. */
  private databaseProblem(): string | undefined {
    try {
      this.db.prepare('SELECT count(*) FROM schema_migrations').get();
      return undefined;
    } catch (err) {
      return `${this.settings.databaseFile} cannot be read: ${(err as Error).message}`;
    }
  }

  /** Adds a provider (a local plugin set, a peer) beside those from the config, and starts it. */
  async addProvider(provider: Provider): Promise<void> {
    this.aggregator.add(provider);
    await provider.start();
  }

  /**
   * Creates an MCP server for one client (`principal`); the gateway tracks it
   * until it closes. `perRequestLimits`: its calls are rate limited one by
   * one (stdio); over HTTP each POST is admitted whole before it reaches here.
   */
  newMcpServer(principal: Principal, perRequestLimits = false): Server {
    if (!this.mcpServerOf) throw new Error('the MCP server module is not loaded: await gateway.loadMcp() first');
    const session = this.mcpServerOf({
      identity: { name: 'mcp-edge', version: VERSION },
      principal,
      aggregator: this.aggregator,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      audit: this.audit,
      log: this.log,
      ...(this.queue ? { queue: this.queue.forPrincipal(principal) } : {}),
      ...(this.analytics ? { usage: this.analytics.usage } : {}),
      ...(this.telemetry ? { telemetry: this.telemetry } : {}),
      ...(this.policy ? { policy: this.policy } : {}),
      ...(this.limiter && perRequestLimits ? { limiter: this.limiter } : {}),
    });
    this.sessions.add(session);
    session.server.onclose = () => {
      this.sessions.delete(session);
      session.ended();
    };
    return session.server;
  }

  /**
   * Loads the MCP side: the SDK's Server with every schema of the protocol
   * (~4 MB of RSS and ~15-20 ms of CPU, measured). The first MCP session does it, over
   * HTTP or stdio, not the start: a gateway nobody has opened a session with
   * does not hold it (bench/startup/README.md, "Idle footprint").
   */
  async loadMcp(): Promise<void> {
    this.mcpServerOf ??= (await import('./mcp-server.js')).createMcpServer;
  }

  /** Serves one client over an already-open transport (stdio, for example), as `principal`. */
  async connect(transport: Transport, principal: Principal = STDIO_PRINCIPAL): Promise<Server> {
    await this.loadMcp();
    const server = this.newMcpServer(principal, true);
    await server.connect(transport);
    guardDepth(transport);
    // Every message from the client is activity: it wakes a sleeping gateway (power.sleep_on_idle_ms).
    const inner = transport.onmessage;
    transport.onmessage = (message, extra) => {
      this.power.touch();
      inner?.(message, extra);
    };
    return server;
  }

  /** Every refusal of [authorization] and [rate_limits] passes here: the audit log's hook. */
  private denied(denial: Denial): void {
    this.log.debug('denied', { principal: denial.principal.id, kind: denial.kind, name: denial.name, reason: denial.reason });
    this.audit.record(denialEvent(denial));
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

  /** /mcp's endpoint, made by the first MCP request (with loadMcp); one for the gateway's life. */
  private openEndpoint(): Promise<McpHttpEndpoint> {
    this.endpointOpening ??= this.createEndpoint().catch((err: unknown) => {
      this.endpointOpening = undefined;
      throw err;
    });
    return this.endpointOpening;
  }

  private async createEndpoint(): Promise<McpHttpEndpoint> {
    const http = this.settings.http;
    const [{ McpHttpEndpoint }] = await Promise.all([import('./http.js'), this.loadMcp()]);
    this.endpoint = new McpHttpEndpoint({
      maxBodyBytes: http.maxBodyBytes,
      limits: http.sessions,
      streams: http.streams,
      newMcpServer: (principal) => this.newMcpServer(principal),
      ...(this.limiter ? { admit: this.limiter.checkMessages.bind(this.limiter) } : {}),
      ...(this.authenticator.credentialState ? { credentialState: this.authenticator.credentialState.bind(this.authenticator) } : {}),
      sessionClosed: (id) => this.aggregator.sessionClosed(id),
      foreignSession: (principal, session) =>
        this.audit.record({ operation: 'session', outcome: 'denied', principal, ...(principal.address ? { address: principal.address } : {}), session, code: 404, detail: "the request named a session opened by another principal" }),
      log: this.log,
    });
    return this.endpoint;
  }

  private async listen(): Promise<void> {
    const http = this.settings.http;
    for (const method of ['POST', 'GET', 'DELETE']) this.routes.handle(routeKey(method, MCP_PATH), async (req, res, principal) => {
      this.power.touch();
      const endpoint = this.endpoint ?? (await this.openEndpoint());
      return endpoint.handle(req, res, requirePrincipal(principal));
    });
    // The HTTPS server was built with the same options (gateway/tls.ts).
    const server = this.tls.listener?.server ?? createServer(httpServerOptions(http));
    // Past it, Node answers 431 and closes the connection.
    server.maxHeadersCount = MAX_HEADER_LINES;
    const connections = new ConnectionGuard(http.maxConnections, http.maxConnectionsPerAddress, (req) => this.endpoint?.isUnusedStream(req) ?? false);
    this.connections = connections;
    // Over HTTPS a connection counts from the end of its handshake (the socket requests arrive on);
    // a handshake that stalls is ended by security.tls_handshake_timeout_ms.
    if (this.tls.listener) server.on('secureConnection', (socket: Socket) => connections.admit(socket));
    else server.on('connection', (socket: Socket) => connections.admit(socket));
    // Node's socket timer between keep-alive requests: closed only once what arrived in time has been read.
    server.on('timeout', (socket: Socket) => connections.keepAliveEnded(socket));
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(http.port, http.host, () => resolveListen());
    });
    this.httpServer = server;
    const guard: GuardOptions = {
      bindAddress: http.bindAddress,
      port: (server.address() as AddressInfo).port,
      allowedHosts: http.allowedHosts,
      allowedOrigins: http.allowedOrigins,
    };
    const hosts = allowedHostValues(guard);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      connections.busy(req, res);
      // Every line written while serving it names the request; the client gets the id back to quote.
      const logContext = httpLogContext(req.headers);
      res.setHeader('x-request-id', logContext.request_id);
      runInRequest(logContext, () => this.route(req, res, hosts, guard).catch((err: unknown) => answerError(res, err, this.log)));
    });
    const tls = this.tls.listener ? { client_certificates: this.tls.listener.clientCertificates } : {};
    this.log.info(`mcp-edge ${VERSION} listening`, { url: this.url, ...tls, data_dir: this.settings.dataDir });
  }

  private async route(req: IncomingMessage, res: ServerResponse, hosts: Set<string>, guard: GuardOptions): Promise<void> {
    const verdict = checkRequest(req, hosts, guard);
    if (!verdict.ok) throw new HttpRefusal(verdict.status, HTTP_REFUSED, verdict.reason);
    const match = this.routes.find(req.method ?? 'GET', (req.url ?? '/').split('?')[0] ?? '/');
    if ('handler' in match) {
      if (match.public) return match.handler(req, res, await this.optionalPrincipal(req));
      const event = routeEvent(req, match.route);
      const principal = await this.authenticated(req, event);
      const logContext = currentLogContext();
      if (logContext) logContext.principal = principal.id;
      this.policy?.checkRoute(principal, match.route);
      // /mcp's operations are recorded one by one (security/audit/calls.ts); other routes are admin actions.
      if (!event) return match.handler(req, res, principal);
      return this.auditedRoute(event, principal, res, () => match.handler(req, res, principal));
    }
    if (match.status === 405) throw new HttpRefusal(405, HTTP_REFUSED, match.message, { allow: match.allow });
    sendJson(res, 404, { error: match.message });
  }

  /** The caller of a non-public route; a refused authentication is recorded in the audit log, then thrown. */
  private async authenticated(req: IncomingMessage, event: AuditEvent | undefined): Promise<Principal> {
    try {
      return await this.authenticator.authenticate(req);
    } catch (err) {
      if (err instanceof HttpRefusal) {
        this.audit.record({ ...(event ?? { operation: 'authenticate', target: routeKey(req.method ?? 'GET', MCP_PATH) }), outcome: 'refused', code: err.status, detail: err.message, ...(req.socket.remoteAddress ? { address: req.socket.remoteAddress } : {}) });
      }
      throw err;
    }
  }

  /** Runs an admin route's handler and records its outcome (an answer of 400 or more it wrote itself is an error). */
  private async auditedRoute(event: AuditEvent, principal: Principal, res: ServerResponse, run: () => Promise<void> | void): Promise<void> {
    const start = performance.now();
    event.principal = principal;
    if (principal.address) event.address = principal.address;
    try {
      await run();
      const failed = res.statusCode >= 400;
      this.audit.record({ ...event, outcome: failed ? 'error' : 'ok', ...(failed ? { code: res.statusCode } : {}), latencyMs: performance.now() - start });
    } catch (err) {
      const status = err instanceof HttpRefusal ? err.status : 500;
      this.audit.record({ ...event, outcome: status === 403 || status === 429 ? 'denied' : 'error', code: status, detail: (err as Error).message, latencyMs: performance.now() - start });
      throw err;
    }
  }

  /** On a public route: the caller, when credentials are configured and it sent valid ones; never a refusal. */
  private async optionalPrincipal(req: IncomingMessage): Promise<Principal | undefined> {
    if (!this.credentials || req.headers.authorization === undefined) return undefined;
    try {
      return await this.credentials.authenticate(req);
    } catch (err) {
      if (err instanceof HttpRefusal) return undefined;
      throw err;
    }
  }

  private sendMetrics(res: ServerResponse): void {
    // Serving HTTP (connections); before the first MCP request there is no endpoint yet, so nothing kept or evicted.
    const stores = this.connections ? eventStoreMetrics(this.endpoint?.eventStoreTotals() ?? { events: 0, bytes: 0 }) : '';
    const connections = this.connections ? connectionMetrics(this.connections.counts(), this.endpoint?.evictedCount ?? 0) : '';
    const health = this.health();
    const tls = health.tls ? tlsMetrics(health.tls) : '';
    const auth = (this.credentials ? authMetrics(this.credentials.outcomes) : '') + (this.auditLog ? auditMetrics(this.auditLog) : '');
    const text = gatewayMetrics(
      health,
      [
        connections,
        tls,
        auth,
        policyMetrics(this.policy, this.limiter),
        stores,
        pinningMetrics(this.pinSummaries()),
        powerMetrics(this.power.status()),
        this.queue ? queueMetrics(this.queue.queue.status()) : '',
        this.mesh?.metrics() ?? '',
        this.models.metrics(),
        this.telemetry?.metricsText() ?? '',
        processMetrics(sampleProcess()),
      ].join(''),
    );
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /**
   * A queue started late (a database taken over): closed when the gateway
   * began closing meanwhile; else, as the power mode paced the loops before
   * it existed, paced as they are in low power.
   */
  private lateQueueStarted(): void {
    if (this.closing) return void this.queue?.close();
    const queue = this.queue?.queue;
    if (queue && this.power.status().mode === 'low') queue.setDeliveryPacing(queuePacing(true, queue.tickMs));
  }

  /** Stops serving, closes every session and the database. */
  async close(): Promise<void> {
    this.closing = true;
    this.ownership?.stop();
    await this.mesh?.close();
    this.power.close();
    await this.queue?.close();
    await this.analytics?.usage.close();
    await this.telemetry?.close();
    // An endpoint still being made by a first request is closed once made.
    await (this.endpoint ?? (await this.endpointOpening?.catch(() => undefined)))?.closeAll();
    await Promise.allSettled([...this.sessions].map((s) => s.server.close()));
    // Every call has ended: what they recorded is written before the database closes.
    await this.auditLog?.close().catch((err: unknown) => this.log.error('audit log: flushing at shutdown failed', { error: String(err) }));
    await this.aggregator.close();
    await this.workers.close();
    await this.models.close();
    this.pins.close();
    if (this.httpServer) {
      const server = this.httpServer;
      this.httpServer = undefined;
      server.closeAllConnections();
      this.connections?.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
    await this.tls.close();
    await this.tpm?.close();
    if (this.db.open) this.db.close();
    this.ownership?.release();
  }
}

/** Starts a gateway in this process; the npm embedding API's front door. */
export function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  return Gateway.start(options);
}
