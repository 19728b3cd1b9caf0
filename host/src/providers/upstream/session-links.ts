// Per-client upstream sessions (`session_mode = "per-client"`): each client
// session of the gateway gets its own connection to the upstream, opened on
// its first call and closed with it. Requests the upstream sends on such a
// connection (sampling, elicitation, roots) and its log messages belong to
// exactly one client, so nothing has to be guessed or refused. The shared
// connection still serves the lists, health and clients without a session id.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Logger } from '../../telemetry/log.js';

/** Opens a connected client for one gateway session. */
export type OpenLink = (sessionId: string) => Promise<Client>;

export class SessionLinks {
  private readonly links = new Map<string, Promise<Client>>();

  constructor(
    private readonly open: OpenLink,
    private readonly log: Logger,
  ) {}

  /** Open connections (and ones being opened). */
  get size(): number {
    return this.links.size;
  }

  /** The session's connection, opened on first use; a failed open is forgotten so the next call retries. */
  get(sessionId: string): Promise<Client> {
    const existing = this.links.get(sessionId);
    if (existing) return existing;
    const link = this.open(sessionId).then((client) => {
      // The connection dropped (server went away): the next call opens a new one.
      client.onclose = () => {
        if (this.links.get(sessionId) === link) this.links.delete(sessionId);
      };
      return client;
    });
    this.links.set(sessionId, link);
    link.catch(() => {
      if (this.links.get(sessionId) === link) this.links.delete(sessionId);
    });
    return link;
  }

  /** Forgets a connection that failed mid-request and closes it. */
  drop(sessionId: string): void {
    const link = this.links.get(sessionId);
    this.links.delete(sessionId);
    link?.then((c) => c.close()).catch(() => undefined);
  }

  /** The client session ended: close its upstream connection. */
  async close(sessionId: string): Promise<void> {
    const link = this.links.get(sessionId);
    if (!link) return;
    this.links.delete(sessionId);
    await link.then((c) => c.close()).catch((err: unknown) => this.log.debug(`closing a per-client upstream session: ${(err as Error).message}`));
  }

  async closeAll(): Promise<void> {
    const ids = [...this.links.keys()];
    await Promise.all(ids.map((id) => this.close(id)));
  }
}
