// The program of the sqlite plugin's child process (see sqlite-worker.ts for
// why queries run in a child). It is source text, run with `node -e`, so it
// runs the same from host/src under vitest and from host/dist when installed.
//
// What a query may do is decided by SQLite itself, never by reading the SQL
// text, so no spelling gets around it (a leading ";", comments, quoting):
// - the connection allows 0 attached databases (SQLITE_LIMIT_ATTACHED), so
//   ATTACH and VACUUM, which attaches its target, fail whatever they name;
// - an authorizer (sqlite3_set_authorizer) sees every action a statement
//   compiles to and denies what the mode does not allow: in read-only mode
//   anything but reading; in both modes ATTACH, transactions, temporary
//   objects (they would outlive the call on a connection every client
//   shares), extension loading and pragmas outside a short list;
// - read-only mode also opens the file with SQLITE_OPEN_READONLY and turns
//   query_only on, so a write that got past the authorizer still fails;
// - the defensive flag keeps even a writer from corrupting the file
//   (writable_schema, sqlite_dbpage), and extension loading stays off.
// The authorizer records why it denied, so the client hears a reason and a
// stable code instead of SQLite's bare "not authorized".

/** Why a query was refused; the same codes as the plugins' Refusal. */
export type ChildRefusalCode = 'not_allowed' | 'write_refused' | 'invalid_sql' | 'invalid_argument' | 'failed';

/** What the child is started with (JSON in argv[1]). */
export interface ChildConfig {
  databases: Record<string, string>;
  readOnly: boolean;
  /** How long a statement waits for a lock another connection holds. */
  busyTimeoutMs: number;
}

// CommonJS. argv[1]: the ChildConfig as JSON.
export const SQLITE_CHILD_SOURCE = String.raw`
const { DatabaseSync, constants: C } = require('node:sqlite');
const config = JSON.parse(process.argv[1]);
const open = new Map();
class Refused extends Error { constructor(code, message) { super(message); this.code = code; } }

// Pragmas that describe the schema or read a setting.
const READ_PRAGMAS = new Set(['application_id', 'auto_vacuum', 'collation_list', 'compile_options', 'data_version', 'encoding', 'foreign_key_check',
  'foreign_key_list', 'foreign_keys', 'freelist_count', 'function_list', 'index_info', 'index_list', 'index_xinfo', 'integrity_check', 'journal_mode',
  'module_list', 'page_count', 'page_size', 'pragma_list', 'quick_check', 'schema_version', 'table_info', 'table_list', 'table_xinfo', 'user_version']);
// Of those, the ones whose argument names what to read (a table, an index, a row count), not a new value.
const ARGUMENT_READS = new Set(['foreign_key_check', 'foreign_key_list', 'index_info', 'index_list', 'index_xinfo', 'integrity_check', 'quick_check',
  'table_info', 'table_list', 'table_xinfo']);
// Pragmas a writer may set: they change the database file's own header or tidy it, nothing about the shared connection.
const WRITE_PRAGMAS = new Set(['application_id', 'optimize', 'user_version']);
const DENIED_FUNCTIONS = new Set(['load_extension', 'fts3_tokenizer']);
const VIRTUAL_TABLE_MODULES = new Set(['fts3', 'fts4', 'fts5', 'rtree', 'rtree_i32', 'geopoly']);
const READ_ACTIONS = new Set([C.SQLITE_SELECT, C.SQLITE_READ, C.SQLITE_FUNCTION, C.SQLITE_RECURSIVE, C.SQLITE_PRAGMA]);
const TEMP_ACTIONS = new Set([C.SQLITE_CREATE_TEMP_INDEX, C.SQLITE_CREATE_TEMP_TABLE, C.SQLITE_CREATE_TEMP_TRIGGER, C.SQLITE_CREATE_TEMP_VIEW,
  C.SQLITE_DROP_TEMP_INDEX, C.SQLITE_DROP_TEMP_TABLE, C.SQLITE_DROP_TEMP_TRIGGER, C.SQLITE_DROP_TEMP_VIEW]);
const ACTION_NAMES = new Map(Object.entries(C).filter(([k]) => k.startsWith('SQLITE_') && !k.includes('CHANGESET')).map(([k, v]) => [v, k.slice(7)]));

function pragmaRefusal(name, value) {
  const pragma = String(name).toLowerCase();
  if (WRITE_PRAGMAS.has(pragma) && !config.readOnly) return undefined;
  if (READ_PRAGMAS.has(pragma) && (value === null || ARGUMENT_READS.has(pragma))) return undefined;
  if (READ_PRAGMAS.has(pragma) && config.readOnly) return ['write_refused', 'This statement writes (PRAGMA ' + pragma + ' = ...), and plugins.sqlite.read_only is on: only queries that read are allowed.'];
  const allowed = [...READ_PRAGMAS, ...(config.readOnly ? [] : WRITE_PRAGMAS)].sort().join(', ');
  return ['not_allowed', 'PRAGMA ' + pragma + (value === null ? '' : ' = ...') + ' is not allowed: pragmas may read the schema and settings (' + allowed + ')' +
    (config.readOnly ? '.' : ', or set user_version and application_id; none may change the connection every client shares.')];
}

/** Why the action is refused ([code, message]), or undefined when it is allowed. */
function refusal(action, arg1, arg2, dbName) {
  if (action === C.SQLITE_ATTACH || action === C.SQLITE_DETACH) return ['not_allowed', 'ATTACH, DETACH and VACUUM are refused: they reach files other than the configured database (VACUUM attaches its target).'];
  if (action === C.SQLITE_TRANSACTION || action === C.SQLITE_SAVEPOINT) return ['not_allowed', 'BEGIN, COMMIT, ROLLBACK and SAVEPOINT are refused: each db_query runs as a transaction of its own, on a connection every client shares.'];
  if (TEMP_ACTIONS.has(action) || (dbName === 'temp' && !READ_ACTIONS.has(action))) return ['not_allowed', 'Temporary tables, indexes, views and triggers are refused: they would stay on the connection every client shares.'];
  if (action === C.SQLITE_PRAGMA) return pragmaRefusal(arg1, arg2);
  if (action === C.SQLITE_FUNCTION && DENIED_FUNCTIONS.has(String(arg2).toLowerCase())) return ['not_allowed', 'The SQL function ' + arg2 + ' is not allowed.'];
  if (config.readOnly && !READ_ACTIONS.has(action)) {
    const what = ACTION_NAMES.get(action) + (arg1 ? ' on ' + arg1 : '');
    return ['write_refused', 'This statement writes (' + what + '), and plugins.sqlite.read_only is on: only queries that read are allowed.'];
  }
  if ((action === C.SQLITE_CREATE_VTABLE || action === C.SQLITE_DROP_VTABLE) && !VIRTUAL_TABLE_MODULES.has(String(arg2).toLowerCase())) {
    return ['not_allowed', 'Virtual tables of module ' + arg2 + ' are not allowed; these are: ' + [...VIRTUAL_TABLE_MODULES].join(', ') + '.'];
  }
  return undefined;
}

// The first refusal while a statement compiles or runs: SQLite itself only says "not authorized".
let denied;
function authorize(action, arg1, arg2, dbName) {
  const why = refusal(action, arg1, arg2, dbName);
  if (!why) return C.SQLITE_OK;
  denied ??= why;
  return C.SQLITE_DENY;
}

function connection(name) {
  if (!open.has(name)) {
    const db = new DatabaseSync(config.databases[name], {
      readOnly: config.readOnly,
      allowExtension: false,
      defensive: true,
      readBigInts: true,
      timeout: config.busyTimeoutMs,
      limits: { attach: 0 },
    });
    if (db.limits.attach !== 0) throw new Refused('failed', 'This Node.js cannot limit attached databases; the sqlite plugin refuses to run without that.');
    if (config.readOnly) db.exec('PRAGMA query_only = ON');
    db.setAuthorizer(authorize);
    open.set(name, db);
  }
  return open.get(name);
}

// What failed while compiling or running: the authorizer's reason when it denied, else SQLite's own words.
function explain(e, code) {
  if (denied) return new Refused(denied[0], denied[1]);
  if (e instanceof Refused) return e;
  if (e.code === 'ERR_INVALID_STATE' || /column index out of range/.test(e.message)) {
    const message = /out of range/.test(e.message) ? 'Too many parameter values were provided' : e.message;
    return new Refused('invalid_argument', message + '. Check params against the placeholders.');
  }
  return new Refused(code, e.message);
}

function compile(db, sql) {
  const stmt = db.prepare(sql);
  const source = stmt.sourceSQL;
  const rest = sql.startsWith(source) ? sql.slice(source.length) : sql;
  if (/^[\s;]*$/.test(rest)) return stmt;
  // Only SQLite can tell a second statement from trailing comments: it compiles the rest (never runs it).
  try { db.prepare(rest); }
  catch (e) { if (e.code === 'ERR_INVALID_ARG_VALUE') return stmt; }
  denied = undefined;
  throw new Refused('invalid_sql', 'The SQL holds more than one statement; send one statement per call.');
}

/** Positional values must match the placeholders: SQLite would bind the missing ones as NULL. */
function checkCount(stmt, args) {
  try { stmt.iterate(...args, null); }
  catch { return; }
  throw new Refused('invalid_argument', 'Too few parameter values were provided. Check params against the placeholders.');
}

function cell(v) {
  if (v instanceof Uint8Array) return { base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (typeof v === 'bigint') return v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v.toString();
  return v;
}

function execute(stmt, args, maxRows, maxBytes) {
  const columns = stmt.columns().map((c) => c.name);
  if (columns.length === 0) {
    const info = stmt.run(...args);
    return { truncated: false, changes: Number(info.changes), last_insert_rowid: Number(info.lastInsertRowid) };
  }
  stmt.setReturnArrays(true);
  const rows = [];
  let bytes = 0;
  for (const row of stmt.iterate(...args)) {
    if (rows.length === maxRows) return { columns, rows, truncated: true };
    const converted = row.map(cell);
    bytes += JSON.stringify(converted).length;
    if (bytes > maxBytes) return { columns, rows, truncated: true };
    rows.push(converted);
  }
  return { columns, rows, truncated: false };
}

function run({ database, sql, params, maxRows, maxBytes }) {
  denied = undefined;
  let stmt;
  try { stmt = compile(connection(database), sql); }
  catch (e) { throw explain(e, 'invalid_sql'); }
  const args = Array.isArray(params) ? params : [params];
  try {
    if (Array.isArray(params)) checkCount(stmt, args);
    return execute(stmt, args, maxRows, maxBytes);
  } catch (e) {
    throw explain(e, 'failed');
  }
}

process.on('message', (req) => {
  let reply;
  try { reply = { id: req.id, ok: true, result: run(req) }; }
  catch (e) { reply = { id: req.id, ok: false, code: e instanceof Refused ? e.code : 'failed', message: e.message }; }
  process.send(reply);
});
process.on('disconnect', () => process.exit(0));
`;
