/** Data routes: stored tracks (by filter), a track's points, recent events and thumbnails. All need the viewer role. */
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Store } from '../store/db.ts';
import { listEvents } from '../store/events.ts';
import { pointsOfTrack } from '../store/track-points.ts';
import { listTracks, parseTrackKey } from '../store/tracks.ts';
import { trackView } from '../views/track-view.ts';
import type { AuthDeps, AuthEnv } from './auth.ts';
import { authedRoute } from './authed-route.ts';
import { apiError } from './errors.ts';
import {
  BAD_REQUEST,
  EventQuery,
  EventSchemaOut,
  json,
  NOT_FOUND,
  PointSchemaOut,
  PointsQuery,
  ThumbnailParams,
  TrackKeyParams,
  TrackQuery,
  TrackSchema,
} from './schemas.ts';

/** What the data routes need. */
export interface DataRouteDeps extends AuthDeps {
  store: Store;
  /** Reads a stored thumbnail (undefined when missing). */
  readThumbnail(sha256: string): Promise<Uint8Array | undefined>;
}

/** GET /api/v1/tracks, /api/v1/tracks/{trackKey}/points, /api/v1/events and /api/v1/thumbnails/{sha256}. */
export function registerDataRoutes(app: OpenAPIHono<AuthEnv>, deps: DataRouteDeps): void {
  const { store } = deps;

  app.openapi(
    authedRoute(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/tracks',
      tags: ['data'],
      summary: 'Tracks, most recently seen first, filtered by edge, stream, label and time',
      request: { query: TrackQuery },
      responses: { 200: json(z.object({ tracks: z.array(TrackSchema) }), 'Tracks'), ...BAD_REQUEST },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const rows = await listTracks(store, {
        edgeId: q.edgeId,
        streamId: q.streamId,
        label: q.label,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        limit: q.limit,
      });
      return c.json({ tracks: rows.map(trackView) }, 200);
    },
  );

  app.openapi(
    authedRoute(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/tracks/{trackKey}/points',
      tags: ['data'],
      summary: "A track's boxes over time, oldest first",
      request: { params: TrackKeyParams, query: PointsQuery },
      responses: { 200: json(z.object({ points: z.array(PointSchemaOut) }), 'Points'), ...BAD_REQUEST },
    }),
    async (c) => {
      const k = parseTrackKey(c.req.valid('param').trackKey);
      const rows = await pointsOfTrack(store, k, c.req.valid('query').limit);
      const points = rows.map((p) => ({
        ts: p.ts.toISOString(),
        box: [p.x1, p.y1, p.x2, p.y2],
        score: p.score,
      }));
      return c.json({ points }, 200);
    },
  );

  app.openapi(
    authedRoute(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/events',
      tags: ['data'],
      summary: 'Recent events, newest first',
      request: { query: EventQuery },
      responses: { 200: json(z.object({ events: z.array(EventSchemaOut) }), 'Events'), ...BAD_REQUEST },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const rows = await listEvents(store, { edgeId: q.edgeId, kind: q.kind, limit: q.limit });
      return c.json(
        {
          events: rows.map((e) => ({
            id: e.id,
            edgeId: e.edgeId,
            ...(e.streamId ? { streamId: e.streamId } : {}),
            kind: e.kind,
            ts: e.ts.toISOString(),
            ...(e.data != null ? { data: e.data } : {}),
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    authedRoute(deps, 'viewer', {
      method: 'get',
      path: '/api/v1/thumbnails/{sha256}',
      tags: ['data'],
      summary: 'A stored thumbnail (JPEG), by the sha256 of its bytes',
      request: { params: ThumbnailParams },
      responses: {
        200: {
          content: { 'image/jpeg': { schema: z.string().openapi({ format: 'binary' }) } },
          description: 'JPEG',
        },
        ...BAD_REQUEST,
        ...NOT_FOUND,
      },
    }),
    async (c) => {
      const { sha256 } = c.req.valid('param');
      const bytes = await deps.readThumbnail(sha256);
      if (!bytes) throw apiError('NOT_FOUND', `no thumbnail ${sha256}`);
      return c.body(new Uint8Array(bytes), 200, {
        'content-type': 'image/jpeg',
        'cache-control': 'private, max-age=31536000, immutable',
      });
    },
  );
}
