// The HTTPS listener: security.tls_cert and tls_key served on the bind address,
// TLS 1.2 or newer (1.3 whenever the client has it), forward-secret AEAD
// ciphers only, and optionally client certificates verified against
// tls_client_ca (mTLS). The files are re-read when they change and on
// reload(): a renewed certificate is served without a restart, and a
// renewal that is broken (a key that does not match, a half-written file)
// leaves the working one in place and says why.
import { randomBytes } from '../crypto.js';
import { stat } from 'node:fs/promises';
import type { ServerOptions as HttpServerOptions } from 'node:http';
import { createServer, type Server as HttpsServer, type ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { ListenerTlsSettings } from '../config/resolve.js';
import type { Logger } from '../telemetry/log.js';
import { watchFiles, type FileWatch } from './file-watch.js';
import { fingerprintHex, notAfterMs, readCaBundle, readCertificateWithKey, readCrl, subjectLine, TlsFileError, type CaBundle, type CertificateWithKey } from './tls-material.js';

/**
 * TLS 1.3's suites, then TLS 1.2's with ECDHE (forward secrecy) and AEAD
 * only: no CBC, no RSA key exchange, no SHA-1 MACs.
 */
export const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** What the listener serves now, for /health and /metrics. */
export interface TlsListenerStatus {
  certificate: { subject: string; fingerprint_sha256: string; not_after: string };
  client_certificates: 'required' | 'optional' | 'off';
  min_version: string;
  /** When the files in use were read. */
  loaded_at: string;
  reloads: number;
  reload_failures: number;
  /** Why the last reload failed, when it did and no reload has worked since. */
  last_reload_error: string | null;
  /** Connections that failed their handshake (no or a refused client certificate, an old protocol, not TLS at all). */
  handshake_failures: number;
}

export type ReloadOutcome = { outcome: 'reloaded' | 'unchanged' } | { outcome: 'failed'; error: string };

interface Material {
  served: CertificateWithKey;
  clientCa?: CaBundle;
  clientCrl?: Buffer;
}

async function readMaterial(settings: ListenerTlsSettings): Promise<Material> {
  const served = await readCertificateWithKey({ path: settings.certFile, key: 'security.tls_cert' }, { path: settings.keyFile, key: 'security.tls_key' });
  const client = settings.clientCertificates;
  if (!client) return { served };
  const clientCa = await readCaBundle({ path: client.caFile, key: 'security.tls_client_ca' });
  return { served, clientCa, ...(client.crlFile ? { clientCrl: await readCrl({ path: client.crlFile, key: 'security.tls_client_crl' }) } : {}) };
}

const same = (a: Buffer | undefined, b: Buffer | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && a.equals(b));

function sameMaterial(a: Material, b: Material): boolean {
  return same(a.clientCa?.pem, b.clientCa?.pem) && same(a.clientCrl, b.clientCrl) && a.served.certPem.equals(b.served.certPem) && a.served.keyPem.equals(b.served.keyPem);
}

/** The parts of the server's options that a reload replaces (setSecureContext takes the same). */
function contextOptions(settings: ListenerTlsSettings, material: Material): ServerOptions {
  return {
    cert: material.served.certPem,
    key: material.served.keyPem,
    ...(material.clientCa ? { ca: material.clientCa.pem } : {}),
    // With a CRL, OpenSSL checks every client certificate against it (Node sets the CRL check flags).
    ...(material.clientCrl ? { crl: material.clientCrl } : {}),
    minVersion: settings.minVersion,
    ciphers: CIPHERS,
    honorCipherOrder: true,
  };
}

export class TlsListener {
  private reloads = 0;
  private reloadFailures = 0;
  private lastReloadError: string | null = null;
  private handshakeFailures = 0;
  private loadedAt = new Date();
  private readonly watch: FileWatch;
  /** The last reload asked for; the next one starts after it. */
  private lastReload: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly settings: ListenerTlsSettings,
    private material: Material,
    /** The HTTPS server; the gateway adds its request handler and listens. */
    readonly server: HttpsServer,
    private readonly log: Logger,
  ) {
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.handshakeFailures++;
      log.debug('TLS handshake failed', { address: socket.remoteAddress, error: err.code ?? err.message });
    });
    // Before the HTTP server sees the connection: nothing is read from it until this is done.
    server.prependListener('secureConnection', (socket: TLSSocket) => this.admit(socket));
    const client = settings.clientCertificates;
    const files = [settings.certFile, settings.keyFile, ...(client ? [client.caFile] : []), ...(client?.crlFile ? [client.crlFile] : [])];
    this.watch = watchFiles(files, () => void this.reload(), (message) => log.warn(message));
  }

  /** Reads and checks the files, and builds the HTTPS server; a file that is wrong is a ConfigError naming its key. */
  static async create(settings: ListenerTlsSettings, httpOptions: HttpServerOptions, log: Logger): Promise<TlsListener> {
    let material: Material;
    try {
      material = await readMaterial(settings);
    } catch (err) {
      if (err instanceof TlsFileError) throw err.asConfigError();
      throw err;
    }
    const client = settings.clientCertificates;
    const server = createServer({
      ...httpOptions,
      ...contextOptions(settings, material),
      requestCert: client !== undefined,
      // Checked in admit() rather than by Node, which drops the connection without saying why;
      // "optional" lets a client without a certificate in, and authentication decides (security/client-cert.ts).
      rejectUnauthorized: false,
      handshakeTimeout: settings.handshakeTimeoutMs,
    });
    const listener = new TlsListener(settings, material, server, log);
    await listener.warnAbout(material);
    return listener;
  }

  /**
   * A connection that finished its handshake: renegotiation is turned off
   * (in TLS 1.2 it lets a client make the server redo expensive handshakes
   * at will, and nothing needs it), and when client certificates are
   * required, one without a verified certificate is dropped, with the reason
   * logged for the operator ("CERT_HAS_EXPIRED", "no client certificate").
   */
  private admit(socket: TLSSocket): void {
    socket.disableRenegotiation();
    if (this.clientCertificates !== 'required' || socket.authorized) return;
    this.handshakeFailures++;
    const presented = socket.getPeerX509Certificate();
    const reason = presented ? String(socket.authorizationError) : 'no client certificate';
    this.log.info('TLS client refused: its certificate was not verified', { address: socket.remoteAddress, reason, ...(presented ? { subject: subjectLine(presented) } : {}) });
    socket.destroy();
  }

  /** Whether connections are asked for client certificates, and must present a verified one to finish their handshake. */
  get clientCertificates(): 'required' | 'optional' | 'off' {
    return this.settings.clientCertificates?.mode ?? 'off';
  }

  /**
   * Re-reads the files and serves them from the next handshake on, when
   * they changed and are sound; otherwise keeps what it serves and reports
   * why. Idle connections made under the old files are closed, so a client
   * whose CA was dropped cannot carry on over one; session tickets issued
   * before are no longer accepted.
   */
  reload(): Promise<ReloadOutcome> {
    // One at a time, each reading the files anew: a change that lands while a reload reads must not be missed.
    const next = this.lastReload.then(() => this.readAndSwap());
    this.lastReload = next;
    return next;
  }

  private async readAndSwap(): Promise<ReloadOutcome> {
    let material: Material;
    try {
      material = await readMaterial(this.settings);
      if (sameMaterial(material, this.material)) return { outcome: 'unchanged' };
      this.server.setSecureContext(contextOptions(this.settings, material));
    } catch (err) {
      const error = err instanceof TlsFileError ? err.message : `the TLS files were refused: ${(err as Error).message}`;
      this.reloadFailures++;
      this.lastReloadError = error;
      this.log.error('TLS reload failed; still serving the previous certificate', { error });
      return { outcome: 'failed', error };
    }
    this.server.setTicketKeys(randomBytes(48));
    this.server.closeIdleConnections();
    this.material = material;
    this.loadedAt = new Date();
    this.reloads++;
    this.lastReloadError = null;
    this.log.info('TLS certificate reloaded', { subject: subjectLine(material.served.leaf), not_after: material.served.leaf.validTo });
    await this.warnAbout(material);
    return { outcome: 'reloaded' };
  }

  /** Logs what an operator should fix: an expired certificate, a private key other users can read. */
  private async warnAbout(material: Material): Promise<void> {
    const leaf = material.served.leaf;
    if (notAfterMs(leaf) < Date.now()) this.log.warn('the TLS certificate has expired: clients will refuse it; renew it', { file: this.settings.certFile, not_after: leaf.validTo });
    const mode = await stat(this.settings.keyFile).then((s) => s.mode, () => 0);
    if (mode & 0o004) this.log.warn('the TLS private key is readable by every user of this machine; chmod o-r it', { file: this.settings.keyFile });
  }

  status(): TlsListenerStatus {
    const leaf = this.material.served.leaf;
    return {
      certificate: { subject: subjectLine(leaf), fingerprint_sha256: fingerprintHex(leaf), not_after: new Date(notAfterMs(leaf)).toISOString() },
      client_certificates: this.clientCertificates,
      min_version: this.settings.minVersion,
      loaded_at: this.loadedAt.toISOString(),
      reloads: this.reloads,
      reload_failures: this.reloadFailures,
      last_reload_error: this.lastReloadError,
      handshake_failures: this.handshakeFailures,
    };
  }

  /** Why the listener is not as it should be (for /health's reasons); empty when it is. */
  problems(now = Date.now()): string[] {
    const out: string[] = [];
    const leaf = this.material.served.leaf;
    if (notAfterMs(leaf) < now) out.push(`TLS: the certificate expired at ${leaf.validTo}; renew security.tls_cert`);
    if (this.lastReloadError) out.push(`TLS: the last reload failed, the previous certificate is still served: ${this.lastReloadError}`);
    return out;
  }

  /** Stops watching the files (the gateway closes the server). */
  close(): void {
    this.watch.close();
  }
}
