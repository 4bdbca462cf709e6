// motionMask: frame-difference motion (edge/src/native/motion.ts is the TypeScript twin and the reference).
// Integer BT.601 luma Y = (29 B + 150 G + 77 R + 128) >> 8 of each frame (or the frames are luma planes already),
// mask = |Y_cur - Y_prev| > threshold, then a morphological open (erode, dilate: removes specks smaller than the
// square of side 2r+1) and close (dilate, erode: fills small holes), square windows clipped at the frame edge.
#include <algorithm>
#include <string>
#include <vector>

#include "args.h"
#include "kernels.h"

namespace sightline {
namespace {

void lumaOf(const uint8_t* s, size_t n, bool bgr, uint8_t* y) {
  if (!bgr) {
    std::copy(s, s + n, y);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    y[i] = static_cast<uint8_t>((29 * s[3 * i] + 150 * s[3 * i + 1] + 77 * s[3 * i + 2] + 128) >> 8);
  }
}

// Min (erode) or max (dilate) over the (2r+1)^2 window clipped to the frame, separable: rows then columns.
void morph(std::vector<uint8_t>& m, std::vector<uint8_t>& tmp, int64_t w, int64_t h, int64_t r, bool dilate) {
  for (int64_t y = 0; y < h; y++) {
    const uint8_t* row = m.data() + y * w;
    uint8_t* o = tmp.data() + y * w;
    for (int64_t x = 0; x < w; x++) {
      const int64_t a = std::max<int64_t>(0, x - r);
      const int64_t b = std::min<int64_t>(w - 1, x + r);
      uint8_t v = row[a];
      for (int64_t i = a + 1; i <= b; i++) v = dilate ? std::max(v, row[i]) : std::min(v, row[i]);
      o[x] = v;
    }
  }
  for (int64_t y = 0; y < h; y++) {
    const int64_t a = std::max<int64_t>(0, y - r);
    const int64_t b = std::min<int64_t>(h - 1, y + r);
    uint8_t* o = m.data() + y * w;
    std::copy(tmp.data() + a * w, tmp.data() + (a + 1) * w, o);
    for (int64_t i = a + 1; i <= b; i++) {
      const uint8_t* t = tmp.data() + i * w;
      if (dilate)
        for (int64_t x = 0; x < w; x++) o[x] = std::max(o[x], t[x]);
      else
        for (int64_t x = 0; x < w; x++) o[x] = std::min(o[x], t[x]);
    }
  }
}

}  // namespace

// motionMask(prev, cur, w, h, threshold = 25, openRadius = 1, closeRadius = 1):
//   { mask: Uint8Array(w * h) of 0/255, changed: number of 255s, fraction: changed / (w * h) }
//   prev and cur: both BGR24 (w * h * 3 bytes) or both luma (w * h bytes).
Napi::Value MotionMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto prev = u8Arg(info, 0, "prev");
  auto cur = u8Arg(info, 1, "cur");
  const int64_t w = dimArg(info, 2, "width");
  const int64_t h = dimArg(info, 3, "height");
  const double threshold = numArg(info, 4, "threshold", 0, 255, false, true, 25);
  const int64_t openR = static_cast<int64_t>(numArg(info, 5, "openRadius", 0, 15, true, true, 1));
  const int64_t closeR = static_cast<int64_t>(numArg(info, 6, "closeRadius", 0, 15, true, true, 1));
  const size_t n = static_cast<size_t>(w * h);
  const bool bgr = cur.length == n * 3;
  if (!bgr && cur.length != n) {
    throwRange(env, "Expected cur to hold " + std::to_string(w) + "x" + std::to_string(h) + "x3 (BGR24) or " +
                        std::to_string(w) + "x" + std::to_string(h) + " (luma) bytes but it holds " +
                        std::to_string(cur.length));
  }
  if (prev.length != cur.length) {
    throwRange(env, "Expected prev to hold as many bytes as cur (" + std::to_string(cur.length) + ") but it holds " +
                        std::to_string(prev.length));
  }
  std::vector<uint8_t> yp(n), yc(n), m(n), tmp(n);
  lumaOf(prev.data, n, bgr, yp.data());
  lumaOf(cur.data, n, bgr, yc.data());
  for (size_t i = 0; i < n; i++) {
    const int d = yc[i] > yp[i] ? yc[i] - yp[i] : yp[i] - yc[i];
    m[i] = d > threshold ? 255 : 0;
  }
  if (openR > 0) {
    morph(m, tmp, w, h, openR, false);
    morph(m, tmp, w, h, openR, true);
  }
  if (closeR > 0) {
    morph(m, tmp, w, h, closeR, true);
    morph(m, tmp, w, h, closeR, false);
  }
  Napi::Uint8Array mask = Napi::Uint8Array::New(env, n);
  std::copy(m.begin(), m.end(), mask.Data());
  size_t changed = 0;
  for (size_t i = 0; i < n; i++) changed += m[i] != 0;
  Napi::Object out = Napi::Object::New(env);
  out.Set("mask", mask);
  out.Set("changed", static_cast<double>(changed));
  out.Set("fraction", static_cast<double>(changed) / static_cast<double>(n));
  return out;
}

}  // namespace sightline
