// The gateway's SQLite database: one file in the data directory, WAL mode,
// created on first start and migrated forward. SQLite is the source of truth for
// everything that must survive a restart (the offline queue first of all).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export const DATABASE_FILE = 'mcp-edge.db';

/** The data directory cannot be used; the message says which and why. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
}

/** Opens (creating when needed) the database in `dataDir` and applies pending migrations. */
export function openDatabase(dataDir: string): Db {
  return openDatabaseFile(join(dataDir, DATABASE_FILE));
}

/** Creates the folder of the database file at `path` when needed; a StorageError saying what to set when it cannot. */
export function ensureDatabaseFolder(path: string): void {
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (err) {
    throw new StorageError(`cannot create folder ${folder} for the database: ${(err as Error).message}. Set gateway.data_dir (or offline.persistence_path) to a writable place.`);
  }
}

/** Opens (creating it and its folder when needed) the database file at `path` and applies pending migrations. */
export function openDatabaseFile(path: string): Db {
  ensureDatabaseFolder(path);
  let db: Db;
  try {
    db = new Database(path);
  } catch (err) {
    throw new StorageError(`cannot open database ${path}: ${(err as Error).message}`);
  }
  db.pragma('journal_mode = WAL');
  // FULL: a transaction that returned is on disk, so an acknowledged item survives power loss.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare('SELECT id FROM schema_migrations').pluck().all() as string[]);
  const record = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
  const done = db.prepare('SELECT 1 FROM schema_migrations WHERE id = ?').pluck();
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.id)) continue;
    // Another process opening the same file (a CLI command beside a starting gateway) may have applied it meanwhile:
    // checked again under the write lock.
    db.transaction(() => {
      if (done.get(migration.id) !== undefined) return;
      db.exec(migration.sql);
      record.run(migration.id, Date.now());
    }).immediate();
  }
}
