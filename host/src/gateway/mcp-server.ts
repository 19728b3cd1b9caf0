// One MCP server per client session, all serving the gateway's aggregator. The
// low-level SDK Server is used (not McpServer) because every list is dynamic:
// it is whatever the providers offer at the moment of the request.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type ClientCapabilities,
  type LoggingLevel,
  type LoggingMessageNotification,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import { z } from 'zod';
import { issuesInWords } from '../protocol/issues.js';
import { handleToolCalls, isPlainCallParams } from './call-checks.js';
import { INVALID_PARAMS, INVALID_REQUEST, REQUEST_TIMEOUT } from '../protocol/jsonrpc.js';
import type { Aggregator } from './aggregator/aggregator.js';
import type { Principal } from '../security/principal.js';
import type { Policy } from '../security/policy.js';
import type { RateLimiter } from '../security/rate-limit.js';
import { audited } from '../security/audit/calls.js';
import { NO_AUDIT, type AuditRecorder } from '../security/audit/log.js';
import { observedCall, UNKNOWN_TOOL } from '../analytics/observe.js';
import type { CallRouting } from '../providers/provider.js';
import type { Telemetry, TracedRequest } from '../telemetry/telemetry.js';
import type { UsageRecorder } from '../analytics/usage.js';
import type { Logger } from '../telemetry/log.js';
import { runInCall } from '../telemetry/log-context.js';
import { deadlinesOf, type Deadlines } from './deadlines.js';
import { McpError, isMcpError } from '../protocol/mcp-error.js';
import { sharedJsonSchemaValidator } from './json-schema-validator.js';

export interface ServerIdentity {
  name: string;
  version: string;
}

/**
 * Takes a tools/call before it runs: it may run it now (`run`) or answer
 * with a task instead (the offline queue's deferral, queue/mcp.ts).
 */
export type CallInterceptor = (request: CallToolRequest, run: () => Promise<CallToolResult>) => Promise<CallToolResult | { task: Task }>;

export interface McpServerDeps {
  identity: ServerIdentity;
  /** Who this session serves: every request of the session comes from it. */
  principal: Principal;
  aggregator: Aggregator;
  /** Time limit for one forwarded request, in ms. */
  requestTimeoutMs: number;
  /** The offline queue's hooks: deferred calls become MCP tasks kept in SQLite. */
  queue?: { taskStore: TaskStore; intercept: CallInterceptor };
  /** Authorization ([authorization]): what this principal may list and use; absent, everything. */
  policy?: Policy;
  /** Rate limits checked per request: stdio sessions (over HTTP a POST is admitted whole, gateway/http.ts). */
  limiter?: RateLimiter;
  /** The audit log: every tools/call, resources/read and prompts/get is recorded as it ends. */
  audit?: AuditRecorder;
  /** Usage analytics ([analytics]): every tools/call counted per tool, provider, principal and hour. */
  usage?: UsageRecorder;
  /** OpenTelemetry ([telemetry]): a span per tools/call, resources/read and prompts/get. */
  telemetry?: Telemetry;
  /** The gateway's log: a line per tools/call at debug. */
  log?: Logger;
}

const INSTRUCTIONS =
  'mcp-edge is a gateway: the tools it lists come from its built-in plugins and the servers it fronts. The resource mcp-edge://providers shows them and their health.';

const SEVERITY = new Map(LoggingLevelSchema.options.map((level, i) => [level, i]));

/** Most resources one session may be subscribed to at once. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 1000;

/** One client's session: its server, log level and resource subscriptions. */
export class ClientSession {
  level: LoggingLevel | undefined;
  readonly subscriptions = new Set<string>();
  constructor(
    readonly server: Server,
    readonly principal: Principal,
    private readonly aggregator: Aggregator,
  ) {}

  /** Subscribes to `uri` (once however often asked); throws when the provider side refuses, or past the cap. */
  async subscribe(uri: string): Promise<void> {
    if (this.subscriptions.has(uri)) return;
    if (this.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SESSION) {
      throw new McpError(INVALID_REQUEST, `This session is subscribed to ${MAX_SUBSCRIPTIONS_PER_SESSION} resources, the most one session may be; unsubscribe from some first.`);
    }
    this.subscriptions.add(uri);
    try {
      await this.aggregator.subscribe(uri);
    } catch (err) {
      this.subscriptions.delete(uri);
      throw err;
    }
  }

  async unsubscribe(uri: string): Promise<void> {
    if (this.subscriptions.delete(uri)) await this.aggregator.unsubscribe(uri);
  }

  /** The session ended: its subscriptions go (the providers are told when no other session holds them). */
  ended(): void {
    for (const uri of this.subscriptions) void this.aggregator.unsubscribe(uri).catch(() => undefined);
    this.subscriptions.clear();
  }

  /** Sends an upstream's log message if it is at or above the level this client asked for. */
  log(params: LoggingMessageNotification['params']): void {
    if (this.level && (SEVERITY.get(params.level) ?? 0) < (SEVERITY.get(this.level) ?? 0)) return;
    this.server.notification({ method: 'notifications/message', params }).catch(() => undefined);
  }

  resourceUpdated(uri: string): void {
    if (this.subscriptions.has(uri)) this.server.sendResourceUpdated({ uri }).catch(() => undefined);
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a value is, in words, for an error message ("null", "an array", "a string"). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * The params of tools/call, checked before the SDK's own check, which answers
 * `arguments: null` or `[]` with a raw schema dump as an internal error. Each
 * mistake gets INVALID_PARAMS and a sentence saying what to send.
 */
function checkCallParams(params: unknown): CallToolRequest['params'] {
  if (!isPlainObject(params)) throw new McpError(INVALID_PARAMS, `tools/call needs params: an object with the tool's "name" and its "arguments"; got ${kindOf(params)}.`);
  if (typeof params.name !== 'string' || params.name === '') throw new McpError(INVALID_PARAMS, `tools/call needs "name", the tool to call, as a non-empty string; got ${kindOf(params.name)}.`);
  const args = params.arguments;
  if (args !== undefined && !isPlainObject(args)) {
    throw new McpError(INVALID_PARAMS, `tools/call "${params.name}": "arguments" must be an object of argument names to values, or left out; got ${kindOf(args)}.`);
  }
  // The plain kind (name, arguments, a progress token) is what the schema passes unchanged (call-checks.ts).
  if (isPlainCallParams(params)) return params as CallToolRequest['params'];
  const parsed = CallToolRequestSchema.shape.params.safeParse(params);
  if (!parsed.success) throw new McpError(INVALID_PARAMS, `tools/call "${params.name}": ${issuesInWords(parsed.error)}`);
  return parsed.data;
}

/** A request schema of the SDK's: its method literal and its params. */
type RequestSchema = z.ZodObject<{ method: z.ZodLiteral<string>; params: z.ZodType }>;

/**
 * `schema` with its params taken by `check`, whose thrown McpError reaches
 * the client as it is. By default `check` is the schema's own params
 * schema, a mistake answered with INVALID_PARAMS and a sentence
 * ("logging/setLevel: level: Invalid option: expected one of ..."): the SDK's
 * handler wrapper parses with the plain schema and lets the ZodError through,
 * which its Protocol answered as an internal error (INTERNAL_ERROR) carrying
 * zod's JSON dump (prompts/get with a number argument, logging/setLevel with
 * an unknown level, a list cursor that is a number).
 */
function checked<S extends RequestSchema>(schema: S, check: (params: unknown) => unknown = paramsCheck(schema)): S {
  // The parsed request is the same object the plain schema gives; only a refusal differs. optional():
  // a request without params reaches check (which refuses it where the method needs them) or stays without them.
  return schema.extend({ params: z.unknown().optional().transform(check) }) as unknown as S;
}

function paramsCheck(schema: RequestSchema): (params: unknown) => unknown {
  const method = schema.shape.method.value;
  return (value) => {
    const parsed = schema.shape.params.safeParse(value);
    if (!parsed.success) throw new McpError(INVALID_PARAMS, `${method}: ${issuesInWords(parsed.error)}`);
    return parsed.data;
  };
}

/**
 * A list request's check: its params as paramsCheck takes them, and no
 * cursor, since every list is one page here (no nextCursor is ever sent).
 * An unknown cursor is invalid params, as the MCP spec asks; it was ignored,
 * and a client that made one up got the first page again.
 */
function listCheck(schema: RequestSchema): (params: unknown) => unknown {
  const check = paramsCheck(schema);
  return (value) => {
    const params = check(value) as { cursor?: unknown } | undefined;
    if (typeof params?.cursor === 'string') {
      throw new McpError(INVALID_PARAMS, `${schema.shape.method.value}: cursor "${params.cursor.slice(0, 64)}" was not issued by this gateway: it lists everything in one page, and sends no nextCursor.`);
    }
    return params;
  };
}

/** tools/call with its params checked by checkCallParams. */
const CheckedCallToolRequestSchema = checked(CallToolRequestSchema, checkCallParams);

type Extra = Parameters<Parameters<Server['setRequestHandler']>[1]>[1];

/**
 * The per-request context handed to providers: cancellation (the client's, or
 * the gateway's time limit), the client's channel and its progress token. One
 * controller per request, its time limit kept by the gateway's Deadlines (no
 * timer per request): cheaper than AbortSignal.any over AbortSignal.timeout on
 * the hot path.
 */
function contextOf(extra: Extra, meta: { progressToken?: string | number } | undefined, deadlines: Deadlines, timeoutMs: number, capabilities: ClientCapabilities | undefined) {
  const controller = new AbortController();
  const deadline = deadlines.add(() => controller.abort(new TimeLimitError(timeoutMs)));
  const onAbort = () => controller.abort(extra.signal.reason);
  if (extra.signal.aborted) onAbort();
  else extra.signal.addEventListener('abort', onAbort, { once: true });
  const progressToken = meta?.progressToken;
  return {
    signal: controller.signal,
    client: extra,
    ...(capabilities ? { clientCapabilities: capabilities } : {}),
    ...(progressToken !== undefined ? { progressToken } : {}),
    /** Releases the time limit and the listener; call when the request ends. */
    end: () => {
      deadlines.release(deadline);
      extra.signal.removeEventListener('abort', onAbort);
    },
  };
}

/** The gateway's own time limit for a request ran out. */
class TimeLimitError extends Error {
  constructor(readonly ms: number) {
    super(`the request did not finish within ${ms} ms (gateway.request_timeout_ms)`);
  }
}

/** Runs a forwarded request with its context, and turns the gateway's time limit into a JSON-RPC timeout. */
async function forward<T>(
  extra: Extra,
  meta: { progressToken?: string | number } | undefined,
  deadlines: Deadlines,
  ms: number,
  capabilities: ClientCapabilities | undefined,
  what: string,
  run: (context: ReturnType<typeof contextOf>) => Promise<T>,
): Promise<T> {
  const context = contextOf(extra, meta, deadlines, ms, capabilities);
  try {
    return await run(context);
  } catch (err) {
    // A timeout that already says why (a tool whose upstream is still connecting) reaches the client as it is.
    const explained = isMcpError(err) && err.code === REQUEST_TIMEOUT;
    if (context.signal.reason instanceof TimeLimitError && !extra.signal.aborted && !explained) {
      throw new McpError(REQUEST_TIMEOUT, `${what} did not finish within ${ms} ms (gateway.request_timeout_ms).`);
    }
    throw err;
  } finally {
    context.end();
  }
}

/** Runs a tools/call and writes its line at debug: how long it took and how it ended. */
async function loggedCall<T>(log: Logger, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  let outcome = 'error';
  try {
    const result = await run();
    outcome = (result as { isError?: unknown }).isError === true ? 'tool_error' : (result as { task?: unknown }).task !== undefined ? 'deferred' : 'ok';
    return result;
  } finally {
    log.debug('tools/call', { outcome, duration_ms: Math.round((performance.now() - start) * 1000) / 1000 });
  }
}

export function createMcpServer(deps: McpServerDeps): ClientSession {
  const tasks = deps.queue ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {};
  const server = new Server(deps.identity, {
    capabilities: {
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      logging: {},
      completions: {},
      ...tasks,
    },
    instructions: INSTRUCTIONS,
    jsonSchemaValidator: sharedJsonSchemaValidator,
    ...(deps.queue ? { taskStore: deps.queue.taskStore } : {}),
  });
  const session = new ClientSession(server, deps.principal, deps.aggregator);
  const agg = deps.aggregator;
  const ms = deps.requestTimeoutMs;
  const deadlines = deadlinesOf(ms);
  const { policy, limiter, principal } = deps;
  const audit = deps.audit ?? NO_AUDIT;
  const usage = deps.usage;
  const telemetry = deps.telemetry;
  const log = deps.log;
  const traced = (method: TracedRequest['method'], target: string, meta: Record<string, unknown> | undefined, extra: Extra): TracedRequest => ({
    method,
    target,
    series: () => seriesOf(method, target),
    principal: principal.id,
    session: extra.sessionId,
    meta,
    headers: extra.requestInfo?.headers,
  });
  /** Runs `run` in a span when tracing is on. */
  const inSpan = <T>(request: TracedRequest, run: () => Promise<T>): Promise<T> => (telemetry ? telemetry.request(request, undefined, run) : run());
  /** A tool name the gateway lists, or withholds (tool pinning): analytics counts calls under it. */
  const knownTool = (name: string): boolean => agg.qualifiedToolNames(name) !== undefined || agg.withheldRefusal(name) !== undefined;
  /** A request's target as metrics label it: known names as they are, a resource by its listing or template, the rest as a placeholder. */
  const seriesOf = (method: TracedRequest['method'], target: string): string => {
    if (method === 'tools/call') return knownTool(target) ? target : UNKNOWN_TOOL;
    if (method === 'prompts/get') return agg.qualifiedPromptNames(target) !== undefined ? target : '(unknown prompt)';
    return agg.resourceSeries(target) ?? '(unknown resource)';
  };
  server.setRequestHandler(checked(ListToolsRequestSchema, listCheck(ListToolsRequestSchema)), () => ({ tools: policy ? policy.listTools(principal) : agg.listTools() }));
  handleToolCalls(server, CheckedCallToolRequestSchema, (request, extra) => {
    // `routed` (analytics, tracing) learns which provider the router chose.
    const routed: CallRouting | undefined = usage || telemetry ? {} : undefined;
    const call = () =>
      audited(audit, { operation: 'tools/call', principal, session: extra.sessionId, target: request.params.name, arguments: request.params.arguments }, () =>
        forward(extra, request.params._meta, deadlines, ms, server.getClientCapabilities(), `Tool "${request.params.name}"`, (c) => {
          limiter?.checkCall(principal, request.params.name);
          // Before the queue could take the call for later: a denied tool is never deferred.
          policy?.checkTool(principal, request.params.name);
          // A withheld tool (tool pinning) is refused before the queue could take the call for later.
          const withheld = agg.withheldRefusal(request.params.name);
          if (withheld) throw withheld;
          const run = () => agg.callTool(request.params.name, request.params.arguments, routed ? { ...c, routed } : c);
          // The offline queue may defer the call (a task) instead of running it now.
          return deps.queue ? deps.queue.intercept(request, run) : run();
        }),
      );
    const observed = () => (usage ? observedCall(usage, principal.id, request.params.name, request.params.arguments, routed!, call, knownTool) : call());
    // The call's own line, at debug only, is written inside its span (the line carries the span's ids).
    const logged = log?.enabled?.('debug') === true ? () => loggedCall(log, observed) : observed;
    const meta = request.params._meta;
    const spanned = () => (telemetry ? telemetry.request(traced('tools/call', request.params.name, meta, extra), routed, logged) : logged());
    // Every line written during the call names its session and tool.
    return runInCall({ session: extra.sessionId, tool: request.params.name, traceparent: meta?.traceparent, principal: principal.id }, spanned);
  }, checkCallParams);
  server.setRequestHandler(checked(ListResourcesRequestSchema, listCheck(ListResourcesRequestSchema)), () => ({ resources: policy ? policy.listResources(principal, agg.listResources()) : agg.listResources() }));
  server.setRequestHandler(checked(ListResourceTemplatesRequestSchema, listCheck(ListResourceTemplatesRequestSchema)), () => ({
    resourceTemplates: policy ? policy.listResourceTemplates(principal, agg.listResourceTemplates()) : agg.listResourceTemplates(),
  }));
  server.setRequestHandler(checked(ReadResourceRequestSchema), (request, extra) =>
    inSpan(traced('resources/read', request.params.uri, request.params._meta, extra), () => audited(audit, { operation: 'resources/read', principal, session: extra.sessionId, target: request.params.uri, arguments: undefined }, () =>
      forward(extra, request.params._meta, deadlines, ms, server.getClientCapabilities(), `Reading "${request.params.uri}"`, (c) => {
        limiter?.checkCall(principal, undefined);
        policy?.checkResource(principal, request.params.uri);
        return agg.readResource(request.params.uri, c);
      }),
    )),
  );
  server.setRequestHandler(checked(ListPromptsRequestSchema, listCheck(ListPromptsRequestSchema)), () => ({ prompts: policy ? policy.listPrompts(principal) : agg.listPrompts() }));
  server.setRequestHandler(checked(GetPromptRequestSchema), (request, extra) =>
    inSpan(traced('prompts/get', request.params.name, request.params._meta, extra), () => audited(audit, { operation: 'prompts/get', principal, session: extra.sessionId, target: request.params.name, arguments: request.params.arguments }, () =>
      forward(extra, request.params._meta, deadlines, ms, server.getClientCapabilities(), `Prompt "${request.params.name}"`, (c) => {
        limiter?.checkCall(principal, undefined);
        policy?.checkPrompt(principal, request.params.name);
        return agg.getPrompt(request.params.name, request.params.arguments, c);
      }),
    )),
  );
  server.setRequestHandler(checked(CompleteRequestSchema), (request, extra) =>
    forward(extra, request.params._meta, deadlines, ms, server.getClientCapabilities(), 'Completion', (c) => {
      const ref = request.params.ref;
      if (ref.type === 'ref/prompt') policy?.checkPrompt(principal, ref.name);
      else policy?.checkResource(principal, ref.uri);
      return agg.complete(request.params, c);
    }),
  );
  server.setRequestHandler(checked(SetLevelRequestSchema), async (request) => {
    session.level = request.params.level;
    await agg.setLoggingLevel(request.params.level);
    return {};
  });
  server.setRequestHandler(checked(SubscribeRequestSchema), async (request) => {
    policy?.checkResource(principal, request.params.uri);
    await session.subscribe(request.params.uri);
    return {};
  });
  server.setRequestHandler(checked(UnsubscribeRequestSchema), async (request) => {
    await session.unsubscribe(request.params.uri);
    return {};
  });
  return session;
}
