// The mcp-edge.toml schema. Keys are the file's own snake_case names, in TOML and
// in the embedding API alike, so one page of docs serves both. Every section is
// optional; the defaults are a safe gateway on 127.0.0.1:8080.
import { parseTcti } from '../security/tpm/tcti.js';
import { headerProblem } from '../protocol/http-header.js';
import { z } from 'zod';
import { meshSchema } from './mesh-schema.js';
import { analyticsSchema, logSchema, uiSchema } from '../ops/schema.js';
import { TIKTOKEN_ENCODINGS } from '../tokenizer/vocabularies.js';
import { authorizationSchema, rateLimitsSchema } from './policy-schema.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected "host:port", for example "127.0.0.1:8080"')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');

const compression = z.enum(['none', 'zstd', 'lz4']);

/** `v` as a URL, or undefined (refinements run even after .url() failed). */
const urlOf = (v: string): URL | undefined => (URL.canParse(v) ? new URL(v) : undefined);

/** A URL the gateway sends HTTP requests to: .url() alone takes any scheme (ftp:, file:), which could only fail later, at every try. */
const httpUrl = (what: string) => z.string().url().refine((v) => /^https?:$/.test(urlOf(v)?.protocol ?? ''), `${what} is an http:// or https:// URL`);

export const gatewaySchema = z
  .object({
    /** Address to listen on. Loopback by default: exposing the gateway is a choice. */
    bind_address: hostPort.default('127.0.0.1:8080'),
    /**
     * Most concurrent HTTP connections, and most MCP sessions. When full, a
     * newcomer takes the place of a connection that sent nothing yet, is
     * still trickling its body in, or idles between requests, and of the
     * idlest session.
     */
    max_connections: z.number().int().min(1).max(100_000).default(100),
    /**
     * Most of those connections from one remote address (loopback is not
     * counted); past it, that address's own idlest connection gives way.
     * Raise it when a proxy on another machine fronts the gateway.
     */
    max_connections_per_address: z.number().int().min(1).max(100_000).default(50),
    /** A request's headers must arrive within this many ms of the connection (or the previous request). */
    header_timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
    /** A request's headers and body must arrive within this many ms; a body trickling in longer is answered 408. */
    body_timeout_ms: z.number().int().min(100).max(3_600_000).default(30_000),
    /** Most MCP sessions one authenticated principal may hold (not counted: the loopback principal of a gateway without auth). */
    max_sessions_per_principal: z.number().int().min(1).max(100_000).default(25),
    /** Most MCP sessions from one remote address (not counted: loopback addresses). */
    max_sessions_per_address: z.number().int().min(1).max(100_000).default(25),
    /** An MCP session that sent no request after initialize is closed after this many seconds (0: never). */
    session_unused_seconds: z.number().int().min(0).max(86_400).default(60),
    /** Per-request time limit for tool calls, in ms. */
    request_timeout_ms: z.number().int().min(1).max(3_600_000).default(30_000),
    /**
     * An MCP session with no request for this long, no call in flight and no
     * open GET stream is closed (with what it holds: per-client upstream
     * sessions). 0 keeps sessions until the client ends them.
     */
    session_idle_seconds: z.number().int().min(0).max(30 * 86_400).default(1800),
    /** Largest accepted client message, in bytes: an HTTP request body, or a line of `mcp-edge stdio`. */
    max_body_bytes: z.number().int().min(1024).max(1 << 30).default(4 * 1024 * 1024),
    /**
     * Events of SSE answers each session keeps, so a client whose connection
     * dropped can resume with Last-Event-ID; past it the oldest go first.
     */
    event_store_max_events: z.number().int().min(1).max(100_000).default(256),
    /** Bytes of SSE text each session keeps for resumes (with max_connections, the most the stores can hold). */
    event_store_max_bytes: z.number().int().min(1024).max(1 << 30).default(1024 * 1024),
    /**
     * A call from a client of protocol 2025-11-25 or later still unanswered
     * after this many ms is answered as an SSE stream that starts with a
     * priming event, so the client can resume it if its link drops. 0: only
     * when progress or another message comes first.
     */
    stream_after_ms: z.number().int().min(0).max(3_600_000).default(1000),
    /** Where the gateway keeps its SQLite database and state. */
    data_dir: z.string().min(1).optional(),
    /** Extra Host header values to accept, beyond the bind address and localhost. */
    allowed_hosts: z.array(z.string().min(1)).default([]),
    /** Browser origins allowed to call the gateway (exact match, e.g. "https://app.example"). */
    allowed_origins: z.array(z.string().url()).default([]),
  })
  .strict();

// Sections and keys that nothing implements yet stay in the schema, typed and
// without defaults, so that a value is checked like any other and then refused
// by name (config/unsupported.ts says why and what to do): nothing a user
// writes is silently ignored. Each gets its defaults back when it is built.

export const modelsSchema = z
  .object({
    local_model: z.string().optional(),
    model_path: z.string().optional(),
    /** The tokenizer.json of an ONNX model (model_path ending in .onnx); default: tokenizer.json beside it. */
    tokenizer_path: z.string().optional(),
    max_memory_mb: z.number().int().min(1).optional(),
    max_tokens: z.number().int().min(1).optional(),
    cloud_endpoint: httpUrl('the cloud endpoint').optional(),
    cloud_api_key: z.string().optional(),
    /** The model name sent to the cloud endpoint ("default" when absent). */
    cloud_model: z.string().min(1).optional(),
    /** Longest wait for the cloud's response headers, and between two chunks of its stream. */
    cloud_timeout_ms: z.number().int().min(1).optional(),
    fallback_threshold_ms: z.number().int().min(0).optional(),
    /** Tokens (prompt + answer) the local context holds; at most what the model was trained on. */
    context_size: z.number().int().min(64).optional(),
    /** CPU threads the local model uses; all cores when absent. */
    threads: z.number().int().min(1).optional(),
    /**
     * Who answers an upstream's sampling/createMessage: the calling client when
     * it can sample, else the gateway's models ("when-client-cannot"); always
     * the gateway's models ("always"); never them ("never": a client without
     * sampling gets a refusal). Default "when-client-cannot".
     */
    answer_sampling: z.enum(['when-client-cannot', 'always', 'never']).optional(),
    /** Offer the `generate` MCP tool (a prompt answered by the model router). Default false. */
    generate_tool: z.boolean().optional(),
    /** The cloud's price of 1000 prompt tokens, in your own unit (cents, say); weighed when a caller puts cost first. Default 0. */
    cloud_cost_per_1k_prompt_tokens: z.number().min(0).finite().optional(),
    /** The cloud's price of 1000 generated tokens. Default 0. */
    cloud_cost_per_1k_completion_tokens: z.number().min(0).finite().optional(),
    /** The local model's cost of 1000 tokens, prompt or generated (energy, wear), in the same unit. Default 0. */
    local_cost_per_1k_tokens: z.number().min(0).finite().optional(),
  })
  .strict();

/**
 * TLS keys of an outgoing connection (an https:// upstream or queue
 * destination): the CA bundle that verifies the server, and the client
 * certificate this gateway presents to it. Paths to PEM files, re-read when
 * they change.
 */
const outgoingTlsKeys = {
  /** PEM CA bundle that verifies the server's certificate, instead of the system's roots. */
  tls_ca: z.string().min(1).optional(),
  /** PEM certificate (chain) this gateway presents as its client certificate; with tls_key. */
  tls_cert: z.string().min(1).optional(),
  /** PEM private key of tls_cert (unencrypted; readable only by the gateway's user). */
  tls_key: z.string().min(1).optional(),
};

type OutgoingTlsInput = { tls_ca?: string | undefined; tls_cert?: string | undefined; tls_key?: string | undefined; url?: string | undefined };

/** Refuses outgoing TLS keys that would be ignored: a certificate without its key, or any of them on a URL that is not https. */
function checkOutgoingTls(v: OutgoingTlsInput, ctx: z.RefinementCtx): void {
  if ((v.tls_cert === undefined) !== (v.tls_key === undefined)) {
    ctx.addIssue({ code: 'custom', path: [v.tls_cert === undefined ? 'tls_cert' : 'tls_key'], message: 'tls_cert and tls_key go together: the client certificate and its private key' });
  }
  const set = (['tls_ca', 'tls_cert', 'tls_key'] as const).filter((k) => v[k] !== undefined);
  if (set.length > 0 && v.url !== undefined && !v.url.toLowerCase().startsWith('https:')) {
    for (const key of set) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies only to an https:// url; use https, or remove it` });
  }
}

/**
 * One place deferred calls go: an MCP server at a URL (Streamable HTTP; a
 * peer mcp-edge, say), a configured upstream (stdio or HTTP), whose
 * provider then carries the calls, or the mesh (whichever peer shares the
 * tool when it is back). Exactly one of `url`, `upstream` and `mesh`.
 */
export const queueDestinationSchema = z
  .object({
    /** Its Streamable HTTP MCP endpoint, e.g. "http://10.0.0.2:8080/mcp". */
    url: httpUrl("a destination's url").optional(),
    /** The id of an entry in [[upstreams]]: calls go through that upstream's connection. */
    upstream: z.string().min(1).optional(),
    /** true: calls go over the mesh ([mesh]) to a peer that shares the tool; they wait while none does. */
    mesh: z.boolean().optional(),
    /** Most calls waiting for it; offline.queue_size when absent. */
    max_items: z.number().int().min(1).optional(),
    /** Most payload bytes waiting for it. */
    max_bytes: z.number().int().min(1).default(256 * 1024 * 1024),
    /** When full: refuse new calls, or drop the oldest of the lowest priority. */
    overflow: z.enum(['reject', 'drop-oldest-lowest-priority']).default('reject'),
    /** A call not delivered within this many seconds expires (and is reported); 0: never. */
    ttl_seconds: z.number().int().min(0).default(86_400),
    /** Most calls in flight to it while delivering (an adaptive window's ceiling); offline.delivery_window when absent. */
    delivery_window: z.number().int().min(1).max(256).optional(),
    /** Strict order: one call at a time, the next only when the previous is settled, whatever the window. */
    ordered: z.boolean().default(false),
    /** Several calls per POST as a JSON-RPC batch where the destination takes them (MCP 2025-03-26); false: one call per request. */
    batch: z.boolean().default(true),
    ...outgoingTlsKeys,
  })
  .strict()
  .refine((d) => [d.url, d.upstream, d.mesh || undefined].filter((t) => t !== undefined).length === 1, { message: 'a destination has exactly one of url, upstream and mesh' })
  .superRefine((d, ctx) => {
    if (d.upstream !== undefined || d.mesh) {
      const via = d.mesh ? 'a mesh destination (its calls use the mesh connection)' : "an upstream destination (its calls use the upstream's connection); set it on the upstream";
      for (const key of ['tls_ca', 'tls_cert', 'tls_key'] as const) {
        if (d[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} does not apply to ${via}` });
      }
    }
    checkOutgoingTls(d, ctx);
  });

export const offlineSchema = z
  .object({
    /** Most calls waiting in the offline queue, per destination. */
    queue_size: z.number().int().min(1).default(1000),
    /**
     * The SQLite file that holds the offline queue (its calls, their task
     * results, the idempotency memory); <data_dir>/mcp-edge.db by default.
     */
    persistence_path: z.string().min(1).optional(),
    /** Longest wait between retries of an unreachable destination (the backoff's cap). */
    sync_interval_seconds: z.number().int().min(1).default(300),
    compression: compression.default('zstd'),
    /** Destinations of deferred calls, by name. */
    destinations: z.record(z.string().min(1).max(256), queueDestinationSchema).default({}),
    /** Tools that may be deferred: tool name -> destination name. */
    deferrable_tools: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/), z.string()).default({}),
    /** Largest payload of one deferred call, in bytes. */
    max_item_bytes: z.number().int().min(1).max(1 << 30).default(4 * 1024 * 1024),
    /** Calls sent per batch and destination. */
    batch_size: z.number().int().min(1).max(10_000).default(64),
    /** Calls in flight per destination while syncing; 1 keeps strict delivery order. */
    delivery_window: z.number().int().min(1).max(256).default(1),
    /** First retry delay after a failed delivery, in ms (doubles each time). */
    retry_base_ms: z.number().int().min(1).default(1000),
    /** Share of each retry delay drawn at random, 0-100. */
    retry_jitter_percent: z.number().int().min(0).max(100).default(50),
    /** How long finished tasks and their results stay readable, in seconds. */
    keep_results_seconds: z.number().int().min(1).default(86_400),
    /**
     * How a queued call reaches the disk before it is acknowledged: "off-loop"
     * fdatasyncs the WAL on the thread pool after COMMIT (the event loop keeps
     * serving meanwhile); "in-commit" lets SQLite sync inside COMMIT. Both
     * acknowledge only what is on disk.
     */
    disk_sync: z.enum(['off-loop', 'in-commit']).default('off-loop'),
    /**
     * As a destination, when a resend finds its call started but never
     * finished (this mcp-edge died in between): "rerun" runs it again (at
     * least once); "refuse" answers "outcome unknown" and does not (at most
     * once; costs one more fsync per keyed call). See host/src/queue/idempotency.ts.
     */
    idempotency_in_doubt: z.enum(['rerun', 'refuse']).default('rerun'),
    /** As a destination: how long to remember idempotency keys and first results, in seconds. */
    idempotency_window_seconds: z.number().int().min(1).default(86_400),
  })
  .strict()
  .refine((o) => Object.values(o.deferrable_tools).every((d) => Object.hasOwn(o.destinations, d)), {
    message: 'every deferrable tool must name a destination listed in offline.destinations',
    path: ['deferrable_tools'],
  });

/**
 * The HTTPS listener. With tls_cert and tls_key the gateway serves HTTPS
 * only (TLS 1.2 or newer) on gateway.bind_address; the files are re-read
 * when they change and on SIGHUP. With tls_client_ca it asks for client
 * certificates (mTLS): a verified one is the principal "cert:<sha256>".
 */
export const securitySchema = z
  .object({
    /** Open the TPM at start, measure the gateway into PCR 23 and serve quotes (/v1/attestation/*). See docs/tpm.md. */
    use_tpm: z.boolean().optional(),
    /** The TPM: "device:/dev/tpmrm0" (default) or "swtpm:host=127.0.0.1,port=2321". */
    tpm_device: z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        if (value === undefined) return;
        try {
          parseTcti(value);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    /** The PCRs a quote covers besides the gateway's own (23); default 0-7. */
    tpm_pcrs: z.array(z.number().int().min(0).max(22)).min(1).max(23).optional(),
    /** How long one TPM command may take, ms (default 120000): past it the command fails and the TPM is not used until it answers. */
    tpm_command_timeout_ms: z.number().int().min(1000).max(3_600_000).optional(),
    /**
     * Queue destinations at a URL (other mcp-edge gateways with use_tpm) get calls, and mesh
     * peers get calls and are served, only after their TPM quote verifies, again every
     * attestation_interval_seconds. See docs/tpm.md.
     */
    attestation_required: z.boolean().optional(),
    /** How long a peer's verified quote admits it, in seconds (default 300). */
    attestation_interval_seconds: z.number().int().min(1).max(86_400).optional(),
    /** What a peer must have measured: trusted code and config digests (hex), and PCR values by number. Unset parts are not checked. */
    attestation_policy: z
      .object({
        code: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/)).optional(),
        config: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/)).optional(),
        pcrs: z.record(z.string().regex(/^(1?[0-9]|2[0-3])$/), z.string().regex(/^[0-9a-fA-F]{64}$/)).optional(),
      })
      .strict()
      .optional(),
    /** PEM CA bundle a peer's EK certificate must be signed by (the TPM manufacturers' CAs). Unset: the certificate is only matched to the EK. */
    attestation_ek_ca: z.string().min(1).optional(),
    /** PEM certificate chain the gateway serves HTTPS with: its own certificate first, then intermediates. */
    tls_cert: z.string().min(1).optional(),
    /** PEM private key of tls_cert (unencrypted; readable only by the gateway's user). */
    tls_key: z.string().min(1).optional(),
    /** PEM CA bundle: client certificates it issued are accepted (mTLS). */
    tls_client_ca: z.string().min(1).optional(),
    /** PEM certificate revocation list(s) of the client CA: a revoked client certificate is refused like an unknown one. */
    tls_client_crl: z.string().min(1).optional(),
    /**
     * With tls_client_ca. "required" (default): a connection without a valid
     * client certificate fails its handshake. "optional": a client without one
     * goes on to the other authentication; one with an invalid one is refused.
     */
    tls_client_auth: z.enum(['required', 'optional']).optional(),
    /** Oldest TLS version accepted: "1.2" (default) or "1.3". TLS 1.3 is preferred whenever the client has it. */
    tls_min_version: z.enum(['1.2', '1.3']).optional(),
    /** A connection whose TLS handshake has not finished after this many ms is closed (default 10000). */
    tls_handshake_timeout_ms: z.number().int().min(100).max(120_000).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.tls_cert === undefined) !== (s.tls_key === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.tls_cert === undefined ? 'tls_cert' : 'tls_key'], message: 'tls_cert and tls_key go together: set both to serve HTTPS' });
    }
    if (s.tls_cert === undefined) {
      for (const key of ['tls_client_ca', 'tls_client_crl', 'tls_client_auth', 'tls_min_version', 'tls_handshake_timeout_ms'] as const) {
        if (s[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to the HTTPS listener: set tls_cert and tls_key too` });
      }
    } else {
      for (const key of ['tls_client_auth', 'tls_client_crl'] as const) {
        if (s[key] !== undefined && s.tls_client_ca === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs tls_client_ca, the CA bundle that verifies client certificates` });
      }
    }
  });

// Authentication ([auth]). With none of api_keys and jwt set, callers are not
// asked who they are: allowed on a loopback bind address only (or with
// allow_unauthenticated). Both may be on: a bearer token that starts with
// "mcpe_" is an API key, any other is a JWT.

/** Signature algorithms a JWKS (public keys) can verify; HS* (shared secrets) are never accepted. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** An OAuth scope token (RFC 6749 section 3.3): printable ASCII but space, double quote and backslash. */
const scope = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'a scope is 1-128 printable ASCII characters, without spaces, quotes or backslashes');

/** An http(s) URL to fetch keys from: https, or plain http only on a loopback address (a test IdP on this machine). */
const jwksUrl = z
  .string()
  .url()
  .refine((v) => {
    const url = urlOf(v);
    return url?.protocol === 'https:' || (url?.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname));
  }, 'the JWKS must be fetched over https (plain http only from 127.0.0.1 or localhost)');

export const jwtSchema = z
  .object({
    /** The authorization server's issuer identifier: tokens must carry exactly this `iss`. */
    issuer: z.string().url(),
    /** Where the issuer publishes its signing keys (a JWKS). Exactly one of jwks_url and jwks_file. */
    jwks_url: jwksUrl.optional(),
    /** A JWKS file instead of a URL: read at start, and again when a token names a key it lacks. */
    jwks_file: z.string().min(1).optional(),
    /** Accepted signature algorithms (`alg`); anything else is refused. */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
    /** Leeway for exp and nbf against clock skew between the gateway and the issuer, in seconds. */
    clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
    /** Fetched keys are refreshed (in the background) once they are this old, in seconds. */
    jwks_max_age_seconds: z.number().int().min(1).max(7 * 86_400).default(600),
    /** Least time between two fetches: a token naming an unknown key fetches again only after it (rotation without a fetch storm). */
    jwks_cooldown_seconds: z.number().int().min(0).max(3600).default(30),
    /** Authorization servers listed in the protected resource metadata; the issuer when absent. */
    authorization_servers: z.array(z.string().url()).min(1).optional(),
  })
  .strict()
  .refine((j) => (j.jwks_url === undefined) !== (j.jwks_file === undefined), { message: 'set exactly one of jwks_url and jwks_file' });

/** The gateway's public URL of /mcp: absolute http(s), no fragment (RFC 8707 resource indicator). */
const resourceUri = z
  .string()
  .url()
  .refine((v) => /^https?:$/.test(urlOf(v)?.protocol ?? '') && !v.includes('#'), 'the resource is the absolute http(s) URL clients use for /mcp, without a fragment');

export const authSchema = z
  .object({
    /**
     * The gateway's public MCP URL, e.g. "https://pi.local:8443/mcp": the
     * audience every JWT must name (RFC 8707) and the resource of the
     * protected resource metadata. Required with [auth.jwt].
     */
    resource: resourceUri.optional(),
    /** Accept API keys (`mcp-edge keys create`; stored hashed in the gateway's database). */
    api_keys: z.boolean().default(false),
    /** Accept JWT access tokens from an OAuth 2.1 authorization server. */
    jwt: jwtSchema.optional(),
    /** Scopes every credential must hold for any non-public route; 403 insufficient_scope otherwise. */
    required_scopes: z.array(scope).default([]),
    /** Serve GET /metrics without credentials (a scraper on a trusted network). */
    public_metrics: z.boolean().default(false),
    /** Serve a non-loopback bind address with no authentication at all; refused unless set, and warned at every start. */
    allow_unauthenticated: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.jwt && a.resource === undefined) {
      ctx.addIssue({ code: 'custom', path: ['resource'], message: 'set auth.resource (the public URL of /mcp, e.g. "https://pi.local:8443/mcp"): JWTs must be issued for it' });
    }
    if (a.allow_unauthenticated && (a.api_keys || a.jwt)) {
      ctx.addIssue({ code: 'custom', path: ['allow_unauthenticated'], message: 'authentication is configured, so nothing is served unauthenticated; remove allow_unauthenticated' });
    }
  });

// The audit log ([audit], docs/security.md "Audit log").
export const auditSchema = z
  .object({
    /** Record every tools/call, resource read, prompt get, refusal, denial and admin action. */
    enabled: z.boolean().default(true),
    /** Store each call's arguments (canonical JSON) beside their SHA-256; off: the digest only. */
    record_arguments: z.boolean().default(false),
    /** Prune rows older than this many days (0 keeps them whatever their age). */
    retention_days: z.number().int().min(0).default(90),
    /** Keep at most this many rows, pruning the oldest (absent: no limit by count). */
    max_rows: z.number().int().min(1).optional(),
    /**
     * The longest a record waits before its batch is written and flushed to disk, ms. Each batch
     * costs a fixed ~0.3-0.5 ms of CPU (a wake of the writer thread, a transaction, a WAL flush, a
     * reply): at 5 ms that was ~30 µs per call at 3,000 calls/s on 2 cores; 50 ms makes it ~3 µs,
     * for a kill -9 losing up to 50 ms of records instead of 5 (bench/auth/README.md).
     */
    flush_interval_ms: z.number().int().min(1).max(60_000).default(50),
    /** Most records written in one transaction (at a few µs each, 500 keep a catching-up batch to a few ms of the event loop). */
    batch_max: z.number().int().min(1).max(100_000).default(500),
    /** Most records waiting in memory for the writer; past it, on_overflow decides. */
    max_pending: z.number().int().min(1).max(10_000_000).default(100_000),
    /** When the writer cannot keep up: "drop" records (counted, and a gap row in the chain) or "refuse" the calls. */
    on_overflow: z.enum(['drop', 'refuse']).default('drop'),
  })
  .strict();

// OpenTelemetry export ([telemetry], docs/operations.md "Traces and metrics").
export const telemetrySchema = z
  .object({
    /** Export traces and metrics over OTLP/HTTP to `endpoints`. */
    enabled: z.boolean().optional(),
    /** How often spans and metrics are sent, and a waiting backlog retried. */
    export_interval_seconds: z.number().int().min(1).max(3600).optional(),
    /** How batches waiting in the outage buffer are stored (lz4 by default). */
    compression: compression.optional(),
    /** OTLP/HTTP collector base URLs, e.g. "http://collector:4318" (/v1/traces and /v1/metrics are appended). */
    endpoints: z.array(httpUrl('an OTLP/HTTP endpoint')).optional(),
    /** Most bytes of compressed batches kept while the collectors are unreachable; the oldest go first. */
    buffer_max_bytes: z.number().int().min(65_536).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.enabled && !t.endpoints?.length) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'list at least one OTLP/HTTP collector URL (e.g. "http://127.0.0.1:4318") when telemetry.enabled = true' });
  });

/** power.auto: low power by itself on battery or heat (Linux sysfs); see docs/power.md. */
export const powerAutoSchema = z
  .object({
    /** Low power while a discharging battery is below this percent. */
    battery_below_percent: z.number().min(1).max(100).optional(),
    /** Low power while a thermal zone is above this temperature (C). */
    temperature_above_c: z.number().min(0).max(150).optional(),
    /** Back to normal only this far past the threshold (percent points, degrees C). */
    hysteresis: z.number().min(0).max(50).default(5),
    /** How often the sensors are read. */
    poll_seconds: z.number().int().min(1).max(3600).default(30),
    /** Where sysfs is (tests use a fake tree). */
    sysfs_root: z.string().min(1).default('/sys'),
  })
  .strict()
  .refine((a) => a.battery_below_percent !== undefined || a.temperature_above_c !== undefined, {
    message: 'set battery_below_percent or temperature_above_c (or both) in power.auto, or remove power.auto',
  });

export const powerSchema = z
  .object({
    low_power_mode: z.boolean().default(false),
    cpu_throttle_percent: z.number().int().min(1).max(100).optional(),
    gpu_enabled: z.boolean().optional(),
    /** After this long without calls the gateway sleeps (0: never). */
    sleep_on_idle_ms: z.number().int().min(0).default(0),
    auto: powerAutoSchema.optional(),
  })
  .strict();

// Built-in plugins: each off unless `enabled = true`, each confined to what the
// operator lists (folders, database files, commands), each bounded in size and time.
const folders = z.array(z.string().min(1)).default([]);
const needed = (key: string, what: string) => ({ message: `list at least one ${what} in ${key} when the plugin is enabled`, path: [key] });

export const filesPluginSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Folders the file tools may see; everything outside (symlinks included) is refused. */
    roots: folders,
    /** Largest slice file_read returns, in bytes. */
    max_read_bytes: z.number().int().min(1).max(64 << 20).default(1 << 20),
    /** Most matches one file_search returns. */
    max_results: z.number().int().min(1).max(10_000).default(200),
    /** Most directory entries one file_search looks at. */
    max_scanned_entries: z.number().int().min(1).max(10_000_000).default(50_000),
    /** Files larger than this are skipped by content search, in bytes. */
    max_search_file_bytes: z.number().int().min(1).max(1 << 30).default(1 << 20),
    /** Time limit of one file_search, in ms. */
    search_timeout_ms: z.number().int().min(1).max(600_000).default(5_000),
  })
  .strict()
  .refine((v) => !v.enabled || v.roots.length > 0, needed('roots', 'folder'));

export const sqlitePluginSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Database files by the name db_query takes, e.g. { inventory = "/srv/inventory.db" }. */
    databases: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1-64 of [A-Za-z0-9_.-]'), z.string().min(1)).default({}),
    /** Open read-only and refuse statements that write. Set false to allow writes. */
    read_only: z.boolean().default(true),
    /** Most rows one query returns. */
    max_rows: z.number().int().min(1).max(1_000_000).default(1000),
    /** Most bytes of rows (as JSON) one query returns; rows beyond are left off. */
    max_result_bytes: z.number().int().min(1).max(256 << 20).default(4 << 20),
    /** Time limit of one query, in ms; the query's process is killed beyond it. */
    timeout_ms: z.number().int().min(1).max(600_000).default(5_000),
  })
  .strict()
  .refine((v) => !v.enabled || Object.keys(v.databases).length > 0, needed('databases', 'database file'));

export const shellPluginSchema = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * Commands shell_run may start: exact names (looked up on `path`) or absolute
     * paths; or { command, args } where every argument must match one of the
     * `args` globs (e.g. { command = "df", args = ["-h", "/**"] }).
     */
    commands: z.array(z.union([z.string().min(1), z.object({ command: z.string().min(1), args: z.array(z.string()) }).strict()])).default([]),
    /** Folders a command may run in; the first is the default working directory. */
    roots: folders,
    /** PATH for finding commands and for the child; the gateway's PATH when absent. */
    path: z.string().min(1).optional(),
    /** Environment variables passed through to commands (all others are dropped). */
    env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default(['LANG', 'LC_ALL', 'TZ']),
    /** Time limit of one command, in ms; the process group is killed beyond it. */
    timeout_ms: z.number().int().min(1).max(3_600_000).default(10_000),
    /** Most bytes kept of stdout and of stderr each; the command is killed beyond it. */
    max_output_bytes: z.number().int().min(1).max(64 << 20).default(64 << 10),
    /**
     * "pid-namespace": each command runs as process 1 of its own PID namespace
     * (util-linux unshare, unprivileged user namespaces): it cannot see the
     * gateway's processes or environment, and nothing it starts outlives the
     * call or the gateway. "none": commands run directly (see docs/plugins.md
     * for what they can then reach).
     */
    isolation: z.enum(['pid-namespace', 'none']).default('pid-namespace'),
  })
  .strict()
  .refine((v) => !v.enabled || v.commands.length > 0, needed('commands', 'command'))
  .refine((v) => !v.enabled || v.roots.length > 0, needed('roots', 'folder'));

export const pluginsSchema = z
  .object({
    files: filesPluginSchema.prefault({}),
    sqlite: sqlitePluginSchema.prefault({}),
    shell: shellPluginSchema.prefault({}),
  })
  .strict();

/** Names usable as ids and namespace prefixes: they become part of tool names. */
const providerId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'use 1-64 of [A-Za-z0-9_-]');

export const restartSchema = z
  .object({
    /** Consecutive failed starts before the upstream is left down (a run longer than stable_after_ms resets the count). */
    max_restarts: z.number().int().min(0).max(1000).default(10),
    /** First wait before a restart, in ms; it doubles after each failure. */
    initial_backoff_ms: z.number().int().min(10).max(600_000).default(500),
    /** Ceiling of the wait between restarts, in ms. */
    max_backoff_ms: z.number().int().min(10).max(3_600_000).default(30_000),
    /** A run this long counts as healthy and resets the restart count. */
    stable_after_ms: z.number().int().min(0).default(10_000),
  })
  .strict();

export const upstreamSchema = z
  .object({
    /** Unique id; also the namespace prefix unless `prefix` is set. */
    id: providerId,
    /** stdio: the gateway spawns `command`; http: Streamable HTTP (legacy SSE as fallback); sse: legacy HTTP+SSE only. */
    transport: z.enum(['stdio', 'http', 'sse']),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    /** Extra environment for the child (stdio); merged over a minimal safe environment. */
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().min(1).optional(),
    url: httpUrl("an upstream's url").optional(),
    /** Extra HTTP headers sent to the upstream (http, sse). */
    headers: z
      .record(z.string(), z.string())
      .superRefine((headers, ctx) => {
        for (const [name, value] of Object.entries(headers)) {
          const problem = headerProblem(name, value);
          if (problem) ctx.addIssue({ code: 'custom', path: [name], message: `${problem}; it could not be sent` });
        }
      })
      .default({}),
    ...outgoingTlsKeys,
    /** Time limit of one request to this upstream, in ms. */
    timeout_ms: z.number().int().min(1).max(3_600_000).default(30_000),
    /** Time limit for connecting (spawn + initialize + first lists), in ms. */
    connect_timeout_ms: z.number().int().min(1).max(3_600_000).default(30_000),
    /** Only these tools/prompts (glob patterns with *); all when empty. */
    include: z.array(z.string().min(1)).default([]),
    /** Never these tools/prompts (glob patterns with *). */
    exclude: z.array(z.string().min(1)).default([]),
    /** Namespace prefix for its names; the id (or replica_group) by default. */
    prefix: providerId.optional(),
    /** Upstreams sharing a group are replicas: their same-named tools are one tool, routed by the core. */
    replica_group: providerId.optional(),
    /** Tools safe to retry on another replica, beyond those annotated idempotentHint. */
    idempotent_tools: z.array(z.string().min(1)).default([]),
    /** Added to its latency when ranking replicas (ms): how far away it is. */
    locality_ms: z.number().min(0).max(1e6).default(0),
    /** Relative price of one call, when ranking replicas. */
    cost: z.number().min(0).max(1e6).default(0),
    /** Relative energy of one call; counts in low power mode (the router's saver mode). */
    energy: z.number().min(0).max(1e6).default(0),
    restart: restartSchema.prefault({}),
    /**
     * shared: one connection serves every client. per-client: each client
     * session also gets its own connection (for stdio, its own process), so
     * the upstream's sampling, elicitation and logging reach exactly that client.
     */
    session_mode: z.enum(['shared', 'per-client']).default('shared'),
    /**
     * Tool pinning (docs/security.md): the digest of each tool's definition
     * is recorded on first use or approval. pin: a changed definition is
     * withheld (not listed, calls refused) until approved with `mcp-edge
     * tools approve`. warn: it is listed and reported. off: nothing is checked.
     */
    pinning: z.enum(['pin', 'warn', 'off']).default('pin'),
    /** Tools that appear after the upstream's first pinned catalog wait for approval too, instead of being trusted on first use. */
    hold_new_tools: z.boolean().default(false),
  })
  .strict()
  .superRefine((u, ctx) => {
    if (u.hold_new_tools && u.pinning === 'off') ctx.addIssue({ code: 'custom', path: ['hold_new_tools'], message: 'hold_new_tools needs pinning = "pin" or "warn"; with pinning off no tool is held' });
    if (u.transport === 'stdio' && !u.command) ctx.addIssue({ code: 'custom', path: ['command'], message: 'a stdio upstream needs a command' });
    if (u.transport !== 'stdio' && !u.url) ctx.addIssue({ code: 'custom', path: ['url'], message: `an ${u.transport} upstream needs a url` });
    // Keys of the other transport would be silently ignored: refuse them instead.
    const foreign = u.transport === 'stdio' ? { url: u.url, headers: Object.keys(u.headers).length > 0, tls_ca: u.tls_ca, tls_cert: u.tls_cert, tls_key: u.tls_key } : { command: u.command, args: u.args.length > 0, env: Object.keys(u.env).length > 0, cwd: u.cwd };
    for (const [key, set] of Object.entries(foreign)) {
      if (set) ctx.addIssue({ code: 'custom', path: [key], message: `${key} does not apply to a ${u.transport} upstream; remove it, or change transport` });
    }
    if (u.transport !== 'stdio') checkOutgoingTls(u, ctx);
  });

export const routingSchema = z
  .object({
    /** Consecutive failures that open a provider's circuit. */
    failure_threshold: z.number().int().min(1).max(1000).default(5),
    /** First cool-down of an open circuit, in ms (doubles on each failed probe). */
    open_ms: z.number().int().min(1).max(3_600_000).default(2_000),
    /** Ceiling of that cool-down, in ms. */
    max_open_ms: z.number().int().min(1).max(3_600_000).default(60_000),
    /** Weight of a new latency sample in the EWMA, in (0, 1]. */
    latency_alpha: z.number().gt(0).max(1).default(0.2),
    /** Milliseconds of latency one unit of `cost` is worth. */
    cost_weight_ms: z.number().min(0).max(1e6).default(10),
    /** Most replicas one idempotent call tries before giving up. */
    max_attempts: z.number().int().min(1).max(16).default(3),
  })
  .strict();

export const aggregationSchema = z
  .object({
    /** Prefix names with the provider's namespace: always, only when names collide, or never (same names become replicas). */
    prefix_mode: z.enum(['always', 'on-collision', 'never']).default('on-collision'),
    /** Between prefix and name, e.g. "everything__echo". */
    separator: z.string().regex(/^[A-Za-z0-9_.-]{1,4}$/, 'use 1-4 of [A-Za-z0-9_.-]').default('__'),
  })
  .strict();

/**
 * Hugging Face tokenizer.json vocabularies for count_tokens, by the name it
 * takes: { llama2 = "/opt/models/llama2/tokenizer.json" }. Each file is loaded
 * (and so checked) when the gateway starts. A relative path is read from the
 * working directory, as data_dir is.
 */
export const tokenizersSchema = z.record(
  z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use 1-64 of [A-Za-z0-9_.-]')
    .refine((name) => !(TIKTOKEN_ENCODINGS as readonly string[]).includes(name), { message: 'this name is a built-in tiktoken encoding; choose another' }),
  z.string().min(1),
);

export const configSchema = z
  .object({
    gateway: gatewaySchema.prefault({}),
    models: modelsSchema.prefault({}),
    offline: offlineSchema.prefault({}),
    security: securitySchema.prefault({}),
    auth: authSchema.prefault({}),
    /** Who may use what (security/policy.ts); without it, every authenticated principal may use everything. */
    authorization: authorizationSchema.optional(),
    /** Token buckets per principal and per tool (security/rate-limit.ts); none without it. */
    rate_limits: rateLimitsSchema.optional(),
    audit: auditSchema.prefault({}),
    analytics: analyticsSchema.prefault({}),
    ui: uiSchema.prefault({}),
    telemetry: telemetrySchema.prefault({}),
    /** Logs: level and format (telemetry/log.ts). */
    log: logSchema.prefault({}),
    power: powerSchema.prefault({}),
    upstreams: z.array(upstreamSchema).default([]),
    routing: routingSchema.prefault({}),
    aggregation: aggregationSchema.prefault({}),
    plugins: pluginsSchema.prefault({}),
    tokenizers: tokenizersSchema.default({}),
    /** Peer gateways over libp2p (host/src/mesh/); off unless enabled. */
    mesh: meshSchema.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.gateway.header_timeout_ms > c.gateway.body_timeout_ms) {
      ctx.addIssue({ code: 'custom', path: ['gateway', 'header_timeout_ms'], message: 'must not exceed gateway.body_timeout_ms (the body limit counts the headers too)' });
    }
    const seen = new Set<string>();
    c.upstreams.forEach((u, i) => {
      if (seen.has(u.id)) ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'id'], message: `upstream id "${u.id}" is used twice` });
      seen.add(u.id);
    });
    if (c.mesh.identity === 'tpm' && c.security.use_tpm !== true) {
      ctx.addIssue({ code: 'custom', path: ['mesh', 'identity'], message: 'mesh.identity = "tpm" keeps the peer key in the TPM: set security.use_tpm = true (and security.tpm_device), or use mesh.identity = "file"' });
    }
    for (const [name, d] of Object.entries(c.offline.destinations)) {
      if (d.upstream !== undefined && !seen.has(d.upstream)) {
        ctx.addIssue({ code: 'custom', path: ['offline', 'destinations', name, 'upstream'], message: `no upstream has id "${d.upstream}"` });
      }
      if (d.mesh && !c.mesh.enabled) {
        ctx.addIssue({ code: 'custom', path: ['offline', 'destinations', name, 'mesh'], message: 'a mesh destination needs the mesh: set mesh.enabled = true (see docs/mesh.md)' });
      }
    }
  });

/** The validated configuration, with every default filled in. */
export type EdgeConfig = z.infer<typeof configSchema>;
export type PluginsConfig = z.infer<typeof pluginsSchema>;
/** What a user may write: every section and key optional. */
export type EdgeConfigInput = z.input<typeof configSchema>;
export type UpstreamConfig = z.infer<typeof upstreamSchema>;
export type RoutingConfig = z.infer<typeof routingSchema>;
export type AggregationConfig = z.infer<typeof aggregationSchema>;
export type AuthConfig = z.infer<typeof authSchema>;
