import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HealthReport } from '@sightline/shared';
import { testBackends } from '../test-support/backends.ts';
import { createHubApp } from './app.ts';
import { RateLimiter } from './auth/rate-limiter.ts';
import { TokenService } from './auth/token-service.ts';
import { FleetHub } from './fleet/fleet-hub.ts';
import { createHubReadiness } from './health.ts';
import { createHubMetrics } from './hub-metrics.ts';
import { openStore, type Store } from './store/db.ts';
import { IndexRegistry } from './vector-index/index-registry.ts';

const backends = await testBackends('health');
const KEYS = ['checks', 'status', 'uptimeSeconds', 'version'];

for (const backend of backends) {
  describe(`hub /health and /ready on ${backend.name}`, { skip: backend.skip }, () => {
    test('/ready is 200 on a reachable store with its indexes loaded, 503 with Retry-After once the store is closed', async () => {
      const loc = backend.create();
      const store = await openStore({
        dataDir: loc.dataDir,
        databaseUrl: loc.databaseUrl || undefined,
        schema: loc.databaseSchema,
      });
      const fleet = new FleetHub({ store });
      const indexes = new IndexRegistry({ store, dataDir: loc.dataDir });
      let closed = false;
      try {
        const app = createHubApp({
          store,
          tokens: new TokenService(store),
          limiter: new RateLimiter(),
          fleet,
          metrics: createHubMetrics(async () => ({})),
          readThumbnail: async () => undefined,
          search: async () => [],
          indexes,
        });
        const get = async (path: string) => {
          const res = await app.request(path);
          return {
            status: res.status,
            retryAfter: res.headers.get('retry-after'),
            body: (await res.json()) as HealthReport,
          };
        };

        const health = await get('/health');
        assert.equal(health.status, 200);
        assert.deepEqual(Object.keys(health.body).sort(), KEYS);
        assert.deepEqual([health.body.status, health.body.checks], ['ok', {}]);
        assert.match(health.body.version, /^\d+\.\d+\.\d+/);

        let ready = await get('/ready'); // no token: public
        assert.equal(ready.status, 200, JSON.stringify(ready.body));
        assert.deepEqual(Object.keys(ready.body).sort(), KEYS);
        assert.equal(ready.body.status, 'ok');
        assert.equal(ready.body.checks.database?.status, 'ok');
        assert.match(ready.body.checks.database?.detail ?? '', new RegExp(`^${store.kind} answered`));
        assert.deepEqual(ready.body.checks.indexes, {
          status: 'ok',
          detail: 'none open yet (each opens on first use)',
        });
        await indexes.get('osnet_test', 4);
        ready = await get('/ready');
        assert.equal(ready.status, 200);
        assert.deepEqual(ready.body.checks.indexes, {
          status: 'ok',
          detail: 'loaded: osnet_test (0 vectors)',
        });

        await indexes.close();
        await store.close();
        closed = true;
        ready = await get('/ready');
        assert.equal(ready.status, 503, JSON.stringify(ready.body));
        assert.equal(ready.retryAfter, '5');
        assert.deepEqual(Object.keys(ready.body).sort(), KEYS);
        assert.equal(ready.body.status, 'unavailable');
        assert.equal(ready.body.checks.database?.status, 'unavailable');
        assert.match(ready.body.checks.database?.detail ?? '', new RegExp(`^${store.kind}: `));
        assert.equal((await get('/health')).status, 200, 'liveness does not follow readiness');
      } finally {
        fleet.close();
        if (!closed) {
          await indexes.close();
          await store.close();
        }
        await backend.dispose(loc);
      }
    });
  });
}

describe('createHubReadiness', () => {
  test('a database that does not answer in time makes the hub not ready; an index still loading degrades it', async () => {
    const hanging = {
      kind: 'postgres',
      db: { execute: () => new Promise(() => {}) },
    } as unknown as Pick<Store, 'db' | 'kind'>;
    // a loaded with 12 vectors, b still loading until finish().
    let bSize: number | undefined;
    const finish = (index: { size: number }) => {
      bSize = index.size;
    };
    const states = () => [
      { model: 'a', size: 12 },
      bSize === undefined ? { model: 'b' } : { model: 'b', size: bSize },
    ];
    const slow = createHubReadiness({
      store: hanging,
      timeoutMs: 50,
      indexes: { states },
    });
    const started = Date.now();
    let r = await slow();
    assert.ok(Date.now() - started < 2000, 'the timeout bounds the wait');
    assert.equal(r.status, 'unavailable');
    assert.deepEqual(r.checks.database, {
      status: 'unavailable',
      detail: 'postgres: no answer within 50 ms',
    });
    assert.deepEqual(r.checks.indexes, {
      status: 'degraded',
      detail: 'loaded: a (12 vectors); loading: b',
    });

    const answering = {
      kind: 'pglite',
      db: { execute: async () => ({ rows: [{ '?column?': 1 }] }) },
    } as unknown as Pick<Store, 'db' | 'kind'>;
    const fast = createHubReadiness({
      store: answering,
      indexes: { states },
    });
    r = await fast();
    assert.equal(r.checks.database?.status, 'ok');
    // Ready (200) but degraded: only b's searches and ingest wait; a load balancer must not drop the hub meanwhile.
    assert.equal(r.status, 'degraded', 'b is still loading');
    finish({ size: 3 });
    r = await fast();
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.checks.indexes, { status: 'ok', detail: 'loaded: a (12 vectors), b (3 vectors)' });
  });
});
