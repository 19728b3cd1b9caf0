// The sqlite plugin on a real SQLite file: queries with parameters and row
// limits, writes refused in read-only mode (the file checked unchanged), other
// files out of reach, and a runaway query killed at its time limit.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { call, connectClient, startGateway, textOf } from './helpers/plugin-gateway.js';
import { tempDir } from './helpers/processes.js';

const dir = tempDir('mcp-edge-sqlite-');
const file = join(dir, 'inventory.db');
let client: Client;

function seed(): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, photo BLOB);`);
  const insert = db.prepare('INSERT INTO parts (name, qty, photo) VALUES (?, ?, ?)');
  for (let i = 1; i <= 30; i++) insert.run(`part-${i}`, i * 10, i === 1 ? Buffer.from([1, 2, 3]) : null);
  db.close();
}

function countRows(): number {
  const db = new Database(file, { readonly: true });
  const n = (db.prepare('SELECT count(*) AS n FROM parts').get() as { n: number }).n;
  db.close();
  return n;
}

beforeAll(async () => {
  seed();
  const gateway = await startGateway({ plugins: { sqlite: { enabled: true, databases: { inventory: file }, max_rows: 20, max_result_bytes: 2000, timeout_ms: 1500 } } });
  client = await connectClient(gateway);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sqlite plugin', () => {
  it('answers a query with bound parameters, positional and named', async () => {
    const positional = await call(client, 'db_query', { database: 'inventory', sql: 'SELECT name, qty FROM parts WHERE qty > ? ORDER BY id LIMIT 2', params: [250] });
    expect(positional.structuredContent).toEqual({ database: 'inventory', columns: ['name', 'qty'], rows: [['part-26', 260], ['part-27', 270]], row_count: 2, truncated: false });
    const named = await call(client, 'db_query', { database: 'inventory', sql: 'SELECT photo FROM parts WHERE name = :name', params: { name: 'part-1' } });
    expect(named.structuredContent).toMatchObject({ rows: [[{ base64: 'AQID' }]] });
  });

  it('stops at max_rows and says the result is truncated', async () => {
    const all = await call(client, 'db_query', { database: 'inventory', sql: 'SELECT id FROM parts' });
    expect(all.structuredContent).toMatchObject({ row_count: 20, truncated: true });
    const fewer = await call(client, 'db_query', { database: 'inventory', sql: 'SELECT id FROM parts', max_rows: 3 });
    expect(fewer.structuredContent).toMatchObject({ rows: [[1], [2], [3]], truncated: true });
  });

  it('stops adding rows past max_result_bytes', async () => {
    const wide = await call(client, 'db_query', { database: 'inventory', sql: 'SELECT hex(zeroblob(600)) FROM parts' });
    expect(wide.structuredContent).toMatchObject({ row_count: 1, truncated: true });
  });

  it('binds booleans as 1 and 0, and names a parameter mismatch', async () => {
    const flags = await call(client, 'db_query', { database: 'inventory', sql: 'SELECT ? AS yes, :no AS no', params: { 1: true, no: false } });
    expect(textOf(flags)).toMatch(/^invalid_argument: /);
    expect((await call(client, 'db_query', { database: 'inventory', sql: 'SELECT ?, ?', params: [true, false] })).structuredContent).toMatchObject({ rows: [[1, 0]] });
    const short = await call(client, 'db_query', { database: 'inventory', sql: 'SELECT ?, ?', params: [1] });
    expect(textOf(short)).toMatch(/^invalid_argument: Too few parameter values were provided\. Check params/);
  });

  it('refuses statements that write, and the file stays as it was', async () => {
    for (const sql of ["INSERT INTO parts (name) VALUES ('x')", 'DELETE FROM parts', 'DROP TABLE parts', 'CREATE TABLE t (a)', "UPDATE parts SET qty = 0", 'PRAGMA user_version = 7']) {
      const result = await call(client, 'db_query', { database: 'inventory', sql });
      expect(result.isError, sql).toBe(true);
      expect(textOf(result), sql).toMatch(/^write_refused: This statement writes/);
    }
    expect(countRows()).toBe(30);
  });

  it('refuses ATTACH and VACUUM INTO, which reach other files', async () => {
    const other = join(dir, 'copy.db');
    for (const sql of [`ATTACH '${other}' AS o`, `/* hi */ attach database '/etc/passwd' as p`, `VACUUM INTO '${other}'`]) {
      const result = await call(client, 'db_query', { database: 'inventory', sql });
      expect(textOf(result), sql).toMatch(/^not_allowed: ATTACH, DETACH and VACUUM are refused: they reach files other than the configured database/);
    }
    expect(existsSync(other)).toBe(false);
  });

  it('reports bad SQL, two statements and unknown databases clearly', async () => {
    expect(textOf(await call(client, 'db_query', { database: 'inventory', sql: 'SELEC 1' }))).toMatch(/^invalid_sql: near "SELEC"/);
    expect(textOf(await call(client, 'db_query', { database: 'inventory', sql: 'SELECT 1; SELECT 2' }))).toMatch(/^invalid_sql: .*more than one statement/);
    expect(textOf(await call(client, 'db_query', { database: 'other', sql: 'SELECT 1' }))).toMatch(/Invalid arguments for db_query: database/);
  });

  it('kills a runaway query at the time limit and keeps serving', async () => {
    // The query never ends by itself: the answer only comes if the time limit stopped it.
    const runaway = await call(client, 'db_query', {
      database: 'inventory',
      sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
    });
    expect(textOf(runaway)).toMatch(/^timeout: The query ran longer than 1500 ms and was stopped/);
    expect((await call(client, 'db_query', { database: 'inventory', sql: 'SELECT count(*) FROM parts' })).structuredContent).toMatchObject({ rows: [[30]] });
  });

  it('writes when read_only is off', async () => {
    const writable = await startGateway({ plugins: { sqlite: { enabled: true, databases: { inventory: file }, read_only: false } } });
    const rw = await connectClient(writable);
    const insert = await call(rw, 'db_query', { database: 'inventory', sql: 'INSERT INTO parts (name, qty) VALUES (?, ?)', params: ['bolt', 5] });
    expect(insert.structuredContent).toEqual({ database: 'inventory', truncated: false, changes: 1, last_insert_rowid: 31, row_count: 0 });
    expect(countRows()).toBe(31);
    expect(textOf(await call(rw, 'db_query', { database: 'inventory', sql: `ATTACH '${join(dir, 'x.db')}' AS x` }))).toMatch(/^not_allowed:/);
  });

  it('refuses to start with a database file that does not exist', async () => {
    await expect(startGateway({ plugins: { sqlite: { enabled: true, databases: { gone: join(dir, 'gone.db') } } } })).rejects.toThrow(
      /plugins\.sqlite\.databases\.gone: .* is not an existing SQLite file/,
    );
  });
});
