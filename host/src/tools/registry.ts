// In-process tools: a name, a description, input and output schemas (zod or
// plain JSON Schema) and a handler. The registry validates arguments before a
// handler runs, so a handler only ever sees input of its declared shape, and
// checks structured results against the output schema before a client sees them.
// Tools can be switched off and on at run time, singly or by plugin.
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { compileSchema, type CompiledSchema, type ObjectSchema, type SchemaData } from './schema.js';
import { Switchboard, type Switches, type SwitchState } from './switchboard.js';

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  /** Aborted when the client cancels or the request times out. */
  signal: AbortSignal;
  /**
   * Tells the client how far along the call is, when it asked for progress
   * (a no-op otherwise, so handlers can call it unconditionally).
   */
  progress?: (progress: number, total?: number, message?: string) => Promise<void>;
}

export interface ToolDefinition<S extends ObjectSchema = ObjectSchema> {
  /** Unique name, [A-Za-z0-9_.-], at most 128 characters. */
  name: string;
  title?: string;
  description: string;
  /** Arguments: a zod object (typed handler) or a JSON Schema with "type": "object". */
  input: S;
  /** Shape of structuredContent, when the tool returns structured results. */
  output?: ObjectSchema;
  annotations?: Tool['annotations'];
  /** Task support (MCP 2025-11-25), e.g. deferrable tools of the offline queue. */
  execution?: Tool['execution'];
  handler: (args: SchemaData<S>, context: ToolContext) => Promise<CallToolResult> | CallToolResult;
}

/** The named tool is not offered (a protocol error: invalid params). */
export class UnknownToolError extends Error {
  override readonly name = 'UnknownToolError';
  constructor(
    readonly tool: string,
    readonly disabled = false,
  ) {
    super(
      disabled
        ? `Tool "${tool}" is disabled on this gateway. Ask its operator to enable it, or call tools/list to see the tools that are on.`
        : `Tool "${tool}" is not offered by this gateway. Call tools/list to see the tools that are.`,
    );
  }
}

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Helps TypeScript infer a handler's argument type from its schema. */
export function defineTool<S extends ObjectSchema>(definition: ToolDefinition<S>): ToolDefinition<S> {
  return definition;
}

interface Entry {
  definition: ToolDefinition;
  listing: Tool;
  input: CompiledSchema;
  output: CompiledSchema | undefined;
}

function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

function compileEntry(definition: ToolDefinition): Entry {
  const name = definition.name;
  if (!TOOL_NAME.test(name)) throw new Error(`invalid tool name "${name}": use 1-128 of [A-Za-z0-9_.-]`);
  const input = compileSchema(definition.input, 'input', `tool ${name} input`);
  const output = definition.output ? compileSchema(definition.output, 'output', `tool ${name} output`) : undefined;
  // Built on the first tools/list: a zod schema's JSON Schema is converted then (schema.ts).
  let listing: Tool | undefined;
  return {
    definition,
    input,
    output,
    get listing() {
      return (listing ??= {
        name,
        ...(definition.title ? { title: definition.title } : {}),
        description: definition.description,
        inputSchema: input.json as Tool['inputSchema'],
        ...(output ? { outputSchema: output.json as Tool['outputSchema'] } : {}),
        ...(definition.annotations ? { annotations: definition.annotations } : {}),
        ...(definition.execution ? { execution: definition.execution } : {}),
      });
    },
  };
}

export class ToolRegistry {
  private readonly board = new Switchboard<Entry>('tool');

  /** Calls `listener` whenever the set of live tools changes; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.board.onChange(listener);
  }

  /** Adds a tool, optionally as part of a plugin (`group`); a name already taken is a programming error. */
  register<S extends ObjectSchema>(definition: ToolDefinition<S>, options: { group?: string; enabled?: boolean } = {}): void {
    this.board.add(definition.name, compileEntry(definition as unknown as ToolDefinition), options);
  }

  /** Removes a tool; returns whether it was there. */
  unregister(name: string): boolean {
    return this.board.remove(name);
  }

  /** The on/off switches of these tools (per tool and per plugin). */
  get switches(): Switches {
    return this.board;
  }

  /** Every live tool, in name order so lists are deterministic. */
  list(): Tool[] {
    return this.board.live().map((t) => t.listing);
  }

  /** Whether the tool is registered and live. */
  has(name: string): boolean {
    return this.board.lookup(name)?.live === true;
  }

  states(): SwitchState[] {
    return this.board.states();
  }

  /**
   * Validates `args` and runs the tool. Invalid arguments come back as a tool
   * error (isError), so a model can read the message and correct its call.
   */
  async call(name: string, args: unknown, context: ToolContext): Promise<CallToolResult> {
    const found = this.board.lookup(name);
    if (!found?.live) throw new UnknownToolError(name, found !== undefined);
    const entry = found.value;
    const parsed = entry.input.validate(args ?? {});
    if (!parsed.ok) return toolError(`Invalid arguments for ${name}: ${parsed.message}`);
    const result = await entry.definition.handler(parsed.data, context);
    return this.checkOutput(entry, result);
  }

  /** A tool with an output schema must return matching structuredContent (the spec's contract). */
  private checkOutput(entry: Entry, result: CallToolResult): CallToolResult {
    if (!entry.output || result.isError) return result;
    const name = entry.definition.name;
    if (result.structuredContent === undefined) {
      return toolError(`Tool ${name} declares an output schema but returned no structured content; this is a bug in the tool.`);
    }
    const checked = entry.output.validate(result.structuredContent);
    if (!checked.ok) return toolError(`Tool ${name} returned results that do not match its output schema (${checked.message}); this is a bug in the tool.`);
    return result;
  }
}
