// One MCP server per client session, all serving the same provider (today the
// local provider; the aggregator of providers once it lands). The low-level SDK
// Server is used (not McpServer) because the lists are dynamic: they are
// whatever the provider offers at the moment of the request.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { Provider } from '../providers/provider.js';
import type { CallInterceptor } from '../queue/mcp.js';

export interface ServerIdentity {
  name: string;
  version: string;
}

export interface McpServerDeps {
  identity: ServerIdentity;
  provider: Provider;
  /** Time limit for one tool call, resource read or prompt, in ms. */
  requestTimeoutMs: number;
  /** The offline queue's hooks: deferred calls become MCP tasks kept in SQLite. */
  queue?: { taskStore: TaskStore; intercept: CallInterceptor };
}

const INSTRUCTIONS =
  'mcp-edge is a gateway: the tools it lists come from its built-in plugins and the servers it fronts.';

/** Providers throw protocol errors already; only the gateway's own time limit is named here. */
function toProtocolError(err: unknown, timeout: AbortSignal, what: string, ms: number): unknown {
  if (timeout.aborted && !(err instanceof McpError)) return new McpError(ErrorCode.RequestTimeout, `${what} did not finish within ${ms} ms.`);
  return err;
}

export function createMcpServer(deps: McpServerDeps): Server {
  const tasks = deps.queue ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {};
  const server = new Server(deps.identity, {
    capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, logging: {}, ...tasks },
    instructions: INSTRUCTIONS,
    ...(deps.queue ? { taskStore: deps.queue.taskStore } : {}),
  });
  const provider = deps.provider;
  const ms = deps.requestTimeoutMs;
  /** Runs one forwarded request with the client's cancellation and the gateway's time limit. */
  const bounded = async <T>(what: string, extra: { signal: AbortSignal }, run: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const timeout = AbortSignal.timeout(ms);
    try {
      return await run(AbortSignal.any([extra.signal, timeout]));
    } catch (err) {
      throw toProtocolError(err, timeout, what, ms);
    }
  };
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: provider.catalog().tools }));
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: provider.catalog().resources }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: provider.catalog().resourceTemplates }));
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: provider.catalog().prompts }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    bounded(`Tool "${request.params.name}"`, extra, (signal) => {
      const progressToken = request.params._meta?.progressToken;
      const run = () =>
        provider.callTool(request.params.name, request.params.arguments, { signal, client: extra, ...(progressToken === undefined ? {} : { progressToken }) });
      // The offline queue may defer the call (a task) instead of running it now.
      return deps.queue ? deps.queue.intercept(request, run) : run();
    }),
  );
  server.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
    bounded(`Reading ${request.params.uri}`, extra, (signal) => provider.readResource(request.params.uri, { signal, client: extra })),
  );
  server.setRequestHandler(GetPromptRequestSchema, (request, extra) =>
    bounded(`Prompt "${request.params.name}"`, extra, (signal) => provider.getPrompt(request.params.name, request.params.arguments, { signal, client: extra })),
  );
  return server;
}
