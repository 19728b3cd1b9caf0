// mcp-edge keys: create, list and revoke the API keys the gateway accepts
// (auth.api_keys = true). They live in the gateway's database, so this works
// while the gateway runs: a new key is accepted and a revoked one refused
// from the next request on. A created key is printed once, alone on stdout
// (KEY=$(mcp-edge keys create ci) works); it cannot be shown again.
import { parseArgs } from 'node:util';
import { resolveSettings } from '../config/resolve.js';
import { ApiKeyError, ApiKeyStore, statusOf, type ApiKeyRecord } from '../security/api-keys.js';
import { openDatabaseFile } from '../storage/database.js';
import { recordAdminAction } from '../security/audit/admin.js';
import { CONFIG_OPTIONS, loadCliConfig, UsageError, type ConfigOptions } from './common.js';

export const KEYS_HELP = `  mcp-edge keys create <name> [--scope <scope>]... [--expires <30d|12h|2027-01-31>]
                             create an API key (printed once, on stdout)
  mcp-edge keys list [--json]
                             every API key: name, status, scopes, dates
  mcp-edge keys revoke <name>
                             refuse it from the next request on (its open
                             sessions close within a second)`;

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30d", "12h", "90m", or a date ("2027-01-31", UTC) / date-time: when the key stops working. */
export function parseExpiry(value: string, now: number): number {
  const duration = /^(\d{1,6})([mhd])$/.exec(value);
  if (duration) return now + Number(duration[1]) * UNITS[duration[2]!]!;
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new UsageError(`--expires "${value}" is neither a duration (30d, 12h, 90m) nor a date (2027-01-31)`);
  return at;
}

const iso = (ms: number | undefined): string => (ms === undefined ? 'never' : new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + 'Z');

function table(keys: ApiKeyRecord[], now: number): string {
  const rows = [['NAME', 'STATUS', 'SCOPES', 'CREATED', 'EXPIRES'], ...keys.map((k) => [k.name, statusOf(k, now), k.scopes.join(' ') || '-', iso(k.createdAt), iso(k.expiresAt)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function asJson(key: ApiKeyRecord, now: number) {
  const at = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return { name: key.name, status: statusOf(key, now), scopes: key.scopes, created: at(key.createdAt), expires: at(key.expiresAt), revoked: at(key.revokedAt) };
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...CONFIG_OPTIONS, scope: { type: 'string', multiple: true }, expires: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Runs `mcp-edge keys <action> ...`. */
export async function keysCommand(argv: string[], io: Output = stdio): Promise<void> {
  const { values, positionals } = parse(argv);
  const [action, name, ...extra] = positionals;
  if (action === undefined) throw new UsageError(`say what to do with keys:\n${KEYS_HELP}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const config = await loadCliConfig(values as ConfigOptions);
  const db = openDatabaseFile(resolveSettings(config).databaseFile);
  try {
    const store = new ApiKeyStore(db);
    const now = Date.now();
    switch (action) {
      case 'create': {
        if (!name) throw new UsageError('name the key: mcp-edge keys create <name>');
        const expiresAt = values.expires !== undefined ? parseExpiry(values.expires, now) : undefined;
        const { key, record } = store.create({ name, scopes: values.scope ?? [], ...(expiresAt !== undefined ? { expiresAt } : {}) }, now);
        recordAdminAction(db, { operation: 'keys create', outcome: 'ok', target: record.name, detail: `scopes: ${record.scopes.join(' ') || 'none'}; expires: ${iso(record.expiresAt)}` });
        io.out(`${key}\n`);
        io.err(`Created API key "${record.name}" (scopes: ${record.scopes.join(' ') || 'none'}; expires: ${iso(record.expiresAt)}). This is the only time it is shown: store it now.\n`);
        if (!config.auth.api_keys) io.err('Note: auth.api_keys is not enabled in the config, so the gateway does not accept API keys yet. Set it under [auth].\n');
        return;
      }
      case 'list':
        if (name) throw new UsageError(`unexpected argument "${name}"`);
        io.out(values.json ? JSON.stringify(store.list().map((k) => asJson(k, now)), null, 2) + '\n' : table(store.list(), now));
        return;
      case 'revoke': {
        if (!name) throw new UsageError('name the key: mcp-edge keys revoke <name>');
        const before = store.get(name);
        const key = store.revoke(name, now);
        recordAdminAction(db, { operation: 'keys revoke', outcome: 'ok', target: name, ...(before?.revokedAt !== undefined ? { detail: 'already revoked' } : {}) });
        io.err(before?.revokedAt !== undefined ? `API key "${name}" was already revoked on ${iso(key.revokedAt)}.\n` : `Revoked API key "${name}": refused from the next request on.\n`);
        return;
      }
      default:
        throw new UsageError(`unknown keys action "${action}"; use create, list or revoke`);
    }
  } catch (err) {
    if (err instanceof ApiKeyError && err.code === 'bad-name') throw new UsageError(err.message);
    throw err;
  } finally {
    db.close();
  }
}
