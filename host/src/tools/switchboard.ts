// A keyed set of things that can be switched on and off at run time, singly or
// by group (a plugin). Tools, resources and prompts each keep one; an item is
// live when it and its group are both enabled. Listing order is by key, so what
// clients see is deterministic.

interface Slot<T> {
  value: T;
  enabled: boolean;
  group: string | undefined;
}

/** One item's switch state, for status pages and tests. */
export interface SwitchState {
  key: string;
  group?: string;
  enabled: boolean;
  /** Enabled and its group (if any) enabled: visible to clients. */
  live: boolean;
}

/** The switching half of a Switchboard, without access to its items. */
export type Switches = Pick<Switchboard<unknown>, 'setEnabled' | 'setGroupEnabled' | 'removeGroup' | 'states' | 'onChange'>;

export class Switchboard<T> {
  private readonly slots = new Map<string, Slot<T>>();
  private readonly disabledGroups = new Set<string>();
  private readonly listeners = new Set<() => void>();

  /** `kind` names the items in error messages ("tool", "prompt"). */
  constructor(private readonly kind: string) {}

  /** Calls `listener` whenever the live set changes; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds an item; a key already taken is a programming error. */
  add(key: string, value: T, options: { group?: string; enabled?: boolean } = {}): void {
    if (this.slots.has(key)) throw new Error(`${this.kind} "${key}" is already registered`);
    const slot: Slot<T> = { value, enabled: options.enabled ?? true, group: options.group };
    this.slots.set(key, slot);
    if (this.isLive(slot)) this.changed();
  }

  /** Removes an item; returns whether it was there. */
  remove(key: string): boolean {
    const slot = this.slots.get(key);
    if (!slot) return false;
    this.slots.delete(key);
    if (this.isLive(slot)) this.changed();
    return true;
  }

  /** Removes every item of a group; returns how many went. */
  removeGroup(group: string): number {
    const keys = [...this.slots].filter(([, s]) => s.group === group).map(([k]) => k);
    const wasLive = keys.some((k) => this.isLive(this.slots.get(k)!));
    for (const key of keys) this.slots.delete(key);
    this.disabledGroups.delete(group);
    if (wasLive) this.changed();
    return keys.length;
  }

  /** Switches one item; returns false when there is no such item. */
  setEnabled(key: string, enabled: boolean): boolean {
    const slot = this.slots.get(key);
    if (!slot) return false;
    if (slot.enabled === enabled) return true;
    const before = this.isLive(slot);
    slot.enabled = enabled;
    if (before !== this.isLive(slot)) this.changed();
    return true;
  }

  /**
   * Switches a whole group, including items added to it later; returns false
   * when no item belongs to it yet.
   */
  setGroupEnabled(group: string, enabled: boolean): boolean {
    const members = [...this.slots.values()].filter((s) => s.group === group);
    const before = members.map((s) => this.isLive(s));
    if (enabled) this.disabledGroups.delete(group);
    else this.disabledGroups.add(group);
    if (members.some((s, i) => this.isLive(s) !== before[i])) this.changed();
    return members.length > 0;
  }

  /** The item, whether or not it is live. */
  lookup(key: string): { value: T; live: boolean } | undefined {
    const slot = this.slots.get(key);
    return slot && { value: slot.value, live: this.isLive(slot) };
  }

  /** Live items in key order. */
  live(): T[] {
    return [...this.slots.entries()]
      .filter(([, s]) => this.isLive(s))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, s]) => s.value);
  }

  states(): SwitchState[] {
    return [...this.slots.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, s]) => ({ key, ...(s.group ? { group: s.group } : {}), enabled: s.enabled, live: this.isLive(s) }));
  }

  private isLive(slot: Slot<T>): boolean {
    return slot.enabled && (slot.group === undefined || !this.disabledGroups.has(slot.group));
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
