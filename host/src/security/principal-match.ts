// Which principals a rule of [authorization] or [rate_limits] is for, compiled
// once from its `principals` list: ids or id patterns ("key:ci-*"),
// "scope:<scope or pattern>", "kind:<kind>", or "*".
import { GlobSet } from './glob.js';
import type { Principal, PrincipalKind } from './principal.js';

export class PrincipalMatcher {
  private readonly everyone: boolean;
  private readonly ids: GlobSet;
  private readonly scopes: GlobSet;
  private readonly kinds: ReadonlySet<string>;

  /**
   * `folded`: ids and scopes compared with ASCII case ignored (deny rules and
   * limits: they should catch a principal spelled differently, not miss it).
   */
  constructor(
    selectors: readonly string[],
    private readonly folded: boolean,
  ) {
    this.everyone = selectors.includes('*');
    this.kinds = new Set(selectors.filter((s) => s.startsWith('kind:')).map((s) => s.slice(5)));
    this.scopes = new GlobSet(selectors.filter((s) => s.startsWith('scope:')).map((s) => s.slice(6)));
    this.ids = new GlobSet(selectors.filter((s) => s !== '*' && !s.startsWith('kind:') && !s.startsWith('scope:')));
  }

  matches(principal: Principal): boolean {
    if (this.everyone || this.kinds.has(principal.kind satisfies PrincipalKind)) return true;
    if (this.folded ? this.ids.matchesFolded(principal.id) : this.ids.matches(principal.id)) return true;
    if (this.scopes.empty) return false;
    for (const scope of principal.scopes) if (this.folded ? this.scopes.matchesFolded(scope) : this.scopes.matches(scope)) return true;
    return false;
  }
}

/**
 * Something computed from a principal (the rules that apply to it), kept per
 * principal id while its kind and scopes are the same objects (a JWT subject
 * may come back with other scopes). Bounded: past `max` ids it starts over,
 * so principals that keep changing cannot grow it.
 */
export class PerPrincipal<T> {
  private readonly entries = new Map<string, { kind: string; scopes: ReadonlySet<string>; value: T }>();
  constructor(
    private readonly compute: (principal: Principal) => T,
    private readonly max: number,
  ) {}

  get(principal: Principal): T {
    const hit = this.entries.get(principal.id);
    if (hit && hit.kind === principal.kind && (hit.scopes === principal.scopes || (hit.scopes.size === 0 && principal.scopes.size === 0))) return hit.value;
    const value = this.compute(principal);
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(principal.id, { kind: principal.kind, scopes: principal.scopes, value });
    return value;
  }
}
