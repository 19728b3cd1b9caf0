// The gateway's TLS, in one place: the HTTPS listener (when security.tls_cert
// is set) and the TLS settings of each outgoing https connection that has
// its own (an upstream's or a queue destination's tls_ca / tls_cert). All
// their files are read and checked when the gateway starts, so a wrong path
// stops it naming the key; reload() re-reads them all (SIGHUP), as each
// watcher does for its own files when they change.
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { GatewaySettings } from '../config/resolve.js';
import type { Authenticator } from '../security/authenticate.js';
import type { clientCertificateAuthenticator } from '../security/client-cert.js';
import type { ReloadOutcome, TlsListener, TlsListenerStatus } from '../security/tls-listener.js';
import type { OutgoingTls } from '../security/tls-outgoing.js';
import type { UpstreamTls } from '../providers/upstream/transport.js';
import { httpServerOptions } from './connections.js';
import type { Logger } from '../telemetry/log.js';

/** What reload() did, per set of files: "listener", `upstream "id"`, `destination "name"`. */
export type TlsReloadReport = Record<string, ReloadOutcome>;

export class GatewayTls {
  private constructor(
    /** The HTTPS listener; absent when the gateway serves plain HTTP (or no HTTP). */
    readonly listener: TlsListener | undefined,
    private readonly outgoing: ReadonlyMap<string, OutgoingTls>,
    /** Loaded with the listener (node:tls with it). */
    private readonly clientCertificates: typeof clientCertificateAuthenticator | undefined,
  ) {}

  /** Reads every TLS file the settings name; `serveHttp` false (stdio) skips the listener's. */
  static async open(settings: GatewaySettings, log: Logger, serveHttp: boolean): Promise<GatewayTls> {
    const outgoing = new Map<string, OutgoingTls>();
    const add = async (owner: string, tls: Parameters<typeof OutgoingTls.create>[0] | undefined) => {
      // Loaded only when some connection has TLS settings of its own: it brings undici (~30 MB, ~70 ms to load).
      if (tls) outgoing.set(owner, await (await import('../security/tls-outgoing.js')).OutgoingTls.create(tls, owner, log));
    };
    try {
      for (const u of settings.upstreams) await add(upstreamOwner(u.id), u.connection.transport === 'stdio' ? undefined : u.connection.tls);
      for (const [name, d] of Object.entries(settings.queue.destinations)) await add(destinationOwner(name), 'url' in d.target ? d.target.tls : undefined);
      const tls = settings.http.tls;
      if (!serveHttp || !tls) return new GatewayTls(undefined, outgoing, undefined);
      // Loaded only with a listener: node:https and node:tls initialize OpenSSL's TLS side, ~9 MB
      // resident that a plain-HTTP gateway never uses (bench/startup/README.md).
      const [{ TlsListener }, { clientCertificateAuthenticator }] = await Promise.all([import('../security/tls-listener.js'), import('../security/client-cert.js')]);
      const listener = await TlsListener.create(tls, httpServerOptions(settings.http), log);
      return new GatewayTls(listener, outgoing, clientCertificateAuthenticator);
    } catch (err) {
      await Promise.allSettled([...outgoing.values()].map((o) => o.close()));
      throw err;
    }
  }

  /** The scheme clients reach the gateway with. */
  get scheme(): 'https' | 'http' {
    return this.listener ? 'https' : 'http';
  }

  /** `base`, preceded by client-certificate authentication when the listener asks for client certificates. */
  authenticator(base: Authenticator): Authenticator {
    const mode = this.listener?.clientCertificates ?? 'off';
    if (mode === 'off') return base;
    // A listener is opened with client-cert.js loaded; never fall back to no client-certificate check.
    if (!this.clientCertificates) throw new Error('the TLS listener was opened without its client-certificate check');
    return this.clientCertificates(base, { required: mode === 'required' });
  }

  /** The fetch and dispatcher of an upstream with its own TLS settings; undefined: the system's. */
  upstreamTls(id: string): UpstreamTls | undefined {
    const outgoing = this.outgoing.get(upstreamOwner(id));
    return outgoing ? { fetch: outgoing.fetch, dispatcher: outgoing.dispatcher } : undefined;
  }

  /** The fetch of each URL destination with its own TLS settings, by destination name. */
  destinationFetches(destinations: readonly string[]): Record<string, FetchLike> {
    const out: Record<string, FetchLike> = {};
    for (const name of destinations) {
      const tls = this.outgoing.get(destinationOwner(name));
      if (tls) out[name] = tls.fetch;
    }
    return out;
  }

  /** Re-reads every TLS file now (what SIGHUP does); each set keeps its previous files when the new ones are unusable. */
  async reload(): Promise<TlsReloadReport> {
    const report: TlsReloadReport = {};
    if (this.listener) report.listener = await this.listener.reload();
    for (const [owner, tls] of this.outgoing) report[owner] = await tls.reload();
    return report;
  }

  /** The listener's state for /health and /metrics; undefined without one. */
  status(): TlsListenerStatus | undefined {
    return this.listener?.status();
  }

  /** /health reasons: an expired certificate, a failed reload. */
  problems(): string[] {
    return this.listener?.problems() ?? [];
  }

  async close(): Promise<void> {
    this.listener?.close();
    await Promise.allSettled([...this.outgoing.values()].map((o) => o.close()));
  }
}

const upstreamOwner = (id: string): string => `upstream "${id}"`;
const destinationOwner = (name: string): string => `destination "${name}"`;
