// What the gateway's audit log (log.ts, main thread) and its chain writer
// (writer.ts, in a worker thread) say to each other. Records cross packed
// (packEvents: one flat array of values, each principal a plain { id, kind }):
// the structured clone of a batch is the main thread's whole share of writing it.
import type { AuditEvent } from './event.js';

/** Records dropped since the last gap row: how many and when. */
export interface Gap {
  count: number;
  firstMs: number;
  lastMs: number;
}

/** What the worker needs to open its own connection and keep the chain. */
export interface WriterOptions {
  /** The gateway's database file (the worker opens its own connection to it). */
  file: string;
  recordArguments: boolean;
  retentionDays?: number;
  maxRows?: number;
}

export type ToWriter =
  /** Records to append in one transaction (packed: packEvents), after a gap row when `gap` is set. */
  | { type: 'batch'; records: unknown[]; gap?: Gap }
  /** Write everything sent so far (one attempt), then reply with `id`. */
  | { type: 'flush'; id: number }
  /** As flush, then stop: the reply says how many records stay unwritten. */
  | { type: 'close'; id: number };

export type FromWriter =
  /** Batches committed and on disk; `failing`: whether a later batch has failed since (then writing has not resumed). */
  | { type: 'written'; records: number; batches: number; failing: boolean }
  | { type: 'failed'; error: string }
  | { type: 'pruned'; rows: number }
  | { type: 'log'; level: 'error' | 'info'; message: string; fields: Record<string, unknown> }
  | { type: 'reply'; id: number; unwritten: number };

type WirePrincipal = NonNullable<AuditEvent['principal']>;
/** Each principal cut down to what a row keeps, made once per principal object (a session's calls share theirs). */
const cutDown = new WeakMap<object, WirePrincipal>();
const alreadyCut = new WeakSet<object>();

/** `principal` as it crosses to the worker: { id, kind } (a full principal carries a Set of scopes, which the worker does not need). */
export function wirePrincipal(principal: WirePrincipal): WirePrincipal {
  if (alreadyCut.has(principal)) return principal;
  let cut = cutDown.get(principal);
  if (!cut) {
    cut = Object.freeze({ id: principal.id, kind: principal.kind });
    cutDown.set(principal, cut);
    alreadyCut.add(cut);
  }
  return cut;
}

/** How many values one event takes in a packed batch. */
export const PACKED_LENGTH = 11;

/**
 * Events as they cross to the worker: one flat array of their values, in a
 * fixed order, each principal cut down to what a row keeps. A structured
 * clone of flat values costs about half that of objects (whose keys are
 * written out with every one), and the clone is the main thread's whole
 * share of writing a batch.
 */
export function packEvents(events: readonly AuditEvent[]): unknown[] {
  const values: unknown[] = new Array(events.length * PACKED_LENGTH);
  let k = 0;
  for (const e of events) {
    values[k++] = e.operation;
    values[k++] = e.outcome;
    values[k++] = e.principal === undefined ? undefined : wirePrincipal(e.principal);
    values[k++] = e.address;
    values[k++] = e.session;
    values[k++] = e.target;
    values[k++] = e.arguments;
    values[k++] = e.code;
    values[k++] = e.detail;
    values[k++] = e.latencyMs;
    values[k++] = e.at;
  }
  return values;
}

/** The events of a packed batch (absent fields come back undefined, which a row reads as absent). */
export function unpackEvents(values: readonly unknown[]): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (let k = 0; k + PACKED_LENGTH <= values.length; k += PACKED_LENGTH) {
    events.push({
      operation: values[k] as string,
      outcome: values[k + 1] as AuditEvent['outcome'],
      principal: values[k + 2] as AuditEvent['principal'],
      address: values[k + 3] as string | undefined,
      session: values[k + 4] as string | undefined,
      target: values[k + 5] as string | undefined,
      arguments: values[k + 6],
      code: values[k + 7] as number | undefined,
      detail: values[k + 8] as string | undefined,
      latencyMs: values[k + 9] as number | undefined,
      at: values[k + 10] as number | undefined,
    });
  }
  return events;
}

/** Where a packed batch holds each event's arguments (log.ts replaces those that cannot be cloned). */
export const ARGUMENTS_AT = 6;

/** The audit row of `gap.count` records dropped between its first and last time. */
export function gapEvent(gap: Gap): AuditEvent {
  return {
    operation: 'audit/gap',
    outcome: 'gap',
    code: gap.count,
    detail: `${gap.count} audit records were dropped between ${new Date(gap.firstMs).toISOString()} and ${new Date(gap.lastMs).toISOString()} (the writer was behind or the disk refused writes)`,
    at: gap.lastMs,
  };
}
