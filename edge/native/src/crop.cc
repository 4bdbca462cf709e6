// cropResize: a batch of boxes cut from one BGR24 frame (edge/src/preprocess/crop.ts: floor/ceil, clamped to the
// frame, boxes in source-frame coordinates mapped onto a scaled frame) and each resized (stretched) to outW x outH
// with the same OpenCV-exact bilinear resample as the preprocess path, so re-ID/classification batches are equal to
// cropImage + preprocessInto({ resize: 'stretch' }).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "kernels.h"
#include "resample.h"

namespace sightline {

// cropResize(src, srcW, srcH, boxes, outW, outH, sourceW = srcW, sourceH = srcH)
//   boxes: Float32Array | Float64Array | number[] of 4 * n numbers (x1, y1, x2, y2 per box).
//   returns { data: Uint8Array(n * outH * outW * 3), valid: Uint8Array(n) }; a box with less than one pixel
//   inside the frame gives valid 0 and zero pixels.
Napi::Value CropResize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = u8Arg(info, 0, "src");
  const int64_t w = dimArg(info, 1, "srcW");
  const int64_t h = dimArg(info, 2, "srcH");
  checkLength(env, src.length, w, h, 3, "src", false);
  Napi::Value bv = info[3];
  std::vector<double> boxes;
  if (bv.IsTypedArray()) {
    auto ta = bv.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_float32_array) {
      auto a = bv.As<Napi::Float32Array>();
      boxes.assign(a.Data(), a.Data() + a.ElementLength());
    } else if (ta.TypedArrayType() == napi_float64_array) {
      auto a = bv.As<Napi::Float64Array>();
      boxes.assign(a.Data(), a.Data() + a.ElementLength());
    } else {
      throwType(env, "Expected a Float32Array, Float64Array or array of numbers for boxes but received " + describe(bv));
    }
  } else if (bv.IsArray()) {
    auto a = bv.As<Napi::Array>();
    boxes.resize(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber()) throwType(env, "Expected a number for boxes[" + std::to_string(i) + "] but received " + describe(e));
      boxes[i] = e.As<Napi::Number>().DoubleValue();
    }
  } else {
    throwType(env, "Expected a Float32Array, Float64Array or array of numbers for boxes but received " + describe(bv));
  }
  if (boxes.size() % 4 != 0) {
    throwRange(env, "Expected boxes to hold 4 numbers per box (x1, y1, x2, y2) but it holds " +
                        std::to_string(boxes.size()));
  }
  for (size_t i = 0; i < boxes.size(); i++) {
    if (!std::isfinite(boxes[i])) {
      throwRange(env, "Expected finite box coordinates but boxes[" + std::to_string(i) + "] is " +
                          std::to_string(boxes[i]));
    }
  }
  const int64_t outW = static_cast<int64_t>(numArg(info, 4, "outW", 1, 16384, true));
  const int64_t outH = static_cast<int64_t>(numArg(info, 5, "outH", 1, 16384, true));
  const double sw = info[6].IsUndefined() ? static_cast<double>(w) : dimArg(info, 6, "sourceW");
  const double sh = info[7].IsUndefined() ? static_cast<double>(h) : dimArg(info, 7, "sourceH");
  const size_t n = boxes.size() / 4;
  const size_t per = static_cast<size_t>(outW * outH * 3);
  if (static_cast<double>(n) * static_cast<double>(per) > 1073741824.0) {
    throwRange(env, "Expected the crop batch to fit in 1 GiB but " + std::to_string(n) + " crops of " +
                        std::to_string(outW) + "x" + std::to_string(outH) + " do not");
  }
  Napi::Uint8Array data = Napi::Uint8Array::New(env, n * per);
  Napi::Uint8Array valid = Napi::Uint8Array::New(env, n);
  const double sx = static_cast<double>(w) / sw;
  const double sy = static_cast<double>(h) / sh;
  const size_t stride = static_cast<size_t>(w) * 3;
  AxisTable xt, yt;
  for (size_t b = 0; b < n; b++) {
    const double* bx = &boxes[4 * b];
    const double x1 = std::max(0.0, std::floor(bx[0] * sx));
    const double y1 = std::max(0.0, std::floor(bx[1] * sy));
    const double x2 = std::min(static_cast<double>(w), std::ceil(bx[2] * sx));
    const double y2 = std::min(static_cast<double>(h), std::ceil(bx[3] * sy));
    if (!(x2 > x1 && y2 > y1)) continue;
    valid[b] = 1;
    const int64_t cx = static_cast<int64_t>(x1);
    const int64_t cy = static_cast<int64_t>(y1);
    const int64_t cw = static_cast<int64_t>(x2) - cx;
    const int64_t ch = static_cast<int64_t>(y2) - cy;
    uint8_t* out = data.Data() + b * per;
    const uint8_t* origin = src.data + cy * stride + cx * 3;
    if (cw == outW && ch == outH) {
      for (int64_t y = 0; y < ch; y++) std::memcpy(out + y * outW * 3, origin + y * stride, outW * 3);
      continue;
    }
    axisTable(xt, cw, outW, 0, outW, 3);
    axisTable(yt, ch, outH, 0, outH, 1);
    resampleBgr(src.data, stride, cy * stride + cx * 3, xt, yt, out);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", data);
  result.Set("valid", valid);
  return result;
}

}  // namespace sightline
