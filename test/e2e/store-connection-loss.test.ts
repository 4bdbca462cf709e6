/**
 * The hub's PostgreSQL connection dies between checkout and BEGIN (the link cut as BEGIN goes out), again and again:
 * every transaction fails with a clear error, no connection is kept checked out, the next transaction after the link
 * heals commits, and closing the store returns at once. (drizzle's pool transaction sent BEGIN outside its
 * try/finally: each such failure leaked a connection, so pool.end() never returned and ten of them left a hub that
 * could never store again.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openStore, type Store, storeSchema } from '@sightline/hub';
import { PG_URL, testBackends } from '@sightline/hub/testing';
import { sql } from 'drizzle-orm';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { within } from '../helpers/wait.ts';

const backends = await testBackends('store_conn_loss');
const postgres = backends.find((b) => b.name === 'postgres')!;

describe('store transactions over a link that dies at BEGIN', {
  skip: postgres.skip,
  timeout: 60_000,
}, () => {
  test('12 transactions cut at BEGIN (more than the pool holds) fail; the next commits; close() returns', async () => {
    const loc = postgres.create();
    let proxy: TcpProxy | undefined;
    let store: Store | undefined;
    let cutAtBegin = false;
    try {
      const target = new URL(PG_URL);
      const p = await startTcpProxy(
        { host: target.hostname, port: Number(target.port || 5432) },
        {
          onChunk: (chunk, direction) => {
            if (cutAtBegin && direction === 'up' && /\bbegin\b/i.test(chunk.toString('latin1'))) {
              void p.cut().then(() => p.restore());
            }
          },
        },
      );
      proxy = p;
      const viaProxy = new URL(PG_URL);
      viaProxy.host = `127.0.0.1:${p.port}`;
      store = await openStore({ databaseUrl: viaProxy.href, schema: loc.databaseSchema, maxConnections: 10 });
      const s = store;
      const { edges } = storeSchema;

      cutAtBegin = true;
      for (let i = 0; i < 12; i++) {
        await assert.rejects(
          within(
            10_000,
            `transaction ${i + 1} cut at BEGIN`,
            s.transaction(async (tx) => tx.insert(edges).values({ id: `never-${i}`, name: 'x' })),
          ),
          (err: Error) => !/did not finish/.test(err.message),
          `transaction ${i + 1} fails with the driver's error rather than hanging`,
        );
      }
      cutAtBegin = false;

      await within(
        10_000,
        'a transaction after the link healed',
        s.transaction(async (tx) => tx.insert(edges).values({ id: 'after', name: 'after' })),
      );
      const rows = await s.db.select({ id: edges.id }).from(edges);
      assert.deepEqual(
        rows.map((r) => r.id),
        ['after'],
        'only the transaction after the cuts committed',
      );
      const [{ n } = { n: -1 }] = (
        (await s.db.execute(sql`select count(*)::int as n from pg_stat_activity where state = 'idle in transaction'
          and query ilike 'begin%' and datname = current_database() and backend_start > now() - interval '1 minute'`)) as {
          rows: { n: number }[];
        }
      ).rows;
      assert.equal(n, 0, 'no server session is left idle in a transaction');
      await within(5000, 'closing the store (pool.end waits for every checked-out connection)', s.close());
      store = undefined;
    } finally {
      await store?.close();
      await proxy?.close();
      await postgres.dispose(loc);
    }
  });
});
