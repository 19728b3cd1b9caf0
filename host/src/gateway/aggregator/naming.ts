// Namespacing: how the names of tools and prompts from several providers become
// one list. Items with the same name in one namespace (a replica group, or
// every provider under prefix mode "never") merge into one routed entry.
import type { NamingOptions } from '../../config/resolve.js';

/** One item as a provider offers it. */
export interface Offered<T> {
  /** Index of the provider in the aggregator's (stable, configured) order. */
  provider: number;
  /** The provider's namespace prefix; "" never prefixes. */
  namespace: string;
  /** The name the provider uses. */
  name: string;
  item: T;
}

/** One entry of the merged list: its public name and the replicas behind it. */
export interface Merged<T> {
  name: string;
  replicas: Offered<T>[];
}

const ordinal = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function publicName(namespace: string, name: string, prefixed: boolean, separator: string): string {
  return prefixed && namespace ? `${namespace}${separator}${name}` : name;
}

/**
 * Merges offered items into entries sorted by public name (ordinal order, so
 * the list is the same on every machine and locale). Replicas keep the
 * providers' order. A public name that would still collide (a provider
 * naming a tool like another's prefixed name) keeps the first and reports the rest.
 */
export function mergeNames<T>(
  offered: readonly Offered<T>[],
  naming: NamingOptions,
  onConflict: (name: string, dropped: Offered<T>) => void = () => undefined,
): Merged<T>[] {
  const groups = new Map<string, Offered<T>[]>();
  for (const o of offered) {
    const key = naming.prefixMode === 'never' ? o.name : `${o.namespace}\u0000${o.name}`;
    const list = groups.get(key);
    if (list) list.push(o);
    else groups.set(key, [o]);
  }
  const namespacesPerName = new Map<string, Set<string>>();
  for (const o of offered) {
    const set = namespacesPerName.get(o.name) ?? new Set<string>();
    set.add(o.namespace);
    namespacesPerName.set(o.name, set);
  }
  const byName = new Map<string, Merged<T>>();
  for (const replicas of groups.values()) {
    replicas.sort((a, b) => a.provider - b.provider);
    const first = replicas[0]!;
    const prefixed =
      naming.prefixMode === 'always' ||
      (naming.prefixMode === 'on-collision' && (namespacesPerName.get(first.name)?.size ?? 0) > 1);
    const name = publicName(first.namespace, first.name, prefixed, naming.separator);
    const taken = byName.get(name);
    if (taken) {
      const keepNew = first.provider < taken.replicas[0]!.provider;
      const dropped = keepNew ? taken : { name, replicas };
      if (keepNew) byName.set(name, { name, replicas });
      for (const r of dropped.replicas) onConflict(name, r);
      continue;
    }
    byName.set(name, { name, replicas });
  }
  return [...byName.values()].sort((a, b) => ordinal(a.name, b.name));
}

/** Sorts by a string key in ordinal order (deterministic across locales). */
export function sortBy<T>(items: T[], key: (item: T) => string): T[] {
  return items.sort((a, b) => ordinal(key(a), key(b)));
}
