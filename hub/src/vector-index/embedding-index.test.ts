import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IndexError, logger } from '@sightline/shared';
import { identityClusters } from '../../test-support/synthetic-clusters.ts';
import { EmbeddingIndex, type EmbeddingIndexOptions, type IndexEntry } from './embedding-index.ts';
import { exactSearch } from './exact-search.ts';

const DIMS = 64;
const data = identityClusters({ identities: 100, views: 8, dims: DIMS, seed: 7 });
const N = data.identity.length;
const log = logger().child({ component: 'index-test' }, { level: 'silent' });

function entries(): IndexEntry[] {
  return Array.from({ length: N }, (_, i) => ({
    key: BigInt(1000 + i),
    vector: data.vectors.subarray(i * DIMS, (i + 1) * DIMS),
  }));
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sightline-index-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(
  name: string,
  extra: Partial<EmbeddingIndexOptions> = {},
): EmbeddingIndexOptions & { rebuilds: number } {
  const o = {
    path: join(dir, name, 'osnet.usearch'),
    dimensions: DIMS,
    threads: 1, // deterministic builds (see the filtered-search test)
    log,
    rebuilds: 0,
    rebuild: () => {
      o.rebuilds++;
      return entries();
    },
    ...extra,
  };
  return o;
}

/** The true nearest keys of `query` among all rows (optionally only rows whose key passes `allow`). */
function truth(query: Float32Array, k: number, allow?: (key: bigint) => boolean): bigint[] {
  const [m] = exactSearch(
    data.vectors,
    query,
    DIMS,
    k,
    allow ? { allow: (r) => allow(BigInt(1000 + r)) } : {},
  );
  return Array.from(m!.rows, (r) => BigInt(1000 + r));
}

async function assertFindsNeighbours(index: EmbeddingIndex): Promise<void> {
  for (const id of [0, 17, 99]) {
    const q = data.view(id);
    const got = index.search(q, 8).map((m) => m.key);
    assert.deepEqual(new Set(got), new Set(truth(q, 8)));
  }
}

describe('EmbeddingIndex', () => {
  test('missing file: rebuilds from the source, then round-trips through save and reopen', async () => {
    const o = options('roundtrip');
    const a = await EmbeddingIndex.open(o);
    assert.equal(o.rebuilds, 1);
    assert.deepEqual(a.outcome, { loaded: false, reason: 'index file missing' });
    assert.equal(a.size, N);
    await assertFindsNeighbours(a);

    const extra = data.view(5);
    a.add([7n], [extra]);
    const top = a.search(extra, 1)[0]!;
    assert.equal(top.key, 7n);
    assert.ok(top.distance < 1e-5);
    await a.save();

    const b = await EmbeddingIndex.open(o);
    assert.equal(o.rebuilds, 1, 'a good file is loaded, not rebuilt');
    assert.deepEqual(b.outcome, { loaded: true });
    assert.equal(b.size, N + 1);
    assert.equal(b.search(extra, 1)[0]!.key, 7n);
    b.add([8n], [data.view(6)]); // a loaded index still takes adds
    assert.equal(b.size, N + 2);
  });

  test('multi-threaded add (threads 0 = all cores) indexes every vector', async () => {
    const a = await EmbeddingIndex.open(options('threads', { threads: 0 }));
    assert.equal(a.size, N);
    assert.ok(a.has(1000n) && a.has(BigInt(1000 + N - 1)) && !a.has(1n));
  });

  test('add replaces an existing key', async () => {
    const a = await EmbeddingIndex.open(options('replace'));
    const v = data.view(42);
    a.add([1000n], [v]);
    assert.equal(a.size, N);
    assert.equal(a.search(v, 1)[0]!.key, 1000n);
  });

  for (const [name, damage] of [
    ['truncated', async (p: string) => truncate(p, Math.floor((await stat(p)).size / 2))],
    [
      'overwritten bytes',
      async (p: string) => {
        const buf = await readFile(p);
        buf.fill(0xab, 4096, 8192);
        await writeFile(p, buf);
      },
    ],
    ['sidecar missing', async (p: string) => rm(`${p}.meta.json`)],
  ] as const) {
    test(`corrupt file (${name}): reopen rebuilds and search still finds the right neighbours`, async () => {
      const o = options(`corrupt-${name.replace(/ /g, '-')}`);
      await EmbeddingIndex.open(o);
      await damage(o.path);
      const b = await EmbeddingIndex.open(o);
      assert.equal(o.rebuilds, 2);
      assert.equal(b.outcome.loaded, false);
      assert.equal(b.size, N);
      await assertFindsNeighbours(b);
      const c = await EmbeddingIndex.open(o);
      assert.equal(o.rebuilds, 2, 'the rebuilt index was saved');
      assert.equal(c.outcome.loaded, true);
    });
  }

  test('rebuild from an async source', async () => {
    const o = options('async', {
      rebuildBatch: 100,
      rebuild: async function* () {
        yield* entries();
      },
    });
    const a = await EmbeddingIndex.open(o);
    assert.equal(a.size, N);
    await assertFindsNeighbours(a);
  });

  test('a file of another dimension is an error, not silently replaced', async () => {
    const o = options('dims');
    await EmbeddingIndex.open(o);
    await assert.rejects(EmbeddingIndex.open({ ...o, dimensions: 32 }), (err: unknown) => {
      assert.ok(err instanceof IndexError);
      assert.equal(err.code, 'INDEX_INVALID');
      assert.match(err.message, /64-d cos embeddings, this index is 32-d/);
      return true;
    });
  });

  test('changed connectivity rebuilds', async () => {
    const o = options('conn');
    await EmbeddingIndex.open(o);
    const b = await EmbeddingIndex.open({ ...o, connectivity: 8 });
    assert.equal(b.outcome.loaded, false);
    assert.match((b.outcome as { reason: string }).reason, /connectivity changed/);
  });

  test('filtered search returns only allowed keys and matches exact filtered search', async () => {
    // options() builds on one thread: a multi-threaded HNSW build is not deterministic, and some builds leave
    // a few of the 800 nodes unreachable, which no search (filtered or not) can then return.
    const a = await EmbeddingIndex.open(options('filter'));
    const allowedSet = new Set<bigint>();
    for (let i = 0; i < N; i++) if ((i * 2654435761) % 10 === 3) allowedSet.add(BigInt(1000 + i));
    assert.ok(allowedSet.size > N / 20 && allowedSet.size < N / 5);
    const pred = (key: bigint) => allowedSet.has(key);
    let hits = 0;
    let total = 0;
    for (let id = 0; id < 100; id += 3) {
      const q = data.view(id);
      const want = truth(q, 10, pred);
      for (const filter of [allowedSet, pred]) {
        const got = a.search(q, 10, filter).map((m) => m.key);
        assert.ok(got.every((key) => allowedSet.has(key)));
        assert.equal(got.length, 10);
        const w = new Set(want);
        hits += got.filter((key) => w.has(key)).length;
        total += 10;
      }
    }
    assert.equal(hits / total, 1);
  });

  test('a filter that allows fewer than k keys returns all of them', async () => {
    const a = await EmbeddingIndex.open(options('few'));
    const got = a.search(data.view(3), 10, new Set([1000n, 1500n, 99n]));
    assert.deepEqual(new Set(got.map((m) => m.key)), new Set([1000n, 1500n]));
  });

  test('batched search agrees with single searches', async () => {
    const a = await EmbeddingIndex.open(options('batch'));
    const qs = [data.view(1), data.view(2), data.view(3)];
    const batch = a.searchBatch(qs, 5);
    assert.equal(batch.length, 3);
    qs.forEach((q, i) => {
      assert.deepEqual(
        batch[i]!.map((m) => m.key),
        a.search(q, 5).map((m) => m.key),
      );
    });
  });

  test('unnormalised vectors are normalised', async () => {
    const a = await EmbeddingIndex.open(options('scale'));
    const q = data.view(9);
    const scaled = q.map((x) => x * 37);
    assert.deepEqual(
      a.search(scaled, 5).map((m) => m.key),
      a.search(q, 5).map((m) => m.key),
    );
    a.add([5n], [scaled]);
    assert.ok(a.search(q, 1)[0]!.distance < 1e-5);
  });

  test('bad inputs are rejected with clear errors', async () => {
    const a = await EmbeddingIndex.open(options('bad'));
    const ok = data.view(0);
    const bad = (fn: () => unknown, re: RegExp) =>
      assert.throws(fn, (err: unknown) => err instanceof IndexError && re.test(err.message));
    bad(() => a.search(new Float32Array(DIMS + 1), 5), /query has 65 dimensions, the index has 64/);
    bad(() => a.add([1n], [new Float32Array(10)]), /vector 0 has 10 dimensions/);
    bad(() => a.add([1n], new Float32Array(DIMS + 3)), /not a multiple of 64/);
    const nan = ok.slice();
    nan[3] = Number.NaN;
    bad(() => a.add([1n], [nan]), /non-finite value \(NaN\) at position 3/);
    const inf = ok.slice();
    inf[0] = Number.POSITIVE_INFINITY;
    bad(() => a.search(inf, 5), /non-finite/);
    bad(() => a.search(new Float32Array(DIMS), 5), /all zeros/);
    bad(() => a.search(ok, 0), /k must be a positive integer/);
    bad(() => a.search(ok, 2.5), /k must be a positive integer/);
    bad(() => a.add([1n, 1n], [ok, ok]), /appears twice/);
    bad(() => a.add([-1n], [ok]), /must be a bigint/);
    bad(() => a.add([(1n << 64n) - 1n], [ok]), /must be a bigint/);
    bad(() => a.add([1n, 2n], [ok]), /2 keys but 1 vectors/);
    assert.equal(a.size, N, 'nothing was added by the failed calls');
    await assert.rejects(
      EmbeddingIndex.open({ ...options('bad2'), dimensions: 0 }),
      /dimensions must be an integer/,
    );
    const badSource = options('bad3', { rebuild: () => [{ key: 1n, vector: new Float32Array(3) }] });
    await assert.rejects(EmbeddingIndex.open(badSource), /stored embedding of key 1 has 3 dimensions/);
  });
});

describe('exactSearch', () => {
  test('finds the best rows by dot product, best first, across blocks', () => {
    const m = exactSearch(data.vectors, data.vectors.subarray(0, 3 * DIMS), DIMS, 4, { block: 2 });
    assert.equal(m.length, 3);
    m.forEach((r, i) => {
      assert.equal(r.rows[0], i);
      assert.ok(Math.abs(r.scores[0]! - 1) < 1e-5);
      for (let j = 1; j < r.scores.length; j++) assert.ok(r.scores[j - 1]! >= r.scores[j]!);
      for (const row of r.rows) assert.equal(data.identity[row], data.identity[i]);
    });
  });
});
