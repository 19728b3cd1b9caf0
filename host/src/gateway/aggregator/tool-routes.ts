// Router entries of tools: one per listed tool (its replicas as the merged
// list has them, plus the peers' of a tool that prefers remote replicas), and
// one per fan-out target (every provider of the name, this gateway's own and
// every mesh peer's). Statistics live in the core; an entry keeps its handle,
// and so its statistics, across rebuilds.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { CoreRouter } from '../../core/router.js';
import type { Provider } from '../../providers/provider.js';
import type { Offered } from './naming.js';
import type { Replica, ToolRoute } from './routing.js';

/** A router entry for `name` over `offers` (the old entry's handle and statistics kept). */
export function routeOver(router: CoreRouter, providerOf: (handle: number) => Provider, name: string, offers: readonly Offered<Tool>[], old: ToolRoute | undefined): ToolRoute {
  const handles = offers.map((r) => r.provider);
  const handle = old ? old.handle : router.addTool(handles);
  if (old) router.setReplicas(handle, handles);
  const replicas = new Map<number, Replica>();
  for (const r of offers) {
    const provider = providerOf(r.provider);
    const hints = r.item.annotations;
    const idempotent = Boolean(hints?.idempotentHint || hints?.readOnlyHint || provider.idempotentTools?.().has(r.name));
    replicas.set(r.provider, { provider, handle: r.provider, name: r.name, idempotent });
  }
  return { name, handle, replicas };
}

/** The peers' offers by the name they share them under. */
export function peerOffersByName(offered: readonly Offered<Tool>[], isPeer: (o: Offered<Tool>) => boolean): Map<string, Offered<Tool>[]> {
  const byName = new Map<string, Offered<Tool>[]>();
  for (const o of offered) if (isPeer(o)) byName.set(o.name, [...(byName.get(o.name) ?? []), o]);
  return byName;
}

/** The router entries of fan-out targets. */
export class FanOutRoutes {
  private routes = new Map<string, ToolRoute>();

  constructor(
    private readonly router: CoreRouter,
    private readonly build: (name: string, offers: readonly Offered<Tool>[], old: ToolRoute | undefined) => ToolRoute,
  ) {}

  get(target: string): ToolRoute | undefined {
    return this.routes.get(target);
  }

  /** Rebuilds the entries of `targets`: the listed tool's replicas and every peer's of that name. Returns each target's offers. */
  rebuild(targets: Iterable<string>, merged: readonly { name: string; replicas: readonly Offered<Tool>[] }[], peerOffers: Map<string, Offered<Tool>[]>): Map<string, Offered<Tool>[]> {
    const next = new Map<string, ToolRoute>();
    const offersOf = new Map<string, Offered<Tool>[]>();
    for (const target of new Set(targets)) {
      const listed = merged.find((m) => m.name === target)?.replicas ?? [];
      const all = [...listed, ...(peerOffers.get(target) ?? []).filter((p) => !listed.some((l) => l.provider === p.provider))];
      if (all.length === 0) continue;
      offersOf.set(target, all);
      next.set(target, this.build(target, all, this.routes.get(target)));
    }
    for (const [name, route] of this.routes) if (!next.has(name)) this.router.removeTool(route.handle);
    this.routes = next;
    return offersOf;
  }
}
