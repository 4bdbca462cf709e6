/**
 * The audit log (who changed what through the API) and the API's refusal of text the store cannot hold (NUL).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { UPLINK_PATH, UPLINK_PROTOCOL } from '@sightline/shared';
import { sql } from 'drizzle-orm';
import { WebSocket } from 'ws';
import { testBackends } from '../../test-support/backends.ts';
import { type HubServer, startHub } from '../server.ts';

const backends = await testBackends('audit');

interface AuditEntry {
  id: number;
  at: string;
  tokenId: string;
  role: string;
  action: string;
  target: string;
  detail?: Record<string, unknown>;
}

/** A fake edge on the uplink that answers every command with ok (and its config for applyConfig). */
async function fakeEdge(url: string, token: string, edgeId: string) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + UPLINK_PATH, {
    headers: { authorization: `Bearer ${token}` },
  });
  const welcomed = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const m = decode(data as Buffer) as { t: string; id?: string; op?: string };
      if (m.t === 'welcome') resolve();
      if (m.t === 'command') {
        const data = m.op === 'applyConfig' ? { applied: ['detector.confidence'] } : {};
        ws.send(encode({ t: 'result', id: m.id, ok: true, data }));
      }
    });
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(
    encode({
      t: 'hello',
      protocol: UPLINK_PROTOCOL,
      edgeId,
      run: 'r1',
      version: '0.1.0',
      model: 'm',
      provider: 'cpu',
      streams: [],
    }),
  );
  await welcomed;
  return {
    close: async () => {
      const closed = new Promise((r) => ws.once('close', r));
      ws.close();
      await closed;
    },
  };
}

for (const backend of backends) {
  describe(`audit log on ${backend.name}`, { skip: backend.skip }, () => {
    const loc = backend.create();
    let hub: HubServer;
    const tok: Record<'viewer' | 'operator' | 'admin', { token: string; id: string }> = {} as never;

    before(async () => {
      hub = await startHub({ port: 0, ...loc, rateLimit: { ratePerSec: 1000, burst: 1000 } });
      for (const role of ['viewer', 'operator', 'admin'] as const) {
        const { token, info } = await hub.tokens.create({ role });
        tok[role] = { token, id: info.id };
      }
    });
    after(async () => {
      await hub?.close();
      await backend.dispose(loc);
    });

    const call = (path: string, as: keyof typeof tok, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${tok[as].token}`);
      if (init.body) headers.set('content-type', 'application/json');
      return fetch(hub.url + path, { ...init, headers });
    };
    const audit = async (query = '') => {
      const res = await call(`/api/v1/audit${query}`, 'admin');
      assert.equal(res.status, 200, await res.clone().text());
      return ((await res.json()) as { entries: AuditEntry[] }).entries;
    };

    test('a stream source, a config value or a token name with a NUL is 400 naming the field', async () => {
      const cases: [string, string, unknown, RegExp][] = [
        [
          'POST',
          '/api/v1/edges/edge-a/streams',
          { id: 'nul', source: 'rtsp://cam\u0000/x' },
          /^body\.source: must not contain NUL/,
        ],
        [
          'PATCH',
          '/api/v1/edges/edge-a/config',
          { streams: [{ id: 'x', source: 'a\u0000' }] },
          /^body: streams\.0\.source: must not contain NUL/,
        ],
        [
          'PATCH',
          '/api/v1/edges/edge-a/config',
          { 'de\u0000tector': {} },
          /^body: .*key .*must not contain NUL/,
        ],
        [
          'POST',
          '/api/v1/tokens',
          { role: 'viewer', name: 'wall\u0000' },
          /^body\.name: must not contain NUL/,
        ],
        ['POST', '/api/v1/enrollment-tokens', { name: 'x\u0000' }, /^body\.name: must not contain NUL/],
      ];
      for (const [method, path, body, message] of cases) {
        const res = await call(path, method === 'POST' && path.includes('token') ? 'admin' : 'operator', {
          method,
          body: JSON.stringify(body),
        });
        const got = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(got)}`);
        assert.equal(got.error.code, 'VALIDATION_FAILED');
        assert.match(got.error.message, message);
      }
      const events = await call('/api/v1/events?kind=a%00b', 'viewer');
      assert.equal(events.status, 400);
      assert.equal((await audit()).length, 0, 'nothing was changed, nothing recorded');
    });

    test('token create and revoke are recorded with who did it, never the secret', async () => {
      const created = await call('/api/v1/tokens', 'admin', {
        method: 'POST',
        body: JSON.stringify({ role: 'viewer', name: 'wall screen' }),
      });
      assert.equal(created.status, 201);
      const { token, info } = (await created.json()) as { token: string; info: { id: string } };
      const revoked = await call(`/api/v1/tokens/${info.id}`, 'admin', { method: 'DELETE' });
      assert.equal(revoked.status, 200);
      const entries = await audit();
      assert.deepEqual(
        entries.map((e) => [e.action, e.target, e.tokenId, e.role]),
        [
          ['token.revoke', info.id, tok.admin.id, 'admin'],
          ['token.create', info.id, tok.admin.id, 'admin'],
        ],
      );
      assert.deepEqual(entries[1]!.detail, { role: 'viewer', name: 'wall screen' });
      assert.ok(Date.parse(entries[0]!.at) >= Date.parse(entries[1]!.at));
      const raw = JSON.stringify(await (await call('/api/v1/audit', 'admin')).json());
      // The secret is what follows `slt_<id>_` (it may itself hold a `_`, so no split).
      assert.ok(!raw.includes(token.slice(`slt_${info.id}_`.length)), 'the secret appears nowhere');
      // A revoke of an unknown token changes nothing and records nothing.
      assert.equal(
        (await call('/api/v1/tokens/0123456789abcdef', 'admin', { method: 'DELETE' })).status,
        404,
      );
      assert.equal((await audit()).length, 2);
    });

    test('stream add, stop, start, remove and config changes are recorded; URL passwords are redacted', async () => {
      const { token } = await hub.tokens.create({ role: 'edge', edgeId: 'edge-a' });
      const edge = await fakeEdge(hub.url, token, 'edge-a');
      try {
        const steps: [string, string, unknown?][] = [
          ['POST', '/api/v1/edges/edge-a/streams', { id: 'cam1', source: 'rtsp://user:hunter2@cam/x' }],
          ['POST', '/api/v1/edges/edge-a/streams/cam1/stop'],
          ['POST', '/api/v1/edges/edge-a/streams/cam1/start'],
          [
            'PATCH',
            '/api/v1/edges/edge-a/config',
            { detector: { confidence: 0.6 }, hub: { token: 'slt_x' } },
          ],
          ['DELETE', '/api/v1/edges/edge-a/streams/cam1'],
        ];
        for (const [method, path, body] of steps) {
          const res = await call(path, 'operator', {
            method,
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
          assert.equal(res.status, 200, `${method} ${path}: ${await res.clone().text()}`);
        }
      } finally {
        await edge.close();
      }
      const entries = await audit(
        `?since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`,
      );
      const mine = entries.filter((e) => e.tokenId === tok.operator.id);
      assert.deepEqual(
        mine.map((e) => [e.action, e.target, e.role]),
        [
          ['stream.remove', 'edge-a/cam1', 'operator'],
          ['config.update', 'edge-a', 'operator'],
          ['stream.start', 'edge-a/cam1', 'operator'],
          ['stream.stop', 'edge-a/cam1', 'operator'],
          ['stream.add', 'edge-a/cam1', 'operator'],
        ],
      );
      assert.deepEqual(mine[4]!.detail, { id: 'cam1', source: 'rtsp://user:***@cam/x' });
      assert.deepEqual(mine[1]!.detail, {
        patch: { detector: { confidence: 0.6 }, hub: { token: '[redacted]' } },
        applied: ['detector.confidence'],
      });
      assert.ok(!JSON.stringify(entries).includes('hunter2'));

      // Filters.
      const adds = await audit('?action=stream.add');
      assert.deepEqual(
        adds.map((e) => e.action),
        ['stream.add'],
      );
      const byToken = await audit(`?tokenId=${tok.admin.id}`);
      assert.ok(byToken.length >= 2 && byToken.every((e) => e.tokenId === tok.admin.id));
      const limited = await audit('?limit=2');
      assert.deepEqual(
        limited.map((e) => e.id),
        entries.slice(0, 2).map((e) => e.id),
      );
      const paged = await audit(`?limit=1&before=${limited[1]!.id}`);
      assert.equal(paged[0]?.id, entries[2]!.id);
      assert.deepEqual(
        await audit(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`),
        [],
      );
    });

    test('an edge command that fails changes nothing and records nothing', async () => {
      const before = (await audit()).length;
      const res = await call('/api/v1/edges/edge-gone/streams/cam1', 'operator', { method: 'DELETE' });
      assert.equal(res.status, 404);
      assert.equal((await audit()).length, before);
    });

    test('only admins read the audit log; malformed queries are 400 naming the field', async () => {
      for (const role of ['viewer', 'operator'] as const) {
        const res = await call('/api/v1/audit', role);
        assert.equal(res.status, 403, role);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
      }
      assert.equal((await fetch(`${hub.url}/api/v1/audit`)).status, 401);
      for (const [query, field] of [
        ['?since=yesterday', /^query\.since: /],
        ['?action=token.delete', /^query\.action: /],
        ['?limit=0', /^query\.limit: /],
        ['?limit=1001', /^query\.limit: /],
        ['?tokenId=xyz', /^query\.tokenId: /],
        ['?before=abc', /^query\.before: /],
      ] as const) {
        const res = await call(`/api/v1/audit${query}`, 'admin');
        const body = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(res.status, 400, `${query}: ${JSON.stringify(body)}`);
        assert.match(body.error.message, field, query);
      }
    });

    test('the audit log is append-only in the store itself', async () => {
      const n = (await audit()).length;
      assert.ok(n > 0);
      await assert.rejects(hub.store.db.execute(sql`delete from audit_log`));
      await assert.rejects(hub.store.db.execute(sql`update audit_log set action = 'x'`));
      assert.equal((await audit()).length, n);
    });

    test('the OpenAPI document lists the audit and quarantine routes as admin-only', async () => {
      const doc = (await (await fetch(`${hub.url}/api/v1/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { 'x-required-role'?: string }>>;
      };
      for (const [path, method] of [
        ['/api/v1/audit', 'get'],
        ['/api/v1/quarantine', 'get'],
        ['/api/v1/quarantine/{quarantineId}/payload', 'get'],
        ['/api/v1/quarantine/{quarantineId}', 'delete'],
      ] as const) {
        assert.equal(doc.paths[path]?.[method]?.['x-required-role'], 'admin', `${method} ${path}`);
      }
    });
  });
}
