// bgrToYcbcr: BGR24 to Y, Cb, Cr float planes, BT.601 full range (JFIF), as edge/src/enhance/super-resolution.ts.
#include "args.h"
#include "kernels.h"

namespace sightline {

// bgrToYcbcr(src, w, h): { y, cb, cr } Float32Arrays of w * h
Napi::Value BgrToYcbcr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = u8Arg(info, 0, "src");
  const int64_t w = dimArg(info, 1, "width");
  const int64_t h = dimArg(info, 2, "height");
  checkLength(env, src.length, w, h, 3, "src", true);
  const size_t n = static_cast<size_t>(w * h);
  Napi::Float32Array y = Napi::Float32Array::New(env, n);
  Napi::Float32Array cb = Napi::Float32Array::New(env, n);
  Napi::Float32Array cr = Napi::Float32Array::New(env, n);
  float* py = y.Data();
  float* pcb = cb.Data();
  float* pcr = cr.Data();
  const uint8_t* s = src.data;
  for (size_t i = 0; i < n; i++) {
    const double b = s[3 * i], g = s[3 * i + 1], r = s[3 * i + 2];
    py[i] = static_cast<float>(0.299 * r + 0.587 * g + 0.114 * b);
    pcb[i] = static_cast<float>(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
    pcr[i] = static_cast<float>(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("y", y);
  out.Set("cb", cb);
  out.Set("cr", cr);
  out.Set("width", static_cast<double>(w));
  out.Set("height", static_cast<double>(h));
  return out;
}

}  // namespace sightline
