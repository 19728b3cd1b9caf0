// The mesh's shared context: the spaces named by mesh.context, each loaded
// from the gateway's SQLite, kept in step with the peers (sync.ts), and
// telling the gateway which resource URIs changed so it can notify their
// subscribers.
import type { ContextSettings } from '../../config/mesh-settings.js';
import type { Db } from '../../storage/database.js';
import type { Logger } from '../../telemetry/log.js';
import type { MeshAdmission } from '../attestation.js';
import { ContextError } from '../errors.js';
import type { MeshNode } from '../node.js';
import { ContextSpace, type ContextChange } from './space.js';
import { ContextStore } from './store.js';
import { ContextSync } from './sync.js';

/** The resource URI of a space (`key` omitted), of one key, or of one document. */
export function contextUri(space: string, key?: string): string {
  return key === undefined ? `mcp-edge://context/${space}` : `mcp-edge://context/${space}/${key}`;
}

export function documentUri(space: string, name: string): string {
  return `mcp-edge://context/${space}/documents/${name}`;
}

/** The URIs a change touches: the space's, and each key's or document's. */
function touched(change: ContextChange): string[] {
  return [contextUri(change.space), ...change.keys.map((k) => contextUri(change.space, k)), ...change.documents.map((d) => documentUri(change.space, d))];
}

export class SharedContext {
  private readonly listeners = new Set<(uri: string) => void>();

  private constructor(
    readonly spaces: ReadonlyMap<string, ContextSpace>,
    readonly sync: ContextSync,
  ) {
    for (const space of spaces.values()) space.onChange((change) => touched(change).forEach((uri) => this.listeners.forEach((l) => l(uri))));
  }

  /** Loads the spaces and hooks the sync into `node` (before it starts). */
  static async attach(node: MeshNode, settings: ContextSettings, db: Db, admit: MeshAdmission, log: Logger): Promise<SharedContext> {
    const store = new ContextStore(db);
    const spaces = new Map(settings.spaces.map((name) => [name, new ContextSpace(name, settings, store)]));
    const sync = new ContextSync(node, spaces, settings, admit, log);
    await sync.attach();
    return new SharedContext(spaces, sync);
  }

  /** The space `name`; ContextError "unknown-space" when mesh.context does not name it. */
  space(name: string): ContextSpace {
    const space = this.spaces.get(name);
    if (!space) throw new ContextError('unknown-space', `no context space "${name}" here: mesh.context names ${[...this.spaces.keys()].map((n) => `"${n}"`).join(', ')}`);
    return space;
  }

  /** Calls `listener` with each resource URI whose content changed (a local write or a peer's). */
  onUpdated(listener: (uri: string) => void): void {
    this.listeners.add(listener);
  }

  /** Stops syncing and leaves each space stored as one snapshot (a short load at the next start). */
  close(): void {
    this.sync.stop();
    for (const space of this.spaces.values()) {
      space.compact();
      space.destroy();
    }
  }
}
