/** The edges table: an edge as it reports itself over the uplink. */
import { sql } from 'drizzle-orm';
import type { Store } from './db.ts';
import { edges } from './schema.ts';

/** An edge as it reports itself. */
export type EdgeRow = typeof edges.$inferInsert;

/** Inserts or updates an edge (name, version, status, heartbeat). */
export async function upsertEdge(store: Store, edge: EdgeRow): Promise<void> {
  await store.db
    .insert(edges)
    .values(edge)
    .onConflictDoUpdate({
      target: edges.id,
      set: {
        name: sql`excluded.name`,
        version: sql`excluded.version`,
        status: sql`coalesce(excluded.status, ${edges.status})`,
        lastHeartbeat: sql`coalesce(excluded.last_heartbeat, ${edges.lastHeartbeat})`,
      },
    });
}
