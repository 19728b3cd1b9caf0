// Schema migrations, applied in order, each once, each in its own transaction.
// Append new ones at the end; never edit one that has shipped.

export interface Migration {
  /** Stable, unique, sortable: "NNNN-what". */
  id: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: '0001-gateway-state',
    sql: `CREATE TABLE gateway_state (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    )`,
  },
  {
    // The offline queue (host/src/queue/store.ts): one row per deferred call,
    // kept after delivery as its MCP task until keep_until_ms; and the
    // receiving side's memory of idempotency keys.
    id: '0002-offline-queue',
    sql: `CREATE TABLE deferred (
      id INTEGER PRIMARY KEY,
      state TEXT NOT NULL,
      destination TEXT NOT NULL,
      tool TEXT NOT NULL,
      priority INTEGER NOT NULL,
      idem_key TEXT NOT NULL,
      client_key INTEGER NOT NULL,
      secret TEXT NOT NULL,
      payload BLOB,
      bytes INTEGER NOT NULL,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER,
      updated_ms INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      result BLOB,
      message TEXT,
      keep_until_ms INTEGER
    );
    CREATE UNIQUE INDEX deferred_key ON deferred(destination, idem_key);
    CREATE INDEX deferred_keep ON deferred(keep_until_ms) WHERE keep_until_ms IS NOT NULL;
    CREATE TABLE idempotency_results (
      key TEXT PRIMARY KEY,
      result BLOB NOT NULL,
      created_ms INTEGER NOT NULL
    );
    CREATE INDEX idempotency_created ON idempotency_results(created_ms);`,
  },
  {
    // Only client-given keys need the unique index (dedupe); calls without
    // one store an empty key and are sent under their task id. A random key
    // per call made every insert also land at a random place in this index.
    id: '0003-queue-client-key-index',
    sql: `DROP INDEX deferred_key;
    CREATE UNIQUE INDEX deferred_client_key ON deferred(destination, idem_key) WHERE client_key = 1;`,
  },
  {
    // Tool pinning (host/src/security/pinning/): per upstream tool, the
    // definition last approved (on first use or by an operator) and the one
    // offered since then that differs from it, waiting for approval. The
    // definitions are canonical JSON, kept so that `mcp-edge tools diff`
    // can show what changed. gateway_state 'tool_pins.generation' counts
    // approvals, so a running gateway sees one without a restart.
    id: '0004-tool-pins',
    sql: `CREATE TABLE tool_pins (
      upstream TEXT NOT NULL,
      tool TEXT NOT NULL,
      approved_digest TEXT,
      approved_definition TEXT,
      approved_ms INTEGER,
      approved_by TEXT,
      pending_digest TEXT,
      pending_definition TEXT,
      pending_ms INTEGER,
      PRIMARY KEY (upstream, tool)
    ) WITHOUT ROWID`,
  },
  {
    // API keys (host/src/security/api-keys.ts): a salted SHA-256 of each
    // secret, never the secret; names unique forever (revoked keys stay).
    id: '0005-api-keys',
    sql: `CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      salt BLOB NOT NULL,
      hash BLOB NOT NULL,
      scopes TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER,
      revoked_ms INTEGER
    )`,
  },
  {
    // The audit log (host/src/security/audit/): one row per audited event,
    // append-only. Each row's hash is SHA-256 over the previous row's hash and
    // the row's canonical content, so a changed, removed or reordered row
    // breaks the chain (`mcp-edge audit verify`). Retention prunes the oldest
    // rows only after moving audit_anchor to the last row it prunes: the
    // triggers refuse every UPDATE of a row, and every DELETE of a row the
    // anchor does not cover; the anchor only moves forward and is never deleted.
    id: '0006-audit',
    sql: `CREATE TABLE audit_log (
      seq INTEGER PRIMARY KEY,
      at_ms INTEGER NOT NULL,
      operation TEXT NOT NULL,
      principal_id TEXT,
      principal_kind TEXT,
      address TEXT,
      session TEXT,
      target TEXT,
      args_digest TEXT,
      arguments TEXT,
      outcome TEXT NOT NULL,
      code INTEGER,
      detail TEXT,
      latency_us INTEGER,
      hash TEXT NOT NULL
    );
    CREATE INDEX audit_log_at ON audit_log(at_ms);
    CREATE TABLE audit_anchor (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      seq INTEGER NOT NULL,
      hash TEXT NOT NULL,
      pruned_ms INTEGER NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be changed'); END;
    CREATE TRIGGER audit_log_prune_only BEFORE DELETE ON audit_log
      WHEN OLD.seq > COALESCE((SELECT seq FROM audit_anchor WHERE id = 1), 0)
      BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: only rows covered by the retention anchor can be deleted'); END;
    CREATE TRIGGER audit_anchor_forward BEFORE UPDATE ON audit_anchor
      WHEN NEW.seq <= OLD.seq OR NEW.id != OLD.id
      BEGIN SELECT RAISE(ABORT, 'the audit anchor only moves forward'); END;
    CREATE TRIGGER audit_anchor_kept BEFORE DELETE ON audit_anchor
      BEGIN SELECT RAISE(ABORT, 'the audit anchor cannot be deleted'); END;`,
  },
  {
    // Who queued each deferred call (host/src/queue/mcp.ts): the
    // authenticated principal's id, so tasks/list, get, result and cancel
    // show a principal only its own tasks. NULL for calls queued by a local
    // principal (stdio, loopback without auth) and for rows from before.
    id: '0007-task-owner',
    sql: `ALTER TABLE deferred ADD COLUMN owner TEXT;
    CREATE INDEX deferred_owner ON deferred(owner, id) WHERE owner IS NOT NULL;`,
  },
  {
    // Usage analytics (host/src/analytics/): per hour, tool, provider and
    // principal, the calls and what they cost. latency is a fixed log-scale
    // histogram (analytics/histogram.ts: 100 little-endian uint32 counts),
    // so hours and principals merge by adding counts and the percentiles of
    // a merge need no samples. provider is '' when no provider was reached.
    id: '0008-analytics',
    sql: `CREATE TABLE usage_hourly (
      hour_ms INTEGER NOT NULL,
      tool TEXT NOT NULL,
      provider TEXT NOT NULL,
      principal TEXT NOT NULL,
      calls INTEGER NOT NULL,
      errors INTEGER NOT NULL,
      bytes INTEGER NOT NULL,
      tokens INTEGER NOT NULL,
      token_calls INTEGER NOT NULL,
      latency_sum_ms REAL NOT NULL,
      latency BLOB NOT NULL,
      PRIMARY KEY (hour_ms, tool, provider, principal)
    ) WITHOUT ROWID;
    CREATE INDEX usage_hourly_principal ON usage_hourly(principal, hour_ms);`,
  },
  {
    // The telemetry export's outage buffer (host/src/telemetry/buffer.ts):
    // OTLP batches a collector did not take, oldest first (by id), each an
    // mcp-edge frame (lz4 by default) of the OTLP/JSON request body.
    // stored_bytes is the frame's size: what telemetry.buffer_max_bytes bounds.
    id: '0009-telemetry-buffer',
    sql: `CREATE TABLE telemetry_buffer (
      id INTEGER PRIMARY KEY,
      target TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      original_bytes INTEGER NOT NULL,
      stored_bytes INTEGER NOT NULL,
      payload BLOB NOT NULL
    );
    CREATE INDEX telemetry_buffer_target ON telemetry_buffer(target, id);`,
  },
  {
    // The mesh's shared context (host/src/mesh/context/store.ts): per space,
    // Yjs updates in the order they were applied; compaction replaces a
    // space's rows by one snapshot (the whole state as one update).
    id: '0010-mesh-context',
    sql: `CREATE TABLE context_updates (
      id INTEGER PRIMARY KEY,
      space TEXT NOT NULL,
      data BLOB NOT NULL,
      created_ms INTEGER NOT NULL
    );
    CREATE INDEX context_updates_space ON context_updates(space, id);`,
  },
];
