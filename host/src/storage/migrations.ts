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
];
