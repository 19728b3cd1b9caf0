// In-process MCP resources: fixed URIs and URI templates (RFC 6570, matched
// with the SDK's UriTemplate), each with a read handler, each switchable.
import { UriTemplate, type Variables } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { ReadResourceResult, Resource, ResourceTemplate } from '@modelcontextprotocol/sdk/types.js';
import { Switchboard } from '../../tools/switchboard.js';
import type { ToolContext } from '../../tools/registry.js';

export interface ResourceDefinition {
  /** The exact URI clients read, e.g. "config://gateway". */
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  read: (uri: URL, context: ToolContext) => Promise<ReadResourceResult> | ReadResourceResult;
}

export interface ResourceTemplateDefinition {
  /** An RFC 6570 template, e.g. "notes://{id}" or "file://{+path}". */
  uriTemplate: string;
  /** Unique among templates; what enable/disable use. */
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  read: (uri: URL, variables: Variables, context: ToolContext) => Promise<ReadResourceResult> | ReadResourceResult;
}

/** No live resource has this URI (MCP's "resource not found": RESOURCE_NOT_FOUND in protocol/jsonrpc.ts). */
export class ResourceNotFoundError extends Error {
  override readonly name = 'ResourceNotFoundError';
  constructor(
    readonly uri: string,
    reason = 'no resource or template of this gateway matches it. Call resources/list and resources/templates/list.',
  ) {
    super(`Resource ${uri} not found: ${reason}`);
  }
}

interface TemplateEntry {
  definition: ResourceTemplateDefinition;
  template: UriTemplate;
}

function listingOf(d: ResourceDefinition): Resource {
  const { read: _read, ...listing } = d;
  return listing;
}

function templateListingOf(d: ResourceTemplateDefinition): ResourceTemplate {
  const { read: _read, ...listing } = d;
  return listing;
}

export class ResourceRegistry {
  /** Fixed resources by URI. */
  readonly fixed = new Switchboard<ResourceDefinition>('resource');
  /** Templates by name. */
  readonly templates = new Switchboard<TemplateEntry>('resource template');

  register(definition: ResourceDefinition, options: { group?: string; enabled?: boolean } = {}): void {
    if (!URL.canParse(definition.uri)) throw new Error(`resource "${definition.name}": "${definition.uri}" is not an absolute URI`);
    this.fixed.add(definition.uri, definition, options);
  }

  registerTemplate(definition: ResourceTemplateDefinition, options: { group?: string; enabled?: boolean } = {}): void {
    const template = new UriTemplate(definition.uriTemplate);
    this.templates.add(definition.name, { definition, template }, options);
  }

  list(): Resource[] {
    return this.fixed.live().map(listingOf);
  }

  listTemplates(): ResourceTemplate[] {
    return this.templates.live().map((t) => templateListingOf(t.definition));
  }

  /** Reads a URI: an exact fixed resource first, then the first template (by name) that matches. */
  async read(uri: string, context: ToolContext): Promise<ReadResourceResult> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new ResourceNotFoundError(uri, 'it is not an absolute URI.');
    }
    const fixed = this.fixed.lookup(uri);
    if (fixed?.live) return fixed.value.read(url, context);
    for (const entry of this.templates.live()) {
      const variables = entry.template.match(uri);
      if (variables) return entry.definition.read(url, variables, context);
    }
    if (fixed) throw new ResourceNotFoundError(uri, 'it is disabled on this gateway.');
    throw new ResourceNotFoundError(uri);
  }
}
