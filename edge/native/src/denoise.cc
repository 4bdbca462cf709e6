// denoiseNlm: edge/src/enhance/denoise.ts (fast integral-image non-local means, luma weights applied to B, G, R,
// BORDER_REFLECT_101), the same arithmetic in the same order (float32 planes, float64 sums), so the output matches
// the TypeScript one. The weight table is the caller's (edge/src/native/nlm-table.ts, V8's Math.exp) when it passes
// one: the C library's exp differs from V8's in the last bit for about 280 of the 3072 entries, which moved a few
// output bytes by 1; the built-in table is only the fallback for callers that pass none.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "args.h"
#include "kernels.h"

namespace sightline {
namespace {

constexpr int kLutSteps = 256;
constexpr int kLutSize = 12 * kLutSteps;

const std::vector<double>& expLut() {
  static const std::vector<double> lut = [] {
    std::vector<double> t(kLutSize);
    for (int i = 0; i < kLutSize; i++) t[i] = std::exp(-(i + 0.5) / kLutSteps);
    return t;
  }();
  return lut;
}

int64_t reflectIndex(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

}  // namespace

// denoiseNlm(src, w, h, strength = 10, patchSize = 3, searchSize = 7, expLut?: Float64Array(3072)):
//   Uint8Array (BGR24, w * h * 3)
Napi::Value DenoiseNlm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = u8Arg(info, 0, "src");
  const int64_t w = dimArg(info, 1, "width");
  const int64_t hgt = dimArg(info, 2, "height");
  checkLength(env, src.length, w, hgt, 3, "src", true);
  const double hs = numArg(info, 3, "h", 0, 255, false, true, 10);
  if (!(hs > 0)) throwRange(env, "Expected h > 0 but received " + std::to_string(hs));
  const int patchSize = static_cast<int>(numArg(info, 4, "patchSize", 1, 9, true, true, 3));
  if (patchSize % 2 != 1) throwRange(env, "Expected an odd integer for patchSize but received " + std::to_string(patchSize));
  const int searchSize = static_cast<int>(numArg(info, 5, "searchSize", 3, 21, true, true, 7));
  if (searchSize % 2 != 1)
    throwRange(env, "Expected an odd integer for searchSize but received " + std::to_string(searchSize));
  const double* lut = expLut().data();
  if (!info[6].IsUndefined()) {
    Napi::Value v = info[6];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throwType(env, "Expected a Float64Array for expLut but received " + describe(v));
    auto a = v.As<Napi::Float64Array>();
    if (a.ElementLength() != static_cast<size_t>(kLutSize))
      throwRange(env, "Expected expLut to hold " + std::to_string(kLutSize) + " numbers but it holds " +
                          std::to_string(a.ElementLength()));
    lut = a.Data();
  }

  const uint8_t* data = src.data;
  const int64_t pr = (patchSize - 1) / 2;
  const int64_t sr = (searchSize - 1) / 2;
  const int64_t pad = sr + pr;
  const int64_t pw = w + 2 * pad;
  const int64_t ph = hgt + 2 * pad;
  std::vector<float> yp(pw * ph), bp(pw * ph), gp(pw * ph), rp(pw * ph);
  std::vector<int64_t> colIndex(pw);
  for (int64_t px = 0; px < pw; px++) colIndex[px] = reflectIndex(px - pad, w);
  for (int64_t py = 0; py < ph; py++) {
    const int64_t sy = reflectIndex(py - pad, hgt);
    for (int64_t px = 0; px < pw; px++) {
      const uint8_t* s = data + (sy * w + colIndex[px]) * 3;
      const int64_t i = py * pw + px;
      const double b = s[0], g = s[1], r = s[2];
      bp[i] = static_cast<float>(b);
      gp[i] = static_cast<float>(g);
      rp[i] = static_cast<float>(r);
      yp[i] = static_cast<float>(0.114 * b + 0.587 * g + 0.299 * r);
    }
  }

  const int64_t n = w * hgt;
  std::vector<double> accB(n), accG(n), accR(n), wsum(n, 1.0);
  for (int64_t y = 0; y < hgt; y++) {
    for (int64_t x = 0; x < w; x++) {
      const int64_t i = (y + pad) * pw + x + pad;
      const int64_t o = y * w + x;
      accB[o] = bp[i];
      accG[o] = gp[i];
      accR[o] = rp[i];
    }
  }

  const int64_t rw = w + 2 * pr;
  const int64_t rh = hgt + 2 * pr;
  const int64_t stride = rw + 1;
  std::vector<double> integral(stride * (rh + 1), 0.0);
  const double k = kLutSteps / (patchSize * patchSize * hs * hs);
  const int64_t off = pad - pr;
  const int64_t ps = patchSize;
  std::vector<double> wts(w);

  for (int64_t dy = -sr; dy <= sr; dy++) {
    for (int64_t dx = -sr; dx <= sr; dx++) {
      if (dx == 0 && dy == 0) continue;
      const int64_t shift = dy * pw + dx;
      for (int64_t ry = 0; ry < rh; ry++) {
        double row = 0;
        const float* ya = yp.data() + (ry + off) * pw + off;
        const float* yb = ya + shift;
        const double* above = integral.data() + ry * stride + 1;
        double* here = integral.data() + (ry + 1) * stride + 1;
        for (int64_t rx = 0; rx < rw; rx++) {
          const double diff = static_cast<double>(ya[rx]) - static_cast<double>(yb[rx]);
          row += diff * diff;
          here[rx] = above[rx] + row;
        }
      }
      for (int64_t y = 0; y < hgt; y++) {
        const double* top = integral.data() + y * stride;
        const double* bottom = integral.data() + (y + ps) * stride;
        const int64_t nb = (y + pad + dy) * pw + pad + dx;
        const int64_t o0 = y * w;
        for (int64_t x = 0; x < w; x++) {
          const double dist = bottom[x + ps] - top[x + ps] - bottom[x] + top[x];
          const double t = dist * k;
          wts[x] = t < kLutSize ? lut[t > 0 ? static_cast<int>(t) : 0] : 0.0;
        }
        const float* qb = bp.data() + nb;
        const float* qg = gp.data() + nb;
        const float* qr = rp.data() + nb;
        double* ab = accB.data() + o0;
        double* ag = accG.data() + o0;
        double* ar = accR.data() + o0;
        double* ws = wsum.data() + o0;
        for (int64_t x = 0; x < w; x++) {
          const double wt = wts[x];
          ab[x] += wt * qb[x];
          ag[x] += wt * qg[x];
          ar[x] += wt * qr[x];
          ws[x] += wt;
        }
      }
    }
  }

  Napi::Uint8Array out = Napi::Uint8Array::New(env, n * 3);
  uint8_t* o = out.Data();
  auto clip = [](double v) -> uint8_t { return static_cast<uint8_t>(std::min(255.0, std::max(0.0, std::round(v)))); };
  for (int64_t i = 0; i < n; i++) {
    const double inv = 1.0 / wsum[i];
    o[3 * i] = clip(accB[i] * inv);
    o[3 * i + 1] = clip(accG[i] * inv);
    o[3 * i + 2] = clip(accR[i] * inv);
  }
  return out;
}

}  // namespace sightline
