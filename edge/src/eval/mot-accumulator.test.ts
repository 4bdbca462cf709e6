import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Box } from '@sightline/shared';
import { costMatrix, linearAssignment } from '../tracking/assignment.ts';
import { iouDistance, MotAccumulator, type MotMetrics, type MotObject } from './mot-accumulator.ts';

/** A 10 x 10 box whose left edge is at x: a shift of d gives IoU (10 - d) / (10 + d), matchable up to d = 3.33. */
const at = (x: number): Box => [x, 0, x + 10, 10];
const obj = (id: number, x: number): MotObject => ({ id, box: at(x) });

/** Feed frames 1, 2, ... of [gt, hyp] and return the metrics. */
function run(frames: [MotObject[], MotObject[]][], iouThreshold?: number): MotMetrics {
  const acc = new MotAccumulator({ iouThreshold });
  frames.forEach(([gt, hyp], i) => {
    acc.update(i + 1, gt, hyp);
  });
  return acc.metrics();
}

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

describe('iouDistance', () => {
  test('is 1 - IoU, 0 for identical boxes and 1 without overlap', () => {
    close(iouDistance(at(0), at(0)), 0, 'same');
    close(iouDistance(at(0), at(2)), 1 - 8 / 12, 'shift 2');
    assert.equal(iouDistance(at(0), at(10)), 1);
    assert.equal(iouDistance(at(0), [0, 0, 0, 0]), 1);
  });
});

describe('MotAccumulator', () => {
  test('perfect tracking: MOTA 1, IDF1 1, MOTP 0, all mostly tracked', () => {
    const frames: [MotObject[], MotObject[]][] = [0, 1, 2].map((f) => [
      [obj(1, f), obj(2, 40 + f)],
      [obj(20, 40 + f), obj(10, f)],
    ]);
    const m = run(frames);
    assert.deepEqual(
      { mota: m.mota, motp: m.motp, idf1: m.idf1, idp: m.idp, idr: m.idr, recall: m.recall },
      { mota: 1, motp: 0, idf1: 1, idp: 1, idr: 1, recall: 1 },
    );
    assert.deepEqual(
      [m.numObjects, m.numMatches, m.fp, m.fn, m.idsw, m.frag, m.mt, m.pt, m.ml, m.gtIds, m.hypIds],
      [6, 6, 0, 0, 0, 0, 2, 0, 0, 2, 2],
    );
  });

  test('an identity switch is counted once, when the new hypothesis takes over', () => {
    const m = run([
      [[obj(1, 0)], [obj(5, 0)]],
      [[obj(1, 1)], [obj(5, 1)]],
      [[obj(1, 2)], [obj(6, 2)]],
      [[obj(1, 3)], [obj(6, 3)]],
    ]);
    assert.equal(m.idsw, 1);
    assert.equal(m.numMatches, 3);
    assert.equal(m.numDetections, 4);
    close(m.mota, 0.75, 'mota');
    // Gt 1 shares 2 frames with either hypothesis: idtp 2 of 4 gt and 4 hypothesis boxes.
    assert.deepEqual([m.idtp, m.idfp, m.idfn], [2, 2, 2]);
    close(m.idf1, 0.5, 'idf1');
  });

  test('switching back to an earlier hypothesis is a switch too', () => {
    const m = run([
      [[obj(1, 0)], [obj(5, 0)]],
      [[obj(1, 0)], [obj(6, 0)]],
      [[obj(1, 0)], [obj(5, 0)]],
    ]);
    assert.equal(m.idsw, 2);
  });

  test('fragmentation counts tracked -> missed -> tracked, not misses before the first or after the last match', () => {
    // Gt 1 in frames 1..7, tracked by hypothesis 7 in frames 2, 3, 5, 6.
    const frames: [MotObject[], MotObject[]][] = [1, 2, 3, 4, 5, 6, 7].map((f) => [
      [obj(1, f)],
      [2, 3, 5, 6].includes(f) ? [obj(7, f)] : [],
    ]);
    const m = run(frames);
    assert.deepEqual([m.frag, m.fn, m.idsw, m.fp], [1, 3, 0, 0]);
    // Tracked 4 of 7 frames: partially tracked.
    assert.deepEqual([m.mt, m.pt, m.ml], [0, 1, 0]);
    // Two gaps of misses inside the tracked span are two fragmentations.
    const two = run(
      [1, 2, 3, 4, 5].map((f) => [[obj(1, f)], f % 2 === 1 ? [obj(7, f)] : []] as [MotObject[], MotObject[]]),
    );
    assert.equal(two.frag, 2);
  });

  test('match continuity keeps the previous pair over a closer hypothesis', () => {
    const m = run([
      [[obj(1, 0)], [obj(10, 0), obj(11, 50)]],
      // Hypothesis 11 now fits exactly (distance 0), 10 is off by 2 (distance 1/3) but still allowed.
      [[obj(1, 0)], [obj(10, 2), obj(11, 0)]],
    ]);
    assert.deepEqual([m.idsw, m.numMatches, m.fp, m.fn], [0, 2, 2, 0]);
    close(m.motp, (0 + 1 - 8 / 12) / 2, 'motp');
  });

  test('continuity holds only from the previous update: after a miss the closest hypothesis wins (a switch)', () => {
    const m = run([
      [[obj(1, 0)], [obj(10, 0)]],
      [[obj(1, 0)], []],
      [[obj(1, 0)], [obj(10, 2), obj(11, 0)]],
    ]);
    assert.deepEqual([m.idsw, m.numMatches, m.fp, m.fn, m.frag], [1, 1, 1, 1, 1]);
  });

  test('a previous pair that moved out of range is not kept', () => {
    const m = run([
      [[obj(1, 0)], [obj(10, 0), obj(11, 50)]],
      [[obj(1, 0)], [obj(10, 5), obj(11, 1)]],
    ]);
    assert.deepEqual([m.idsw, m.fp, m.fn], [1, 2, 0]);
  });

  test('matches as many pairs as possible before minimising the total distance', () => {
    // A-X is the closest pair (distance 0.18) but taking it leaves B and Y without a partner; A-Y (0.33) and
    // B-X (0.46) match both, as py-motmetrics' assignment does.
    const m = run([
      [
        [obj(1, 4), obj(2, 0)],
        [obj(10, 3), obj(11, 6)],
      ],
    ]);
    assert.deepEqual([m.numMatches, m.fp, m.fn], [2, 0, 0]);
    close(m.motp, (1 - 8 / 12 + 1 - 7 / 13) / 2, 'motp');
  });

  test('frames with only gt or only hypotheses are misses and false positives', () => {
    const m = run([
      [[obj(1, 0), obj(2, 40)], []],
      [[], [obj(5, 0)]],
      [[obj(1, 0)], [obj(5, 30)]],
    ]);
    assert.deepEqual([m.numFrames, m.numObjects, m.fn, m.fp, m.idsw, m.numDetections], [3, 3, 3, 2, 0, 0]);
    close(m.mota, 1 - 5 / 3, 'mota');
    assert.equal(m.recall, 0);
    assert.equal(m.precision, 0);
    assert.equal(m.idf1, 0);
    assert.ok(Number.isNaN(m.motp), 'no match: MOTP undefined');
    assert.deepEqual([m.mt, m.pt, m.ml], [0, 0, 2]);
  });

  test('the IoU threshold decides which pairs may match', () => {
    const frames: [MotObject[], MotObject[]][] = [[[obj(1, 0)], [obj(2, 3)]]]; // IoU 7/13 = 0.54
    assert.equal(run(frames, 0.5).numMatches, 1);
    assert.equal(run(frames, 0.6).numMatches, 0);
  });

  test('rejects frames out of order and a bad threshold', () => {
    const acc = new MotAccumulator();
    acc.update(2, [], []);
    assert.throws(() => acc.update(2, [], []), /increasing order/);
    assert.throws(() => acc.update(Number.NaN, [], []), TypeError);
    assert.throws(() => new MotAccumulator({ iouThreshold: 1.5 }), RangeError);
  });

  test('agrees with a literal port of py-motmetrics on random sequences', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const random = rng(seed);
      const frames: [MotObject[], MotObject[]][] = [];
      for (let f = 0; f < 15; f++) {
        const gt = [1, 2, 3, 4].filter(() => random() < 0.8).map((id) => obj(id, id * 6 + random() * 3));
        const hyp = [1, 2, 3, 4, 5, 6].filter(() => random() < 0.6).map((id) => obj(id, random() * 30));
        frames.push([gt, hyp]);
      }
      const m = run(frames);
      const ref = reference(frames, 0.5);
      for (const k of Object.keys(ref) as (keyof typeof ref)[]) {
        const a = m[k];
        const b = ref[k];
        assert.ok(
          (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) < 1e-9,
          `seed ${seed}: ${k} ${a} != ${b}`,
        );
      }
    }
  });
});

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Event = { type: 'MATCH' | 'SWITCH' | 'MISS' | 'FP'; o?: number; h?: number; d?: number };

/**
 * py-motmetrics written out literally and slowly: an event list per frame, brute-force frame assignment
 * (most pairs, then least distance), FM from each object's event sequence, and IDF1 from the square
 * (gt + hypothesis ids) cost matrix with dummy rows and columns.
 */
function reference(frames: [MotObject[], MotObject[]][], iouThreshold: number) {
  const maxD = 1 - iouThreshold;
  const events: Event[] = [];
  const m = new Map<number, number>();
  const lastMatch = new Map<number, number>();
  const raw = new Map<string, number>();
  let lastFrame = -1;
  frames.forEach(([gt, hyp], f) => {
    const d = gt.map((g) =>
      hyp.map((h) => {
        const v = iouDistance(g.box, h.box);
        return v > maxD ? Number.NaN : v;
      }),
    );
    gt.forEach((g, i) => {
      hyp.forEach((h, j) => {
        if (!Number.isNaN(d[i]![j]!)) raw.set(`${g.id},${h.id}`, (raw.get(`${g.id},${h.id}`) ?? 0) + 1);
      });
    });
    const oDone = gt.map(() => false);
    const hDone = hyp.map(() => false);
    gt.forEach((g, i) => {
      if (!(m.has(g.id) && lastMatch.get(g.id) === lastFrame)) return;
      const j = hyp.findIndex((h, k) => !hDone[k] && h.id === m.get(g.id));
      if (j < 0 || Number.isNaN(d[i]![j]!)) return;
      oDone[i] = hDone[j] = true;
      events.push({ type: 'MATCH', o: g.id, h: hyp[j]!.id, d: d[i]![j]! });
      lastMatch.set(g.id, f);
    });
    // Brute force over partial matchings of the rest.
    let best: [number, number][] = [];
    let bestSum = 0;
    const pairs: [number, number][] = [];
    const used = hyp.map(() => false);
    const rec = (i: number, sum: number) => {
      if (i === gt.length) {
        if (pairs.length > best.length || (pairs.length === best.length && sum < bestSum)) {
          best = pairs.map((p) => [p[0], p[1]]);
          bestSum = sum;
        }
        return;
      }
      rec(i + 1, sum);
      if (oDone[i]) return;
      hyp.forEach((_, j) => {
        if (used[j] || hDone[j] || Number.isNaN(d[i]![j]!)) return;
        used[j] = true;
        pairs.push([i, j]);
        rec(i + 1, sum + d[i]![j]!);
        pairs.pop();
        used[j] = false;
      });
    };
    rec(0, 0);
    for (const [i, j] of best) {
      const o = gt[i]!.id;
      const h = hyp[j]!.id;
      const sw = m.has(o) && m.get(o) !== h;
      events.push({ type: sw ? 'SWITCH' : 'MATCH', o, h, d: d[i]![j]! });
      oDone[i] = hDone[j] = true;
      m.set(o, h);
      lastMatch.set(o, f);
    }
    gt.forEach((g, i) => {
      if (!oDone[i]) events.push({ type: 'MISS', o: g.id });
    });
    hyp.forEach((h, j) => {
      if (!hDone[j]) events.push({ type: 'FP', h: h.id });
    });
    lastFrame = f;
  });
  const count = (t: Event['type']) => events.filter((e) => e.type === t).length;
  const [matches, switches, misses, fps] = [count('MATCH'), count('SWITCH'), count('MISS'), count('FP')];
  const numObjects = matches + switches + misses;
  const numDetections = matches + switches;
  const numPredictions = numDetections + fps;
  const oids = [...new Set(events.filter((e) => e.o !== undefined).map((e) => e.o!))];
  const hids = [...new Set(events.filter((e) => e.h !== undefined).map((e) => e.h!))];
  let frag = 0;
  let mt = 0;
  let pt = 0;
  let ml = 0;
  for (const o of oids) {
    const seq = events.filter((e) => e.o === o).map((e) => (e.type === 'MISS' ? 1 : 0));
    const first = seq.indexOf(0);
    const last = seq.lastIndexOf(0);
    for (let k = Math.max(first, 0) + 1; first >= 0 && k <= last; k++)
      if (seq[k]! - seq[k - 1]! === 1) frag++;
    const ratio = seq.filter((x) => x === 0).length / seq.length;
    if (ratio >= 0.8) mt++;
    else if (ratio >= 0.2) pt++;
    else ml++;
  }
  // IDF1: square matrix, rows = gt ids then one dummy per hypothesis id, columns = hypothesis ids then one
  // dummy per gt id; forbidden entries Infinity; a full assignment forced by a threshold above any total.
  const no = oids.length;
  const nh = hids.length;
  const n = no + nh;
  const oc = oids.map((o) => events.filter((e) => e.o === o).length);
  const hc = hids.map((h) => events.filter((e) => e.h === h).length);
  const fpm = costMatrix(n, n, 0);
  const fnm = costMatrix(n, n, 0);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const k = r * n + c;
      if (r >= no && c < nh) fpm.data[k] = c === r - no ? hc[c]! : Number.POSITIVE_INFINITY;
      if (r < no && c >= nh) fnm.data[k] = c - nh === r ? oc[r]! : Number.POSITIVE_INFINITY;
      if (r < no && c < nh) {
        const ex = raw.get(`${oids[r]},${hids[c]}`) ?? 0;
        fpm.data[k] = hc[c]! - ex;
        fnm.data[k] = oc[r]! - ex;
      }
      if (r < no && c >= nh) fpm.data[k] = 0;
      if (r >= no && c < nh) fnm.data[k] = 0;
    }
  }
  const cost = costMatrix(n, n);
  for (let k = 0; k < n * n; k++) cost.data[k] = fpm.data[k]! + fnm.data[k]!;
  const assignment = linearAssignment(cost, 1e9);
  assert.equal(assignment.matches.length, n, 'a full assignment');
  let idfp = 0;
  let idfn = 0;
  for (const [r, c] of assignment.matches) {
    idfp += fpm.data[r * n + c]!;
    idfn += fnm.data[r * n + c]!;
  }
  const idtp = numObjects - idfn;
  const dsum = events.reduce((s, e) => s + (e.d ?? 0), 0);
  return {
    mota: 1 - (misses + switches + fps) / numObjects,
    motp: numDetections ? dsum / numDetections : Number.NaN,
    idf1: (2 * idtp) / (numObjects + numPredictions),
    idp: idtp / (idtp + idfp),
    idr: idtp / numObjects,
    numObjects,
    numMatches: matches,
    fp: fps,
    fn: misses,
    idsw: switches,
    frag,
    mt,
    pt,
    ml,
    gtIds: no,
    hypIds: nh,
    idtp,
    idfp,
    idfn,
  };
}
