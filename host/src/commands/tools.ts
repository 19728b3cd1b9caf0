// `mcp-edge tools list|diff|approve`: the operator's side of tool pinning
// (security/pinning/). It works on the gateway's SQLite file, found as
// `serve` finds it (--config, --data-dir, $MCP_EDGE_DATA_DIR); a running
// gateway notices an approval within a second (it watches a counter the
// approval bumps) and tells its clients that the tool list changed.
// Everything an upstream wrote is shown through printable(): it may hold
// terminal escapes or invisible characters meant to hide from the operator.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/load.js';
import { resolveSettings } from '../config/resolve.js';
import { hiddenCharacters, renderDiff } from '../security/pinning/diff.js';
import { shortDigest } from '../security/pinning/digest.js';
import { APPROVAL_POLL_MS } from '../security/pinning/pins.js';
import { PinApprovalError, PinStore, type PinRow } from '../security/pinning/store.js';
import { approveCommand, oneLine } from '../security/pinning/words.js';
import { recordAdminAction } from '../security/audit/admin.js';
import { openDatabaseFile, type Db } from '../storage/database.js';

export const TOOLS_HELP = `Usage:
  mcp-edge tools list [UPSTREAM] [--json]     every pinned tool, and those waiting for approval
  mcp-edge tools diff [UPSTREAM [TOOL]]       what changed in each definition waiting for approval
  mcp-edge tools approve UPSTREAM TOOL [--digest HEX]
                                              approve the definition TOOL offers now (with --digest:
                                              only if it is still the one "tools diff" showed)
  mcp-edge tools approve UPSTREAM --all       approve every definition of UPSTREAM waiting

Options:
  -c, --config <file>     mcp-edge.toml whose database to use (as for "mcp-edge serve")
  -d, --data-dir <dir>    the gateway's data directory
`;

/** Where the command writes; a test can collect it. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const STANDARD: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

class UsageError extends Error {}

interface Options {
  config?: string;
  'data-dir'?: string;
  json?: boolean;
  all?: boolean;
  digest?: string;
  help?: boolean;
}

/** Runs `mcp-edge tools ...`; resolves with the exit code. Config and storage errors propagate to the CLI. */
export async function toolsCommand(argv: string[], io: Output = STANDARD): Promise<number> {
  let parsed: { values: Options; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'data-dir': { type: 'string', short: 'd' },
        json: { type: 'boolean' },
        all: { type: 'boolean' },
        digest: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`mcp-edge tools: ${(err as Error).message}\n${TOOLS_HELP}`);
    return 2;
  }
  const [action, ...rest] = parsed.positionals;
  if (parsed.values.help || action === undefined || action === 'help') {
    io.out(TOOLS_HELP);
    return action === undefined && !parsed.values.help ? 2 : 0;
  }
  try {
    checkUsage(action, rest, parsed.values);
    const db = await openGatewayDatabase(parsed.values, io);
    if (!db) return 1;
    try {
      const store = new PinStore(db);
      if (action === 'list') return list(store, rest[0], parsed.values.json === true, io);
      if (action === 'diff') return diff(store, rest[0], rest[1], io);
      return approve(db, store, rest[0]!, rest[1], parsed.values, io);
    } finally {
      db.close();
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`mcp-edge tools: ${err.message}\n${TOOLS_HELP}`);
    return 2;
  }
}

function checkUsage(action: string, args: string[], o: Options): void {
  const most = { list: 1, diff: 2, approve: 2 }[action];
  if (most === undefined) throw new UsageError(`unknown action "${action}"`);
  if (args.length > most) throw new UsageError(`unexpected argument "${args[most]}"`);
  if (action !== 'list' && o.json) throw new UsageError('--json goes with "tools list"');
  if (action !== 'approve' && (o.all || o.digest !== undefined)) throw new UsageError('--all and --digest go with "tools approve"');
  if (action !== 'approve') return;
  if (args[0] === undefined) throw new UsageError('name the upstream whose tool to approve');
  if (o.all && args[1] !== undefined) throw new UsageError('give a tool or --all, not both');
  if (!o.all && args[1] === undefined) throw new UsageError('name the tool to approve, or give --all to approve every waiting definition of the upstream');
  if (o.all && o.digest !== undefined) throw new UsageError('--digest approves one tool; leave out --all');
  if (o.digest !== undefined && !/^[0-9a-fA-F]{12,64}$/.test(o.digest)) throw new UsageError('--digest takes 12 to 64 hex digits, as "tools diff" prints them');
}

/** The gateway's database, found as `serve` finds it; undefined (and said why) when there is none yet. */
async function openGatewayDatabase(o: Options, io: Output): Promise<Db | undefined> {
  const explicit = o.config ?? (process.env.MCP_EDGE_CONFIG || undefined);
  const config = await loadConfigFile(explicit ?? 'mcp-edge.toml', { required: explicit !== undefined });
  if (o['data-dir']) config.gateway.data_dir = o['data-dir'];
  const file = resolveSettings(config).databaseFile;
  if (!existsSync(file)) {
    io.err(`mcp-edge tools: no database at ${file}: the gateway has not run with this data directory yet. Pass the one it uses (--data-dir, or --config).\n`);
    return undefined;
  }
  return openDatabaseFile(file);
}

type State = 'pinned' | 'changed' | 'new';

const stateOf = (r: PinRow): State => (r.pendingDigest === null ? 'pinned' : r.approvedDigest === null ? 'new' : 'changed');
const when = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const approvedText = (r: PinRow): string => (r.approvedBy === null ? 'never approved' : `${r.approvedBy === 'first-use' ? 'on first use' : 'by an operator'} ${when(r.approvedMs)}`);

function list(store: PinStore, upstream: string | undefined, json: boolean, io: Output): number {
  const rows = store.rows(upstream);
  if (json) {
    const items = rows.map((r) => ({
      upstream: r.upstream,
      tool: r.tool,
      state: stateOf(r),
      approved_digest: r.approvedDigest,
      approved_by: r.approvedBy,
      approved_at: r.approvedMs === null ? null : when(r.approvedMs),
      offered_digest: r.pendingDigest,
      offered_since: r.pendingMs === null ? null : when(r.pendingMs),
    }));
    io.out(`${JSON.stringify(items, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.out(upstream === undefined ? 'No tool is pinned yet: pins are recorded when the gateway first lists an upstream.\n' : `No tool of upstream "${upstream}" is pinned.\n`);
    return 0;
  }
  const table = rows.map((r) => {
    const digests = r.pendingDigest === null ? shortDigest(r.approvedDigest ?? '') : `${r.approvedDigest ? shortDigest(r.approvedDigest) : '(none)'} -> ${shortDigest(r.pendingDigest)}`;
    return [r.upstream, oneLine(r.tool), stateOf(r), digests, approvedText(r)];
  });
  io.out(columns([['UPSTREAM', 'TOOL', 'STATE', 'DIGEST', 'APPROVED'], ...table]));
  const waiting = rows.filter((r) => r.pendingDigest !== null).length;
  if (waiting > 0) io.out(`\n${waiting} definition(s) wait for approval; see what changed with "mcp-edge tools diff${upstream ? ` ${upstream}` : ''}".\n`);
  return 0;
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function diff(store: PinStore, upstream: string | undefined, tool: string | undefined, io: Output): number {
  const waiting = store.rows(upstream).filter((r) => r.pendingDigest !== null && (tool === undefined || r.tool === tool));
  if (waiting.length === 0) {
    io.out('No tool definition waits for approval.\n');
    return 0;
  }
  io.out(waiting.map(diffBlock).join('\n'));
  return 0;
}

/** One waiting definition: what it is, what changed, and the exact command that approves it. */
function diffBlock(r: PinRow): string {
  const pending = r.pendingDefinition ?? '{}';
  const digest = shortDigest(r.pendingDigest ?? '');
  const lines = [
    `${r.upstream} / ${oneLine(r.tool)}: ${stateOf(r) === 'new' ? 'a new tool, never approved' : 'changed since it was approved'}`,
    `  approved  ${r.approvedDigest ? `${shortDigest(r.approvedDigest)} (${approvedText(r)})` : '(none)'}`,
    `  offered   ${digest} (since ${when(r.pendingMs)})`,
    ...renderDiff(r.approvedDefinition, pending).map((l) => `  ${l}`),
  ];
  const hidden = hiddenCharacters(pending);
  if (hidden > 0) lines.push(`  WARNING: the offered definition holds ${hidden} invisible or control character(s), shown above as \\u{...}.`);
  lines.push(`  approve exactly this definition: ${approveCommand(r.upstream, r.tool, digest)}`);
  return `${lines.join('\n')}\n`;
}

function approve(db: Db, store: PinStore, upstream: string, tool: string | undefined, o: Options, io: Output): number {
  const later = `A running gateway offers ${tool === undefined ? 'them' : 'it'} within ${APPROVAL_POLL_MS / 1000} s and tells its clients the tool list changed.\n`;
  if (tool === undefined) {
    const approved = store.approveAll(upstream, Date.now());
    for (const r of approved) recordAdminAction(db, { operation: 'tools approve', outcome: 'ok', target: `${upstream}/${r.tool}`, detail: `digest ${r.pendingDigest ?? ''}` });
    if (approved.length === 0) {
      io.out(`No definition of upstream "${upstream}" waits for approval.\n`);
      return 0;
    }
    for (const r of approved) io.out(`approved ${upstream} / ${oneLine(r.tool)} (${shortDigest(r.pendingDigest ?? '')})\n`);
    io.out(later);
    return 0;
  }
  try {
    const row = store.approve(upstream, tool, Date.now(), o.digest);
    recordAdminAction(db, { operation: 'tools approve', outcome: 'ok', target: `${upstream}/${tool}`, detail: `digest ${row.approvedDigest ?? ''}` });
    io.out(`approved ${upstream} / ${oneLine(row.tool)} (${shortDigest(row.approvedDigest ?? '')})\n${later}`);
    return 0;
  } catch (err) {
    if (!(err instanceof PinApprovalError)) throw err;
    recordAdminAction(db, { operation: 'tools approve', outcome: 'error', target: `${upstream}/${tool}`, detail: err.message });
    io.err(`mcp-edge tools: ${err.message}\n`);
    return 1;
  }
}
