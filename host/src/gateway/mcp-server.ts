// One MCP server per client session, all sharing the gateway's tool registry.
// The low-level SDK Server is used (not McpServer) because the tool list is
// dynamic: it is whatever the registry holds at the moment of the request.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { CallInterceptor } from '../queue/mcp.js';
import { ToolRegistry, UnknownToolError } from '../tools/registry.js';

export interface ServerIdentity {
  name: string;
  version: string;
}

export interface McpServerDeps {
  identity: ServerIdentity;
  tools: ToolRegistry;
  /** Time limit for one tool call, in ms. */
  requestTimeoutMs: number;
  /** The offline queue's hooks: deferred calls become MCP tasks kept in SQLite. */
  queue?: { taskStore: TaskStore; intercept: CallInterceptor };
}

const INSTRUCTIONS =
  'mcp-edge is a gateway: the tools it lists come from its built-in plugins and the servers it fronts.';

export function createMcpServer(deps: McpServerDeps): Server {
  const tasks = deps.queue ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {};
  const server = new Server(deps.identity, {
    capabilities: { tools: { listChanged: true }, logging: {}, ...tasks },
    instructions: INSTRUCTIONS,
    ...(deps.queue ? { taskStore: deps.queue.taskStore } : {}),
  });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: deps.tools.list() }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const timeout = AbortSignal.timeout(deps.requestTimeoutMs);
    const signal = AbortSignal.any([extra.signal, timeout]);
    try {
      const run = () => deps.tools.call(request.params.name, request.params.arguments, { signal });
      if (!deps.tools.has(request.params.name)) throw new UnknownToolError(request.params.name);
      return await (deps.queue ? deps.queue.intercept(request, run) : run());
    } catch (err) {
      if (err instanceof UnknownToolError) throw new McpError(ErrorCode.InvalidParams, err.message);
      if (timeout.aborted) {
        throw new McpError(ErrorCode.RequestTimeout, `Tool "${request.params.name}" did not finish within ${deps.requestTimeoutMs} ms.`);
      }
      throw err;
    }
  });
  return server;
}
