/** Routes of API tokens and edge enrollment: create, list and revoke tokens; enrollment tokens and enrolling. */
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { TokenService } from '../auth/token-service.ts';
import type { RecordAudit } from './audit-recorder.ts';
import type { AuthDeps, AuthEnv } from './auth.ts';
import { authedRoute } from './authed-route.ts';
import { ApiErrorSchema, apiError } from './errors.ts';
import {
  BAD_REQUEST,
  CreatedTokenSchema,
  CreateEnrollmentBody,
  CreateTokenBody,
  EnrollBody,
  EnrolledSchema,
  json,
  NOT_FOUND,
  TokenListingSchema,
  TokenParams,
} from './schemas.ts';

/** What the token routes need. */
export interface TokenRouteDeps extends AuthDeps {
  tokens: TokenService;
}

/** POST/GET/DELETE /api/v1/tokens (admin), POST /api/v1/enrollment-tokens (admin), POST /api/v1/enroll (enroll). */
export function registerTokenRoutes(
  app: OpenAPIHono<AuthEnv>,
  deps: TokenRouteDeps,
  record: RecordAudit,
): void {
  const { tokens } = deps;

  app.openapi(
    authedRoute(deps, 'admin', {
      method: 'post',
      path: '/api/v1/tokens',
      tags: ['tokens'],
      summary: 'Create an API token for a person or a tool (shown once)',
      request: { body: { content: { 'application/json': { schema: CreateTokenBody } }, required: true } },
      responses: { 201: json(CreatedTokenSchema, 'The new token'), ...BAD_REQUEST },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const created = await tokens.create({ role: body.role, name: body.name });
      await record(c, 'token.create', created.info.id, { role: body.role, name: created.info.name });
      return c.json(created, 201);
    },
  );

  app.openapi(
    authedRoute(deps, 'admin', {
      method: 'get',
      path: '/api/v1/tokens',
      tags: ['tokens'],
      summary: 'List tokens (never their secrets)',
      responses: { 200: json(z.object({ tokens: z.array(TokenListingSchema) }), 'Tokens, newest first') },
    }),
    async (c) => c.json({ tokens: await tokens.list() }, 200),
  );

  app.openapi(
    authedRoute(deps, 'admin', {
      method: 'delete',
      path: '/api/v1/tokens/{tokenId}',
      tags: ['tokens'],
      summary: 'Revoke a token (takes effect at once)',
      request: { params: TokenParams },
      responses: { 200: json(z.object({ revoked: z.string() }), 'Revoked'), ...BAD_REQUEST, ...NOT_FOUND },
    }),
    async (c) => {
      const { tokenId } = c.req.valid('param');
      if (!(await tokens.revoke(tokenId))) throw apiError('NOT_FOUND', `no token ${tokenId}`);
      await record(c, 'token.revoke', tokenId);
      return c.json({ revoked: tokenId }, 200);
    },
  );

  app.openapi(
    authedRoute(deps, 'admin', {
      method: 'post',
      path: '/api/v1/enrollment-tokens',
      tags: ['tokens'],
      summary: 'Create a one-time enrollment token an edge trades for its own credential',
      request: {
        body: { content: { 'application/json': { schema: CreateEnrollmentBody } }, required: true },
      },
      responses: { 201: json(CreatedTokenSchema, 'The enrollment token'), ...BAD_REQUEST },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const created = await tokens.create({
        role: 'enroll',
        name: body.name ?? `enroll ${body.edgeId ?? 'any edge'}`,
        edgeId: body.edgeId,
        expiresAt: body.ttlSeconds ? new Date(Date.now() + body.ttlSeconds * 1000) : undefined,
      });
      const { id, name, edgeId, expiresAt } = created.info;
      await record(c, 'enrollment.create', id, { name, edgeId, expiresAt });
      return c.json(created, 201);
    },
  );

  app.openapi(
    authedRoute(deps, 'enroll', {
      method: 'post',
      path: '/api/v1/enroll',
      tags: ['tokens'],
      summary: 'An edge trades its enrollment token (as the bearer token) for its own credential, once',
      request: { body: { content: { 'application/json': { schema: EnrollBody } }, required: true } },
      responses: {
        201: json(EnrolledSchema, "The edge's credential (store it; used for the uplink)"),
        ...BAD_REQUEST,
        409: json(ApiErrorSchema, 'The enrollment token was already used'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const result = await tokens.enroll(c.get('auth'), body.edgeId, body.name);
      if (result === 'used') throw apiError('ENROLLMENT_USED', 'this enrollment token was already used');
      if (result === 'wrong-edge') {
        throw apiError('FORBIDDEN', `this enrollment token is for another edge than "${body.edgeId}"`);
      }
      await record(c, 'edge.enroll', body.edgeId, { name: body.name });
      return c.json({ edgeId: body.edgeId, token: result.token }, 201);
    },
  );
}
