/** Small vector maths shared by the re-ID model runner and the tracker's appearance gallery. */

/** Scale `v` in place to unit length (a zero vector stays zero) and return it. */
export function l2Normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  if (s > 0) {
    const k = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i]! *= k;
  }
  return v;
}
