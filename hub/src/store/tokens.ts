/** The tokens table: API tokens, edge credentials and enrollment tokens (only hashes of their secrets). */
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Store } from './db.ts';
import { type TokenRole, tokens } from './schema.ts';

export type { TokenRole };

/** A new token's row. */
export type TokenRow = typeof tokens.$inferInsert;
/** A stored token. */
export type TokenRecord = typeof tokens.$inferSelect;

/** Inserts a token; returns the stored row. */
export async function insertToken(store: Store, row: TokenRow): Promise<TokenRecord> {
  const [stored] = await store.db.insert(tokens).values(row).returning();
  return stored!;
}

/** One token by id, or undefined. */
export async function tokenById(store: Store, id: string): Promise<TokenRecord | undefined> {
  const [row] = await store.db.select().from(tokens).where(eq(tokens.id, id));
  return row;
}

/** Whether a token with this id exists (revoked or not). */
export async function tokenExists(store: Store, id: string): Promise<boolean> {
  const [exists] = await store.db.select({ id: tokens.id }).from(tokens).where(eq(tokens.id, id));
  return exists !== undefined;
}

/** Every token, newest first. */
export async function listTokens(store: Store): Promise<TokenRecord[]> {
  return store.db.select().from(tokens).orderBy(desc(tokens.createdAt));
}

/** Marks a token revoked at `at` unless it already is; false when no unrevoked token has this id. */
export async function revokeToken(store: Store, id: string, at: Date): Promise<boolean> {
  const rows = await store.db
    .update(tokens)
    .set({ revokedAt: at })
    .where(and(eq(tokens.id, id), isNull(tokens.revokedAt)))
    .returning({ id: tokens.id });
  return rows.length > 0;
}

/** Marks every unrevoked `edge` credential of one edge revoked at `at`; returns how many. */
export async function revokeEdgeTokens(store: Store, edgeId: string, at: Date): Promise<number> {
  const rows = await store.db
    .update(tokens)
    .set({ revokedAt: at })
    .where(and(eq(tokens.edgeId, edgeId), eq(tokens.role, 'edge'), isNull(tokens.revokedAt)))
    .returning({ id: tokens.id });
  return rows.length;
}

/**
 * Marks an unused `enroll` token used at `at`, in the one statement that checks it is unused (so two claims
 * racing for one token cannot both win); false when it was not an unused enrollment token.
 */
export async function claimEnrollment(store: Store, id: string, at: Date): Promise<boolean> {
  const claimed = await store.db
    .update(tokens)
    .set({ usedAt: at })
    .where(and(eq(tokens.id, id), eq(tokens.role, 'enroll'), isNull(tokens.usedAt)))
    .returning({ id: tokens.id });
  return claimed.length > 0;
}

/** Sets when a token was last used. */
export async function touchTokenLastUsed(store: Store, id: string, at: Date): Promise<void> {
  await store.db.update(tokens).set({ lastUsed: at }).where(eq(tokens.id, id));
}
