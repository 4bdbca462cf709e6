/**
 * The hub's PostgreSQL goes away for ~10 s in the middle of a run (a TCP proxy between hub and database is cut,
 * then restored). The edge's uplink client (its real outbox and retry logic, fed synthetic batches) must keep
 * every batch the hub could not store and deliver it later: at the end the hub holds every point exactly once,
 * no batch was dropped as malformed, and a REST call during the outage answered 503 STORE_UNAVAILABLE with a
 * Retry-After header.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Outbox, UplinkClient } from '@sightline/edge';
import { type HubServer, openStore, type Store, startHub, storeSchema } from '@sightline/hub';
import { PG_URL, syntheticBatch, testBackends } from '@sightline/hub/testing';
import { eq, sql } from 'drizzle-orm';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { within } from '../helpers/wait.ts';

const backends = await testBackends('store_outage');
const postgres = backends.find((b) => b.name === 'postgres')!;
const EDGE = `edge-outage-${process.pid}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Points and distinct batches stored for the test's edge, counted through a store of the test's own (straight to
 * PostgreSQL, not through the proxy or the hub's pool), so a stuck hub cannot stall the count.
 */
async function storedPoints(store: Store): Promise<{ n: number; batches: number }> {
  const { trackPoints } = storeSchema;
  const [row] = await within(
    10_000,
    'counting the stored points',
    store.db
      .select({
        n: sql<number>`count(*)::int`,
        batches: sql<number>`count(distinct ${trackPoints.seq})::int`,
      })
      .from(trackPoints)
      .where(eq(trackPoints.edgeId, EDGE)),
  );
  return { n: Number(row?.n ?? 0), batches: Number(row?.batches ?? 0) };
}

describe('hub store outage (PostgreSQL behind a TCP proxy)', {
  skip: postgres.skip,
  timeout: 150_000,
}, () => {
  test('PostgreSQL gone for 10 s mid-run: no point lost or doubled, nothing dropped as malformed, REST 503', async () => {
    const loc = postgres.create();
    const stateDir = mkdtempSync(join(tmpdir(), 'sightline-outage-edge-'));
    const target = new URL(PG_URL);
    let proxy: TcpProxy | undefined;
    let hub: HubServer | undefined;
    let client: UplinkClient | undefined;
    let producer: NodeJS.Timeout | undefined;
    let direct: Store | undefined;
    try {
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const viaProxy = new URL(PG_URL);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      hub = await startHub({
        port: 0,
        dataDir: loc.dataDir,
        databaseUrl: viaProxy.href,
        databaseSchema: loc.databaseSchema,
        heartbeatMs: 300,
      });
      const h = hub;
      direct = await openStore({ databaseUrl: PG_URL, schema: loc.databaseSchema });
      const counter = direct;
      const edgeToken = (await h.tokens.create({ role: 'edge', edgeId: EDGE })).token;
      const viewer = (await h.tokens.create({ role: 'viewer' })).token;
      const outbox = Outbox.open({ dir: join(stateDir, 'outbox') });
      client = new UplinkClient({
        hubUrl: h.url,
        token: edgeToken,
        edgeId: EDGE,
        run: 'r1',
        outbox,
        hello: () => ({ version: '0.1.0', model: 'test', provider: 'cpu', streams: [] }),
        heartbeat: () => ({ streams: [] }),
        onCommand: async () => ({ ok: true }),
        backoff: { initialDelayMs: 200, maxDelayMs: 1000 },
      });
      client.start();

      // An edge producing a batch every 100 ms throughout (5 tracks x 4 frames = 20 points each).
      let produced = 0;
      let seq = 0;
      const c = client;
      producer = setInterval(() => {
        const batch = syntheticBatch({
          streamId: 'cam1',
          run: 'r1',
          seq: ++seq,
          tracks: 5,
          frames: 4,
          thumbnails: 0,
          embeddings: 0,
          events: 1,
          salt: EDGE,
        });
        produced += batch.points.length;
        c.send(batch);
      }, 100);

      // Running: the first points arrive.
      for (let waited = 0; waited < 15_000 && (await storedPoints(counter)).n === 0; waited += 200)
        await sleep(200);
      await sleep(1500);
      const beforeOutage = (await storedPoints(counter)).n;
      assert.ok(beforeOutage > 0, 'points reached the hub before the outage');

      // PostgreSQL goes away for ~10 s while the edge keeps producing.
      await proxy.cut();
      await sleep(1500);
      const res = await within(
        15_000,
        'GET /api/v1/tracks during the outage',
        fetch(`${h.url}/api/v1/tracks`, { headers: { authorization: `Bearer ${viewer}` } }),
      );
      const body = (await res.json()) as { error?: { code: string; message: string } };
      assert.equal(res.status, 503, `REST during the outage: ${res.status} ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, 'STORE_UNAVAILABLE');
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      assert.doesNotMatch(JSON.stringify(body), /select|insert|params|\bat .*\.ts:\d+/i);
      await sleep(8500);
      assert.equal(client.stats().rejected, 0, 'no batch was refused as malformed during the outage');
      assert.ok(outbox.size > 0, 'batches the hub could not store wait in the outbox');
      await proxy.restore();
      const restoredAt = Date.now();

      // Back: the edge produces a little more, then stops; everything must arrive. The drain is bounded on its own
      // (60 s), so a failure says which it was: batches still unacked on the edge (the hub stopped storing) or acked
      // but missing from the table (lost).
      await sleep(2000);
      clearInterval(producer);
      producer = undefined;
      const deadline = Date.now() + 60_000;
      let stored = { n: 0, batches: 0 };
      for (;;) {
        stored = await storedPoints(counter).catch(() => stored);
        if (client.stats().outboxMessages === 0 && stored.n >= produced) break;
        if (Date.now() > deadline) break;
        await sleep(250);
      }
      stored = await storedPoints(counter);
      const stats = client.stats();
      const drainedInMs = Date.now() - restoredAt;
      const picture = `(after ${drainedInMs} ms since the link came back: produced ${produced} points in ${seq} batches, stored ${stored.n} in ${stored.batches}; edge ${JSON.stringify(stats)}; proxy accepted ${proxy.accepted} connections)`;
      assert.equal(stats.outboxMessages, 0, `every batch was acked ${picture}`);
      assert.equal(stats.rejected, 0, `no batch was refused as malformed ${picture}`);
      assert.equal(stats.dropped, 0, `the outbox dropped nothing ${picture}`);
      assert.equal(stored.batches, seq, `the hub holds points of every batch ${picture}`);
      assert.equal(stored.n, produced, `the hub holds every point once ${picture}`);
    } finally {
      if (producer) clearInterval(producer);
      // Teardown is bounded too, so a hang there is named rather than hitting the file's timeout.
      await within(10_000, 'closing the uplink client', client?.close() ?? Promise.resolve());
      await within(15_000, 'closing the hub', hub?.close() ?? Promise.resolve());
      await proxy?.close();
      await direct?.close();
      await within(15_000, 'dropping the test schema', postgres.dispose(loc));
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
