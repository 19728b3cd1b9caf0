// The one place mcp-edge.toml's snake_case keys become the typed options each
// part of the gateway takes: HTTP, router, aggregator, upstreams, the offline
// queue, plugins, tokenizers, storage and authentication. Nothing outside config/ reads the
// raw config; test/config-walk.test.ts proves every schema key is read here
// or refused (config/unsupported.ts).
import { resolveOps, type OpsSettings } from '../ops/settings.js';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { ProviderWeights, RouterOptions } from '../core/router.js';
import type { PowerSettings } from '../power/power.js';
import type { PinSettings } from '../security/pinning/pins.js';
import { cachedModelPath } from '../models/cache.js';
import type { ModelSettings } from '../models/service.js';
import { resolvePeerAttestation, resolveTpm, type PeerAttestationConfig, type TpmSettings } from '../security/tpm/settings.js';
import type { AuditSettings } from '../security/audit/log.js';
import { DATABASE_FILE } from '../storage/database.js';
import type { EdgeConfig, PluginsConfig, UpstreamConfig } from './schema.js';
import { resolveMesh, type MeshSettings } from './mesh-settings.js';
import { resolveAuthorization, resolveRateLimits, type AuthorizationSettings, type RateLimitSettings } from './policy-settings.js';

/** Resumable SSE answers (gateway/streamable/): what the session transports take. */
export interface StreamSettings {
  /** Bounds of each session's event store. */
  limits: { maxEvents: number; maxBytes: number };
  /** A call still running this long switches its answer to a resumable stream (2025-11-25 clients). */
  streamAfterMs: number;
}

/** How many MCP sessions, whose, and how long unused or idle ones stay (gateway/session-limits.ts). */
export interface SessionSettings {
  /** Most sessions in all (max_connections). */
  maxSessions: number;
  /** Most sessions of one authenticated principal. */
  perPrincipal: number;
  /** Most sessions from one non-loopback remote address. */
  perAddress: number;
  /** A session with no request since initialize closes after this long; 0: never. */
  unusedMs: number;
  /** A session with no call and no GET stream closes after this long; 0: never. */
  idleMs: number;
}

/** The HTTPS listener (security.tls_*): PEM files as absolute paths, and the handshake's rules. */
export interface ListenerTlsSettings {
  certFile: string;
  keyFile: string;
  /** Client certificates (mTLS): the CA bundle that verifies them, and whether a connection must present one. */
  clientCertificates?: { caFile: string; mode: 'required' | 'optional'; crlFile?: string };
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  handshakeTimeoutMs: number;
}

/** An outgoing https connection's own TLS files (absolute paths); absent ones mean Node's defaults (the system's roots, no client certificate). */
export interface OutgoingTlsSettings {
  caFile?: string;
  /** The client certificate and its key: both or neither. */
  client?: { certFile: string; keyFile: string };
}

export interface HttpSettings {
  /** "host:port" as configured; the Host/Origin guard compares headers with it. */
  bindAddress: string;
  host: string;
  port: number;
  maxBodyBytes: number;
  /** Most open TCP connections (an idle or slow one gives way to a newcomer: gateway/connections.ts). */
  maxConnections: number;
  /** Most of them from one non-loopback remote address. */
  maxConnectionsPerAddress: number;
  /** A request's headers must arrive within this long. */
  headerTimeoutMs: number;
  /** A request's headers and body must arrive within this long. */
  bodyTimeoutMs: number;
  sessions: SessionSettings;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  /** Resumable SSE answers: the per-session event store's bounds, and when a silent call switches to a stream. */
  streams: StreamSettings;
  /** Serve HTTPS instead of HTTP; absent: plain HTTP. */
  tls?: ListenerTlsSettings;
}

export interface NamingOptions {
  prefixMode: 'always' | 'on-collision' | 'never';
  separator: string;
}

export interface AggregatorSettings {
  /** Most replicas one idempotent call tries. */
  maxAttempts: number;
  naming: NamingOptions;
}

/** How the gateway reaches an upstream: a child it spawns, or a URL. */
export type UpstreamConnection =
  | { transport: 'stdio'; command: string; args: readonly string[]; env: Readonly<Record<string, string>>; cwd?: string }
  | { transport: 'http' | 'sse'; url: string; headers: Readonly<Record<string, string>>; tls?: OutgoingTlsSettings };

export interface RestartPolicy {
  maxRestarts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  stableAfterMs: number;
  /** Stop after maxRestarts failures (a stdio child); a remote server is probed for as long as it stays away. */
  giveUp: boolean;
}

export interface UpstreamSettings {
  id: string;
  connection: UpstreamConnection;
  timeoutMs: number;
  connectTimeoutMs: number;
  include: readonly string[];
  exclude: readonly string[];
  /** Namespace prefix: `prefix`, else `replica_group`; the id when neither is set. */
  prefix?: string;
  replicaGroup?: string;
  idempotentTools: readonly string[];
  weights: ProviderWeights;
  restart: RestartPolicy;
  sessionMode: 'shared' | 'per-client';
  /** Tool pinning: what a changed tool definition does (security/pinning/). */
  pinning: PinSettings;
}

export interface DestinationSettings {
  /** Where its calls go: an MCP endpoint, the connection of a configured upstream, or a mesh peer that shares the tool. */
  target: { url: string; tls?: OutgoingTlsSettings } | { upstream: string } | { mesh: true };
  maxItems: number;
  maxBytes?: number;
  overflow?: 'reject' | 'drop-oldest-lowest-priority';
  /** A call not delivered within this long expires; 0: never. Absent: the queue's own default. */
  ttlMs?: number;
  /** Most calls in flight to it; absent: the queue's delivery_window. */
  window?: number;
  /** Strict order, one call at a time. */
  ordered?: boolean;
  /** JSON-RPC batches where the destination takes them (default true). */
  batch?: boolean;
}

export interface QueueSettings {
  /** Every destination by name: the configured ones, then one per upstream that none of them names. */
  destinations: Readonly<Record<string, DestinationSettings>>;
  /** Public tool name -> the destination its deferred calls wait for. */
  deferrableTools: Readonly<Record<string, string>>;
  /** Most calls waiting for a destination the config no longer lists (its calls are still in SQLite). */
  defaultMaxItems: number;
  maxItemBytes: number;
  backoff: { baseMs: number; maxMs: number; jitterPercent: number };
  compression: 'stored' | 'zstd' | 'lz4';
  batchItems: number;
  /** Calls in flight per destination. */
  window: number;
  keepResultsMs: number;
  diskSync: 'off-loop' | 'in-commit';
  idempotency: { windowMs: number; inDoubt: 'rerun' | 'refuse' };
  /** Time limit of one delivery to a URL destination. */
  deliveryTimeoutMs: number;
  /** The aggregator's separator, to take a namespace prefix off a public tool name. */
  separator: string;
}

/**
 * The enabled built-in plugins. Each gets its validated section whole: it is
 * the one reader of that section, whose keys are the plugin's documented
 * limits, so a camelCase copy would add a translation and nothing else.
 */
export interface PluginSettings {
  files?: PluginsConfig['files'];
  sqlite?: PluginsConfig['sqlite'];
  shell?: PluginsConfig['shell'];
}

/** Where a JWT's signing keys come from: a JWKS URL, or a JWKS file (absolute path). */
export type JwksSource = { url: string } | { file: string };

/** JWT bearer tokens from an OAuth 2.1 authorization server ([auth.jwt]). */
export interface JwtSettings {
  issuer: string;
  /** The `aud` every token must name: auth.resource. */
  audience: string;
  keys: JwksSource;
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  /** Fetched keys older than this are refreshed in the background. */
  keysMaxAgeMs: number;
  /** Least time between two fetches of the keys. */
  keysCooldownMs: number;
  /** Listed in the protected resource metadata. */
  authorizationServers: readonly string[];
}

/** Who may call ([auth]). Neither apiKeys nor jwt: nobody is asked (loopback, or allowUnauthenticated). */
export interface AuthSettings {
  /** The gateway's public MCP URL (auth.resource). */
  resource?: string;
  apiKeys: boolean;
  jwt?: JwtSettings;
  requiredScopes: readonly string[];
  publicMetrics: boolean;
  allowUnauthenticated: boolean;
}

export interface GatewaySettings {
  dataDir: string;
  /** The SQLite file of the offline queue. */
  databaseFile: string;
  http: HttpSettings;
  /** Time limit of one forwarded request, in ms. */
  requestTimeoutMs: number;
  router: RouterOptions;
  /** [power]: low power mode, sleep on idle, automatic low power (power/power.ts). */
  power: PowerSettings;
  aggregator: AggregatorSettings;
  upstreams: UpstreamSettings[];
  queue: QueueSettings;
  plugins: PluginSettings;
  /** tokenizer.json files by the name count_tokens takes (absolute paths). */
  tokenizers: Readonly<Record<string, string>>;
  auth: AuthSettings;
  /** Local and cloud models ([models]). */
  models: ModelSettings;
  /** [authorization]: absent, every principal may use everything (security/policy.ts). */
  authorization?: AuthorizationSettings;
  /** [rate_limits]: absent, no call is limited (security/rate-limit.ts). */
  rateLimits?: RateLimitSettings;
  /** [mesh]: absent while the mesh is off (host/src/mesh/). */
  mesh?: MeshSettings;
  /** security.use_tpm and its keys (security/tpm/). */
  tpm: TpmSettings;
  /** security.attestation_required: peers checked before they get calls; undefined when off. */
  peerAttestation?: PeerAttestationConfig;
  audit: AuditSettings;
  /** [analytics] and [ui] (ops/settings.ts). */
  ops: OpsSettings;
}

/** The default data directory: $MCP_EDGE_DATA_DIR, else the XDG data home. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MCP_EDGE_DATA_DIR) return resolve(env.MCP_EDGE_DATA_DIR);
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'mcp-edge');
}

const TLS_VERSIONS = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const;

function clientCertificates(caFile: string, mode: 'required' | 'optional', crlFile: string | undefined): NonNullable<ListenerTlsSettings['clientCertificates']> {
  return { caFile: resolve(caFile), mode, ...(crlFile !== undefined ? { crlFile: resolve(crlFile) } : {}) };
}

function resolveListenerTls(s: EdgeConfig['security']): ListenerTlsSettings | undefined {
  // The schema requires tls_key with tls_cert, and tls_cert for every other listener key.
  if (s.tls_cert === undefined || s.tls_key === undefined) return undefined;
  const caFile = s.tls_client_ca;
  return {
    certFile: resolve(s.tls_cert),
    keyFile: resolve(s.tls_key),
    ...(caFile !== undefined ? { clientCertificates: clientCertificates(caFile, s.tls_client_auth ?? 'required', s.tls_client_crl) } : {}),
    minVersion: TLS_VERSIONS[s.tls_min_version ?? '1.2'],
    handshakeTimeoutMs: s.tls_handshake_timeout_ms ?? 10_000,
  };
}

/** The TLS keys of an upstream or destination; undefined when none is set. */
function resolveOutgoingTls(t: { tls_ca?: string | undefined; tls_cert?: string | undefined; tls_key?: string | undefined }): OutgoingTlsSettings | undefined {
  const ca = t.tls_ca;
  const cert = t.tls_cert;
  const key = t.tls_key;
  if (ca === undefined && cert === undefined) return undefined;
  return {
    ...(ca !== undefined ? { caFile: resolve(ca) } : {}),
    // The schema requires tls_key with tls_cert.
    ...(cert !== undefined && key !== undefined ? { client: { certFile: resolve(cert), keyFile: resolve(key) } } : {}),
  };
}

function resolveHttp(g: EdgeConfig['gateway'], security: EdgeConfig['security']): HttpSettings {
  const bind = g.bind_address;
  const tls = resolveListenerTls(security);
  return {
    bindAddress: bind,
    host: bind.slice(0, bind.lastIndexOf(':')).replace(/^\[|\]$/g, ''),
    port: Number(bind.slice(bind.lastIndexOf(':') + 1)),
    maxBodyBytes: g.max_body_bytes,
    maxConnections: g.max_connections,
    maxConnectionsPerAddress: g.max_connections_per_address,
    headerTimeoutMs: g.header_timeout_ms,
    bodyTimeoutMs: g.body_timeout_ms,
    sessions: {
      maxSessions: g.max_connections,
      perPrincipal: g.max_sessions_per_principal,
      perAddress: g.max_sessions_per_address,
      unusedMs: g.session_unused_seconds * 1000,
      idleMs: g.session_idle_seconds * 1000,
    },
    allowedHosts: g.allowed_hosts,
    allowedOrigins: g.allowed_origins,
    streams: {
      limits: { maxEvents: g.event_store_max_events, maxBytes: g.event_store_max_bytes },
      streamAfterMs: g.stream_after_ms,
    },
    ...(tls ? { tls } : {}),
  };
}

function resolveRouter(r: EdgeConfig['routing']): RouterOptions {
  return {
    failureThreshold: r.failure_threshold,
    openMs: r.open_ms,
    maxOpenMs: Math.max(r.max_open_ms, r.open_ms),
    latencyAlpha: r.latency_alpha,
    costWeightMs: r.cost_weight_ms,
  };
}

function resolveConnection(u: UpstreamConfig): UpstreamConnection {
  // The schema requires command for stdio and url otherwise, and refuses the other transport's keys.
  if (u.transport === 'stdio') return { transport: 'stdio', command: u.command ?? '', args: u.args, env: u.env, ...(u.cwd ? { cwd: u.cwd } : {}) };
  const tls = resolveOutgoingTls(u);
  return { transport: u.transport, url: u.url ?? '', headers: u.headers, ...(tls ? { tls } : {}) };
}

function resolveUpstream(u: UpstreamConfig): UpstreamSettings {
  const prefix = u.prefix ?? u.replica_group;
  const r = u.restart;
  return {
    id: u.id,
    connection: resolveConnection(u),
    timeoutMs: u.timeout_ms,
    connectTimeoutMs: u.connect_timeout_ms,
    include: u.include,
    exclude: u.exclude,
    ...(prefix ? { prefix } : {}),
    ...(u.replica_group ? { replicaGroup: u.replica_group } : {}),
    idempotentTools: u.idempotent_tools,
    weights: { localityMs: u.locality_ms, cost: u.cost, energy: u.energy },
    restart: { maxRestarts: r.max_restarts, initialBackoffMs: r.initial_backoff_ms, maxBackoffMs: r.max_backoff_ms, stableAfterMs: r.stable_after_ms, giveUp: u.transport === 'stdio' },
    sessionMode: u.session_mode,
    pinning: { mode: u.pinning, holdNewTools: u.hold_new_tools },
  };
}

/** Configured destinations, then one per upstream that none names (so its marked tools have somewhere to wait). */
function resolveDestinations(config: EdgeConfig): Record<string, DestinationSettings> {
  const o = config.offline;
  const out: Record<string, DestinationSettings> = {};
  const named = new Set<string>();
  for (const [name, d] of Object.entries(o.destinations)) {
    const tls = resolveOutgoingTls(d);
    const target = d.mesh ? { mesh: true as const } : d.url !== undefined ? { url: d.url, ...(tls ? { tls } : {}) } : { upstream: d.upstream ?? '' };
    if (d.upstream !== undefined) named.add(d.upstream);
    out[name] = { target, maxItems: d.max_items ?? o.queue_size, maxBytes: d.max_bytes, overflow: d.overflow, ttlMs: d.ttl_seconds * 1000, ordered: d.ordered, batch: d.batch, ...(d.delivery_window !== undefined ? { window: d.delivery_window } : {}) };
  }
  for (const u of config.upstreams) {
    if (named.has(u.id)) continue;
    out[Object.hasOwn(out, u.id) ? `upstream:${u.id}` : u.id] = { target: { upstream: u.id }, maxItems: o.queue_size };
  }
  return out;
}

function resolveQueue(config: EdgeConfig): QueueSettings {
  const o = config.offline;
  return {
    destinations: resolveDestinations(config),
    deferrableTools: o.deferrable_tools,
    defaultMaxItems: o.queue_size,
    maxItemBytes: o.max_item_bytes,
    backoff: { baseMs: o.retry_base_ms, maxMs: o.sync_interval_seconds * 1000, jitterPercent: o.retry_jitter_percent },
    compression: o.compression === 'none' ? 'stored' : o.compression,
    batchItems: o.batch_size,
    window: o.delivery_window,
    keepResultsMs: o.keep_results_seconds * 1000,
    diskSync: o.disk_sync,
    idempotency: { windowMs: o.idempotency_window_seconds * 1000, inDoubt: o.idempotency_in_doubt },
    deliveryTimeoutMs: config.gateway.request_timeout_ms,
    separator: config.aggregation.separator,
  };
}

function resolvePlugins(p: EdgeConfig['plugins']): PluginSettings {
  return {
    ...(p.files.enabled ? { files: p.files } : {}),
    ...(p.sqlite.enabled ? { sqlite: p.sqlite } : {}),
    ...(p.shell.enabled ? { shell: p.shell } : {}),
  };
}

function resolveJwt(j: NonNullable<EdgeConfig['auth']['jwt']>, audience: string): JwtSettings {
  // The schema requires exactly one of jwks_url and jwks_file.
  const { jwks_url: url, jwks_file: file } = j;
  const keys: JwksSource = url !== undefined ? { url } : { file: resolve(file ?? '') };
  return {
    issuer: j.issuer,
    audience,
    keys,
    algorithms: j.algorithms,
    clockToleranceSeconds: j.clock_tolerance_seconds,
    keysMaxAgeMs: j.jwks_max_age_seconds * 1000,
    keysCooldownMs: j.jwks_cooldown_seconds * 1000,
    authorizationServers: j.authorization_servers ?? [j.issuer],
  };
}

function resolveAuth(a: EdgeConfig['auth']): AuthSettings {
  const resource = a.resource;
  // The schema requires auth.resource whenever auth.jwt is set.
  const jwt = a.jwt ? resolveJwt(a.jwt, resource ?? '') : undefined;
  return {
    ...(resource !== undefined ? { resource } : {}),
    apiKeys: a.api_keys,
    ...(jwt ? { jwt } : {}),
    requiredScopes: a.required_scopes,
    publicMetrics: a.public_metrics,
    allowUnauthenticated: a.allow_unauthenticated,
  };
}

/** `{ [key]: value }`, or nothing when value is undefined (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [k in K]: V });
}

function resolveAudit(a: EdgeConfig['audit']): AuditSettings {
  return {
    enabled: a.enabled,
    recordArguments: a.record_arguments,
    ...(a.retention_days > 0 ? { retentionDays: a.retention_days } : {}),
    ...(a.max_rows !== undefined ? { maxRows: a.max_rows } : {}),
    flushIntervalMs: a.flush_interval_ms,
    batchMax: a.batch_max,
    maxPending: a.max_pending,
    onOverflow: a.on_overflow,
  };
}

/** Turns a validated config into the options every part of the gateway takes. Relative paths resolve against the working directory. */
export function resolveSettings(config: EdgeConfig, env: NodeJS.ProcessEnv = process.env): GatewaySettings {
  const dataDir = config.gateway.data_dir ? resolve(config.gateway.data_dir) : defaultDataDir(env);
  const persistence = config.offline.persistence_path;
  return {
    dataDir,
    databaseFile: persistence ? resolve(persistence) : join(dataDir, DATABASE_FILE),
    http: resolveHttp(config.gateway, config.security),
    requestTimeoutMs: config.gateway.request_timeout_ms,
    router: resolveRouter(config.routing),
    aggregator: { maxAttempts: config.routing.max_attempts, naming: { prefixMode: config.aggregation.prefix_mode, separator: config.aggregation.separator } },
    upstreams: config.upstreams.map(resolveUpstream),
    queue: resolveQueue(config),
    plugins: resolvePlugins(config.plugins),
    tokenizers: Object.fromEntries(Object.entries(config.tokenizers).map(([name, path]) => [name, resolve(path)])),
    auth: resolveAuth(config.auth),
    models: resolveModels(config.models, env),
    ...optional('authorization', resolveAuthorization(config.authorization)),
    ...optional('rateLimits', resolveRateLimits(config.rate_limits)),
    ...optional('mesh', resolveMesh(config.mesh, dataDir)),
    power: resolvePower(config.power),
    tpm: resolveTpm(config.security),
    ...optional('peerAttestation', resolvePeerAttestation(config.security)),
    audit: resolveAudit(config.audit),
    ops: resolveOps(config),
  };
}

function resolvePower(p: EdgeConfig['power']): PowerSettings {
  const a = p.auto;
  const auto = a
    ? {
        ...(a.battery_below_percent !== undefined ? { batteryBelowPercent: a.battery_below_percent } : {}),
        ...(a.temperature_above_c !== undefined ? { temperatureAboveC: a.temperature_above_c } : {}),
        hysteresis: a.hysteresis,
        pollMs: a.poll_seconds * 1000,
        sysfsRoot: resolve(a.sysfs_root),
      }
    : undefined;
  return { lowPowerMode: p.low_power_mode, sleepOnIdleMs: p.sleep_on_idle_ms, ...(auto ? { auto } : {}) };
}

/** Answers are at most this many tokens unless [models] max_tokens says otherwise. */
const DEFAULT_MAX_TOKENS = 256;

/** [models] cloud_*: the OpenAI-compatible endpoint and how to talk to it. */
function resolveCloud(endpoint: string, m: EdgeConfig['models']): NonNullable<ModelSettings['cloud']> {
  return {
    endpoint,
    ...(m.cloud_api_key !== undefined ? { apiKey: m.cloud_api_key } : {}),
    ...(m.cloud_model !== undefined ? { model: m.cloud_model } : {}),
    ...(m.cloud_timeout_ms !== undefined ? { timeoutMs: m.cloud_timeout_ms } : {}),
  };
}

/** [models]: model_path wins over local_model (a name in the model cache). */
function resolveModels(m: EdgeConfig['models'], env: NodeJS.ProcessEnv): ModelSettings {
  const cached = m.local_model !== undefined ? cachedModelPath(m.local_model, env) : undefined;
  const modelPath = m.model_path !== undefined ? resolve(m.model_path) : cached;
  const onnx = modelPath !== undefined && /\.onnx$/i.test(modelPath);
  // Passed on whatever the model is: createModelService refuses one beside a GGUF model rather than ignore it.
  const tokenizerPath = m.tokenizer_path !== undefined ? resolve(m.tokenizer_path) : onnx ? join(dirname(modelPath), 'tokenizer.json') : undefined;
  return {
    ...(modelPath !== undefined ? { modelPath } : {}),
    ...(tokenizerPath !== undefined ? { tokenizerPath } : {}),
    ...(m.max_memory_mb !== undefined ? { maxMemoryMb: m.max_memory_mb } : {}),
    maxTokens: m.max_tokens ?? DEFAULT_MAX_TOKENS,
    ...(m.cloud_endpoint !== undefined ? { cloud: resolveCloud(m.cloud_endpoint, m) } : {}),
    ...(m.fallback_threshold_ms !== undefined ? { fallbackThresholdMs: m.fallback_threshold_ms } : {}),
    ...(m.context_size !== undefined ? { contextSize: m.context_size } : {}),
    ...(m.threads !== undefined ? { threads: m.threads } : {}),
    answerSampling: m.answer_sampling ?? 'when-client-cannot',
    generateTool: m.generate_tool ?? false,
    ...resolvePrices(m),
  };
}

/** [models] *_cost_per_1k_*: absent when none is set (answers then carry no cost). */
function resolvePrices(m: EdgeConfig['models']): Pick<ModelSettings, 'prices'> {
  const { cloud_cost_per_1k_prompt_tokens: cloudPrompt, cloud_cost_per_1k_completion_tokens: cloudCompletion, local_cost_per_1k_tokens: local } = m;
  if (cloudPrompt === undefined && cloudCompletion === undefined && local === undefined) return {};
  return { prices: { cloudPromptPer1k: cloudPrompt ?? 0, cloudCompletionPer1k: cloudCompletion ?? 0, localPer1k: local ?? 0 } };
}
