/** The similar-track search route; the search itself is the search service's (hub/src/search/). */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { SearchHit, SearchQuery, SearchQueryError } from '../search/search-service.ts';
import type { AuthDeps, AuthEnv } from './auth.ts';
import { authedRoute } from './authed-route.ts';
import { BAD_REQUEST, json, NOT_FOUND, SearchBody, SearchResultSchema } from './schemas.ts';

/** What the search route needs. */
export interface SearchRouteDeps extends AuthDeps {
  /**
   * Similar-track search; rejects with a {@link SearchQueryError} for a query it cannot run (unknown track, wrong
   * dimensions), which the error handler answers with its code's status (404 NOT_FOUND, 400 VALIDATION_FAILED).
   */
  search(input: SearchQuery): Promise<SearchHit[]>;
}

/** POST /api/v1/search (viewer). */
export function registerSearchRoutes(app: OpenAPIHono<AuthEnv>, deps: SearchRouteDeps): void {
  app.openapi(
    authedRoute(deps, 'viewer', {
      method: 'post',
      path: '/api/v1/search',
      tags: ['data'],
      summary:
        'Tracks that look like an embedding or a track, best first, with filters applied without losing recall',
      request: { body: { content: { 'application/json': { schema: SearchBody } }, required: true } },
      responses: { 200: json(SearchResultSchema, 'Similar tracks'), ...BAD_REQUEST, ...NOT_FOUND },
    }),
    async (c) => c.json({ results: await deps.search(c.req.valid('json')) }, 200),
  );
}
