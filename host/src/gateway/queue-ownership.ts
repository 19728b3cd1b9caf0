// Which gateway on a database file runs the offline queue (storage/owner.ts
// says why only one may). The first to start owns the file and starts the
// queue at once. One that starts while another owns it runs without a queue,
// says so, and claims the file again every OWNER_CHECK_MS: once the owner has
// stopped it takes the file over and starts the queue then. The mesh is
// refused on a file another gateway owns (one node's identity and state,
// twice).
import type { GatewaySettings } from '../config/resolve.js';
import { StorageError } from '../storage/database.js';
import { DatabaseOwner } from '../storage/owner.js';
import type { Logger } from '../telemetry/log.js';

/** How often a gateway without the offline queue looks whether the database's owner has stopped. */
const OWNER_CHECK_MS = 2000;

export class QueueOwnership {
  private owner: DatabaseOwner | undefined;
  private watch: NodeJS.Timeout | undefined;

  private constructor(
    private readonly settings: GatewaySettings,
    /** What this gateway serves, for another gateway's messages. */
    private readonly serves: string,
    private readonly log: Logger,
  ) {}

  /** Claims the database for a gateway that is starting; throws StorageError when it may not share it (the mesh). */
  static claim(settings: GatewaySettings, http: boolean, log: Logger): QueueOwnership {
    const ownership = new QueueOwnership(settings, http ? `serving http on ${settings.http.bindAddress}` : 'no HTTP: stdio or an embedding program', log);
    const claim = DatabaseOwner.claim(settings.databaseFile, ownership.serves);
    if ('owner' in claim) ownership.owner = claim.owner;
    else ownership.shared(claim.heldBy);
    return ownership;
  }

  private shared(heldBy: string): void {
    const file = this.settings.databaseFile;
    if (this.settings.mesh) {
      throw new StorageError(`the database ${file} is in use by ${heldBy}, and a mesh node needs one of its own: give this gateway its own data directory (--data-dir or MCP_EDGE_DATA_DIR).`);
    }
    this.log.warn(
      `the database ${file} is in use by ${heldBy}: this gateway runs without the offline queue (no deferred calls, no MCP tasks; that one delivers what is queued) ` +
        'until that one stops. Give it its own data directory (--data-dir or MCP_EDGE_DATA_DIR) to have one now.',
    );
  }

  /**
   * Runs `startQueue` now when this gateway owns the database, else once it
   * has taken it over; `started` then runs after it (what the queue needs
   * that the gateway set up before it existed, or its close when the gateway
   * began closing meanwhile).
   */
  async whenOwned(startQueue: () => Promise<void>, started: () => void): Promise<void> {
    if (this.owner) return startQueue();
    this.watch = setInterval(() => {
      const claim = DatabaseOwner.claim(this.settings.databaseFile, this.serves);
      if (!('owner' in claim)) return;
      clearInterval(this.watch);
      this.watch = undefined;
      this.owner = claim.owner;
      this.log.info('the gateway that ran the offline queue on this database has stopped: this one runs it now', { database: this.settings.databaseFile });
      startQueue()
        .then(started)
        .catch((err: unknown) => this.log.error('offline queue: could not start after taking the database over', { error: (err as Error).message }));
    }, OWNER_CHECK_MS).unref();
  }

  /** Stops looking for the owner's end (the gateway is closing). */
  stop(): void {
    clearInterval(this.watch);
    this.watch = undefined;
  }

  /** Gives the database up (at the gateway's close, once the database is closed). */
  release(): void {
    this.stop();
    this.owner?.release();
  }
}
