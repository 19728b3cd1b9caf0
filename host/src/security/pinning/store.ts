// The pins in SQLite (table tool_pins, migration 0004): what the running
// gateway records (first use, a changed definition waiting) and what
// `mcp-edge tools approve` changes from another process on the same file.
// An approval bumps gateway_state 'tool_pins.generation' in its transaction;
// the gateway reads that one row each second and reloads when it moved.
// Transactions that read, then write, begin IMMEDIATE (write lock first): a
// deferred one fails at once with SQLITE_BUSY when the other process commits
// between its read and its write, whatever busy_timeout says.
import type { Db } from '../../storage/database.js';

/** Who approved a definition: the gateway on first sight, or an operator with `mcp-edge tools approve`. */
export type ApprovedBy = 'first-use' | 'operator';

export interface PinRow {
  upstream: string;
  /** The tool's name as the upstream offers it (before any namespace prefix). */
  tool: string;
  /** The approved definition's digest; null for a tool held as new (never approved). */
  approvedDigest: string | null;
  approvedDefinition: string | null;
  approvedMs: number | null;
  approvedBy: ApprovedBy | null;
  /** A definition offered since, unlike the approved one; null when none waits. */
  pendingDigest: string | null;
  pendingDefinition: string | null;
  pendingMs: number | null;
}

/** Why an approval did not happen; the message says what to do. */
export type ApprovalErrorCode = 'unknown-tool' | 'nothing-pending' | 'digest-mismatch';

export class PinApprovalError extends Error {
  override readonly name = 'PinApprovalError';
  constructor(
    readonly code: ApprovalErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const GENERATION_KEY = 'tool_pins.generation';

const COLUMNS = `upstream, tool, approved_digest AS approvedDigest, approved_definition AS approvedDefinition,
  approved_ms AS approvedMs, approved_by AS approvedBy, pending_digest AS pendingDigest,
  pending_definition AS pendingDefinition, pending_ms AS pendingMs`;

export class PinStore {
  private readonly statements;

  constructor(private readonly db: Db) {
    this.statements = {
      all: db.prepare(`SELECT ${COLUMNS} FROM tool_pins ORDER BY upstream, tool`),
      ofUpstream: db.prepare(`SELECT ${COLUMNS} FROM tool_pins WHERE upstream = ? ORDER BY tool`),
      one: db.prepare(`SELECT ${COLUMNS} FROM tool_pins WHERE upstream = ? AND tool = ?`),
      firstUse: db.prepare(
        `INSERT INTO tool_pins (upstream, tool, approved_digest, approved_definition, approved_ms, approved_by) VALUES (?, ?, ?, ?, ?, 'first-use')`,
      ),
      setPending: db.prepare(
        `INSERT INTO tool_pins (upstream, tool, pending_digest, pending_definition, pending_ms) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (upstream, tool) DO UPDATE SET pending_digest = excluded.pending_digest,
           pending_definition = excluded.pending_definition, pending_ms = excluded.pending_ms`,
      ),
      clearPending: db.prepare(`UPDATE tool_pins SET pending_digest = NULL, pending_definition = NULL, pending_ms = NULL WHERE upstream = ? AND tool = ?`),
      approve: db.prepare(
        `UPDATE tool_pins SET approved_digest = pending_digest, approved_definition = pending_definition, approved_ms = ?,
           approved_by = 'operator', pending_digest = NULL, pending_definition = NULL, pending_ms = NULL
         WHERE upstream = ? AND tool = ? AND pending_digest = ?`,
      ),
      generation: db.prepare(`SELECT value FROM gateway_state WHERE key = '${GENERATION_KEY}'`).pluck(),
      bump: db.prepare(
        `INSERT INTO gateway_state (key, value) VALUES ('${GENERATION_KEY}', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`,
      ),
    };
  }

  /** Every pin, or one upstream's, ordered by upstream and tool. */
  rows(upstream?: string): PinRow[] {
    return (upstream === undefined ? this.statements.all.all() : this.statements.ofUpstream.all(upstream)) as PinRow[];
  }

  /** Counts approvals; changes only when an operator approved something. */
  generation(): string {
    return (this.statements.generation.get() as string | undefined) ?? '0';
  }

  /** Runs `fn` in one transaction (the writes of one catalog screening: one disk sync, not one per tool). */
  transaction(fn: () => void): void {
    this.db.transaction(fn).immediate();
  }

  recordFirstUse(upstream: string, tool: string, digest: string, definition: string, nowMs: number): void {
    this.statements.firstUse.run(upstream, tool, digest, definition, nowMs);
  }

  recordPending(upstream: string, tool: string, digest: string, definition: string, nowMs: number): void {
    this.statements.setPending.run(upstream, tool, digest, definition, nowMs);
  }

  clearPending(upstream: string, tool: string): void {
    this.statements.clearPending.run(upstream, tool);
  }

  /**
   * Approves the definition waiting for one tool. With `digestPrefix`, only
   * if the waiting one is still the one the operator looked at: the upstream
   * may have changed it again since `tools diff`.
   */
  approve(upstream: string, tool: string, nowMs: number, digestPrefix?: string): PinRow {
    return this.db.transaction(() => {
      const row = this.statements.one.get(upstream, tool) as PinRow | undefined;
      if (!row) throw new PinApprovalError('unknown-tool', `No tool "${tool}" of upstream "${upstream}" is known. Run "mcp-edge tools list" to see the known ones.`);
      if (row.pendingDigest === null) {
        throw new PinApprovalError('nothing-pending', `Tool "${tool}" of upstream "${upstream}" has no changed definition waiting; its approved one is in use.`);
      }
      if (digestPrefix !== undefined && !row.pendingDigest.startsWith(digestPrefix.toLowerCase())) {
        throw new PinApprovalError(
          'digest-mismatch',
          `The definition of "${tool}" waiting now (${row.pendingDigest.slice(0, 12)}) is not the one given (${digestPrefix}): upstream "${upstream}" changed it again. Run "mcp-edge tools diff ${upstream} ${tool}" and look again.`,
        );
      }
      this.statements.approve.run(nowMs, upstream, tool, row.pendingDigest);
      this.statements.bump.run();
      return { ...row, approvedDigest: row.pendingDigest, approvedDefinition: row.pendingDefinition, approvedMs: nowMs, approvedBy: 'operator' as const, pendingDigest: null, pendingDefinition: null, pendingMs: null };
    }).immediate();
  }

  /** Approves every definition waiting for `upstream`; returns the tools approved. */
  approveAll(upstream: string, nowMs: number): PinRow[] {
    return this.db.transaction(() => {
      const waiting = this.rows(upstream).filter((r) => r.pendingDigest !== null);
      for (const row of waiting) this.statements.approve.run(nowMs, upstream, row.tool, row.pendingDigest);
      if (waiting.length > 0) this.statements.bump.run();
      return waiting;
    }).immediate();
  }
}
