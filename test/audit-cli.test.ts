// The audit log's chain and its CLI, with the real `mcp-edge` as a child
// process on real SQLite files: tampering done with the SQLite library
// directly (a changed row, a changed row with its hash recomputed, a deleted
// row, reordered rows, a cut-off tail) is found by `mcp-edge audit verify`,
// which names the first broken row and exits 1; retention keeps the chain
// verifiable; export round-trips; a gateway stopped with SIGTERM writes what
// is pending, and one killed with SIGKILL loses less than one batch.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH, type AuditEvent, type AuditRow } from '../host/src/security/audit/event.js';
import { AuditLog } from '../host/src/security/audit/log.js';
import { AuditStore } from '../host/src/security/audit/store.js';
import { DATABASE_FILE, openDatabaseFile, type Db } from '../host/src/storage/database.js';
import { createLogger } from '../host/src/telemetry/log.js';
import { eventually, freePort } from './helpers/gateway.js';
import { collect, spawnCli, tempDir, waitForExit, waitForOutput } from './helpers/processes.js';

/** Runs `mcp-edge audit ...` on `dir`; its exit code and output. */
async function auditCli(dir: string, args: string[]): Promise<{ code: number | NodeJS.Signals; out: string; err: string }> {
  const child = spawnCli(['audit', ...args, '--data-dir', dir]);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const code = await waitForExit(child);
  return { code, out: out.text(), err: err.text() };
}

const event = (n: number, at = Date.now()): AuditEvent => ({ operation: 'tools/call', outcome: 'ok', principal: { id: 'key:ci', kind: 'api-key' }, target: `tool_${n}`, arguments: { n }, latencyMs: 0.25, at });

/** A data dir whose database holds `count` chained rows. */
function chainOf(count: number, at?: (n: number) => number): { dir: string; db: Db } {
  const dir = tempDir();
  const db = openDatabaseFile(join(dir, DATABASE_FILE));
  new AuditStore(db).appendNow(Array.from({ length: count }, (_, i) => event(i + 1, at?.(i + 1))));
  return { dir, db };
}

/** What an attacker with the SQLite library does first: the triggers are only a speed bump. */
function dropTriggers(db: Db): void {
  for (const t of ['audit_log_no_update', 'audit_log_prune_only', 'audit_anchor_forward', 'audit_anchor_kept']) db.exec(`DROP TRIGGER ${t}`);
}

describe('mcp-edge audit verify: tampering', () => {
  it('passes an untouched chain, with its row count and head', async () => {
    const { dir, db } = chainOf(10);
    const head = new AuditStore(db).head();
    const r = await auditCli(dir, ['verify']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`audit log OK: 10 rows verified from the first row; head row 10, hash ${head.hash}\n`);
  });

  it('fails at a row edited in place, naming it', async () => {
    const { dir, db } = chainOf(10);
    dropTriggers(db);
    db.prepare("UPDATE audit_log SET outcome = 'denied' WHERE seq = 6").run();
    const r = await auditCli(dir, ['verify']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^audit log BROKEN at row 6: row 6's hash does not match its content/);
    expect(r.out).toContain('5 rows verified from the first row before it.');
  });

  it('fails at the next row when the edited row got a recomputed hash', async () => {
    const { dir, db } = chainOf(10);
    dropTriggers(db);
    const rows = db.prepare('SELECT * FROM audit_log WHERE seq IN (5, 6) ORDER BY seq').all() as AuditRow[];
    const forged = { ...rows[1]!, target: 'harmless_tool' };
    db.prepare('UPDATE audit_log SET target = ?, hash = ? WHERE seq = 6').run(forged.target, chainHash(rows[0]!.hash, forged));
    const r = await auditCli(dir, ['verify', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, rows: 6, broken: { seq: 7 } });
  });

  it('fails where a row in the middle was deleted', async () => {
    const { dir, db } = chainOf(10);
    dropTriggers(db);
    db.prepare('DELETE FROM audit_log WHERE seq = 4').run();
    const r = await auditCli(dir, ['verify']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^audit log BROKEN at row 5: row 4 is missing: row 5 follows row 3/);
  });

  it('fails where two rows were swapped (renumbered so the sequence has no hole)', async () => {
    const { dir, db } = chainOf(10);
    dropTriggers(db);
    db.exec('UPDATE audit_log SET seq = -3 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = -3;');
    const r = await auditCli(dir, ['verify']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^audit log BROKEN at row 3:/);
  });

  it('cannot see a cut-off tail alone, but --head with a head kept elsewhere does', async () => {
    const { dir, db } = chainOf(10);
    const kept = (await auditCli(dir, ['head'])).out.trim().split(' ')[1]!;
    expect(kept).toMatch(/^[0-9a-f]{64}$/);
    expect((await auditCli(dir, ['verify', '--head', kept])).code).toBe(0);
    dropTriggers(db);
    db.prepare('DELETE FROM audit_log WHERE seq > 7').run();
    expect((await auditCli(dir, ['verify'])).code).toBe(0);
    const r = await auditCli(dir, ['verify', '--head', kept]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`the head hash ${kept} is not in the chain`);
  });

  it('refuses bad usage with exit 2 and a line saying what to do', async () => {
    const { dir } = chainOf(1);
    const r = await auditCli(dir, ['verify', '--head', 'xyz']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--head takes the 64 hex digits');
    expect((await auditCli(dir, ['export', '--since', 'yesterday'])).err).toContain('--since "yesterday" is neither a time ago');
  });
});

describe('audit log: retention and export', () => {
  it('prunes the oldest rows (retention_days and max_rows) behind an anchor; verify stays green and later rows chain on', async () => {
    const day = 86_400_000;
    const now = Date.now();
    // Rows 1-20 are 10 days old, 21-50 new.
    const { dir, db } = chainOf(50, (n) => (n <= 20 ? now - 10 * day : now));
    const log = new AuditLog(db, { enabled: true, recordArguments: false, retentionDays: 7, maxRows: 40, flushIntervalMs: 5, batchMax: 100, maxPending: 100, onOverflow: 'drop' }, createLogger('silent'));
    expect(log.counters.pruned).toBe(20);
    log.record(event(51));
    await log.close();
    const r = await auditCli(dir, ['verify', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, rows: 31, anchor: { seq: 20 }, head: { seq: 51 } });
    // max_rows: keep the newest 10.
    expect(new AuditStore(db).prune({ maxRows: 10, limit: 1000 }, now)).toBe(21);
    const after = await auditCli(dir, ['verify']);
    expect(after.code).toBe(0);
    expect(after.out).toMatch(/^audit log OK: 10 rows verified from the retention anchor \(row 41\)/);
    // The anchor only moves forward: a pruned row cannot be put back behind it unnoticed.
    expect(() => db.prepare('UPDATE audit_anchor SET seq = 1').run()).toThrow(/only moves forward/);
  });

  it('exports JSON lines that round-trip: the same rows, and their hashes chain from the anchor', async () => {
    const { dir, db } = chainOf(12, (n) => Date.parse('2026-12-01T00:00:00Z') + n * 3_600_000);
    new AuditStore(db).prune({ maxRows: 10, limit: 100 }, Date.now());
    const r = await auditCli(dir, ['export']);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as AuditRow & { at: string });
    const stored = db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as AuditRow[];
    expect(lines.map(({ at: _at, ...row }) => row)).toEqual(stored);
    let previous = new AuditStore(db).anchor()?.hash ?? GENESIS_HASH;
    for (const row of lines) {
      expect(chainHash(previous, row)).toBe(row.hash);
      previous = row.hash;
    }
    expect(lines[0]!.at).toBe('2026-12-01T03:00:00.000Z');
    const window = await auditCli(dir, ['export', '--since', '2026-12-01T05:00:00Z', '--until', '2026-12-01T08:00:00Z']);
    expect(window.out.trim().split('\n').map((l) => (JSON.parse(l) as AuditRow).seq)).toEqual([5, 6, 7]);
  });

  it('records the CLI admin actions (keys create and revoke, tools approve) in the same chain', async () => {
    const dir = tempDir();
    const run = async (args: string[]) => waitForExit(spawnCli([...args, '--data-dir', dir]));
    expect(await run(['keys', 'create', 'ci', '--scope', 'mcp:tools'])).toBe(0);
    expect(await run(['keys', 'revoke', 'ci'])).toBe(0);
    expect(await run(['tools', 'approve', 'up', 'sum'])).toBe(1);
    const r = await auditCli(dir, ['export']);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l) as AuditRow);
    expect(rows.map((row) => [row.operation, row.target, row.outcome, row.principal_kind])).toEqual([
      ['keys create', 'ci', 'ok', 'local'],
      ['keys revoke', 'ci', 'ok', 'local'],
      ['tools approve', 'up/sum', 'error', 'local'],
    ]);
    expect(rows[0]!.principal_id).toMatch(/^local:cli:/);
    expect(rows[0]!.detail).toContain('mcp:tools');
    expect((await auditCli(dir, ['verify'])).code).toBe(0);
  });
});

describe('audit log: a gateway stopping', () => {
  /** `mcp-edge serve` on a free port with `[audit]` settings; its URL once it listens. */
  async function serve(audit: string): Promise<{ dir: string; url: string; child: ReturnType<typeof spawnCli> }> {
    const dir = tempDir();
    const config = join(dir, 'mcp-edge.toml');
    writeFileSync(config, `[audit]\n${audit}\n`);
    const port = await freePort();
    const child = spawnCli(['serve', '--config', config, '--data-dir', join(dir, 'data'), '--bind', `127.0.0.1:${port}`]);
    await waitForOutput(child.stderr, /listening/);
    return { dir: join(dir, 'data'), url: `http://127.0.0.1:${port}/mcp`, child };
  }

  async function calls(url: string, count: number): Promise<void> {
    const client = new Client({ name: 'audited', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    for (let i = 0; i < count; i++) await client.callTool({ name: 'count_tokens', arguments: { text: `call ${i}` } });
    await client.close();
  }

  /** A counter of the gateway's audit writer from GET /metrics (mcp_edge_audit_<name>_total). */
  async function auditCounter(url: string, name: 'records' | 'written'): Promise<number> {
    const text = await (await fetch(url.replace(/\/mcp$/, '/metrics'))).text();
    const value = new RegExp(`^mcp_edge_audit_${name}_total (\\d+)$`, 'm').exec(text)?.[1];
    if (value === undefined) throw new Error(`no mcp_edge_audit_${name}_total in /metrics`);
    return Number(value);
  }

  /** Rows of the audit log in `dir`: all of them, or those of one operation. */
  const countRows = (dir: string, operation?: string): number => {
    const db = openDatabaseFile(join(dir, DATABASE_FILE));
    try {
      const count = db.prepare(`SELECT count(*) FROM audit_log${operation ? ' WHERE operation = ?' : ''}`).pluck();
      return (operation ? count.get(operation) : count.get()) as number;
    } finally {
      db.close();
    }
  };
  const callRows = (dir: string): number => countRows(dir, 'tools/call');

  it('SIGTERM: the records still pending (a batch window of a minute) are written before it exits', async () => {
    const { dir, url, child } = await serve('flush_interval_ms = 60000');
    await calls(url, 7);
    child.kill('SIGTERM');
    expect(await waitForExit(child)).toBe(0);
    expect(callRows(dir)).toBe(7);
    expect((await auditCli(dir, ['verify'])).code).toBe(0);
  });

  it('SIGKILL: full batches are on disk, at most one unfinished batch (fewer than batch_max records) is lost, and the chain verifies', async () => {
    const { dir, url, child } = await serve('flush_interval_ms = 60000\nbatch_max = 10');
    await calls(url, 25);
    // A call returns before its record is written (the audit stays off the call path), so the kill
    // waits for the writer to report every full batch committed; a busy machine only delays that.
    const recorded = await auditCounter(url, 'records');
    const full = recorded - (recorded % 10);
    const committed = await eventually(async () => {
      const n = await auditCounter(url, 'written');
      return n >= full ? n : undefined;
    }, 30_000, `the audit writer to commit ${full} records`);
    child.kill('SIGKILL');
    await waitForExit(child);
    expect(countRows(dir)).toBeGreaterThanOrEqual(committed);
    const written = callRows(dir);
    expect(written).toBeGreaterThanOrEqual(25 - 9);
    expect(written).toBeLessThanOrEqual(25);
    expect((await auditCli(dir, ['verify'])).code).toBe(0);
  });
});
