/** The edges and streams tables: an edge as it reports itself over the uplink, and the streams it runs. */
import { eq, sql } from 'drizzle-orm';
import type { Store } from './db.ts';
import { edges, streams } from './schema.ts';

/** An edge as it reports itself. */
export type EdgeRow = typeof edges.$inferInsert;
/** A stored edge. */
export type EdgeRecord = typeof edges.$inferSelect;
/** What a hello sets on an edge's row (text already made storable). */
export type EdgeHello = Pick<EdgeRow, 'version' | 'status' | 'config' | 'lastHeartbeat'>;
/** A stream's state as an edge reports it (text already made storable). */
export interface StreamState {
  streamId: string;
  source: string;
  state: string;
}

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

/** Inserts an edge (named by its id) or overwrites its version, status, config and heartbeat with a hello's. */
export async function saveEdgeHello(store: Store, edgeId: string, hello: EdgeHello): Promise<void> {
  await store.db
    .insert(edges)
    .values({ id: edgeId, name: edgeId, ...hello })
    .onConflictDoUpdate({ target: edges.id, set: hello });
}

/** Sets an edge's last heartbeat and status. */
export async function saveEdgeHeartbeat(
  store: Store,
  edgeId: string,
  lastHeartbeat: Date,
  status: unknown,
): Promise<void> {
  await store.db.update(edges).set({ lastHeartbeat, status }).where(eq(edges.id, edgeId));
}

/** Sets the config an edge reports running. */
export async function saveEdgeConfig(
  store: Store,
  edgeId: string,
  config: Record<string, unknown>,
): Promise<void> {
  await store.db.update(edges).set({ config }).where(eq(edges.id, edgeId));
}

/** Every stored edge, sorted by id. */
export async function listEdges(store: Store): Promise<EdgeRecord[]> {
  return store.db.select().from(edges).orderBy(edges.id);
}

/** One stored edge, or undefined. */
export async function getEdge(store: Store, edgeId: string): Promise<EdgeRecord | undefined> {
  const [row] = await store.db.select().from(edges).where(eq(edges.id, edgeId));
  return row;
}

/** Whether the store knows the edge. */
export async function edgeExists(store: Store, edgeId: string): Promise<boolean> {
  const [known] = await store.db.select({ id: edges.id }).from(edges).where(eq(edges.id, edgeId));
  return known !== undefined;
}

/** Deletes an edge and its streams (its tracks stay); false when there was no such edge. */
export async function deleteEdgeAndStreams(store: Store, edgeId: string): Promise<boolean> {
  await store.db.delete(streams).where(eq(streams.edgeId, edgeId));
  const rows = await store.db.delete(edges).where(eq(edges.id, edgeId)).returning({ id: edges.id });
  return rows.length > 0;
}

/** Inserts an edge's streams or updates their source, state and update time (nothing when `list` is empty). */
export async function saveStreams(
  store: Store,
  edgeId: string,
  list: readonly StreamState[],
  updatedAt: Date,
): Promise<void> {
  if (!list.length) return;
  await store.db
    .insert(streams)
    .values(list.map((s) => ({ edgeId, streamId: s.streamId, source: s.source, state: s.state, updatedAt })))
    .onConflictDoUpdate({
      target: [streams.edgeId, streams.streamId],
      set: {
        source: sql`excluded.source`,
        state: sql`excluded.state`,
        updatedAt: sql`excluded.updated_at`,
      },
    });
}
