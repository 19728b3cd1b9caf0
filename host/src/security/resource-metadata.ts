// OAuth 2.0 Protected Resource Metadata (RFC 9728): the document an MCP client
// reads, after a 401 that points at it, to learn which authorization server
// issues tokens for this gateway and which scopes to ask for. Served when
// [auth.jwt] is configured.
import type { AuthSettings } from '../config/resolve.js';

/** The well-known path; the metadata of a resource with a path is served at this path followed by it. */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** Where the metadata of `resource` lives (RFC 9728 section 3.1: the well-known segment goes between host and path). */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${RESOURCE_METADATA_PATH}${path}`;
}

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: readonly string[];
  bearer_methods_supported: readonly string[];
  scopes_supported?: readonly string[];
  resource_name: string;
}

/** The metadata document, or undefined when OAuth (auth.jwt) is not configured. */
export function protectedResourceMetadata(auth: AuthSettings): ProtectedResourceMetadata | undefined {
  if (!auth.jwt || auth.resource === undefined) return undefined;
  return {
    resource: auth.resource,
    authorization_servers: auth.jwt.authorizationServers,
    // Tokens in the Authorization header only: never in a query string or a body.
    bearer_methods_supported: ['header'],
    ...(auth.requiredScopes.length > 0 ? { scopes_supported: auth.requiredScopes } : {}),
    resource_name: 'mcp-edge',
  };
}
