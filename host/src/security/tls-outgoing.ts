// TLS of one outgoing https connection (an upstream, a queue destination):
// the server's certificate is verified against the configured CA bundle
// (instead of the system's roots) and its name against the URL's host, and
// the gateway presents its own client certificate when one is configured.
// Requests go through undici's fetch with an Agent holding those settings.
// The files are re-read when they change and on reload(), as the listener's
// are: short-lived client certificates renew without a restart.
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';
import type { OutgoingTlsSettings } from '../config/resolve.js';
import type { Logger } from '../telemetry/log.js';
import { watchFiles, type FileWatch } from './file-watch.js';
import { readCaBundle, readCertificateWithKey, TlsFileError, type CaBundle, type CertificateWithKey } from './tls-material.js';
import type { ReloadOutcome } from './tls-listener.js';

interface Material {
  ca?: CaBundle;
  client?: CertificateWithKey;
}

/** Where the files come from, to name them in errors: e.g. `upstream "b"` or `offline.destinations.peer`. */
type Owner = string;

async function readMaterial(settings: OutgoingTlsSettings, owner: Owner): Promise<Material> {
  const key = (name: string) => `${owner} ${name}`;
  const ca = settings.caFile ? await readCaBundle({ path: settings.caFile, key: key('tls_ca') }) : undefined;
  const client = settings.client
    ? await readCertificateWithKey({ path: settings.client.certFile, key: key('tls_cert') }, { path: settings.client.keyFile, key: key('tls_key') })
    : undefined;
  return { ...(ca ? { ca } : {}), ...(client ? { client } : {}) };
}

const same = (a: Buffer | undefined, b: Buffer | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && a.equals(b));

function sameMaterial(a: Material, b: Material): boolean {
  return same(a.ca?.pem, b.ca?.pem) && same(a.client?.certPem, b.client?.certPem) && same(a.client?.keyPem, b.client?.keyPem);
}

function agentFor(material: Material): Agent {
  return new Agent({
    connect: {
      minVersion: 'TLSv1.2',
      ...(material.ca ? { ca: material.ca.pem } : {}),
      ...(material.client ? { cert: material.client.certPem, key: material.client.keyPem } : {}),
    },
  });
}

export class OutgoingTls {
  private agent: Agent;
  private readonly watch: FileWatch;
  /** The last reload asked for; the next one starts after it. */
  private lastReload: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly settings: OutgoingTlsSettings,
    private readonly owner: Owner,
    private material: Material,
    private readonly log: Logger,
  ) {
    this.agent = agentFor(material);
    const files = [settings.caFile, settings.client?.certFile, settings.client?.keyFile].filter((f): f is string => f !== undefined);
    this.watch = watchFiles(files, () => void this.reload(), (message) => log.warn(message));
  }

  /** Reads and checks the files; a file that is wrong is a ConfigError naming its key. */
  static async create(settings: OutgoingTlsSettings, owner: Owner, log: Logger): Promise<OutgoingTls> {
    try {
      return new OutgoingTls(settings, owner, await readMaterial(settings, owner), log);
    } catch (err) {
      if (err instanceof TlsFileError) throw err.asConfigError();
      throw err;
    }
  }

  /** A fetch whose https connections use these settings (the current files, after a reload). */
  readonly fetch: FetchLike = (url, init) => {
    const withAgent = { ...init, dispatcher: this.agent } as Parameters<typeof undiciFetch>[1];
    return undiciFetch(url, withAgent) as unknown as Promise<Response>;
  };

  /** The dispatcher of the current files, for requests made without fetch (the lean upstream client). */
  readonly dispatcher = (): Dispatcher => this.agent;

  /** Re-reads the files; new connections use them when they changed and are sound, open ones finish on the old. */
  reload(): Promise<ReloadOutcome> {
    // One at a time, each reading the files anew: a change that lands while a reload reads must not be missed.
    const next = this.lastReload.then(() => this.readAndSwap());
    this.lastReload = next;
    return next;
  }

  private async readAndSwap(): Promise<ReloadOutcome> {
    let material: Material;
    try {
      material = await readMaterial(this.settings, this.owner);
    } catch (err) {
      const error = err instanceof TlsFileError ? err.message : (err as Error).message;
      this.log.error(`TLS reload of ${this.owner} failed; its connections keep the previous files`, { error });
      return { outcome: 'failed', error };
    }
    if (sameMaterial(material, this.material)) return { outcome: 'unchanged' };
    const old = this.agent;
    this.agent = agentFor(material);
    this.material = material;
    void old.close().catch(() => undefined);
    this.log.info(`TLS files of ${this.owner} reloaded`);
    return { outcome: 'reloaded' };
  }

  async close(): Promise<void> {
    this.watch.close();
    await this.agent.destroy().catch(() => undefined);
  }
}
