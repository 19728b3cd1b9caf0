// The gateway's built-in ToolRegistry as a provider, so built-ins go through
// the same aggregator and router as everything else. Its names are never
// prefixed: they are the gateway's own.
import type { CallToolResult, GetPromptResult, ReadResourceResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { CatalogPart, Provider, ProviderCallContext, ProviderCatalog, ProviderHealth } from '../../providers/provider.js';
import { UnknownToolError, type ToolRegistry } from '../../tools/registry.js';

export class RegistryProvider implements Provider {
  readonly kind = 'local' as const;
  readonly prefix = '';
  private listing: Tool[] | undefined;
  private readonly since = Date.now();

  constructor(
    private readonly registry: ToolRegistry,
    readonly id = 'builtin',
  ) {
    registry.onChange(() => {
      this.listing = undefined;
    });
  }

  health(): ProviderHealth {
    return { state: 'up', since: this.since };
  }

  catalog(): ProviderCatalog {
    this.listing ??= this.registry.list();
    return { tools: this.listing, resources: [], resourceTemplates: [], prompts: [] };
  }

  async callTool(name: string, args: Record<string, unknown> | undefined, context: ProviderCallContext): Promise<CallToolResult> {
    try {
      return await this.registry.call(name, args, { signal: context.signal });
    } catch (err) {
      if (err instanceof UnknownToolError) throw new McpError(ErrorCode.InvalidParams, err.message);
      throw err;
    }
  }

  readResource(uri: string): Promise<ReadResourceResult> {
    return Promise.reject(new McpError(-32002, `Resource not found: ${uri}`));
  }

  getPrompt(name: string): Promise<GetPromptResult> {
    return Promise.reject(new McpError(ErrorCode.InvalidParams, `Prompt "${name}" is not offered here.`));
  }

  onChange(listener: (part: CatalogPart | 'health') => void): () => void {
    return this.registry.onChange(() => listener('tools'));
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}
