// The gateway's own resource: its providers, their health and routing
// statistics, as JSON at mcp-edge://providers.
import type { ReadResourceResult, Resource } from '@modelcontextprotocol/sdk/types.js';
import type { CoreRouter } from '../../core/router.js';
import type { Provider } from '../../providers/provider.js';
import type { PinSummary } from '../../security/pinning/pins.js';

export const PROVIDERS_RESOURCE: Resource = {
  uri: 'mcp-edge://providers',
  name: 'providers',
  title: 'Gateway providers',
  description: 'Every provider behind this gateway (local plugins, upstream servers, mesh peers), its health and routing statistics.',
  mimeType: 'application/json',
};

/** Which wire an upstream is connected over (stdio, http or sse), when the provider says. */
function transportOf(provider: Provider): { transport?: string } {
  const kind = (provider as { transportKind?: unknown }).transportKind;
  return typeof kind === 'string' ? { transport: kind } : {};
}

/** Open per-client upstream connections, for an upstream in session_mode "per-client". */
function sessionsOf(provider: Provider): { client_sessions?: number } {
  const n = (provider as { sessionLinks?: unknown }).sessionLinks;
  return typeof n === 'number' ? { client_sessions: n } : {};
}

/** An upstream's tool pinning: its mode, how many tools are pinned, which are not approved (names as it offers them). */
function pinningOf(summary: PinSummary | undefined): { pinning?: Record<string, unknown> } {
  if (!summary) return {};
  return { pinning: { mode: summary.mode, pinned: summary.pinned, withheld: summary.withheld, listed_unapproved: summary.listedUnapproved } };
}

export function providersReport(
  slots: readonly { provider: Provider; handle: number }[],
  router: CoreRouter,
  pins: (providerId: string) => PinSummary | undefined = () => undefined,
): ReadResourceResult {
  const providers = slots.map(({ provider, handle }) => {
    const health = provider.health();
    const catalog = provider.catalog();
    const stats = router.stats(handle);
    return {
      id: provider.id,
      kind: provider.kind,
      ...transportOf(provider),
      ...sessionsOf(provider),
      state: health.state,
      ...(health.detail ? { detail: health.detail } : {}),
      since: new Date(health.since).toISOString(),
      tools: catalog.tools.length,
      resources: catalog.resources.length,
      prompts: catalog.prompts.length,
      ...pinningOf(pins(provider.id)),
      routing: {
        circuit: stats.circuit,
        in_flight: stats.inFlight,
        calls: stats.calls,
        failures: stats.failures,
        error_rate: Number(stats.errorRate.toFixed(4)),
        ...(stats.latencyMs !== undefined ? { latency_ms: Number(stats.latencyMs.toFixed(3)) } : {}),
      },
    };
  });
  return { contents: [{ uri: PROVIDERS_RESOURCE.uri, mimeType: 'application/json', text: JSON.stringify({ providers }, null, 2) }] };
}
