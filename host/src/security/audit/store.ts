// The audit log's table (migration 0006-audit): appending a batch of events
// to the hash chain, pruning the oldest rows behind the anchor, walking the
// chain to verify it, and reading rows for export. The gateway's writer
// (log.ts) and the CLI (commands/audit.ts) both append through here; each
// batch reads the chain's head inside its own write transaction, so two
// processes appending to one database keep one chain.
import type { Statement } from 'better-sqlite3';
import type { Db } from '../../storage/database.js';
import { chainHash, contentOf, GENESIS_HASH, type AuditEvent, type AuditRow } from './event.js';

export interface ChainHead {
  seq: number;
  hash: string;
}

export interface Anchor extends ChainHead {
  prunedMs: number;
}

/** What `verify` found: ok, or the first row where the chain breaks and why. */
export interface VerifyReport {
  ok: boolean;
  /** Rows walked. */
  rows: number;
  /** The last pruned row (retention), where the walk starts; absent when nothing was pruned. */
  anchor?: Anchor;
  /** The newest row's seq and hash (the anchor's, or the genesis hash, when there are no rows). */
  head: ChainHead;
  broken?: { seq: number; reason: string };
  /** With an expected head: whether it is in the chain (a row's hash, or the anchor's). */
  expectedHeadFound?: boolean;
}

const COLUMNS = 'seq, at_ms, operation, principal_id, principal_kind, address, session, target, args_digest, arguments, outcome, code, detail, latency_us, hash';
const INSERT_ROWS = 32;

export class AuditStore {
  private readonly headStmt: Statement;
  private readonly anchorStmt: Statement;
  private readonly insertOne: Statement;
  private readonly insertMany: Statement;

  constructor(readonly db: Db) {
    this.headStmt = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.anchorStmt = db.prepare('SELECT seq, hash, pruned_ms AS prunedMs FROM audit_anchor WHERE id = 1');
    const one = `(${COLUMNS.split(',').map(() => '?').join(',')})`;
    this.insertOne = db.prepare(`INSERT INTO audit_log (${COLUMNS}) VALUES ${one}`);
    this.insertMany = db.prepare(`INSERT INTO audit_log (${COLUMNS}) VALUES ${Array(INSERT_ROWS).fill(one).join(',')}`);
  }

  anchor(): Anchor | undefined {
    return this.anchorStmt.get() as Anchor | undefined;
  }

  /** The newest row, else the anchor, else the genesis. */
  head(): ChainHead {
    const row = this.headStmt.get() as ChainHead | undefined;
    if (row) return row;
    const anchor = this.anchor();
    return anchor ? { seq: anchor.seq, hash: anchor.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /**
   * Appends `events` in order, chained to the head; call inside a write
   * transaction (`appendNow` opens one). Returns the new head.
   */
  appendInTransaction(events: readonly AuditEvent[], recordArguments: boolean): ChainHead {
    let { seq, hash } = this.head();
    const values: unknown[] = [];
    for (const event of events) {
      seq += 1;
      const content = contentOf(event, seq, recordArguments);
      hash = chainHash(hash, content);
      values.push(content.seq, content.at_ms, content.operation, content.principal_id, content.principal_kind, content.address, content.session, content.target, content.args_digest, content.arguments, content.outcome, content.code, content.detail, content.latency_us, hash);
      if (values.length === 15 * INSERT_ROWS) {
        this.insertMany.run(values);
        values.length = 0;
      }
    }
    for (let i = 0; i < values.length; i += 15) this.insertOne.run(values.slice(i, i + 15));
    return { seq, hash };
  }

  /** Appends `events` in their own write transaction (the CLI's admin actions). */
  appendNow(events: readonly AuditEvent[], recordArguments = false): ChainHead {
    return this.db.transaction(() => this.appendInTransaction(events, recordArguments)).immediate();
  }

  /**
   * Prunes the oldest rows: every row before the first one at or after
   * `olderThanMs`, and rows beyond the newest `maxRows`, at most `limit` per
   * call (a long delete would stall the gateway). The anchor moves to the
   * last pruned row first, so the chain still verifies from there.
   */
  prune(options: { olderThanMs?: number; maxRows?: number; limit: number }, now: number): number {
    return this.db
      .transaction(() => {
        const first = this.db.prepare('SELECT min(seq) FROM audit_log').pluck().get() as number | null;
        if (first === null) return 0;
        const head = this.head().seq;
        let cut = first - 1;
        if (options.olderThanMs !== undefined) {
          const young = this.db.prepare('SELECT min(seq) FROM audit_log WHERE at_ms >= ?').pluck().get(options.olderThanMs) as number | null;
          cut = Math.max(cut, (young ?? head + 1) - 1);
        }
        if (options.maxRows !== undefined) cut = Math.max(cut, head - options.maxRows);
        cut = Math.min(cut, first - 1 + options.limit);
        if (cut < first) return 0;
        const last = this.db.prepare('SELECT seq, hash FROM audit_log WHERE seq <= ? ORDER BY seq DESC LIMIT 1').get(cut) as ChainHead | undefined;
        if (!last) return 0;
        this.db
          .prepare('INSERT INTO audit_anchor (id, seq, hash, pruned_ms) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, pruned_ms = excluded.pruned_ms')
          .run(last.seq, last.hash, now);
        return this.db.prepare('DELETE FROM audit_log WHERE seq <= ?').run(last.seq).changes;
      })
      .immediate();
  }

  /**
   * Walks the chain from the anchor (or the genesis) and stops at the first
   * row whose seq is not the next one or whose hash is not what its content
   * and the previous hash give. `expectedHead`: a head hash kept elsewhere,
   * which must still be in the chain.
   */
  verify(expectedHead?: string): VerifyReport {
    const anchor = this.anchor();
    let previous: ChainHead = anchor ? { seq: anchor.seq, hash: anchor.hash } : { seq: 0, hash: GENESIS_HASH };
    let found = expectedHead !== undefined && previous.hash === expectedHead;
    let rows = 0;
    const base = { ...(anchor ? { anchor } : {}) };
    for (const row of this.db.prepare(`SELECT ${COLUMNS} FROM audit_log ORDER BY seq`).iterate() as IterableIterator<AuditRow>) {
      const reason = brokenAt(previous, row);
      if (reason) return { ok: false, rows, ...base, head: previous, broken: { seq: row.seq, reason } };
      previous = { seq: row.seq, hash: row.hash };
      if (row.hash === expectedHead) found = true;
      rows += 1;
    }
    if (expectedHead !== undefined && !found) {
      return { ok: false, rows, ...base, head: previous, expectedHeadFound: false, broken: { seq: previous.seq, reason: `the head hash ${expectedHead} is not in the chain: rows after it were removed, or the chain was rewritten` } };
    }
    return { ok: true, rows, ...base, head: previous, ...(expectedHead !== undefined ? { expectedHeadFound: true } : {}) };
  }

  /** Rows with at_ms in [sinceMs, untilMs), oldest first. */
  rows(sinceMs: number | undefined, untilMs: number | undefined): IterableIterator<AuditRow> {
    return this.db.prepare(`SELECT ${COLUMNS} FROM audit_log WHERE at_ms >= ? AND at_ms < ? ORDER BY seq`).iterate(sinceMs ?? 0, untilMs ?? Number.MAX_SAFE_INTEGER) as IterableIterator<AuditRow>;
  }
}

/** Why `row` does not follow `previous` in the chain, or undefined when it does. */
function brokenAt(previous: ChainHead, row: AuditRow): string | undefined {
  if (row.seq !== previous.seq + 1) {
    return row.seq > previous.seq + 1
      ? `row ${previous.seq + 1}${row.seq - previous.seq > 2 ? `..${row.seq - 1}` : ''} is missing: row ${row.seq} follows row ${previous.seq} (deleted rows)`
      : `row ${row.seq} is out of order after row ${previous.seq}`;
  }
  if (chainHash(previous.hash, row) !== row.hash) {
    return `row ${row.seq}'s hash does not match its content and the previous row's hash: the row was changed, or rows were reordered or replaced`;
  }
  return undefined;
}
