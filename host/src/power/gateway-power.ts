// Power management wired to the gateway's parts: which loops slow down or
// stop, which children sleep, and the operator's route (GET/POST /v1/power).
import type { IncomingMessage } from 'node:http';
import type { CoreRouter } from '../core/router.js';
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import { readChoice } from '../gateway/body.js';
import type { RouteRegistry } from '../gateway/routes.js';
import type { Provider } from '../providers/provider.js';
import type { UpstreamProvider } from '../providers/upstream/upstream.js';
import { fullSpeed, type DeliveryPacing } from '../queue/flow.js';
import type { QueueHooks } from '../queue/index.js';
import { APPROVAL_POLL_MS, type ToolPins } from '../security/pinning/pins.js';
import type { Logger } from '../telemetry/log.js';
import { PowerControl, type PowerSettings } from './power.js';

/** In low power: how often the queue's delivery loop and the approval poll look (they look every second otherwise). */
export const LOW_POWER_LOOP_MS = 10_000;
/** In low power: most calls in flight per queue destination (fewer sockets, less CPU at once). */
export const LOW_POWER_WINDOW = 4;

/**
 * The queue's pacing in each mode. Low power: the loop looks every 10 s, new
 * calls gather for as long before they go, and every window is capped; a
 * backlog, once sending, goes straight on (narrowed), then all is quiet.
 */
export function queuePacing(low: boolean, ownTickMs: number): DeliveryPacing {
  if (!low) return fullSpeed(ownTickMs);
  return { tickMs: Math.max(LOW_POWER_LOOP_MS, ownTickMs), pauseMs: LOW_POWER_LOOP_MS, maxWindow: LOW_POWER_WINDOW };
}

export interface PoweredParts {
  router: CoreRouter;
  aggregator: Aggregator;
  pins: ToolPins;
  queue: () => QueueHooks | undefined;
  log: Logger;
}

/** A PowerControl driving the gateway's router, loops and upstreams. */
export function gatewayPower(settings: PowerSettings, parts: PoweredParts): PowerControl {
  const queueDepth = (q: QueueHooks) => q.queue.status().destinations.reduce((sum, d) => sum + d.depth, 0);
  const loops = {
    pace(low: boolean) {
      const q = parts.queue();
      if (q) q.queue.setDeliveryPacing(queuePacing(low, q.queue.tickMs));
      parts.pins.watch(low ? LOW_POWER_LOOP_MS : APPROVAL_POLL_MS);
    },
    sleep() {
      parts.pins.close();
      const q = parts.queue();
      // Calls waiting for a destination keep their (slowed) retries; an empty queue needs no look: an enqueue kicks it.
      if (q && queueDepth(q) === 0) q.queue.setDeliveryPacing({ ...q.queue.deliveryPacing, tickMs: 0 });
    },
    wake() {
      try {
        parts.pins.refresh();
      } catch {
        // The poll, restarted by pace(), retries and reports.
      }
    },
  };
  const all = () => parts.aggregator.slots.map((s) => s.provider).filter(isUpstream);
  const upstreams = {
    async sleep() {
      const slept = await Promise.all(all().map((u) => u.sleep()));
      return slept.filter(Boolean).length;
    },
    busy: () => all().some((u) => u.busy),
    wake() {
      for (const u of all()) u.cancelSleep();
    },
  };
  return new PowerControl(settings, { router: parts.router, loops, upstreams, log: parts.log });
}

/** By its kind, not `instanceof`: the upstream module is loaded only when the config has upstreams (gateway.ts). */
function isUpstream(provider: Provider): provider is UpstreamProvider {
  return provider.kind === 'upstream';
}

const MODES = ['low', 'normal', 'auto'] as const;

/** GET /v1/power (status) and POST /v1/power (an operator sets the mode; an admin route). */
export function powerRoutes(power: PowerControl, routes: RouteRegistry): void {
  routes.set('GET /v1/power', () => power.status());
  routes.set('POST /v1/power', async (req: IncomingMessage) =>
    power.setOperatorMode(await readChoice(req, 'mode', MODES, '"auto" gives the mode back to the config and power.auto')),
  );
}
