// In-process tools: a name, a description, a zod input schema and a handler.
// The registry validates arguments before a handler runs, so a handler only ever
// sees input of its declared type.
import { z } from 'zod';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  /** Aborted when the client cancels or the request times out. */
  signal: AbortSignal;
}

export interface ToolDefinition<S extends z.ZodObject = z.ZodObject> {
  /** Unique name, [A-Za-z0-9_.-], at most 128 characters. */
  name: string;
  title?: string;
  description: string;
  input: S;
  /** JSON Schema of structuredContent, when the tool returns structured results. */
  output?: z.ZodObject;
  annotations?: Tool['annotations'];
  /** Task support (MCP 2025-11-25), e.g. deferrable tools of the offline queue. */
  execution?: Tool['execution'];
  handler: (args: z.infer<S>, context: ToolContext) => Promise<CallToolResult> | CallToolResult;
}

/** The named tool is not registered (a protocol error: invalid params). */
export class UnknownToolError extends Error {
  override readonly name = 'UnknownToolError';
  constructor(readonly tool: string) {
    super(`Tool "${tool}" is not offered by this gateway. Call tools/list to see the tools that are.`);
  }
}

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Helps TypeScript infer a handler's argument type from its schema. */
export function defineTool<S extends z.ZodObject>(definition: ToolDefinition<S>): ToolDefinition<S> {
  return definition;
}

function toJsonSchema(schema: z.ZodObject): Tool['inputSchema'] {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  delete json.$schema;
  return { ...json, type: 'object' } as Tool['inputSchema'];
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(arguments)'}: ${i.message}`).join('; ');
}

export class ToolRegistry {
  private readonly tools = new Map<string, { definition: ToolDefinition; listing: Tool }>();
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` whenever the set of tools changes; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a tool; a name already taken is a programming error. */
  register<S extends z.ZodObject>(definition: ToolDefinition<S>): void {
    if (!TOOL_NAME.test(definition.name)) throw new Error(`invalid tool name "${definition.name}": use 1-128 of [A-Za-z0-9_.-]`);
    if (this.tools.has(definition.name)) throw new Error(`tool "${definition.name}" is already registered`);
    const listing: Tool = {
      name: definition.name,
      ...(definition.title ? { title: definition.title } : {}),
      description: definition.description,
      inputSchema: toJsonSchema(definition.input),
      ...(definition.output ? { outputSchema: toJsonSchema(definition.output) as Tool['outputSchema'] } : {}),
      ...(definition.annotations ? { annotations: definition.annotations } : {}),
      ...(definition.execution ? { execution: definition.execution } : {}),
    };
    this.tools.set(definition.name, { definition: definition as unknown as ToolDefinition, listing });
    this.changed();
  }

  /** Removes a tool; returns whether it was there. */
  unregister(name: string): boolean {
    const removed = this.tools.delete(name);
    if (removed) this.changed();
    return removed;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Every tool, in name order so lists are deterministic. */
  list(): Tool[] {
    return [...this.tools.values()].map((t) => t.listing).sort((a, b) => a.name.localeCompare(b.name));
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  /**
   * Validates `args` and runs the tool. Invalid arguments come back as a tool
   * error (isError), so a model can read the message and correct its call.
   */
  async call(name: string, args: unknown, context: ToolContext): Promise<CallToolResult> {
    const entry = this.tools.get(name);
    if (!entry) throw new UnknownToolError(name);
    const parsed = entry.definition.input.safeParse(args ?? {});
    if (!parsed.success) {
      return { isError: true, content: [{ type: 'text', text: `Invalid arguments for ${name}: ${describeIssues(parsed.error)}` }] };
    }
    return entry.definition.handler(parsed.data, context);
  }
}
