import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { boxToXyah, CHI2_INV_95, cholesky, cloneState, KalmanFilter, xyahToBox } from './kalman.ts';

const trace = (P: Float64Array, n = 8) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += P[i * n + i] as number;
  return s;
};

describe('KalmanFilter', () => {
  test('boxToXyah and xyahToBox are inverses', () => {
    const z = boxToXyah([10, 20, 50, 100]);
    assert.deepEqual([...z], [30, 60, 0.5, 80]);
    assert.deepEqual(xyahToBox(z), [10, 20, 50, 100]);
  });

  test('initiate puts the measurement in the mean with zero velocity and height-scaled variance', () => {
    const kf = new KalmanFilter();
    const s = kf.initiate([100, 50, 0.5, 80]);
    assert.deepEqual([...s.mean], [100, 50, 0.5, 80, 0, 0, 0, 0]);
    assert.ok(Math.abs((s.covariance[0] as number) - (2 * (1 / 20) * 80) ** 2) < 1e-9);
    const tall = kf.initiate([100, 50, 0.5, 160]);
    assert.ok((tall.covariance[0] as number) > (s.covariance[0] as number));
  });

  test('predict moves the mean by the velocity and grows the covariance', () => {
    const kf = new KalmanFilter();
    const s = kf.initiate([100, 50, 0.5, 80]);
    s.mean[4] = 3;
    s.mean[5] = -2;
    const before = cloneState(s);
    kf.predict(s);
    assert.ok(Math.abs((s.mean[0] as number) - 103) < 1e-12);
    assert.ok(Math.abs((s.mean[1] as number) - 48) < 1e-12);
    assert.equal(s.mean[4], 3);
    assert.ok(trace(s.covariance) > trace(before.covariance));
    kf.multiPredict([s]);
    assert.ok(Math.abs((s.mean[0] as number) - 106) < 1e-12);
  });

  test('update pulls the mean towards the measurement and shrinks the covariance', () => {
    const kf = new KalmanFilter();
    const s = kf.initiate([100, 50, 0.5, 80]);
    kf.predict(s);
    const before = cloneState(s);
    kf.update(s, [110, 50, 0.5, 80]);
    const cx = s.mean[0] as number;
    assert.ok(cx > 100 && cx < 110, `cx ${cx} should lie between prediction and measurement`);
    assert.ok((s.mean[4] as number) > 0, 'velocity picks up the motion');
    assert.ok(trace(s.covariance) < trace(before.covariance));
    for (let i = 0; i < 8; i++) {
      assert.ok(
        (s.covariance[i * 9] as number) < (before.covariance[i * 9] as number),
        `variance ${i} shrinks`,
      );
    }
  });

  test('tracks a box moving at constant velocity', () => {
    const kf = new KalmanFilter();
    const s = kf.initiate(boxToXyah([0, 0, 40, 80]));
    for (let t = 1; t <= 30; t++) {
      kf.predict(s);
      kf.update(s, boxToXyah([5 * t, 2 * t, 5 * t + 40, 2 * t + 80]));
    }
    assert.ok(Math.abs((s.mean[4] as number) - 5) < 0.2, `vx ${s.mean[4]}`);
    assert.ok(Math.abs((s.mean[5] as number) - 2) < 0.2, `vy ${s.mean[5]}`);
    kf.predict(s);
    const [x1] = xyahToBox(s.mean);
    assert.ok(Math.abs(x1 - 155) < 2, `predicted x1 ${x1}`);
  });

  test('gating distance is ~0 for the state itself and above chi2 0.95 for a far box', () => {
    const kf = new KalmanFilter();
    const s = kf.initiate([100, 50, 0.5, 80]);
    kf.predict(s);
    const d = kf.gatingDistance(s, [
      [100, 50, 0.5, 80],
      [300, 50, 0.5, 80],
      [104, 50, 0.5, 80],
    ]);
    assert.ok((d[0] as number) < 1e-9);
    assert.ok((d[1] as number) > (CHI2_INV_95[4] as number));
    assert.ok((d[2] as number) > 0 && (d[2] as number) < (d[1] as number));
    const pos = kf.gatingDistance(s, [[100, 50, 5, 300]], true);
    assert.ok((pos[0] as number) < 1e-9, 'only position counts');
    assert.ok(CHI2_INV_95[2] === 5.9915);
  });

  test('rejects bad measurements and options', () => {
    const kf = new KalmanFilter();
    assert.throws(() => kf.initiate([1, 2, 3]), /4 numbers/);
    assert.throws(() => kf.initiate([1, Number.NaN, 0.5, 3]), /element 1 is NaN/);
    assert.throws(() => kf.initiate([1, 2, 0.5, 0]), /positive box height/);
    assert.throws(() => new KalmanFilter({ stdWeightPosition: -1 }), RangeError);
  });

  test('cholesky factors a positive-definite matrix and rejects an indefinite one', () => {
    const L = cholesky([4, 2, 2, 3], 2);
    assert.deepEqual([...L], [2, 0, 1, Math.SQRT2]);
    assert.throws(() => cholesky([1, 2, 2, 1], 2), /positive-definite/);
  });
});
