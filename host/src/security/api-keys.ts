// API keys, kept in the gateway's SQLite database (table api_keys) and
// managed with `mcp-edge keys`.
//
// A key reads "mcpe_<id>_<secret>": the id (12 hex digits) finds its row, the
// secret (256 random bits, base64url) proves possession. Only a digest of the
// secret is stored: SHA-256 over a per-key random salt and the secret. A slow
// hash (scrypt, argon2) exists to make guessing a low-entropy password
// costly; a 256-bit random secret cannot be guessed at any speed, so one
// SHA-256 keeps a stolen database useless while the check on every request
// costs about a microsecond, where a slow hash would cost tens of
// milliseconds (or a cache of plaintext keys). Digests are compared in
// constant time; an unknown id is hashed against a dummy row all the same, so
// the time taken does not tell which ids exist.
//
// Hashing on every request would still cost several microseconds on a busy
// gateway, so once a key's secret has matched its digest the gateway keeps
// that secret in memory (never on disk) and compares later presentations
// with it, in constant time, instead of hashing again.
//
// A key's salt, digest, name, scopes and expiry never change, so the store
// keeps them in memory once a key has been presented. What can change, its
// revocation, is read from the database again whenever a millisecond has
// passed since the last read of that key: a read costs several microseconds
// on a busy gateway, and a burst of calls within one millisecond shares one.
// `mcp-edge keys revoke` takes far longer than that to commit and return, so
// a request sent after it returns is refused.
import { createHash, randomBytes, timingSafeEqual } from '../crypto.js';
import type { Db } from '../storage/database.js';

export const API_KEY_PREFIX = 'mcpe_';
const KEY_SHAPE = /^mcpe_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** Names are how keys appear in `keys list`, logs and principals ("key:<name>"): unique forever, never reused. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: string[];
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
}

export type KeyStatus = 'active' | 'expired' | 'revoked';

/** Why a presented key does not authenticate. */
export type KeyProblem = 'malformed' | 'unknown' | 'expired' | 'revoked';

export type KeyVerdict = { ok: true; key: ApiKeyRecord } | { ok: false; problem: KeyProblem; key?: ApiKeyRecord };

export type ApiKeyErrorCode = 'bad-name' | 'name-taken' | 'not-found' | 'bad-expiry';

/** A `mcp-edge keys` request that cannot be done; the message says why and what to do. */
export class ApiKeyError extends Error {
  override readonly name = 'ApiKeyError';
  constructor(
    readonly code: ApiKeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface KeyRow {
  id: string;
  name: string;
  salt: Buffer;
  hash: Buffer;
  scopes: string;
  created_ms: number;
  expires_ms: number | null;
  revoked_ms: number | null;
}

function digest(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret).digest();
}

function recordOf(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: row.created_ms,
    ...(row.expires_ms !== null ? { expiresAt: row.expires_ms } : {}),
    ...(row.revoked_ms !== null ? { revokedAt: row.revoked_ms } : {}),
  };
}

export function statusOf(key: ApiKeyRecord, now: number): KeyStatus {
  if (key.revokedAt !== undefined) return 'revoked';
  if (key.expiresAt !== undefined && key.expiresAt <= now) return 'expired';
  return 'active';
}

/** Whether a bearer token is meant as an API key (and not a JWT). */
export const isApiKey = (token: string): boolean => token.startsWith(API_KEY_PREFIX);

/** Compared against when the id is unknown, so that case costs what a wrong secret costs. */
const DUMMY = { salt: randomBytes(16), hash: randomBytes(32) };

/** What never changes about a key: enough to check a presented secret without the database. */
interface KnownKey {
  salt: Buffer;
  hash: Buffer;
  record: ApiKeyRecord;
  /** The secret, once a presented one matched the digest. */
  verified?: Buffer;
  /** Its revocation time (null: not revoked; undefined: the row is gone) as last read, and the database version it was read at. */
  revokedAt?: number | null;
  readAtVersion: number;
}

/** Least time between two looks at whether another process changed the database (a revocation by the CLI). */
export const CHANGE_CHECK_MS = 10;

export class ApiKeyStore {
  private readonly byId;
  private readonly byName;
  private readonly revokedAt;
  private readonly dataVersion;
  /**
   * SQLite's data_version as last read, and when: it changes when another
   * connection (mcp-edge keys revoke) commits, so a key's row is read again
   * only then, and this check costs one pragma every 10 ms at most: a revocation counts within 10 ms.
   */
  private version = 0;
  private versionReadAt = -Infinity;
  /** Keys presented before, by id (only ids that exist: as many entries as keys at most). */
  private readonly known = new Map<string, KnownKey>();

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE id = ?');
    this.byName = db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE name = ?');
    this.revokedAt = db.prepare<[string], number | null>('SELECT revoked_ms FROM api_keys WHERE id = ?').pluck();
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /** Creates a key; the returned `key` is the only copy of its secret. */
  create(options: { name: string; scopes: readonly string[]; expiresAt?: number }, now = Date.now()): { key: string; record: ApiKeyRecord } {
    const { name, scopes, expiresAt } = options;
    if (!KEY_NAME.test(name)) throw new ApiKeyError('bad-name', `"${name}" is not a usable key name: use 1-64 of A-Z a-z 0-9 _ . @ -, starting with a letter or digit.`);
    if (expiresAt !== undefined && expiresAt <= now) throw new ApiKeyError('bad-expiry', 'the expiry is in the past; give a future date or a duration such as 90d.');
    if (this.byName.get(name)) throw new ApiKeyError('name-taken', `a key named "${name}" exists (revoked keys keep their names, so logs stay unambiguous); choose another name.`);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    this.db
      .prepare('INSERT INTO api_keys (id, name, salt, hash, scopes, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, name, salt, digest(salt, secret), JSON.stringify([...new Set(scopes)]), now, expiresAt ?? null);
    return { key: `${API_KEY_PREFIX}${id}_${secret}`, record: recordOf(this.byId.get(id)!) };
  }

  /** Every key, revoked and expired ones included, oldest first. */
  list(): ApiKeyRecord[] {
    return this.db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY created_ms, name').all().map(recordOf);
  }

  get(name: string): ApiKeyRecord | undefined {
    const row = this.byName.get(name);
    return row ? recordOf(row) : undefined;
  }

  /** Revokes the key named `name`; returns it as it is now (already revoked: unchanged). */
  revoke(name: string, now = Date.now()): ApiKeyRecord {
    this.db.prepare('UPDATE api_keys SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL').run(now, name);
    const key = this.get(name);
    if (key) this.known.delete(key.id);
    if (!key) throw new ApiKeyError('not-found', `no key is named "${name}"; "mcp-edge keys list" shows them.`);
    return key;
  }

  /** Checks a presented key: its secret, then whether it is revoked (looked up again when another process changed the database, checked every 10 ms) or expired. */
  verify(token: string, now = Date.now()): KeyVerdict {
    const shape = KEY_SHAPE.exec(token);
    if (!shape) return { ok: false, problem: 'malformed' };
    const id = shape[1]!;
    const known = this.knownKey(id, now);
    const matches = this.secretMatches(known, shape[2]!);
    if (!known || !matches) return { ok: false, problem: 'unknown' };
    const revokedAt = this.revocationOf(id, known, now);
    if (revokedAt === undefined) return { ok: false, problem: 'unknown' };
    const key = revokedAt === null ? known.record : { ...known.record, revokedAt };
    const status = statusOf(key, now);
    return status === 'active' ? { ok: true, key } : { ok: false, problem: status, key };
  }

  /** Constant-time: against the secret seen before, else against the digest (an unknown id against a dummy). */
  private secretMatches(known: KnownKey | undefined, secret: string): boolean {
    const presented = Buffer.from(secret);
    if (known?.verified) return timingSafeEqual(presented, known.verified);
    const expected = known ?? DUMMY;
    const matches = timingSafeEqual(digest(expected.salt, secret), expected.hash);
    if (known && matches) known.verified = presented;
    return matches;
  }

  private revocationOf(id: string, known: KnownKey, now: number): number | null | undefined {
    const version = this.currentVersion(now);
    if (known.readAtVersion !== version) {
      known.revokedAt = this.revokedAt.get(id);
      known.readAtVersion = version;
    }
    return known.revokedAt;
  }

  private currentVersion(now: number): number {
    if (now - this.versionReadAt >= CHANGE_CHECK_MS || now < this.versionReadAt) {
      this.version = this.dataVersion.get()!;
      this.versionReadAt = now;
    }
    return this.version;
  }

  private knownKey(id: string, now: number): KnownKey | undefined {
    const cached = this.known.get(id);
    if (cached) return cached;
    const row = this.byId.get(id);
    if (!row) return undefined;
    const { revokedAt: _revokedAt, ...record } = recordOf(row);
    const key: KnownKey = { salt: row.salt, hash: row.hash, record, revokedAt: row.revoked_ms, readAtVersion: this.currentVersion(now) };
    this.known.set(id, key);
    return key;
  }

  /** The status of the key named `name` now (an open session's credential, checked again). */
  status(name: string, now = Date.now()): KeyStatus | undefined {
    const row = this.byName.get(name);
    return row ? statusOf(recordOf(row), now) : undefined;
  }
}
