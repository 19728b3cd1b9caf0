// mcp-edge audit: check and read the audit log in the gateway's database
// (docs/security.md "Audit log"). Works while the gateway runs.
//   verify  walks the hash chain; exit 1 and the first broken row when it breaks
//   export  the rows as JSON lines on stdout, oldest first
//   head    the newest row's seq and hash, to keep somewhere else
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveSettings } from '../config/resolve.js';
import { AuditStore, type VerifyReport } from '../security/audit/store.js';
import { openDatabaseFile } from '../storage/database.js';
import { CONFIG_OPTIONS, loadCliConfig, UsageError, type ConfigOptions } from './common.js';
import type { Output } from './keys.js';

export const AUDIT_HELP = `  mcp-edge audit verify [--head <hash>] [--json]
                             check the audit log's hash chain (exit 1 at the
                             first broken row); --head: a head hash kept
                             elsewhere must still be in the chain
  mcp-edge audit export [--since <when>] [--until <when>]
                             the audit rows as JSON lines on stdout
                             (<when>: 2026-12-01, an ISO time, or 24h/7d ago)
  mcp-edge audit head        the newest row's seq and hash (to anchor elsewhere)`;

const stdio: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

const AGO: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "24h", "7d", "90m" (that long ago) or an ISO date / date-time: ms since epoch. */
export function parseWhen(option: string, value: string, now: number): number {
  const ago = /^(\d{1,6})([mhd])$/.exec(value);
  if (ago) return now - Number(ago[1]) * AGO[ago[2]!]!;
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new UsageError(`${option} "${value}" is neither a time ago (24h, 7d, 90m) nor a date (2026-12-01 or 2026-12-01T08:00:00Z)`);
  return at;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...CONFIG_OPTIONS, since: { type: 'string' }, until: { type: 'string' }, head: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function verifyText(r: VerifyReport): string {
  const from = r.anchor ? `from the retention anchor (row ${r.anchor.seq})` : 'from the first row';
  if (!r.ok) return `audit log BROKEN at row ${r.broken!.seq}: ${r.broken!.reason}.\n${r.rows} rows verified ${from} before it.\n`;
  return `audit log OK: ${r.rows} rows verified ${from}; head row ${r.head.seq}, hash ${r.head.hash}\n`;
}

/** Runs `mcp-edge audit <action> ...`; returns the exit code. */
export async function auditCommand(argv: string[], io: Output = stdio): Promise<number> {
  const { values, positionals } = parse(argv);
  const [action, ...extra] = positionals;
  if (action === undefined) throw new UsageError(`say what to do with the audit log:\n${AUDIT_HELP}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (action !== 'export' && (values.since !== undefined || values.until !== undefined)) throw new UsageError('--since and --until go with "audit export"');
  if (action !== 'verify' && values.head !== undefined) throw new UsageError('--head goes with "audit verify"');
  if (values.head !== undefined && !/^[0-9a-f]{64}$/.test(values.head)) throw new UsageError('--head takes the 64 hex digits "mcp-edge audit head" printed');
  const file = resolveSettings(await loadCliConfig(values as ConfigOptions)).databaseFile;
  if (!existsSync(file)) {
    io.err(`mcp-edge audit: no database at ${file}: the gateway has not run with this data directory yet. Pass the one it uses (--data-dir, or --config).\n`);
    return 1;
  }
  const db = openDatabaseFile(file);
  try {
    const store = new AuditStore(db);
    switch (action) {
      case 'verify': {
        const report = store.verify(values.head);
        io.out(values.json ? JSON.stringify(report) + '\n' : verifyText(report));
        return report.ok ? 0 : 1;
      }
      case 'export': {
        const now = Date.now();
        const since = values.since === undefined ? undefined : parseWhen('--since', values.since, now);
        const until = values.until === undefined ? undefined : parseWhen('--until', values.until, now);
        for (const row of store.rows(since, until)) io.out(JSON.stringify({ ...row, at: new Date(row.at_ms).toISOString() }) + '\n');
        return 0;
      }
      case 'head': {
        const head = store.head();
        io.out(values.json ? JSON.stringify(head) + '\n' : `${head.seq} ${head.hash}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown audit action "${action}"; use verify, export or head`);
    }
  } finally {
    db.close();
  }
}
