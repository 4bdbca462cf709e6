// OpenCV INTER_LINEAR fixed-point bilinear resampling of packed BGR24, exactly as edge/src/preprocess/preprocess.ts
// does it (11-bit weights per axis, the SIMD-form vertical pass): shared by letterboxInto and cropResize.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sightline {

constexpr int kCoefBits = 11;
constexpr int kCoefOne = 1 << kCoefBits;

struct AxisTable {
  std::vector<int32_t> i0, i1, w0, w1;
};

// OpenCV's pixel-centre source positions for `count` destination samples from `start` (dstLen samples in all).
inline void axisTable(AxisTable& t, int64_t srcLen, int64_t dstLen, int64_t start, int64_t count, int32_t step) {
  t.i0.resize(count);
  t.i1.resize(count);
  t.w0.resize(count);
  t.w1.resize(count);
  const double scale = 1.0 / (static_cast<double>(dstLen) / static_cast<double>(srcLen));
  for (int64_t d = 0; d < count; d++) {
    const float ff = static_cast<float>((static_cast<double>(start + d) + 0.5) * scale - 0.5);
    double s = std::floor(static_cast<double>(ff));
    double f = static_cast<double>(ff) - s;
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= static_cast<double>(srcLen - 1)) {
      s = static_cast<double>(srcLen - 1);
      f = 0;
    }
    const int64_t si = static_cast<int64_t>(s);
    t.i0[d] = static_cast<int32_t>(si * step);
    t.i1[d] = static_cast<int32_t>((si + 1 < srcLen ? si + 1 : srcLen - 1) * step);
    t.w0[d] = static_cast<int32_t>(std::nearbyint(static_cast<double>(static_cast<float>(1.0 - f)) * kCoefOne));
    t.w1[d] = static_cast<int32_t>(std::nearbyint(f * kCoefOne));
  }
}

inline void horizontal(const uint8_t* row, const AxisTable& xt, int32_t* out) {
  const size_t n = xt.i0.size();
  const int32_t* i0 = xt.i0.data();
  const int32_t* i1 = xt.i1.data();
  const int32_t* w0 = xt.w0.data();
  const int32_t* w1 = xt.w1.data();
  for (size_t d = 0; d < n; d++) {
    const uint8_t* a = row + i0[d];
    const uint8_t* b = row + i1[d];
    const int32_t v = w0[d];
    const int32_t w = w1[d];
    out[3 * d] = a[0] * v + b[0] * w;
    out[3 * d + 1] = a[1] * v + b[1] * w;
    out[3 * d + 2] = a[2] * v + b[2] * w;
  }
}

// Resample the window [x0, x0 + xt.count) x [y0, y0 + yt.count) of the resized picture: source rows are
// `src + rowOffset + yt.i0 * stride`, columns via xt (already times 3). Writes count_x * 3 bytes per row to `out`.
inline void resampleBgr(const uint8_t* src, size_t stride, size_t rowOffset, const AxisTable& xt,
                        const AxisTable& yt, uint8_t* out) {
  const size_t ww = xt.i0.size();
  const size_t wh = yt.i0.size();
  const size_t rowLen = ww * 3;
  std::vector<int32_t> bufA(rowLen), bufB(rowLen);
  int32_t* ra = bufA.data();
  int32_t* rb = bufB.data();
  int64_t ya = -1, yb = -1;
  for (size_t dy = 0; dy < wh; dy++) {
    const int64_t y0 = yt.i0[dy];
    const int64_t y1 = yt.i1[dy];
    if (y0 != ya) {
      if (y0 == yb) {
        std::swap(ra, rb);
        ya = yb;
        yb = -1;
      } else {
        horizontal(src + rowOffset + y0 * stride, xt, ra);
        ya = y0;
      }
    }
    if (y1 != yb) {
      if (y1 == ya) {
        std::memcpy(rb, ra, rowLen * sizeof(int32_t));
      } else {
        horizontal(src + rowOffset + y1 * stride, xt, rb);
      }
      yb = y1;
    }
    const int32_t wx = yt.w0[dy];
    const int32_t wy = yt.w1[dy];
    uint8_t* o = out + dy * rowLen;
    for (size_t i = 0; i < rowLen; i++) {
      const int32_t v = (((ra[i] >> 4) * wx) >> 16) + (((rb[i] >> 4) * wy) >> 16) + 2;
      o[i] = static_cast<uint8_t>(v < 0 ? 0 : v > 1023 ? 255 : v >> 2);
    }
  }
}

}  // namespace sightline
