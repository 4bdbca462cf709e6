/**
 * Hub <-> hub messages of a fleet served by several hubs (hub/src/cluster, docs/hub.md "Several hubs"), through the
 * hubs' Redis: the presence record a hub publishes for each edge connected to it, and the commands it relays to the
 * hub holding an edge (and their answers). Every hub parses what it reads with these schemas; a message that does
 * not parse is ignored (a record expires, a command times out on its sender).
 */
import { z } from 'zod';
import { IdSchema } from './ids.ts';
import { CommandOpSchema, CommandResultSchema, EdgeLoadSchema, StreamStatusSchema } from './uplink.ts';

/** An edge's live state as published by the hub holding its connection. */
export const EdgePresenceSchema = z.object({
  /** The hub holding the connection, and the URL viewers and clients reach it at. */
  hubId: z.string().min(1).max(128),
  hubUrl: z.string().max(2048),
  version: z.string().max(64),
  model: z.string().max(128).optional(),
  provider: z.string().max(64).optional(),
  streams: z.array(StreamStatusSchema),
  load: EdgeLoadSchema.optional(),
  /** Last heartbeat (or hello), ms since the epoch on the holding hub's clock. */
  lastHeartbeat: z.number().finite(),
});
export type EdgePresence = z.infer<typeof EdgePresenceSchema>;

/** A command for an edge held by another hub, and that hub's answer (a result, or why there is none). */
export const ClusterMessageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('cmd'),
    id: z.string().min(1).max(64),
    /** The asking hub (where the answer goes). */
    from: z.string().min(1).max(128),
    edgeId: IdSchema,
    op: CommandOpSchema,
    args: z.record(z.string(), z.unknown()),
  }),
  /** An admin removed the edge on another hub: the hub holding its connection closes it. */
  z.object({
    t: z.literal('drop'),
    from: z.string().min(1).max(128),
    edgeId: IdSchema,
  }),
  /** Tokens were revoked on another hub: drop cached verifications of token `id`, or of every token of `edgeId`. */
  z.object({
    t: z.literal('revoked'),
    from: z.string().min(1).max(128),
    id: z.string().min(1).max(64).optional(),
    edgeId: IdSchema.optional(),
  }),
  z.object({
    t: z.literal('res'),
    id: z.string().min(1).max(64),
    result: CommandResultSchema.optional(),
    failure: z.object({ code: z.string().max(64), message: z.string().max(4096) }).optional(),
  }),
]);
export type ClusterMessage = z.infer<typeof ClusterMessageSchema>;
