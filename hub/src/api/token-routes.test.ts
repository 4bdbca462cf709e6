/** The token routes: API tokens created, listed and revoked by an admin; enrollment tokens and enrolling an edge. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiHub, startApiHub } from '../../test-support/api-hub.ts';
import { testBackends } from '../../test-support/backends.ts';
import type { HubServer } from '../server.ts';
import type { TokenRole } from '../store/schema.ts';

const backends = await testBackends('tokens');

for (const backend of backends) {
  describe(`token routes on ${backend.name}`, { skip: backend.skip }, () => {
    const loc = backend.create();
    let hub: HubServer;
    let token: Record<TokenRole, string>;
    let call: ApiHub['call'];

    before(async () => {
      ({ hub, token, call } = await startApiHub(loc));
    });
    after(async () => {
      await hub?.close();
      await backend.dispose(loc);
    });

    test('an admin creates, lists and revokes tokens; a revoked token stops working at once', async () => {
      const res = await call('/api/v1/tokens', {
        method: 'POST',
        as: 'admin',
        body: JSON.stringify({ role: 'viewer', name: 'wall screen' }),
      });
      assert.equal(res.status, 201);
      const created = (await res.json()) as { token: string; info: { id: string; role: string } };
      assert.equal(created.info.role, 'viewer');
      assert.equal((await call('/api/v1/edges', { as: created.token })).status, 200);
      const list = (await (await call('/api/v1/tokens', { as: 'admin' })).json()) as {
        tokens: { id: string; name: string }[];
      };
      assert.ok(list.tokens.some((t) => t.id === created.info.id && t.name === 'wall screen'));
      assert.ok(!JSON.stringify(list).includes(created.token.slice(21)), 'secrets never listed');
      const revoke = await call(`/api/v1/tokens/${created.info.id}`, { method: 'DELETE', as: 'admin' });
      assert.equal(revoke.status, 200);
      const after = await call('/api/v1/edges', { as: created.token });
      assert.equal(after.status, 401);
      assert.match(((await after.json()) as { error: { message: string } }).error.message, /revoked/);
      assert.equal(
        (await call('/api/v1/tokens/0123456789abcdef', { method: 'DELETE', as: 'admin' })).status,
        404,
      );
    });

    test('tokens are stored only as scrypt hashes', async () => {
      const listed = await hub.tokens.list();
      assert.ok(listed.length >= 5);
      const { tokens } = await import('../store/schema.ts');
      const rows = await hub.store.db.select().from(tokens);
      for (const r of rows) assert.match(r.hash, /^scrypt\$16384\$8\$1\$/);
      for (const t of Object.values(token)) assert.ok(!rows.some((r) => t.includes(r.hash)));
    });

    test('an edge enrolls once with an enrollment token and gets its own credential', async () => {
      const res = await call('/api/v1/enrollment-tokens', {
        method: 'POST',
        as: 'admin',
        body: JSON.stringify({ edgeId: 'edge-7', ttlSeconds: 600 }),
      });
      assert.equal(res.status, 201);
      const { token: enrollment } = (await res.json()) as { token: string };
      const wrongEdge = await call('/api/v1/enroll', {
        method: 'POST',
        as: enrollment,
        body: JSON.stringify({ edgeId: 'edge-8' }),
      });
      assert.equal(wrongEdge.status, 403);
      const ok = await call('/api/v1/enroll', {
        method: 'POST',
        as: enrollment,
        body: JSON.stringify({ edgeId: 'edge-7' }),
      });
      assert.equal(ok.status, 201);
      const cred = (await ok.json()) as { edgeId: string; token: string };
      assert.equal(cred.edgeId, 'edge-7');
      const info = await hub.tokens.verify(cred.token);
      assert.deepEqual(typeof info === 'object' && [info.role, info.edgeId], ['edge', 'edge-7']);
      const again = await call('/api/v1/enroll', {
        method: 'POST',
        as: enrollment,
        body: JSON.stringify({ edgeId: 'edge-7' }),
      });
      assert.equal(again.status, 401);
      assert.match(((await again.json()) as { error: { message: string } }).error.message, /used/);
      // An edge credential is not a person's token.
      assert.equal((await call('/api/v1/edges', { as: cred.token })).status, 403);
    });

    test('an expired enrollment token is refused', async () => {
      const { token: expired } = await hub.tokens.create({
        role: 'enroll',
        expiresAt: new Date(Date.now() - 1000),
      });
      const res = await call('/api/v1/enroll', {
        method: 'POST',
        as: expired,
        body: JSON.stringify({ edgeId: 'e9' }),
      });
      assert.equal(res.status, 401);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /expired/);
    });
  });
}
