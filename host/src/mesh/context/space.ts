// One shared context space: a Yjs document holding key/values (one Y.Map of
// JSON values) and text documents (one root Y.Text each, so that two nodes
// that start the same document concurrently merge it instead of one losing).
// Every update, written here or received from a peer, is checked before it
// touches the document (size, room, well-formed), then stored; an update
// that fails a check is refused whole, with a ContextError.
import * as Y from 'yjs';
import type { ContextSettings } from '../../config/mesh-settings.js';
import { ContextError } from '../errors.js';
import type { ContextStore } from './store.js';

/** Where an update came from: a tool of this gateway, the store at start, or a peer (its id). */
export type ContextOrigin = 'local' | 'store' | { peer: string };

/** What one transaction changed, for the resources' subscribers. */
export interface ContextChange {
  space: string;
  keys: string[];
  documents: string[];
}

/** Key and document names: they appear in resource URIs, so plain characters only. */
export const CONTEXT_NAME = /^[A-Za-z0-9._~:@-]{1,256}$/;

const VALUES = 'values';
const DOCUMENT_PREFIX = 'doc:';

/** Compaction after this many stored updates keeps a space's load at start short. */
const COMPACT_AFTER_ROWS = 500;

function checkName(kind: 'key' | 'document', name: string): void {
  if (!CONTEXT_NAME.test(name)) throw new ContextError('bad-name', `"${name}" is not a valid ${kind} name: 1 to 256 of A-Z, a-z, 0-9 and . _ ~ : @ -`);
}

/**
 * A value as JSON holds it. The tools write only JSON, but a peer's update may
 * put anything Yjs carries under a key: a shared type (read as its JSON),
 * bytes (base64), a subdocument (null: it has no JSON, and it refers to itself).
 */
function plain(value: unknown): unknown {
  if (value instanceof Y.AbstractType) return plain(value.toJSON());
  if (value instanceof Y.Doc) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

export class ContextSpace {
  private readonly doc = new Y.Doc();
  private readonly values: Y.Map<unknown>;
  /** Bytes stored for the space since its last compaction: what context_max_doc_bytes bounds. */
  private bytes = 0;
  private rows = 0;
  private readonly updateListeners = new Set<(update: Uint8Array, origin: ContextOrigin) => void>();
  private readonly changeListeners = new Set<(change: ContextChange) => void>();

  constructor(
    readonly name: string,
    private readonly settings: ContextSettings,
    private readonly store: ContextStore,
  ) {
    this.values = this.doc.getMap(VALUES);
    this.load();
    this.doc.on('update', (update: Uint8Array, origin: ContextOrigin) => this.updated(update, origin));
    this.doc.on('afterTransaction', (transaction: Y.Transaction) => this.changed(transaction));
  }

  /** Calls `listener` with every update applied here that did not come from the store (to store and send on). */
  onUpdate(listener: (update: Uint8Array, origin: ContextOrigin) => void): void {
    this.updateListeners.add(listener);
  }

  /** Calls `listener` with the keys and documents every transaction changed, local or remote. */
  onChange(listener: (change: ContextChange) => void): void {
    this.changeListeners.add(listener);
  }

  /**
   * The key/values and the (non-empty) documents, as JSON, keys sorted: the
   * order Yjs keeps is the order updates arrived, which differs between nodes
   * holding the same state.
   */
  snapshot(): { values: Record<string, unknown>; documents: Record<string, string> } {
    const values: Record<string, unknown> = {};
    for (const key of [...this.values.keys()].sort()) values[key] = this.value(key);
    const documents: Record<string, string> = {};
    for (const name of this.documentNames().sort()) {
      const text = this.doc.getText(DOCUMENT_PREFIX + name).toString();
      if (text.length > 0) documents[name] = text;
    }
    return { values, documents };
  }

  /** The value of `key`; undefined when it has none. */
  value(key: string): unknown {
    return plain(this.values.get(key));
  }

  /** The text of document `name`; undefined when it is empty or was never written. */
  document(name: string): string | undefined {
    if (!this.doc.share.has(DOCUMENT_PREFIX + name)) return undefined;
    const text = this.doc.getText(DOCUMENT_PREFIX + name).toString();
    return text.length > 0 ? text : undefined;
  }

  /** What the space holds: counts and stored bytes. */
  size(): { keys: number; documents: number; bytes: number } {
    const documents = this.documentNames().filter((name) => this.doc.getText(DOCUMENT_PREFIX + name).length > 0).length;
    return { keys: this.values.size, documents, bytes: this.bytes };
  }

  set(key: string, value: unknown): void {
    checkName('key', key);
    const json = JSON.stringify(value);
    if (json === undefined) throw new ContextError('bad-name', `the value of "${key}" is not JSON`);
    this.checkWrite(Buffer.byteLength(json));
    this.doc.transact(() => this.values.set(key, JSON.parse(json) as unknown), 'local');
  }

  /** Removes `key`; false when it had no value. */
  delete(key: string): boolean {
    checkName('key', key);
    if (!this.values.has(key)) return false;
    this.doc.transact(() => this.values.delete(key), 'local');
    return true;
  }

  append(name: string, text: string): void {
    checkName('document', name);
    this.checkWrite(Buffer.byteLength(text));
    const document = this.doc.getText(DOCUMENT_PREFIX + name);
    this.doc.transact(() => document.insert(document.length, text), 'local');
  }

  /** Empties document `name`; false when it was empty. */
  clear(name: string): boolean {
    checkName('document', name);
    const text = this.document(name);
    if (text === undefined) return false;
    const document = this.doc.getText(DOCUMENT_PREFIX + name);
    this.doc.transact(() => document.delete(0, document.length), 'local');
    return true;
  }

  /** This node's state vector (what it has), for a peer to send what is missing. */
  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  /** What a peer whose state vector is `theirs` misses; ContextError "corrupt" when `theirs` is not a state vector. */
  missing(theirs: Uint8Array): Uint8Array {
    try {
      Y.decodeStateVector(theirs);
      return Y.encodeStateAsUpdate(this.doc, theirs);
    } catch (err) {
      throw new ContextError('corrupt', `the peer's state vector is not one (${(err as Error).message})`);
    }
  }

  /**
   * Applies a peer's update of at most `maxBytes` (a gossiped update:
   * context_max_update_bytes; what a sync exchange sends, which may be the
   * whole space: context_max_doc_bytes). It is decoded in full before it
   * touches the document: garbage is refused, not half-applied.
   */
  apply(update: Uint8Array, origin: ContextOrigin, maxBytes = this.settings.maxUpdateBytes): void {
    if (update.length > maxBytes) throw new ContextError('too-large', `an update of ${update.length} bytes is over the limit of ${maxBytes} (mesh.context_max_update_bytes)`);
    this.checkRoom(update.length);
    try {
      Y.decodeUpdate(update);
    } catch (err) {
      throw new ContextError('corrupt', `the update is not a Yjs update (${(err as Error).message})`);
    }
    try {
      Y.applyUpdate(this.doc, update, origin);
    } catch (err) {
      throw new ContextError('corrupt', `the update could not be applied (${(err as Error).message})`);
    }
    this.boundPending();
  }

  /**
   * Updates whose predecessors have not arrived wait in the document (Yjs
   * keeps them pending, nothing stores them); the sync with peers fills the
   * gap. A peer that sends only such updates would grow that without bound:
   * past the space's limit they are dropped (a later sync sends them again
   * along with what they wait for).
   */
  private boundPending(): void {
    const pending = this.doc.store.pendingStructs?.update.length ?? 0;
    if (pending > this.settings.maxDocBytes) this.doc.store.pendingStructs = null;
  }

  /** Stores the whole state as one update in place of the rows so far. */
  compact(): void {
    const snapshot = Y.encodeStateAsUpdate(this.doc);
    this.store.compact(this.name, snapshot);
    this.bytes = snapshot.length;
    this.rows = 1;
  }

  /** Refuses a write of this gateway's tools over the update limit, or past the space's limit. */
  private checkWrite(bytes: number): void {
    if (bytes > this.settings.maxUpdateBytes) throw new ContextError('too-large', `a write of ${bytes} bytes is over the limit of ${this.settings.maxUpdateBytes} (mesh.context_max_update_bytes)`);
    this.checkRoom(bytes);
  }

  /** Refuses `bytes` more that would take the space past its limit (after compacting, which may free room). */
  private checkRoom(bytes: number): void {
    if (this.bytes + bytes <= this.settings.maxDocBytes) return;
    this.compact();
    if (this.bytes + bytes > this.settings.maxDocBytes) {
      throw new ContextError('space-full', `context space "${this.name}" holds ${this.bytes} bytes; ${bytes} more would pass mesh.context_max_doc_bytes (${this.settings.maxDocBytes}): delete keys or raise the limit`);
    }
  }

  private load(): void {
    for (const update of this.store.load(this.name)) {
      try {
        Y.applyUpdate(this.doc, update, 'store');
      } catch (err) {
        throw new ContextError('corrupt', `a stored update of context space "${this.name}" is unreadable (${(err as Error).message}); the database file is damaged`);
      }
      this.bytes += update.length;
      this.rows += 1;
    }
  }

  private updated(update: Uint8Array, origin: ContextOrigin): void {
    if (origin === 'store') return;
    this.store.append(this.name, update);
    this.bytes += update.length;
    this.rows += 1;
    if (this.rows > COMPACT_AFTER_ROWS) this.compact();
    for (const listener of this.updateListeners) listener(update, origin);
  }

  private changed(transaction: Y.Transaction): void {
    if (transaction.origin === 'store' || transaction.changed.size === 0) return;
    const keys: string[] = [];
    const documents: string[] = [];
    for (const [type, subs] of transaction.changed) {
      if ((type as unknown) === this.values) keys.push(...[...subs].filter((k): k is string => k !== null));
      else {
        const root = [...this.doc.share].find(([, t]) => t === type)?.[0];
        if (root?.startsWith(DOCUMENT_PREFIX)) documents.push(root.slice(DOCUMENT_PREFIX.length));
      }
    }
    if (keys.length === 0 && documents.length === 0) return;
    for (const listener of this.changeListeners) listener({ space: this.name, keys, documents });
  }

  private documentNames(): string[] {
    return [...this.doc.share.keys()].filter((n) => n.startsWith(DOCUMENT_PREFIX) && CONTEXT_NAME.test(n.slice(DOCUMENT_PREFIX.length))).map((n) => n.slice(DOCUMENT_PREFIX.length));
  }

  destroy(): void {
    this.doc.destroy();
  }
}
