/**
 * API tokens, edge credentials and enrollment tokens.
 *
 * A token reads `slt_<id>_<secret>`: the id finds the row, the secret is checked against a salted scrypt hash
 * (node:crypto, N=16384) with a constant-time comparison. Only the hash is stored. Verified tokens are cached
 * in memory for a minute (keyed by a SHA-256 of the whole token) so the slow KDF runs once per token per
 * minute, not per request; revoking a token drops it from the cache at once.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/db.ts';
import {
  claimEnrollment,
  insertToken,
  listTokens,
  revokeEdgeTokens,
  revokeToken,
  type TokenRecord,
  type TokenRole,
  tokenById,
  tokenExists,
  touchTokenLastUsed,
} from '../store/tokens.ts';

/** What a verified token grants. */
export interface TokenInfo {
  id: string;
  name: string;
  role: TokenRole;
  /** For `edge` credentials: the edge it belongs to. */
  edgeId?: string;
}

/** A token as listed (never with its secret). */
export interface TokenListing extends TokenInfo {
  createdAt: string;
  revokedAt?: string;
  lastUsed?: string;
  expiresAt?: string;
  usedAt?: string;
}

/** Options for a new token. */
export interface CreateTokenOptions {
  role: TokenRole;
  /** A label for people. Default: the role. */
  name?: string;
  /** `edge` credentials: the edge; `enroll` tokens: the edge id it must enroll as (any when unset). */
  edgeId?: string;
  /** `enroll` tokens: when it stops working. Default 24 h from now for `enroll`, never for others. */
  expiresAt?: Date;
}

/** Why verify() refused a token. */
export type TokenRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'used';

const TOKEN_RE = /^slt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;
const CACHE_MS = 60_000;
const ENROLL_TTL_MS = 24 * 3600_000;

function scryptAsync(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      secret,
      salt,
      SCRYPT.keylen,
      { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 << 20 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>` for a secret. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `secret` matches a hash made by hashSecret (constant-time on the derived key). */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(
      secret,
      Buffer.from(saltB64, 'base64'),
      expected.length,
      { N: Number(n), r: Number(r), p: Number(p), maxmem: 64 << 20 },
      (err, k) => (err ? reject(err) : resolve(k)),
    ),
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Splits a token into id and secret; undefined when it does not have the token shape. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Which cached verifications a revocation voids: one token by id, or every token of an edge. */
export interface RevokedTokens {
  id?: string;
  edgeId?: string;
}

export class TokenService {
  readonly #store: Store;
  readonly #now: () => number;
  /** sha256(token) -> what it grants and until when the answer may be reused. */
  readonly #cache = new Map<string, { info: TokenInfo; until: number }>();
  /**
   * Told of each revocation after it is stored, so that other hubs drop their cached verifications too (the hub
   * sets it to the cluster's broadcast when it has Redis). Default none.
   */
  onRevoked: ((what: RevokedTokens) => void) | undefined;

  constructor(store: Store, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
  }

  /** Creates a token; the returned `token` string is shown once and never stored. */
  async create(options: CreateTokenOptions): Promise<{ token: string; info: TokenListing }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const expiresAt =
      options.expiresAt ?? (options.role === 'enroll' ? new Date(this.#now() + ENROLL_TTL_MS) : undefined);
    const row = await insertToken(this.#store, {
      id,
      name: options.name ?? options.role,
      role: options.role,
      hash: await hashSecret(secret),
      edgeId: options.edgeId ?? null,
      expiresAt: expiresAt ?? null,
    });
    return { token: `slt_${id}_${secret}`, info: listing(row) };
  }

  /** What a token grants, or why it is refused. */
  async verify(token: string): Promise<TokenInfo | TokenRefusal> {
    const parsed = parseToken(token);
    if (!parsed) return 'malformed';
    const cacheKey = createHash('sha256').update(token).digest('base64');
    const now = this.#now();
    const cached = this.#cache.get(cacheKey);
    if (cached && cached.until > now) return cached.info;
    const row = await tokenById(this.#store, parsed.id);
    if (!row) return 'unknown';
    if (!(await verifySecret(parsed.secret, row.hash))) return 'unknown';
    if (row.revokedAt) return 'revoked';
    if (row.expiresAt && row.expiresAt.getTime() <= now) return 'expired';
    if (row.role === 'enroll' && row.usedAt) return 'used';
    const info: TokenInfo = {
      id: row.id,
      name: row.name,
      role: row.role,
      ...(row.edgeId ? { edgeId: row.edgeId } : {}),
    };
    // Enrollment tokens are one-time: never cached, so a second use always reaches the database.
    if (row.role !== 'enroll') {
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(cacheKey, { info, until: now + CACHE_MS });
      void touchTokenLastUsed(this.#store, row.id, new Date(now)).catch(() => {});
    }
    return info;
  }

  /** Every token, newest first (no secrets). */
  async list(): Promise<TokenListing[]> {
    const rows = await listTokens(this.#store);
    return rows.map(listing);
  }

  /** Revokes a token (and every cached verification of it); false when no such token. */
  async revoke(id: string): Promise<boolean> {
    const revoked = await revokeToken(this.#store, id, new Date(this.#now()));
    this.forget({ id });
    this.onRevoked?.({ id });
    if (revoked) return true;
    return tokenExists(this.#store, id);
  }

  /** Revokes every credential of one edge (when the edge is removed). */
  async revokeEdge(edgeId: string): Promise<number> {
    const revoked = await revokeEdgeTokens(this.#store, edgeId, new Date(this.#now()));
    this.forget({ edgeId });
    this.onRevoked?.({ edgeId });
    return revoked;
  }

  /** Drops cached verifications of a token, or of every token of an edge (revoked here or on another hub). */
  forget(what: RevokedTokens): void {
    for (const [k, v] of this.#cache) {
      if (
        (what.id !== undefined && v.info.id === what.id) ||
        (what.edgeId !== undefined && v.info.edgeId === what.edgeId)
      ) {
        this.#cache.delete(k);
      }
    }
  }

  /**
   * Trades a verified enrollment token for an edge credential, once: the token is marked used in the same
   * statement that checks it is unused, so two edges racing with one token cannot both win.
   */
  async enroll(
    enrollment: TokenInfo,
    edgeId: string,
    name?: string,
  ): Promise<{ token: string; info: TokenListing } | 'used' | 'wrong-edge'> {
    if (enrollment.edgeId && enrollment.edgeId !== edgeId) return 'wrong-edge';
    if (!(await claimEnrollment(this.#store, enrollment.id, new Date(this.#now())))) return 'used';
    return this.create({ role: 'edge', edgeId, name: name ?? edgeId });
  }
}

function listing(row: TokenRecord): TokenListing {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    ...(row.edgeId ? { edgeId: row.edgeId } : {}),
    createdAt: row.createdAt.toISOString(),
    ...(row.revokedAt ? { revokedAt: row.revokedAt.toISOString() } : {}),
    ...(row.lastUsed ? { lastUsed: row.lastUsed.toISOString() } : {}),
    ...(row.expiresAt ? { expiresAt: row.expiresAt.toISOString() } : {}),
    ...(row.usedAt ? { usedAt: row.usedAt.toISOString() } : {}),
  };
}
