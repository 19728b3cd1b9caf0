// Real certificates for TLS tests, made with the openssl CLI in a temporary
// folder (removed after the test file): CAs, server certificates with their
// names, client certificates, certificates that expired or are not valid yet.
// EC P-256 keys: quick to make, and what a small gateway would use.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { tempDir } from './processes.js';

export interface Issued {
  /** PEM certificate file. */
  cert: string;
  /** PEM private key file (unencrypted). */
  key: string;
}

export interface IssueOptions {
  /** Subject common name. */
  cn: string;
  /** subjectAltName entries, e.g. ["DNS:localhost", "IP:127.0.0.1"] (server certificates). */
  san?: readonly string[];
  /** What it is for: a server, a client, or both. */
  usage?: 'server' | 'client' | 'both';
  /** Validity as openssl ca takes it, "YYYYMMDDHHMMSSZ"; default: from now for 30 days. */
  notBefore?: string;
  notAfter?: string;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** `openssl ca`'s configuration for one CA (its database beside its files). */
function caConfig(dir: string, name: string): string {
  const file = join(dir, `${name}.cnf`);
  writeFileSync(join(dir, `${name}.index`), '');
  writeFileSync(join(dir, `${name}.serial`), '1000\n');
  writeFileSync(join(dir, `${name}.crlnumber`), '01\n');
  writeFileSync(
    file,
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `database = ${join(dir, `${name}.index`)}`,
      `new_certs_dir = ${join(dir, 'issued')}`,
      `serial = ${join(dir, `${name}.serial`)}`,
      `crlnumber = ${join(dir, `${name}.crlnumber`)}`,
      'default_crl_days = 7',
      'default_md = sha256',
      'policy = anything',
      'unique_subject = no',
      '[anything]',
      'commonName = supplied',
      'organizationName = optional',
    ].join('\n'),
  );
  return file;
}

/** A certificate authority: issues leaf certificates from its own key. */
export class TestCa {
  private readonly config: string;
  readonly cert: string;
  readonly key: string;

  constructor(
    private readonly pki: TestPki,
    readonly name: string,
  ) {
    this.cert = pki.path(`${name}.ca.crt`);
    this.key = pki.path(`${name}.ca.key`);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', this.key, '-out', this.cert, '-subj', `/CN=${name}`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    this.config = caConfig(pki.dir, name);
  }

  /** Issues a certificate; files are named after `file` (default: the common name). */
  issue(options: IssueOptions, file = options.cn): Issued {
    const key = this.pki.path(`${file}.key`);
    const csr = this.pki.path(`${file}.csr`);
    const cert = this.pki.path(`${file}.crt`);
    const ext = this.pki.path(`${file}.ext`);
    const usage = options.usage ?? 'server';
    const eku = usage === 'both' ? 'serverAuth,clientAuth' : usage === 'server' ? 'serverAuth' : 'clientAuth';
    writeFileSync(ext, ['[leaf]', 'basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature', `extendedKeyUsage = ${eku}`, ...(options.san ? [`subjectAltName = ${options.san.join(',')}`] : [])].join('\n'));
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', key, '-out', csr, '-subj', `/O=mcp-edge tests/CN=${options.cn}`]);
    const validity = options.notBefore || options.notAfter ? ['-startdate', options.notBefore ?? '20200101000000Z', '-enddate', options.notAfter ?? '20991231000000Z'] : ['-days', '30'];
    openssl(['ca', '-config', this.config, '-batch', '-notext', '-in', csr, '-out', cert, '-cert', this.cert, '-keyfile', this.key, '-extfile', ext, '-extensions', 'leaf', ...validity]);
    return { cert, key };
  }

  /** Marks `issued` revoked in this CA's database (see crl()). */
  revoke(issued: Issued): void {
    openssl(['ca', '-config', this.config, '-revoke', issued.cert, '-cert', this.cert, '-keyfile', this.key]);
  }

  /** Writes this CA's revocation list (every certificate revoked so far) to `file`, PEM. */
  crl(file: string): string {
    openssl(['ca', '-config', this.config, '-gencrl', '-out', file, '-cert', this.cert, '-keyfile', this.key]);
    return file;
  }
}

/** A folder of test certificates. */
export class TestPki {
  readonly dir = tempDir('mcp-edge-pki-');

  constructor() {
    dirs.push(this.dir);
    mkdirSync(join(this.dir, 'issued'));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  ca(name: string): TestCa {
    return new TestCa(this, name);
  }
}

/** A server certificate for 127.0.0.1 and localhost. */
export const LOCAL_SERVER = { san: ['DNS:localhost', 'IP:127.0.0.1'], usage: 'server' } as const;
