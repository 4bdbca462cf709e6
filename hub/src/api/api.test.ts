import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type ApiHub, startApiHub } from '../../test-support/api-hub.ts';
import { agedTrackPoint, testBackends } from '../../test-support/backends.ts';
import { type HubServer, startHub } from '../server.ts';
import type { TokenRole } from '../store/schema.ts';

const backends = await testBackends('api');

interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<string, { 'x-required-role'?: TokenRole; parameters?: { name: string; in: string }[] }>
  >;
}

/** A sample value for each path parameter, valid for its schema. */
const SAMPLE: Record<string, string> = {
  edgeId: 'edge-x',
  streamId: 'cam-x',
  tokenId: '0123456789abcdef',
  sha256: 'a'.repeat(64),
  trackKey: 'edge-x:cam-x:run1:1',
};

/** A role too weak for `required` (a machine credential where no weaker person role exists). */
const WEAKER: Record<TokenRole, TokenRole> = {
  viewer: 'edge',
  operator: 'viewer',
  admin: 'operator',
  edge: 'viewer',
  enroll: 'viewer',
};

for (const backend of backends) {
  describe(`hub API on ${backend.name}`, { skip: backend.skip }, () => {
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

    test('track ids beyond the store (int32) are 400 naming the field, never a 500 with SQL', async () => {
      const points = await call('/api/v1/tracks/e1:cam1:r:2147483648/points', { as: 'viewer' });
      const pointsText = await points.text();
      assert.equal(points.status, 400, pointsText);
      const pb = JSON.parse(pointsText) as { error: { code: string; message: string } };
      assert.equal(pb.error.code, 'VALIDATION_FAILED');
      assert.match(pb.error.message, /^param\.trackKey: trackId/);
      const search = await call('/api/v1/search', {
        as: 'viewer',
        method: 'POST',
        body: JSON.stringify({ track: 'e1:cam1:r:9999999999' }),
      });
      const searchText = await search.text();
      assert.equal(search.status, 400, searchText);
      assert.match(searchText, /body\.track: trackId/);
      for (const text of [pointsText, searchText]) assert.doesNotMatch(text, /select|params|Failed query/i);
      // The largest int32 is a valid id: no such track, but no error either.
      const max = await call('/api/v1/tracks/e1:cam1:r:2147483647/points', { as: 'viewer' });
      assert.equal(max.status, 200);
    });

    test('/health and /ready are public, with the one health shape', async () => {
      const res = await call('/health');
      assert.equal(res.status, 200);
      const health = (await res.json()) as { status: string; checks: object };
      assert.deepEqual(Object.keys(health).sort(), ['checks', 'status', 'uptimeSeconds', 'version']);
      assert.deepEqual([health.status, health.checks], ['ok', {}]);
      const ready = await call('/ready');
      assert.equal(ready.status, 200);
      const body = (await ready.json()) as { status: string; checks: Record<string, { status: string }> };
      assert.equal(body.status, 'ok');
      assert.deepEqual(Object.keys(body.checks), ['database', 'indexes']);
    });

    test('the OpenAPI 3.1 document lists every route with its required role', async () => {
      const doc = (await (await call('/api/v1/openapi.json')).json()) as OpenApiDoc;
      assert.equal(doc.openapi, '3.1.0');
      const ops = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`));
      for (const expected of [
        'get /api/v1/edges',
        'post /api/v1/tokens',
        'post /api/v1/enroll',
        'patch /api/v1/edges/{edgeId}/config',
        'post /api/v1/search',
        'get /metrics',
      ]) {
        assert.ok(ops.includes(expected), `${expected} missing from ${ops.join(', ')}`);
      }
      for (const item of Object.values(doc.paths)) {
        for (const op of Object.values(item)) assert.ok(op['x-required-role'], 'every route declares a role');
      }
      const page = await (await call('/api/v1/docs')).text();
      assert.match(page, /openapi\.json/);
    });

    test('every route refuses no token, a wrong token and a too-weak role', async () => {
      const doc = (await (await call('/api/v1/openapi.json')).json()) as OpenApiDoc;
      let checked = 0;
      for (const [template, item] of Object.entries(doc.paths)) {
        const path = template.replace(/\{(\w+)\}/g, (_, name: string) => SAMPLE[name] ?? 'x');
        for (const [method, op] of Object.entries(item)) {
          const role = op['x-required-role']!;
          const init = { method: method.toUpperCase(), body: method === 'get' ? undefined : '{}' };
          const where = `${method.toUpperCase()} ${template}`;
          const none = await call(path, init);
          assert.equal(none.status, 401, `${where} without a token`);
          assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
          const wrong = await call(path, { ...init, as: `slt_0123456789abcdef_${'A'.repeat(43)}` });
          assert.equal(wrong.status, 401, `${where} with an unknown token`);
          await wrong.body?.cancel();
          const garbage = await call(path, { ...init, as: 'not-a-token' });
          assert.equal(garbage.status, 401, `${where} with a malformed token`);
          await garbage.body?.cancel();
          const weak = await call(path, { ...init, as: WEAKER[role] });
          assert.equal(weak.status, 403, `${where} with role ${WEAKER[role]} (needs ${role})`);
          assert.equal(((await weak.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
          checked++;
        }
      }
      assert.ok(checked >= 18, `walked ${checked} routes`);
    });

    test('bodies: unknown fields and wrong types get 400 naming the field; bad JSON 400; oversized 413', async () => {
      const post = (body: string, type?: string) =>
        call('/api/v1/tokens', {
          method: 'POST',
          as: 'admin',
          body,
          headers: type ? { 'content-type': type } : {},
        });
      const cases: [string, RegExp][] = [
        [JSON.stringify({ role: 'viewer', colour: 'red' }), /unknown field\(s\) colour/],
        [JSON.stringify({ role: 'root' }), /^body\.role: /],
        [JSON.stringify({ role: 'viewer', name: 42 }), /^body\.name: /],
        [JSON.stringify([1, 2]), /^body: /],
      ];
      for (const [body, message] of cases) {
        const res = await post(body);
        assert.equal(res.status, 400, body);
        const err = ((await res.json()) as { error: { code: string; message: string } }).error;
        assert.equal(err.code, 'VALIDATION_FAILED', body);
        assert.match(err.message, message, body);
      }
      const bad = await post('{"role": ');
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');
      // Refused from its content-length, before the body is read (the client need not even send it all).
      const big = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${hub.url}/api/v1/tokens`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token.admin}`,
            'content-type': 'application/json',
            'content-length': String(2 << 20),
          },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.write('{"role": "viewer", "name": "');
      });
      assert.equal(big.status, 413);
      assert.equal((JSON.parse(big.body) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
      const query = await call('/api/v1/tracks?limit=abc', { as: 'viewer' });
      assert.equal(query.status, 400);
      assert.match(((await query.json()) as { error: { message: string } }).error.message, /^query\.limit: /);
      const search = await call('/api/v1/search', {
        method: 'POST',
        as: 'viewer',
        body: JSON.stringify({ k: 5 }),
      });
      assert.equal(search.status, 400);
      assert.match(
        ((await search.json()) as { error: { message: string } }).error.message,
        /exactly one of embedding or track/,
      );
    });

    test('fleet commands to an unknown edge get 404, and the edge list starts empty', async () => {
      const list = (await (await call('/api/v1/edges', { as: 'viewer' })).json()) as { edges: unknown[] };
      assert.deepEqual(list.edges, []);
      const res = await call('/api/v1/edges/nowhere/streams/cam1/stop', { method: 'POST', as: 'operator' });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'EDGE_UNKNOWN');
    });

    test('/metrics serves Prometheus text with request counters', async () => {
      const res = await call('/metrics', { as: 'viewer' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      assert.match(
        text,
        /^sightline_hub_http_requests_total\{method="GET",route="\/api\/v1\/edges",status="200"\} \d+$/m,
      );
      assert.match(text, /^sightline_hub_auth_refused_total\{reason="missing"\} \d+$/m);
      assert.match(text, /^sightline_hub_edges\{status="online"\} 0$/m);
    });

    test('unknown routes get a JSON 404; the status page is HTML that reads the API with a token', async () => {
      const res = await call('/api/v1/nope', { as: 'viewer' });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
      const page = await (await call('/')).text();
      assert.match(page, /\/api\/v1\/edges/);
      assert.match(page, /authorization/);
    });
  });
}

describe('retention', () => {
  test('points older than the retention are deleted, newer ones kept; 0 keeps everything', async () => {
    const [pglite] = backends;
    const loc = pglite!.create();
    const { insertTrackPoints } = await import('../store/track-points.ts');
    const { trackPoints } = await import('../store/schema.ts');
    let hub = await startHub({ port: 0, ...loc, retentionDays: 7 });
    try {
      await insertTrackPoints(hub.store, [
        agedTrackPoint(10, 1),
        agedTrackPoint(8, 2),
        agedTrackPoint(6, 3),
        agedTrackPoint(0, 4),
      ]);
      assert.equal(await hub.applyRetention(), 2);
      assert.deepEqual((await hub.store.db.select().from(trackPoints)).map((p) => p.seq).sort(), [3, 4]);
      await hub.close();
      hub = await startHub({ port: 0, ...loc, retentionDays: 0 });
      await insertTrackPoints(hub.store, [agedTrackPoint(400, 5)]);
      assert.equal(await hub.applyRetention(), 0);
      assert.equal((await hub.store.db.select().from(trackPoints)).length, 3);
      await assert.rejects(startHub({ port: 0, ...loc, retentionDays: -1 }), /retention days >= 0/);
    } finally {
      await hub.close();
      await pglite!.dispose(loc);
    }
  });
});

describe('rate limiting', () => {
  test('a token beyond its burst gets 429 with Retry-After; other tokens are unaffected', async () => {
    const [pglite] = backends;
    const loc = pglite!.create();
    const hub = await startHub({ port: 0, ...loc, rateLimit: { ratePerSec: 1, burst: 3 } });
    try {
      const a = (await hub.tokens.create({ role: 'viewer' })).token;
      const b = (await hub.tokens.create({ role: 'viewer' })).token;
      const get = (t: string) =>
        fetch(`${hub.url}/api/v1/edges`, { headers: { authorization: `Bearer ${t}` } });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await get(a)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const limited = await get(a);
      assert.equal(limited.headers.get('retry-after'), '1');
      assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
      assert.equal((await get(b)).status, 200);
    } finally {
      await hub.close();
      await pglite!.dispose(loc);
    }
  });
});
