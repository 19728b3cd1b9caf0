// The CLI's admin actions (`mcp-edge keys create|revoke`, `mcp-edge tools
// approve`) recorded in the audit log. They write to the gateway's database
// directly, possibly while it runs: each is appended in its own write
// transaction, after the gateway's batches or between them, on the same chain.
import { userInfo } from 'node:os';
import type { Db } from '../../storage/database.js';
import type { AuditEvent } from './event.js';
import { AuditStore } from './store.js';

/** Who ran the command: the operating system's user, as far as it says. */
function cliPrincipal(): { id: string; kind: string } {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the uid is unknown too; say so.
  }
  return { id: `local:cli:${user}`, kind: 'local' };
}

/** Appends one admin action of the CLI to the audit log, at once (it is not batched). */
export function recordAdminAction(db: Db, event: Omit<AuditEvent, 'principal'>): void {
  new AuditStore(db).appendNow([{ ...event, principal: cliPrincipal(), at: event.at ?? Date.now() }]);
}
