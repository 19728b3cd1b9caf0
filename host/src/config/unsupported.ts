// Keys the schema knows but nothing implements yet. Setting one stops the
// gateway with the key, the reason and what to do, instead of a gateway that
// quietly does less than its config says. When a feature lands, its entries
// leave this table and its keys get their defaults back in schema.ts.
import type { EdgeConfig } from './schema.js';

const THROTTLE = 'cpu_throttle_percent has no honest meaning yet: the gateway has no background CPU work to duty-cycle beyond what low_power_mode slows down; use power.low_power_mode';
const GPU = 'the local model runs on the CPU: GPU offload is not wired to [models] yet';

/**
 * Path of each refused key -> why. `*` stands for every entry of an array.
 * Keys are refused only when set: a key left out is simply absent.
 */
export const NOT_SUPPORTED_YET: Readonly<Record<string, string>> = {
  'power.cpu_throttle_percent': THROTTLE,
  'power.gpu_enabled': GPU,
};

export interface RefusedKey {
  /** Where it is set, e.g. "models.local_model" or "upstreams.2.energy". */
  key: string;
  reason: string;
}

/** The values at `path` in `value` (a `*` segment walks every array entry), with their concrete paths. */
function valuesAt(value: unknown, path: readonly string[], at: string[] = []): { key: string; value: unknown }[] {
  if (path.length === 0) return value === undefined ? [] : [{ key: at.join('.'), value }];
  if (value === null || typeof value !== 'object') return [];
  const [head, ...rest] = path as [string, ...string[]];
  if (head === '*') return Array.isArray(value) ? value.flatMap((v, i) => valuesAt(v, rest, [...at, String(i)])) : [];
  return Object.hasOwn(value, head) ? valuesAt((value as Record<string, unknown>)[head], rest, [...at, head]) : [];
}

/** Every key of `config` that is set and not supported yet. */
export function unsupportedKeys(config: EdgeConfig): RefusedKey[] {
  return Object.entries(NOT_SUPPORTED_YET).flatMap(([path, reason]) => valuesAt(config, path.split('.')).map(({ key }) => ({ key, reason })));
}
