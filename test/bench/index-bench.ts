// The hub's embedding index benchmark (docs/benchmarks.md, "Embedding index"). On synthetic identity clusters
// shaped like OSNet embeddings (512-d, same-identity cosine ~0.88, different ~0.44), it reports:
//  - exact flat search (usearch's SIMD exactSearch and our JS exactSearch): single and batched queries/s,
//  - per HNSW connectivity: multi-threaded add time and rate; per expansionSearch: single and batched
//    queries/s and recall@10 against exact search,
//  - for the chosen setting: recall@10 and queries/s with a filter that keeps ~10 % of keys.
//   node --conditions=sightline-source --import tsx test/bench/index-bench.ts [--n 100000] [--views 10]
//     [--queries 1000] [--connectivity 16] [--expansion 16,32,64,128] [--expansion-add 128] [--choose 16:64]
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EmbeddingIndex, exactSearch, type IndexMatch } from '@sightline/hub';
import { identityClusters } from '@sightline/hub/testing';
import { logger } from '@sightline/shared';
import { exactSearch as usearchExact } from 'usearch';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    views: { type: 'string', default: '10' },
    queries: { type: 'string', default: '1000' },
    connectivity: { type: 'string', default: '16' },
    expansion: { type: 'string', default: '16,32,64,128' },
    'expansion-add': { type: 'string', default: '128' },
    choose: { type: 'string' },
  },
});
const N = Number(values.n);
const VIEWS = Number(values.views);
const Q = Number(values.queries);
const DIMS = 512;
const K = 10;
const conns = values.connectivity.split(',').map(Number);
const expansions = values.expansion.split(',').map(Number);
const expansionAdd = Number(values['expansion-add']);
const log = logger().child({ component: 'index-bench' }, { level: 'silent' });

const ms = (t0: number) => performance.now() - t0;
const fmt = (x: number, d = 0) => x.toFixed(d);

console.log(
  `# embedding index benchmark: ${N} vectors (${N / VIEWS} identities x ${VIEWS} views), ${DIMS}-d, ${Q} queries`,
);
console.log(`# ${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} threads, node ${process.version}`);

let t0 = performance.now();
const data = identityClusters({ identities: Math.ceil(N / VIEWS), views: VIEWS, dims: DIMS, seed: 1 });
const vectors = data.vectors.subarray(0, N * DIMS);
const keys = BigUint64Array.from({ length: N }, (_, i) => BigInt(i));
const queries = new Float32Array(Q * DIMS);
for (let i = 0; i < Q; i++) queries.set(data.view((i * 7919) % Math.floor(N / VIEWS)), i * DIMS);
const qRow = (i: number) => queries.subarray(i * DIMS, (i + 1) * DIMS);
console.log(`data generated in ${fmt(ms(t0))} ms`);
{
  // Shape check: cosine of same-identity and different-identity pairs.
  let same = 0;
  let diff = 0;
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let d = 0; d < DIMS; d++) s += vectors[a * DIMS + d]! * vectors[b * DIMS + d]!;
    return s;
  };
  for (let i = 0; i < 500; i++) {
    same += dot(i * VIEWS, i * VIEWS + 1);
    diff += dot(i * VIEWS, ((i + 1) % Math.floor(N / VIEWS)) * VIEWS);
  }
  console.log(`mean cosine: same identity ${fmt(same / 500, 3)}, different ${fmt(diff / 500, 3)}`);
}

// Ground truth and flat baselines.
t0 = performance.now();
const truth = usearchExact(
  vectors,
  Array.from({ length: Q }, (_, i) => qRow(i)),
  DIMS,
  K,
  'cos' as never,
  0,
);
const truthMs = ms(t0);
const truthSets = Array.from({ length: Q }, (_, i) => new Set(truth.keys.subarray(i * K, (i + 1) * K)));
{
  // Cross-check against our JS exact search on a few queries.
  const js = exactSearch(vectors, queries.subarray(0, 8 * DIMS), DIMS, K);
  let agree = 0;
  js.forEach((m, i) => {
    for (const r of m.rows) if (truthSets[i]!.has(BigInt(r))) agree++;
  });
  console.log(`exact: usearch vs JS agree on ${agree}/${8 * K} of the top-${K}`);
}
const singleRate = (fn: (i: number) => unknown, count: number) => {
  const t = performance.now();
  for (let i = 0; i < count; i++) fn(i);
  return (count / ms(t)) * 1000;
};
const flat = {
  usearchSingle: singleRate((i) => usearchExact(vectors, qRow(i), DIMS, K, 'cos' as never, 1), 50),
  usearchBatch: (Q / truthMs) * 1000,
  jsSingle: singleRate((i) => exactSearch(vectors, qRow(i), DIMS, K), 10),
  jsBatch: (() => {
    const t = performance.now();
    exactSearch(vectors, queries.subarray(0, 64 * DIMS), DIMS, K, { block: 16 });
    return (64 / ms(t)) * 1000;
  })(),
};
console.log(
  `flat exact search q/s: usearch exactSearch single ${fmt(flat.usearchSingle)}, batched ${fmt(flat.usearchBatch)}; ` +
    `JS exactSearch single ${fmt(flat.jsSingle, 1)}, batched ${fmt(flat.jsBatch, 1)}`,
);

const recall = (results: IndexMatch[][]) => {
  let hits = 0;
  results.forEach((r, i) => {
    for (const m of r) if (truthSets[i]!.has(m.key)) hits++;
  });
  return hits / (results.length * K);
};

const dir = await mkdtemp(join(tmpdir(), 'sightline-index-bench-'));
const rows: string[] = [];
try {
  for (const connectivity of conns) {
    const path = join(dir, `c${connectivity}.usearch`);
    const base = { path, dimensions: DIMS, connectivity, expansionAdd, log, rebuild: () => [] };
    const index = await EmbeddingIndex.open({ ...base, expansionSearch: expansions[0]! });
    t0 = performance.now();
    index.add(keys, vectors);
    const addMs = ms(t0);
    console.log(
      `connectivity ${connectivity}, expansionAdd ${expansionAdd}: add ${N} in ${fmt(addMs / 1000, 1)} s ` +
        `(${fmt((N / addMs) * 1000)} vectors/s, ${availableParallelism()} threads)`,
    );
    t0 = performance.now();
    await index.save();
    console.log(`  save (with sha256 sidecar) ${fmt(ms(t0))} ms`);
    for (const expansionSearch of expansions) {
      t0 = performance.now();
      const ix = await EmbeddingIndex.open({ ...base, expansionSearch });
      const openMs = ms(t0);
      if (!ix.outcome.loaded) throw new Error('expected the saved index to load');
      const single: IndexMatch[][] = [];
      const sRate = singleRate((i) => single.push(ix.search(qRow(i), K)), Q);
      t0 = performance.now();
      const batched = ix.searchBatch(queries, K);
      const bRate = (Q / ms(t0)) * 1000;
      const row =
        `| ${connectivity} | ${expansionSearch} | ${fmt(recall(single), 3)} | ${fmt(sRate)} | ${fmt(bRate)} | ` +
        `${fmt(sRate / flat.usearchSingle, 1)}x | ${fmt(addMs / 1000, 1)} | ${fmt(openMs)} |`;
      rows.push(row);
      console.log(`  ${row}  (batched recall ${fmt(recall(batched), 3)})`);
    }
  }
  console.log(
    '\n| connectivity | expansionSearch | recall@10 | single q/s | batched q/s | single vs flat | add s | open ms |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);

  // Filtered search with the chosen (or first) setting.
  const [cc, ce] = (values.choose ?? `${conns[0]}:${expansions[0]}`).split(':').map(Number);
  const ix = await EmbeddingIndex.open({
    path: join(dir, `c${cc}.usearch`),
    dimensions: DIMS,
    connectivity: cc,
    expansionAdd,
    expansionSearch: ce,
    log,
    rebuild: () => {
      throw new Error(`no saved index for connectivity ${cc}`);
    },
  });
  const allowedRow = (r: number) => ((r * 2654435761) >>> 0) % 10 === 3;
  const allowed = new Set<bigint>();
  for (let r = 0; r < N; r++) if (allowedRow(r)) allowed.add(BigInt(r));
  const FQ = Math.min(Q, 200);
  const fTruth = exactSearch(vectors, queries.subarray(0, FQ * DIMS), DIMS, K, { allow: allowedRow });
  for (const [name, filter] of [
    ['set', allowed],
    ['predicate', (k: bigint) => allowed.has(k)],
  ] as const) {
    const res: IndexMatch[][] = [];
    const rate = singleRate((i) => res.push(ix.search(qRow(i), K, filter)), FQ);
    let hits = 0;
    let leaked = 0;
    res.forEach((r, i) => {
      const want = new Set(Array.from(fTruth[i]!.rows, (x) => BigInt(x)));
      r.forEach((m) => {
        hits += want.has(m.key) ? 1 : 0;
        leaked += allowed.has(m.key) ? 0 : 1;
      });
    });
    console.log(
      `filtered (${name}, ${fmt((allowed.size / N) * 100, 1)} % of keys allowed), connectivity ${cc}, ` +
        `expansionSearch ${ce}: recall@10 ${fmt(hits / (FQ * K), 3)} vs exact filtered search, ${fmt(rate)} q/s, ` +
        `${leaked} disallowed keys returned`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
