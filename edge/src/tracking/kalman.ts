/** Constant-velocity Kalman filter on boxes as (cx, cy, aspect, height) + velocities, as in SORT/DeepSORT/ByteTrack. */
import type { Box } from '@sightline/shared';

/**
 * Filter state of one box. `mean` is 8 numbers: cx, cy, a (= w / h), h, then their velocities per frame.
 * `covariance` is the 8x8 covariance, row-major (64 numbers).
 */
export interface KalmanState {
  mean: Float64Array;
  covariance: Float64Array;
}

/** A state projected into measurement space: 4-d mean and 4x4 row-major covariance. */
export interface Projection {
  mean: Float64Array;
  covariance: Float64Array;
}

/**
 * 0.95 quantiles of the chi-square distribution by degrees of freedom (the DeepSORT table).
 * Gate a squared Mahalanobis distance with 4 dof (full box) or 2 dof (position only).
 */
export const CHI2_INV_95: Readonly<Record<number, number>> = Object.freeze({
  1: 3.8415,
  2: 5.9915,
  3: 7.8147,
  4: 9.4877,
  5: 11.07,
  6: 12.592,
  7: 14.067,
  8: 15.507,
  9: 16.919,
});

const NDIM = 4;
const SDIM = 8;

/** Options of the filter; the defaults are the ByteTrack / DeepSORT values. */
export interface KalmanOptions {
  /** Position noise relative to box height. Default 1/20. */
  stdWeightPosition?: number;
  /** Velocity noise relative to box height. Default 1/160. */
  stdWeightVelocity?: number;
}

/** Convert an [x1, y1, x2, y2] box to the (cx, cy, aspect, height) measurement. */
export function boxToXyah(box: Box): Float64Array {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  return Float64Array.of(box[0] + w / 2, box[1] + h / 2, w / h, h);
}

/** Convert the first four numbers of a state mean (cx, cy, a, h) back to an [x1, y1, x2, y2] box. */
export function xyahToBox(m: ArrayLike<number>): Box {
  const cx = m[0] ?? 0;
  const cy = m[1] ?? 0;
  const h = m[3] ?? 0;
  const w = (m[2] ?? 0) * h;
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

/** A deep copy of a state. */
export function cloneState(state: KalmanState): KalmanState {
  return { mean: state.mean.slice(), covariance: state.covariance.slice() };
}

/**
 * The filter. It holds only its noise parameters; states live with the tracks and
 * `predict` / `update` change them in place.
 */
export class KalmanFilter {
  readonly #wPos: number;
  readonly #wVel: number;

  constructor(options: KalmanOptions = {}) {
    this.#wPos = positive(options.stdWeightPosition ?? 1 / 20, 'stdWeightPosition');
    this.#wVel = positive(options.stdWeightVelocity ?? 1 / 160, 'stdWeightVelocity');
  }

  /** A new state from one (cx, cy, a, h) measurement: zero velocity, uncertainty scaled by height. */
  initiate(measurement: ArrayLike<number>): KalmanState {
    checkMeasurement(measurement);
    const mean = new Float64Array(SDIM);
    for (let i = 0; i < NDIM; i++) mean[i] = measurement[i] as number;
    const h = measurement[3] as number;
    const p = 2 * this.#wPos * h;
    const v = 10 * this.#wVel * h;
    const std = [p, p, 1e-2, p, v, v, 1e-5, v];
    const covariance = new Float64Array(SDIM * SDIM);
    for (let i = 0; i < SDIM; i++) covariance[i * SDIM + i] = (std[i] as number) ** 2;
    return { mean, covariance };
  }

  /** Advance a state by one frame (x += v; P = F P F' + Q), in place. */
  predict(state: KalmanState): void {
    const { mean, covariance: P } = state;
    const h = mean[3] as number;
    const p = this.#wPos * h;
    const v = this.#wVel * h;
    const q = [p * p, p * p, 1e-4, p * p, v * v, v * v, 1e-10, v * v];
    for (let i = 0; i < NDIM; i++) mean[i] = (mean[i] as number) + (mean[i + NDIM] as number);
    // F = [[I, I], [0, I]], so with P = [[A, B], [C, D]]: F P F' = [[A+B+C+D, B+D], [C+D, D]].
    for (let i = 0; i < NDIM; i++) {
      for (let j = 0; j < NDIM; j++) {
        const a = i * SDIM + j;
        const b = i * SDIM + j + NDIM;
        const c = (i + NDIM) * SDIM + j;
        const d = (i + NDIM) * SDIM + j + NDIM;
        const D = P[d] as number;
        P[a] = (P[a] as number) + (P[b] as number) + (P[c] as number) + D;
        P[b] = (P[b] as number) + D;
        P[c] = (P[c] as number) + D;
      }
    }
    for (let i = 0; i < SDIM; i++) P[i * SDIM + i] = (P[i * SDIM + i] as number) + (q[i] as number);
  }

  /** Predict several states (ByteTrack's multi_predict; here a loop, the matrices are tiny). */
  multiPredict(states: readonly KalmanState[]): void {
    for (const s of states) this.predict(s);
  }

  /** The state in measurement space: H x and H P H' + R. */
  project(state: KalmanState): Projection {
    const { mean: x, covariance: P } = state;
    const h = x[3] as number;
    const p = this.#wPos * h;
    const r = [p * p, p * p, 1e-2, p * p];
    const mean = new Float64Array(NDIM);
    const covariance = new Float64Array(NDIM * NDIM);
    for (let i = 0; i < NDIM; i++) {
      mean[i] = x[i] as number;
      for (let j = 0; j < NDIM; j++) covariance[i * NDIM + j] = P[i * SDIM + j] as number;
      covariance[i * NDIM + i] = (covariance[i * NDIM + i] as number) + (r[i] as number);
    }
    return { mean, covariance };
  }

  /** Correct a state with a (cx, cy, a, h) measurement, in place. */
  update(state: KalmanState, measurement: ArrayLike<number>): void {
    checkMeasurement(measurement);
    const { mean: x, covariance: P } = state;
    const { mean: z, covariance: S } = this.project(state);
    const L = cholesky(S, NDIM);
    // K = P H' S^-1 (8x4). Solve S K' = H P, i.e. for each of the 8 rows of P H' (= first 4 columns of P).
    const K = new Float64Array(SDIM * NDIM);
    const col = new Float64Array(NDIM);
    for (let r = 0; r < SDIM; r++) {
      for (let j = 0; j < NDIM; j++) col[j] = P[r * SDIM + j] as number;
      choSolveInPlace(L, NDIM, col);
      for (let j = 0; j < NDIM; j++) K[r * NDIM + j] = col[j] as number;
    }
    const innov = new Float64Array(NDIM);
    for (let j = 0; j < NDIM; j++) innov[j] = (measurement[j] as number) - (z[j] as number);
    for (let r = 0; r < SDIM; r++) {
      let s = 0;
      for (let j = 0; j < NDIM; j++) s += (K[r * NDIM + j] as number) * (innov[j] as number);
      x[r] = (x[r] as number) + s;
    }
    // P -= K S K'. K S = P H', so K S K' = (P H') K'.
    const next = new Float64Array(SDIM * SDIM);
    for (let r = 0; r < SDIM; r++) {
      for (let c = 0; c < SDIM; c++) {
        let s = 0;
        for (let j = 0; j < NDIM; j++) s += (P[r * SDIM + j] as number) * (K[c * NDIM + j] as number);
        next[r * SDIM + c] = (P[r * SDIM + c] as number) - s;
      }
    }
    // Keep it exactly symmetric so rounding cannot accumulate into a non-positive-definite matrix.
    for (let r = 0; r < SDIM; r++) {
      for (let c = r; c < SDIM; c++) {
        const v = ((next[r * SDIM + c] as number) + (next[c * SDIM + r] as number)) / 2;
        P[r * SDIM + c] = v;
        P[c * SDIM + r] = v;
      }
    }
  }

  /**
   * Squared Mahalanobis distance between the projected state and each (cx, cy, a, h) measurement.
   * With `onlyPosition` only cx, cy count (compare with CHI2_INV_95[2], otherwise CHI2_INV_95[4]).
   */
  gatingDistance(
    state: KalmanState,
    measurements: readonly ArrayLike<number>[],
    onlyPosition = false,
  ): Float64Array {
    const { mean, covariance } = this.project(state);
    const n = onlyPosition ? 2 : NDIM;
    const S = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = covariance[i * NDIM + j] as number;
    const L = cholesky(S, n);
    const out = new Float64Array(measurements.length);
    const d = new Float64Array(n);
    measurements.forEach((m, k) => {
      for (let i = 0; i < n; i++) d[i] = (m[i] ?? Number.NaN) - (mean[i] as number);
      forwardSubstituteInPlace(L, n, d);
      let s = 0;
      for (let i = 0; i < n; i++) s += (d[i] as number) ** 2;
      out[k] = s;
    });
    return out;
  }
}

/** Lower Cholesky factor of a symmetric positive-definite n x n row-major matrix. */
export function cholesky(A: ArrayLike<number>, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (L[i * n + k] as number) * (L[j * n + k] as number);
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`Expected a positive-definite matrix but pivot ${i} is ${s}`);
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / (L[j * n + j] as number);
      }
    }
  }
  return L;
}

/** Solve L y = b in place (L lower triangular, row-major). */
function forwardSubstituteInPlace(L: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * n + k] as number) * (b[k] as number);
    b[i] = s / (L[i * n + i] as number);
  }
}

/** Solve (L L') x = b in place. */
function choSolveInPlace(L: Float64Array, n: number, b: Float64Array): void {
  forwardSubstituteInPlace(L, n, b);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i] as number;
    for (let k = i + 1; k < n; k++) s -= (L[k * n + i] as number) * (b[k] as number);
    b[i] = s / (L[i * n + i] as number);
  }
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Expected a positive number for ${name} but received ${value} of type ${typeof value}`,
    );
  }
  return value;
}

function checkMeasurement(m: ArrayLike<number>): void {
  if (m.length < NDIM) {
    throw new RangeError(
      `Expected a measurement of 4 numbers (cx, cy, aspect, height) but received ${m.length}`,
    );
  }
  for (let i = 0; i < NDIM; i++) {
    if (!Number.isFinite(m[i])) {
      throw new RangeError(`Expected finite measurement values but element ${i} is ${m[i]}`);
    }
  }
  if (!((m[3] as number) > 0)) throw new RangeError(`Expected a positive box height but received ${m[3]}`);
}
