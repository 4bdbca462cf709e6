/**
 * WHEP (RFC 9725) on the hub: `POST /api/v1/whep/{edgeId}/{streamId}` with an SDP offer (viewer token) answers
 * 201 with the SDP answer and `Location: /api/v1/whep/sessions/{id}`; `DELETE` on it ends the session. Video
 * only. 503 MEDIA_UNAVAILABLE when live video is off. With several hubs (Redis), an offer for a stream this hub
 * does not have, whose edge is connected to another hub, is answered 307 with Location on that hub (RFC 9725
 * allows WHEP endpoints to redirect); the player re-sends the offer there with its token.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { type AuthDeps, type AuthEnv, requireRole } from '../api/auth.ts';
import { ApiErrorSchema, apiError } from '../api/errors.ts';
import { AUTH_ERRORS, json, StreamParams } from '../api/schemas.ts';
import type { MediaHub } from './media-hub.ts';

const SESSION_PATH = '/api/v1/whep/sessions';

const MEDIA_ERRORS = {
  404: json(ApiErrorSchema, 'No such stream or session'),
  503: json(ApiErrorSchema, 'Live video is off on this hub (MEDIA_UNAVAILABLE)'),
} as const;

/** Registers the WHEP routes; `media()` gives the hub's MediaHub (undefined: live video is off). */
export function registerWhepRoutes(
  app: OpenAPIHono<AuthEnv>,
  deps: AuthDeps,
  media: () => MediaHub | undefined,
  holder?: (edgeId: string) => Promise<{ id: string; url: string } | undefined>,
): void {
  const available = () => {
    const m = media();
    if (!m?.available) {
      throw apiError('MEDIA_UNAVAILABLE', `live video is off: ${m?.unavailableReason ?? 'not started'}`);
    }
    return m;
  };
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/whep/{edgeId}/{streamId}',
      tags: ['live video'],
      summary: 'WHEP: play a live stream (SDP offer in, SDP answer out; video only)',
      security: [{ bearer: [] }],
      'x-required-role': 'viewer',
      middleware: [requireRole(deps, 'viewer')] as const,
      request: {
        params: StreamParams,
        body: { content: { 'application/sdp': { schema: z.string() } }, required: true },
      },
      responses: {
        201: {
          content: { 'application/sdp': { schema: z.string() } },
          headers: z.object({ location: z.string() }),
          description: 'The SDP answer; Location names the session',
        },
        307: {
          headers: z.object({ location: z.string() }),
          description: 'The edge is connected to another hub of the cluster: send the offer there (Location)',
        },
        400: json(ApiErrorSchema, 'The offer is not usable SDP (SDP_INVALID)'),
        415: json(ApiErrorSchema, 'The body is not application/sdp'),
        ...AUTH_ERRORS,
        ...MEDIA_ERRORS,
      },
    }),
    async (c) => {
      const { edgeId, streamId } = c.req.valid('param');
      const type = c.req.header('content-type') ?? '';
      if (!/^application\/sdp\b/i.test(type)) {
        throw apiError(
          'UNSUPPORTED_MEDIA_TYPE',
          `send the offer as application/sdp, not ${type || 'nothing'}`,
        );
      }
      const hub = available();
      const key = `${edgeId}/${streamId}`;
      if (holder && !hub.streams().some((s) => s.key === key)) {
        const other = await holder(edgeId);
        if (other?.url) {
          const path = `/api/v1/whep/${encodeURIComponent(edgeId)}/${encodeURIComponent(streamId)}`;
          return c.body(null, 307, { location: new URL(path, other.url).href });
        }
      }
      const offer = await c.req.text();
      const { session, answer } = await hub.whep(key, offer);
      return c.body(answer, 201, {
        'content-type': 'application/sdp',
        location: `${SESSION_PATH}/${session.id}`,
      });
    },
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: `${SESSION_PATH}/{sessionId}`,
      tags: ['live video'],
      summary: 'WHEP: end a playback session',
      security: [{ bearer: [] }],
      'x-required-role': 'viewer',
      middleware: [requireRole(deps, 'viewer')] as const,
      request: { params: z.object({ sessionId: z.string().max(64) }) },
      responses: { 204: { description: 'Ended' }, ...AUTH_ERRORS, ...MEDIA_ERRORS },
    }),
    async (c) => {
      const { sessionId } = c.req.valid('param');
      const hub = available();
      const s = hub.session(sessionId);
      if (s?.via !== 'whep') throw apiError('SESSION_UNKNOWN', `no WHEP session ${sessionId}`);
      hub.closeSession(sessionId);
      return c.body(null, 204);
    },
  );
}
