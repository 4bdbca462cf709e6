import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { StoreError } from '@sightline/shared';
import { sql } from 'drizzle-orm';
import { type TestLocation, testBackends } from '../../test-support/backends.ts';
import { migrationsFolder, openStore, type Store } from './db.ts';
import { upsertEdge } from './edges.ts';
import { edges, tokens, tracks } from './schema.ts';
import {
  deleteTrackPointsBefore,
  insertTrackPoints,
  queryTrackPoints,
  type TrackPointRow,
} from './track-points.ts';
import { upsertTracks } from './tracks.ts';

const backends = await testBackends('store');

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** `n` points of stream s1, one per seq, 40 ms apart, two tracks per message. */
function points(n: number, opts: { streamId?: string; run?: string; seq0?: number } = {}): TrackPointRow[] {
  const out: TrackPointRow[] = [];
  for (let i = 0; i < n; i++) {
    const seq = (opts.seq0 ?? 0) + Math.floor(i / 2);
    out.push({
      edgeId: 'e1',
      streamId: opts.streamId ?? 's1',
      run: opts.run ?? 'r1',
      seq,
      trackId: 1 + (i % 2),
      ts: new Date(T0 + seq * 40),
      x1: i,
      y1: 1,
      x2: i + 10,
      y2: 20,
      score: 0.5,
    });
  }
  return out;
}

async function rows<T>(store: Store, query: ReturnType<typeof sql>): Promise<T[]> {
  const res = (await store.db.execute(query)) as unknown as { rows: T[] };
  return res.rows;
}

/** How many migrations hub/migrations holds (each applied exactly once). */
function journalEntries(): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder(), 'meta', '_journal.json'), 'utf8'));
  return journal.entries.length;
}

async function countPoints(store: Store): Promise<number> {
  const [r] = await rows<{ n: number }>(store, sql`select count(*)::int as n from track_points`);
  return r!.n;
}

async function migrationsApplied(store: Store): Promise<number> {
  const table = store.kind === 'pglite' ? 'drizzle.__drizzle_migrations' : '__drizzle_migrations';
  const [r] = await rows<{ n: number }>(store, sql.raw(`select count(*)::int as n from ${table}`));
  return r!.n;
}

for (const backend of backends) {
  describe(`store on ${backend.name}`, { skip: backend.skip }, () => {
    let loc: TestLocation | undefined;
    let store: Store;

    before(async () => {
      loc = backend.create();
      store = await backend.open(loc);
    });
    after(async () => {
      await store?.close();
      if (loc) await backend.dispose(loc);
    });
    beforeEach(async () => {
      await store.db.execute(
        sql`truncate edges, streams, tracks, track_points, events, tokens, embeddings, uplink_acks`,
      );
    });

    it('applies the migrations on a fresh database', async () => {
      assert.equal(store.kind, backend.name);
      const tables = await rows<{ table_name: string }>(
        store,
        sql`select table_name from information_schema.tables where table_schema = current_schema() order by 1`,
      );
      const names = tables.map((t) => t.table_name).filter((t) => !t.startsWith('__'));
      assert.deepEqual(names, [
        'audit_log',
        'edges',
        'embeddings',
        'events',
        'quarantine',
        'streams',
        'tokens',
        'track_points',
        'tracks',
        'uplink_acks',
      ]);
      assert.equal(await migrationsApplied(store), journalEntries());
    });

    it('inserts the same batch twice without duplicates', async () => {
      const batch = points(50);
      assert.equal(await insertTrackPoints(store, batch), 50);
      assert.equal(await insertTrackPoints(store, batch), 0);
      assert.equal(await countPoints(store), 50);
      // The same seq in another run or stream is a different message.
      assert.equal(await insertTrackPoints(store, points(50, { run: 'r2' })), 50);
      assert.equal(await insertTrackPoints(store, points(50, { streamId: 's2' })), 50);
      assert.equal(await countPoints(store), 150);
    });

    it('inserts more than one batch of 500 and skips only the replayed part', async () => {
      const all = points(1234);
      assert.equal(await insertTrackPoints(store, all.slice(0, 700)), 700);
      assert.equal(await insertTrackPoints(store, all), 534);
      assert.equal(await countPoints(store), 1234);
      assert.equal(await insertTrackPoints(store, []), 0);
    });

    it('round-trips ids with quotes, backslashes, commas and braces, and non-integer boxes', async () => {
      const odd = ['a"b', 'c\\d', 'e,f', '{g}', 'NULL', ' h ', 'é😀'];
      const rows = odd.map((streamId, i) => ({ ...points(1)[0]!, streamId, x1: 0.1 + i, score: -1.5e-7 }));
      assert.equal(await insertTrackPoints(store, rows), odd.length);
      assert.equal(await insertTrackPoints(store, rows), 0);
      for (const [i, streamId] of odd.entries()) {
        const [p] = await queryTrackPoints(store, {
          edgeId: 'e1',
          streamId,
          from: new Date(T0 - 1),
          to: new Date(T0 + 1e6),
        });
        assert.equal(p?.streamId, streamId);
        assert.ok(Math.abs(p!.x1 - (0.1 + i)) < 1e-5);
        assert.deepEqual(p?.ts, new Date(T0));
      }
    });

    it('queries a time range [from, to) of one stream in time order', async () => {
      await insertTrackPoints(store, points(200));
      await insertTrackPoints(store, points(200, { streamId: 's2' }));
      const got = await queryTrackPoints(store, {
        edgeId: 'e1',
        streamId: 's1',
        from: new Date(T0 + 10 * 40),
        to: new Date(T0 + 20 * 40),
      });
      assert.equal(got.length, 20); // seq 10..19, two tracks each
      assert.deepEqual(got[0]?.ts, new Date(T0 + 400));
      assert.equal(got[0]?.seq, 10);
      assert.equal(got.at(-1)?.seq, 19);
      assert.ok(got.every((p) => p.streamId === 's1'));
      assert.ok(got.every((p, i) => i === 0 || p.ts >= got[i - 1]!.ts));
      const limited = await queryTrackPoints(store, {
        edgeId: 'e1',
        streamId: 's1',
        from: new Date(T0),
        to: new Date(T0 + 1e6),
        limit: 7,
      });
      assert.equal(limited.length, 7);
    });

    it('deletes points older than the retention cut-off', async () => {
      await insertTrackPoints(store, points(100)); // seq 0..49
      assert.equal(await deleteTrackPointsBefore(store, new Date(T0 + 30 * 40)), 60);
      assert.equal(await countPoints(store), 40);
      assert.equal(await deleteTrackPointsBefore(store, new Date(T0)), 0);
    });

    it('keeps first/last seen as min/max and the best thumbnail', async () => {
      const base = { edgeId: 'e1', streamId: 's1', run: 'r1', trackId: 7, label: 'person', classId: 0 };
      await upsertTracks(store, [
        { ...base, firstSeen: new Date(T0 + 1000), lastSeen: new Date(T0 + 2000), bestScore: 0 },
        // the same track twice in one call is merged, not an error
        {
          ...base,
          firstSeen: new Date(T0 + 500),
          lastSeen: new Date(T0 + 1500),
          bestThumbnail: 'a.jpg',
          bestScore: 0.6,
        },
      ]);
      await upsertTracks(store, [
        {
          ...base,
          firstSeen: new Date(T0 + 800),
          lastSeen: new Date(T0 + 3000),
          bestThumbnail: 'b.jpg',
          bestScore: 0.4,
        },
      ]);
      let [t] = await store.db.select().from(tracks);
      assert.deepEqual(t?.firstSeen, new Date(T0 + 500));
      assert.deepEqual(t?.lastSeen, new Date(T0 + 3000));
      assert.equal(t?.bestThumbnail, 'a.jpg');
      assert.equal(t?.bestScore, 0.6);
      await upsertTracks(store, [
        {
          ...base,
          firstSeen: new Date(T0 + 900),
          lastSeen: new Date(T0 + 900),
          bestThumbnail: 'c.jpg',
          bestScore: 0.9,
        },
      ]);
      [t] = await store.db.select().from(tracks);
      assert.equal(t?.bestThumbnail, 'c.jpg');
      assert.deepEqual(t?.lastSeen, new Date(T0 + 3000));
    });

    it('upserts edges and enforces token roles', async () => {
      await upsertEdge(store, { id: 'e1', name: 'lobby', version: '0.1.0', lastHeartbeat: new Date(T0) });
      await upsertEdge(store, { id: 'e1', name: 'lobby', version: '0.2.0', status: { streams: 1 } });
      const [e] = await store.db.select().from(edges);
      assert.equal(e?.version, '0.2.0');
      assert.deepEqual(e?.status, { streams: 1 });
      assert.deepEqual(e?.lastHeartbeat, new Date(T0));
      await store.db.insert(tokens).values({ id: 't1', name: 'ops', role: 'operator', hash: 'h1' });
      await assert.rejects(
        store.db.insert(tokens).values({ id: 't2', name: 'x', role: 'root' as 'admin', hash: 'h2' }),
      );
    });

    it('keeps data on reopen and applies no migration twice', async () => {
      await insertTrackPoints(store, points(10));
      await store.close();
      store = await backend.open(loc!);
      assert.equal(await countPoints(store), 10);
      assert.equal(await migrationsApplied(store), journalEntries());
      assert.equal(await insertTrackPoints(store, points(10)), 0);
    });
  });
}

describe('openStore errors', () => {
  it('rejects a malformed database URL', async () => {
    for (const url of ['not a url', 'mysql://root@localhost/db', 'postgres://']) {
      await assert.rejects(openStore({ databaseUrl: url }), (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.code, 'STORE_URL_INVALID');
        return true;
      });
    }
  });

  it('reports an unreachable database within a few seconds, without the password', async () => {
    for (const url of [
      'postgres://u:secret@127.0.0.1:1/test',
      'postgres://u:secret@10.255.255.1:5432/test',
    ]) {
      const t0 = performance.now();
      await assert.rejects(openStore({ databaseUrl: url, connectTimeoutMs: 1500 }), (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.code, 'STORE_UNAVAILABLE');
        assert.match(err.message, /cannot reach PostgreSQL at postgres:\/\/u:\*\*\*@/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      });
      assert.ok(performance.now() - t0 < 4000, `${url} took ${performance.now() - t0} ms`);
    }
  });

  it('reports a data dir that cannot be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sightline-store-bad-'));
    try {
      const file = join(dir, 'file');
      writeFileSync(file, 'x');
      await assert.rejects(openStore({ dataDir: file, databaseUrl: '' }), (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.code, 'STORE_UNAVAILABLE');
        assert.match(err.message, /not writable/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a read-only data dir', {
    skip: process.getuid?.() === 0 && 'root can write anywhere',
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sightline-store-ro-'));
    try {
      chmodSync(dir, 0o500);
      await assert.rejects(openStore({ dataDir: dir, databaseUrl: '' }), (err: unknown) => {
        assert.ok(err instanceof StoreError, String(err));
        assert.equal(err.code, 'STORE_UNAVAILABLE');
        return true;
      });
    } finally {
      chmodSync(dir, 0o700);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the migrations from the sources and from dist', async () => {
    const folder = migrationsFolder();
    assert.ok(existsSync(join(folder, 'meta', '_journal.json')), folder);
    const compiled = new URL('../../dist/store/db.js', import.meta.url);
    if (!existsSync(compiled)) return; // not built
    const mod = (await import(compiled.href)) as { migrationsFolder(): string };
    assert.equal(mod.migrationsFolder(), folder);
  });
});
