import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type Batch, SightlineError } from '@sightline/shared';
import { sql } from 'drizzle-orm';
import { type TestLocation, testBackends } from '../../test-support/backends.ts';
import {
  fakeJpeg,
  prng,
  sha256Hex,
  syntheticBatch,
  vectorBytes,
} from '../../test-support/synthetic-batch.ts';
import type { Store } from '../store/db.ts';
import { decodeVector } from '../store/embeddings.ts';
import { tracks } from '../store/schema.ts';
import { IndexRegistry } from '../vector-index/index-registry.ts';
import { Ingest, KeyedQueue, vectorKey } from './ingest.ts';
import { ThumbnailStore } from './thumbnail-store.ts';

const backends = await testBackends('ingest');

const MODEL = 'osnet_test';
const DIMS = 64;

async function count(store: Store, table: string): Promise<number> {
  const res = (await store.db.execute(sql.raw(`select count(*)::int as n from ${table}`))) as unknown as {
    rows: { n: number }[];
  };
  return res.rows[0]!.n;
}

async function counts(store: Store) {
  return {
    points: await count(store, 'track_points'),
    tracks: await count(store, 'tracks'),
    embeddings: await count(store, 'embeddings'),
    events: await count(store, 'events'),
    streams: await count(store, 'streams'),
    acks: await count(store, 'uplink_acks'),
  };
}

function isCode(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SightlineError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  };
}

for (const backend of backends) {
  describe(`uplink ingest on ${backend.name}`, { skip: backend.skip }, () => {
    let loc: TestLocation | undefined;
    let dataDir = '';
    let store: Store;
    let thumbnails: ThumbnailStore;
    let indexes: IndexRegistry;
    let ingest: Ingest;

    const fresh = async () => {
      await indexes?.close();
      indexes = new IndexRegistry({ store, dataDir, index: { threads: 1 } });
      ingest = new Ingest({ store, thumbnails, indexes });
    };

    before(async () => {
      loc = backend.create();
      store = await backend.open(loc);
    });
    after(async () => {
      await indexes?.close();
      await store?.close();
      if (loc) await backend.dispose(loc);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });
    beforeEach(async () => {
      await store.db.execute(
        sql`truncate edges, streams, tracks, track_points, events, tokens, embeddings, uplink_acks`,
      );
      await indexes?.close();
      indexes = undefined as unknown as IndexRegistry;
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      dataDir = mkdtempSync(join(tmpdir(), 'sightline-ingest-data-'));
      thumbnails = new ThumbnailStore({ dataDir });
      await fresh();
    });

    it("keeps a track's crop labels: set by a batch, kept by one without, replaced by newer ones", async () => {
      const labels = (label: string, score: number) => [{ classId: 7, label, score }];
      const batch = (seq: number, classes?: ReturnType<typeof labels>) => {
        const b = syntheticBatch({ streamId: 'cam1', seq, tracks: 1, frames: 1 });
        b.tracks[0]!.classes = classes;
        if (!classes) delete b.tracks[0]!.classes;
        return b;
      };
      const stored = async () => (await store.db.select().from(tracks))[0]!.classes;
      await ingest.storeBatch('e1', batch(1, labels('minivan', 0.6)));
      assert.deepEqual(await stored(), labels('minivan', 0.6));
      await ingest.storeBatch('e1', batch(2));
      assert.deepEqual(await stored(), labels('minivan', 0.6), 'a batch without labels keeps them');
      await ingest.storeBatch('e1', batch(3, labels('cab', 0.7)));
      assert.deepEqual(await stored(), labels('cab', 0.7));
    });

    it('stores points, tracks, thumbnails, embeddings, events, the stream and its ack', async () => {
      const batch = syntheticBatch({
        streamId: 'cam1',
        seq: 1,
        tracks: 5,
        frames: 4,
        thumbnails: 2,
        embeddings: 3,
      });
      const res = await ingest.storeBatch('e1', batch);
      assert.deepEqual(res, { points: 20, embeddings: 3, events: 1, thumbnails: 2, duplicate: false });
      assert.deepEqual(await counts(store), {
        points: 20,
        tracks: 5,
        embeddings: 3,
        events: 1,
        streams: 1,
        acks: 1,
      });
      for (const t of batch.thumbnails) {
        assert.deepEqual(new Uint8Array((await thumbnails.read(t.sha256))!), t.jpeg);
      }
      const rows = await store.db.select().from(tracks);
      const withThumb = rows.filter((r) => r.bestThumbnail !== null);
      assert.deepEqual(
        withThumb.map((r) => r.bestThumbnail).sort(),
        batch.thumbnails.map((t) => t.sha256).sort(),
      );
      const t0 = rows.find((r) => r.trackId === batch.tracks[0]!.trackId)!;
      assert.equal(t0.bestThumbnail, batch.tracks[0]!.thumbnail);
      assert.ok(Math.abs(t0.bestScore - batch.tracks[0]!.thumbnailScore!) < 1e-6);
      const [p] = (
        (await store.db.execute(
          sql`select edge_id, stream_id, run, seq::float8 as seq, point, track_id, ts, x1, score from track_points
              order by ts, track_id limit 1`,
        )) as unknown as { rows: Record<string, unknown>[] }
      ).rows;
      const first = batch.points[0]!;
      assert.equal(p!.edge_id, 'e1');
      assert.equal(p!.stream_id, 'cam1');
      assert.equal(p!.seq, 1);
      assert.equal(p!.point, 0);
      assert.equal(p!.track_id, first[0]);
      assert.equal(new Date(p!.ts as string).getTime(), first[1]);
      assert.ok(Math.abs((p!.x1 as number) - first[2]) < 1e-3, String(p!.x1));
      const [e] = (
        (await store.db.execute(sql`select kind, data, ts from events`)) as unknown as {
          rows: { kind: string; data: unknown; ts: string }[];
        }
      ).rows;
      assert.equal(e!.kind, 'line_crossing');
      assert.deepEqual(e!.data, batch.events[0]!.data);
      assert.equal(new Date(e!.ts).getTime(), batch.events[0]!.ts);
      const [ack] = (
        (await store.db.execute(sql`select last_seq::int as s from uplink_acks`)) as unknown as {
          rows: { s: number }[];
        }
      ).rows;
      assert.equal(ack!.s, 1);
      const index = await indexes.get(MODEL, DIMS);
      assert.equal(index.size, 3);
      assert.ok(index.has(vectorKey('e1', 'cam1', 'r1', 1, 0)));
    });

    it('stores the same batch twice without duplicates', async () => {
      const batch = syntheticBatch({ streamId: 'cam1', seq: 7 });
      const first = await ingest.storeBatch('e1', batch);
      assert.equal(first.duplicate, false);
      const before = await counts(store);
      const size = (await indexes.get(MODEL, DIMS)).size;
      const again = await ingest.storeBatch('e1', batch);
      assert.deepEqual(again, { points: 0, embeddings: 0, events: 0, thumbnails: 0, duplicate: true });
      assert.deepEqual(await counts(store), before);
      assert.equal((await indexes.get(MODEL, DIMS)).size, size);
      // The same seq from another edge, stream or run is another batch.
      assert.equal((await ingest.storeBatch('e2', batch)).duplicate, false);
      assert.equal((await ingest.storeBatch('e1', { ...batch, run: 'r2' })).points, batch.points.length);
      assert.equal((await counts(store)).points, 3 * batch.points.length);
      assert.equal((await indexes.get(MODEL, DIMS)).size, 3 * batch.embeddings.length);
    });

    it('replays 100 batches of 2 edges in shuffled order with repeats to exact counts', async () => {
      const batches: [string, Batch][] = [];
      for (const edge of ['e1', 'e2']) {
        for (const stream of ['cam1', 'cam2']) {
          for (let seq = 1; seq <= 25; seq++) {
            batches.push([edge, syntheticBatch({ streamId: stream, seq, tracks: 4, frames: 3 })]);
          }
        }
      }
      const rand = prng(42);
      const deliveries = [...batches, ...batches.filter(() => rand() < 0.5), ...batches.slice(0, 10)];
      for (let i = deliveries.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
      }
      const results = await Promise.all(deliveries.map(([edge, b]) => ingest.storeBatch(edge, b)));
      const sum = (f: (b: Batch) => number) => batches.reduce((a, [, b]) => a + f(b), 0);
      assert.equal(
        results.reduce((a, r) => a + r.points, 0),
        sum((b) => b.points.length),
      );
      assert.equal(results.filter((r) => !r.duplicate).length, 100);
      const distinctTracks = new Set(
        batches.flatMap(([e, b]) => b.tracks.map((t) => `${e}|${b.streamId}|${t.trackId}`)),
      ).size;
      assert.deepEqual(await counts(store), {
        points: sum((b) => b.points.length),
        tracks: distinctTracks,
        embeddings: sum((b) => b.embeddings.length),
        events: sum((b) => b.events.length),
        streams: 4,
        acks: 4,
      });
      const acks = (
        (await store.db.execute(sql`select distinct last_seq::int as s from uplink_acks`)) as unknown as {
          rows: { s: number }[];
        }
      ).rows;
      assert.deepEqual(acks, [{ s: 25 }]);
      assert.equal(
        (await indexes.get(MODEL, DIMS)).size,
        sum((b) => b.embeddings.length),
      );
    });

    it('refuses a batch with a bad thumbnail and stores nothing of it', async () => {
      const batch = syntheticBatch({ streamId: 'cam1', seq: 1, thumbnails: 2 });
      const wrongSha: Batch = {
        ...batch,
        thumbnails: [batch.thumbnails[0]!, { ...batch.thumbnails[1]!, jpeg: fakeJpeg('other') }],
      };
      await assert.rejects(ingest.storeBatch('e1', wrongSha), isCode('THUMBNAIL_INVALID', /does not match/));
      const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]);
      const notJpeg: Batch = { ...batch, thumbnails: [{ sha256: sha256Hex(png), jpeg: png }] };
      await assert.rejects(ingest.storeBatch('e1', notJpeg), isCode('THUMBNAIL_INVALID', /not a JPEG/));
      assert.deepEqual(await counts(store), {
        points: 0,
        tracks: 0,
        embeddings: 0,
        events: 0,
        streams: 0,
        acks: 0,
      });
      assert.equal(existsSync(join(dataDir, 'thumbnails')), false, 'no thumbnail of the batch written');
      assert.equal(indexes.models().length, 0);
      // The edge keeps the batch; once fixed it stores whole.
      assert.equal((await ingest.storeBatch('e1', batch)).duplicate, false);
    });

    it('refuses embeddings of the wrong dimension or with bad values, storing nothing of the batch', async () => {
      await ingest.storeBatch('e1', syntheticBatch({ streamId: 'cam1', seq: 1 }));
      const before = await counts(store);
      const batch = syntheticBatch({ streamId: 'cam1', seq: 2 });
      const wrongDims: Batch = {
        ...batch,
        embeddings: [...batch.embeddings, { ...batch.embeddings[0]!, vector: vectorBytes(32, prng(1)) }],
      };
      await assert.rejects(
        ingest.storeBatch('e1', wrongDims),
        isCode('EMBEDDING_INVALID', /has 32 dimensions, an earlier one in the batch has 64/),
      );
      const onlyWrong: Batch = {
        ...batch,
        embeddings: [{ ...batch.embeddings[0]!, vector: vectorBytes(32, prng(1)) }],
      };
      await assert.rejects(
        ingest.storeBatch('e1', onlyWrong),
        isCode(
          'EMBEDDING_INVALID',
          /model osnet_test has 64-dimensional embeddings, got a 32-dimensional one/,
        ),
      );
      const zero: Batch = {
        ...batch,
        embeddings: [{ ...batch.embeddings[0]!, vector: new Uint8Array(DIMS * 4) }],
      };
      await assert.rejects(ingest.storeBatch('e1', zero), isCode('EMBEDDING_INVALID', /all zeros/));
      const badModel: Batch = { ...batch, embeddings: [{ ...batch.embeddings[0]!, model: '../x' }] };
      await assert.rejects(ingest.storeBatch('e1', badModel), isCode('EMBEDDING_INVALID', /model id/));
      assert.deepEqual(await counts(store), before);
      // A fresh registry learns the dimension from the database, not from the first vector it sees.
      await fresh();
      await assert.rejects(
        ingest.storeBatch('e1', onlyWrong),
        isCode('EMBEDDING_INVALID', /has 64-dimensional embeddings, got a 32-dimensional one/),
      );
      assert.deepEqual(await counts(store), before);
    });

    it('rolls the whole batch back when the database refuses part of it', async () => {
      const batch = syntheticBatch({ streamId: 'cam1', seq: 1 });
      const bad: Batch = {
        ...batch,
        events: [{ kind: 'x', ts: batch.events[0]!.ts, data: { s: 'nul \u0000' } }],
      };
      await assert.rejects(ingest.storeBatch('e1', bad));
      const c = await counts(store);
      assert.deepEqual({ ...c }, { points: 0, tracks: 0, embeddings: 0, events: 0, streams: 0, acks: 0 });
      assert.equal((await indexes.get(MODEL, DIMS)).size, 0, 'nothing added to the index');
      assert.equal((await ingest.storeBatch('e1', batch)).points, batch.points.length);
    });

    it('makes embeddings searchable, and rebuilds a deleted or corrupt index from the database', async () => {
      const all: Batch[] = [];
      for (let seq = 1; seq <= 20; seq++) all.push(syntheticBatch({ streamId: 'cam1', seq, embeddings: 5 }));
      for (const b of all) await ingest.storeBatch('e1', b);
      const probe = async (reg: IndexRegistry) => {
        const index = await reg.get(MODEL, DIMS);
        assert.equal(index.size, 100);
        for (const b of [all[0]!, all[19]!]) {
          b.embeddings.forEach((e, i) => {
            const [top] = index.search(decodeVector(e.vector), 3);
            assert.equal(top?.key, vectorKey('e1', 'cam1', 'r1', b.seq, i));
            assert.ok(top!.distance < 1e-4, String(top!.distance));
          });
        }
        return index;
      };
      await probe(indexes);
      assert.equal(await indexes.saveAll(), 1);
      assert.equal(await indexes.saveAll(), 0, 'nothing changed since the last save');
      const path = indexes.path(MODEL);
      assert.ok(existsSync(path));

      await fresh();
      assert.equal((await probe(indexes)).outcome.loaded, true);

      rmSync(path);
      await fresh();
      const rebuilt = await probe(indexes);
      assert.deepEqual(rebuilt.outcome, { loaded: false, reason: 'index file missing' });

      writeFileSync(path, Buffer.alloc(4096, 0xab));
      await fresh();
      const fromGarbage = await probe(indexes);
      assert.equal(fromGarbage.outcome.loaded, false);
      assert.match((fromGarbage.outcome as { reason: string }).reason, /bytes|checksum/);
    });

    it('catches up an index file that is behind the database (stopped before saving)', async () => {
      await ingest.storeBatch('e1', syntheticBatch({ streamId: 'cam1', seq: 1 }));
      await indexes.close(); // saved with 2 vectors
      indexes = new IndexRegistry({ store, dataDir, index: { threads: 1 } });
      ingest = new Ingest({ store, thumbnails, indexes });
      await ingest.storeBatch('e1', syntheticBatch({ streamId: 'cam1', seq: 2 }));
      indexes = undefined as unknown as IndexRegistry; // "crash": the registry is dropped unsaved
      await fresh();
      const index = await indexes.get(MODEL, DIMS);
      assert.equal(index.outcome.loaded, true);
      assert.equal(index.size, 4);
      assert.ok(index.has(vectorKey('e1', 'cam1', 'r1', 2, 1)));
      // Rows dropped from the database (retention) make the file ahead of it: rebuilt.
      await store.db.execute(
        sql`delete from embeddings where run = 'r1' and ts = (select min(ts) from embeddings)`,
      );
      await indexes.close();
      await fresh();
      const rebuilt = await indexes.get(MODEL, DIMS);
      assert.equal(rebuilt.outcome.loaded, false);
      assert.equal(rebuilt.size, await count(store, 'embeddings'));
    });

    it('re-adds stored embeddings the index lost when the batch is replayed', async () => {
      const batch = syntheticBatch({ streamId: 'cam1', seq: 3 });
      await ingest.storeBatch('e1', batch);
      const index = await indexes.get(MODEL, DIMS);
      index.remove([vectorKey('e1', 'cam1', 'r1', 3, 0)]);
      assert.equal(index.size, 1);
      const again = await ingest.storeBatch('e1', batch);
      assert.equal(again.duplicate, true);
      assert.equal(index.size, 2);
    });

    it('refuses malformed ids before touching anything', async () => {
      const batch = syntheticBatch({ streamId: 'cam1', seq: 1 });
      await assert.rejects(ingest.storeBatch('../e1', batch), isCode('BATCH_INVALID', /edge id/));
      await assert.rejects(ingest.storeBatch('e1', { ...batch, run: 'a b' }), isCode('BATCH_INVALID', /run/));
      await assert.rejects(ingest.storeBatch('e1', { ...batch, seq: 0 }), isCode('BATCH_INVALID', /seq/));
      assert.equal((await counts(store)).acks, 0);
      assert.equal(readdirSync(dataDir).includes('thumbnails'), false);
    });
  });
}

describe('KeyedQueue', () => {
  it('runs tasks of one key in order and of different keys concurrently', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      return name;
    };
    const failing = q.run('a', async () => {
      log.push('a0');
      throw new Error('boom');
    });
    const results = Promise.all([
      q.run('a', task('a1', 20)),
      q.run('a', task('a2', 1)),
      q.run('b', task('b1', 5)),
    ]);
    await assert.rejects(failing, /boom/);
    assert.deepEqual(await results, ['a1', 'a2', 'b1']);
    await q.idle();
    assert.equal(q.busy, 0);
    assert.ok(log.indexOf('a1-') < log.indexOf('a2+'), log.join(' '));
    assert.ok(log.indexOf('b1+') < log.indexOf('a1-'), log.join(' '));
  });
});
