// The sqlite plugin's guard against the probes of issue 12 (and more spellings
// of them): SQLite's authorizer, a limit of 0 attached databases and a
// read-only open decide, so no SQL syntax reaches another file or writes in
// read-only mode. Each probe runs against real SQLite files, and the files
// are checked afterwards, not only the answers.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Gateway } from '../host/src/index.js';
import { call, connectClient, startGateway, textOf } from './helpers/plugin-gateway.js';
import { tempDir } from './helpers/processes.js';

const dir = tempDir('mcp-edge-sqlite-guard-');
const main = join(dir, 'inventory.db');
const other = join(dir, 'other.db');
const notADatabase = join(dir, 'notes.txt');
let readOnly: { gateway: Gateway; client: Client };
let readWrite: { gateway: Gateway; client: Client };

function seed(file: string, sql: string): void {
  const db = new Database(file);
  db.exec(sql);
  db.close();
}

/** Every table of a database file with its rows, to prove a file unchanged. */
function snapshot(file: string): string {
  const db = new Database(file, { readonly: true });
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  const dump = tables.map((t) => `${t}: ${JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).raw().all())}`).join('\n');
  const version = db.pragma('user_version', { simple: true });
  db.close();
  return `${dump}\nuser_version ${version}`;
}

async function open(read_only: boolean) {
  const gateway = await startGateway({ plugins: { sqlite: { enabled: true, databases: { inventory: main }, read_only, timeout_ms: 5000 } } });
  return { gateway, client: await connectClient(gateway) };
}

const query = (client: Client, sql: string, params?: unknown) => call(client, 'db_query', { database: 'inventory', sql, ...(params ? { params } : {}) });

beforeAll(async () => {
  seed(main, 'CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER); INSERT INTO parts (name, qty) VALUES (\'bolt\', 5), (\'nut\', 9); CREATE INDEX parts_qty ON parts (qty);');
  seed(other, "CREATE TABLE secret (s TEXT); INSERT INTO secret VALUES ('the other database');");
  writeFileSync(notADatabase, 'not a database\n'.repeat(100));
  readOnly = await open(true);
  readWrite = await open(false);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ATTACH_REFUSED = /^not_allowed: ATTACH, DETACH and VACUUM are refused: they reach files other than the configured database/;

describe('probe: sqlite read-only mode, ";ATTACH" with a leading semicolon', () => {
  it('attaches nothing, however ATTACH is spelled, so SELECT * FROM o.secret reads nothing', async () => {
    const spellings = [`;ATTACH DATABASE '${other}' AS o`, `;;  ATTACH '${other}' AS o`, `/**/ATTACH'${other}'AS"o"`, `-- c\nattach database '${other}' as o`, `ATTACH ('${other}') AS o`];
    for (const sql of spellings) expect(textOf(await query(readOnly.client, sql)), sql).toMatch(ATTACH_REFUSED);
    expect(textOf(await query(readOnly.client, 'SELECT * FROM o.secret'))).toMatch(/^invalid_sql: no such table: o\.secret/);
  });

  it("cannot read the gateway's own mcp-edge.db", async () => {
    const own = readOnly.gateway.settings.databaseFile;
    expect(existsSync(own)).toBe(true);
    expect(textOf(await query(readOnly.client, `;ATTACH '${own}' AS g`))).toMatch(ATTACH_REFUSED);
    expect(textOf(await query(readOnly.client, 'SELECT count(*) FROM g.schema_migrations'))).toMatch(/^invalid_sql: no such table/);
  });

  it('answers a file that exists, one that is not a database and one that does not exist alike: no oracle for file existence', async () => {
    const answers = await Promise.all([other, notADatabase, join(dir, 'missing.db')].map(async (file) => textOf(await query(readOnly.client, `;ATTACH '${file}' AS x`))));
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toMatch(ATTACH_REFUSED);
  });
});

describe('probe: sqlite read-only mode, writes in every spelling', () => {
  it('refuses each, and the file stays as it was', async () => {
    const before = snapshot(main);
    const writes = [
      ";INSERT INTO parts (name) VALUES ('x')",
      "/* read */ DELETE FROM parts",
      "WITH n AS (SELECT 1) INSERT INTO parts (name) SELECT 'x' FROM n",
      "REPLACE INTO parts (id, name) VALUES (1, 'x')",
      "INSERT INTO parts (name) VALUES ('x') RETURNING id",
      'UPDATE parts SET qty = qty + 1',
      'DROP TABLE parts',
      'ALTER TABLE parts ADD COLUMN c',
      'CREATE INDEX i ON parts (qty)',
      'PRAGMA user_version = 7',
      'ANALYZE',
      'REINDEX',
    ];
    for (const sql of writes) expect(textOf(await query(readOnly.client, sql)), sql).toMatch(/^write_refused: This statement writes \(/);
    expect(snapshot(main)).toBe(before);
  });

  it('refuses turning query_only off, temporary tables and transactions, which would outlive the call', async () => {
    expect(textOf(await query(readOnly.client, 'PRAGMA query_only = OFF'))).toMatch(/^not_allowed: PRAGMA query_only = \.\.\. is not allowed/);
    expect(textOf(await query(readOnly.client, 'CREATE TEMP TABLE t AS SELECT * FROM parts'))).toMatch(/^not_allowed: Temporary tables, indexes, views and triggers are refused/);
    for (const sql of ['BEGIN', 'BEGIN IMMEDIATE', 'SAVEPOINT s', 'COMMIT']) {
      expect(textOf(await query(readOnly.client, sql)), sql).toMatch(/^not_allowed: BEGIN, COMMIT, ROLLBACK and SAVEPOINT are refused/);
    }
  });

  it('refuses load_extension', async () => {
    expect(textOf(await query(readOnly.client, "SELECT load_extension('/tmp/evil.so')"))).toMatch(/^not_allowed: The SQL function load_extension is not allowed/);
  });

  it('still reads: queries, the schema, and pragmas that describe it', async () => {
    expect((await query(readOnly.client, 'SELECT name FROM parts ORDER BY id')).structuredContent).toMatchObject({ rows: [['bolt'], ['nut']] });
    expect((await query(readOnly.client, "SELECT name FROM sqlite_master WHERE type = 'table'")).structuredContent).toMatchObject({ rows: [['parts']] });
    expect((await query(readOnly.client, 'PRAGMA table_info(parts)')).structuredContent).toMatchObject({ row_count: 3 });
    expect((await query(readOnly.client, "SELECT name FROM pragma_table_info('parts')")).structuredContent).toMatchObject({ rows: [['id'], ['name'], ['qty']] });
    expect((await query(readOnly.client, 'PRAGMA user_version')).structuredContent).toMatchObject({ rows: [[0]] });
  });
});

describe('probe: sqlite VACUUM INTO writes a file anywhere', () => {
  it('refuses VACUUM/**/INTO and VACUUM"main"INTO in both modes, and no file appears', async () => {
    const target = join(dir, 'copy.db');
    for (const client of [readOnly.client, readWrite.client]) {
      for (const sql of [`VACUUM/**/INTO '${target}'`, `VACUUM"main"INTO'${target}'`, `;vacuum into '${target}'`, 'VACUUM']) {
        expect(textOf(await query(client, sql)), sql).toMatch(ATTACH_REFUSED);
      }
    }
    expect(existsSync(target)).toBe(false);
  });
});

describe('probe: sqlite read-write mode, ";ATTACH" then INSERT or DROP in another database', () => {
  it('changes nothing but the configured database', async () => {
    const before = snapshot(other);
    expect(textOf(await query(readWrite.client, `;ATTACH '${other}' AS o`))).toMatch(ATTACH_REFUSED);
    for (const sql of ["INSERT INTO o.secret VALUES ('x')", 'DROP TABLE o.secret']) {
      expect(textOf(await query(readWrite.client, sql)), sql).toMatch(/^invalid_sql: no such table: o\.secret/);
    }
    expect(snapshot(other)).toBe(before);
  });

  it('writes to the configured database', async () => {
    const insert = await query(readWrite.client, 'INSERT INTO parts (name, qty) VALUES (?, ?)', ['washer', 3]);
    expect(insert.structuredContent).toMatchObject({ changes: 1 });
    expect((await query(readWrite.client, 'PRAGMA user_version = 3')).isError).toBeFalsy();
    expect(snapshot(main)).toMatch(/washer/);
    expect(snapshot(main)).toMatch(/user_version 3$/);
  });

  it('refuses what would change the connection every client shares: temporary views, transactions, connection pragmas', async () => {
    // A temporary view named like a table would answer every other client's queries in its place.
    expect(textOf(await query(readWrite.client, 'CREATE TEMP VIEW parts AS SELECT 1'))).toMatch(/^not_allowed: Temporary tables/);
    expect(textOf(await query(readWrite.client, 'BEGIN'))).toMatch(/^not_allowed: BEGIN, COMMIT/);
    for (const sql of ['PRAGMA journal_mode = OFF', 'PRAGMA foreign_keys = OFF', 'PRAGMA writable_schema = ON', "PRAGMA temp_store_directory = '/tmp'"]) {
      expect(textOf(await query(readWrite.client, sql)), sql).toMatch(/^not_allowed: PRAGMA \w+ = \.\.\. is not allowed/);
    }
  });

  it('refuses virtual tables of modules that reach outside the file, and allows full-text search', async () => {
    expect(textOf(await query(readWrite.client, 'CREATE VIRTUAL TABLE pages USING dbstat'))).toMatch(/^not_allowed: Virtual tables of module dbstat are not allowed/);
    expect((await query(readWrite.client, 'CREATE VIRTUAL TABLE docs USING fts5(body)')).isError).toBeFalsy();
  });
});

describe('sqlite parameters and values', () => {
  it('names too few and too many positional values, and keeps integers past 2^53 exact', async () => {
    expect(textOf(await query(readOnly.client, 'SELECT ?, ?', [1]))).toMatch(/^invalid_argument: Too few parameter values were provided\. Check params/);
    expect(textOf(await query(readOnly.client, 'SELECT ?', [1, 2]))).toMatch(/^invalid_argument: Too many parameter values were provided\. Check params/);
    expect((await query(readOnly.client, 'SELECT 9007199254740993, 42, 1.5')).structuredContent).toMatchObject({ rows: [['9007199254740993', 42, 1.5]] });
  });

  it('refuses a second statement after the first, and allows trailing comments', async () => {
    expect(textOf(await query(readOnly.client, 'SELECT 1; SELECT 2'))).toMatch(/^invalid_sql: The SQL holds more than one statement/);
    expect(textOf(await query(readWrite.client, "SELECT 1; DROP TABLE parts"))).toMatch(/^invalid_sql: The SQL holds more than one statement/);
    expect((await query(readOnly.client, 'SELECT 1; -- done\n/* really */ ;')).structuredContent).toMatchObject({ rows: [[1]] });
    expect(readFileSync(main).length).toBeGreaterThan(0);
    expect(snapshot(main)).toMatch(/parts: /);
  });
});
