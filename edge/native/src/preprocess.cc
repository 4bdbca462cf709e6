// letterboxInto: the model-input tensor of edge/src/preprocess/preprocess.ts (preprocessInto), bit for bit:
// placement (letterbox centre/top-left, stretch, crop), OpenCV-exact bilinear resample, layout, colour, normalise.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "args.h"
#include "kernels.h"
#include "resample.h"

namespace sightline {
namespace {

enum class Resize { Letterbox, Stretch, Crop };

struct Spec {
  Resize resize = Resize::Letterbox;
  bool topLeft = false;
  double padValue = 114;
  double resizeShort = 0;  // 0: unset
  bool nhwc = false;
  int colour = 0;  // 0 BGR, 1 RGB, 2 Y
  double scale = 1;
  double mean[3] = {0, 0, 0};
  double std[3] = {1, 1, 1};
};

std::string stringField(Napi::Env env, const Napi::Object& o, const char* key, const char* fallback,
                        std::initializer_list<const char*> allowed) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && fallback) return fallback;
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "'" : ", '") + std::string(a) + "'";
  if (!v.IsString()) throwType(env, std::string("Expected one of ") + list + " for spec." + key + " but received " + describe(v));
  std::string s = v.As<Napi::String>().Utf8Value();
  for (const char* a : allowed)
    if (s == a) return s;
  throwRange(env, std::string("Expected one of ") + list + " for spec." + key + " but received '" + s + "'");
}

void tripleField(Napi::Env env, const Napi::Object& o, const char* key, double* out, bool nonZero) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
    throwType(env, std::string("Expected an array of 3 numbers for spec.") + key + " but received " + describe(v));
  auto a = v.As<Napi::Array>();
  for (uint32_t c = 0; c < 3; c++) {
    std::string name = std::string("spec.") + key + "[" + std::to_string(c) + "]";
    out[c] = numValue(env, a.Get(c), name, -1e30, 1e30, false);
    if (nonZero && out[c] == 0) throwRange(env, "Expected a non-zero number for " + name + " but received 0");
  }
}

Spec parseSpec(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray())
    throwType(env, "Expected a PreprocessSpec object for spec but received " + describe(v));
  auto o = v.As<Napi::Object>();
  Spec s;
  std::string r = stringField(env, o, "resize", nullptr, {"letterbox", "stretch", "crop"});
  s.resize = r == "letterbox" ? Resize::Letterbox : r == "stretch" ? Resize::Stretch : Resize::Crop;
  s.topLeft = stringField(env, o, "align", "center", {"center", "top-left"}) == "top-left";
  s.nhwc = stringField(env, o, "layout", nullptr, {"NCHW", "NHWC"}) == "NHWC";
  std::string c = stringField(env, o, "colour", nullptr, {"BGR", "RGB", "Y"});
  s.colour = c == "BGR" ? 0 : c == "RGB" ? 1 : 2;
  if (!o.Get("padValue").IsUndefined()) s.padValue = numValue(env, o.Get("padValue"), "spec.padValue", 0, 255, false);
  if (!o.Get("resizeShort").IsUndefined())
    s.resizeShort = numValue(env, o.Get("resizeShort"), "spec.resizeShort", 1, kMaxSide, true);
  if (!o.Get("scale").IsUndefined()) {
    s.scale = numValue(env, o.Get("scale"), "spec.scale", 0, 1e30, false);
    if (s.scale <= 0) throwRange(env, "Expected a positive number for spec.scale but received 0");
  }
  tripleField(env, o, "mean", s.mean, false);
  tripleField(env, o, "std", s.std, true);
  return s;
}

struct Placement {
  double scaleX, scaleY, offsetX, offsetY;
  int64_t resizedW, resizedH, windowX, windowY, windowW, windowH, destX, destY;
};

int64_t halfToEven(int64_t n) {
  int64_t lo = n / 2;  // n >= 0
  return (n % 2 == 1 && lo % 2 == 1) ? lo + 1 : lo;
}

// planPlacement of geometry.ts.
Placement plan(Napi::Env env, const Spec& spec, int64_t sw, int64_t sh, int64_t W, int64_t H) {
  Placement p{};
  if (spec.resize == Resize::Stretch) {
    p.scaleX = static_cast<double>(W) / sw;
    p.scaleY = static_cast<double>(H) / sh;
    p.resizedW = p.windowW = W;
    p.resizedH = p.windowH = H;
    return p;
  }
  if (spec.resize == Resize::Crop) {
    double shortSide = spec.resizeShort > 0 ? spec.resizeShort : static_cast<double>(std::max(W, H));
    double r = shortSide / static_cast<double>(std::min(sw, sh));
    int64_t rw = std::max<int64_t>(1, static_cast<int64_t>(std::round(sw * r)));
    int64_t rh = std::max<int64_t>(1, static_cast<int64_t>(std::round(sh * r)));
    if (rw < W || rh < H) {
      throwRange(env, "Expected resizeShort to cover the " + std::to_string(W) + "x" + std::to_string(H) +
                          " input but received " + std::to_string(static_cast<int64_t>(shortSide)));
    }
    int64_t cx = halfToEven(rw - W);
    int64_t cy = halfToEven(rh - H);
    p.scaleX = static_cast<double>(rw) / sw;
    p.scaleY = static_cast<double>(rh) / sh;
    p.offsetX = -static_cast<double>(cx);
    p.offsetY = -static_cast<double>(cy);
    p.resizedW = rw;
    p.resizedH = rh;
    p.windowX = cx;
    p.windowY = cy;
    p.windowW = W;
    p.windowH = H;
    return p;
  }
  double r = std::min(static_cast<double>(W) / sw, static_cast<double>(H) / sh);
  int64_t iw = std::min<int64_t>(W, std::max<int64_t>(1, static_cast<int64_t>(std::round(sw * r))));
  int64_t ih = std::min<int64_t>(H, std::max<int64_t>(1, static_cast<int64_t>(std::round(sh * r))));
  int64_t padX = spec.topLeft ? 0 : (W - iw) / 2;
  int64_t padY = spec.topLeft ? 0 : (H - ih) / 2;
  p.scaleX = static_cast<double>(iw) / sw;
  p.scaleY = static_cast<double>(ih) / sh;
  p.offsetX = static_cast<double>(padX);
  p.offsetY = static_cast<double>(padY);
  p.resizedW = p.windowW = iw;
  p.resizedH = p.windowH = ih;
  p.destX = padX;
  p.destY = padY;
  return p;
}

void fillBorder(float* out, int64_t W, int64_t H, const Placement& p, float value) {
  const int64_t top = p.destY;
  const int64_t bottom = p.destY + p.windowH;
  std::fill(out, out + top * W, value);
  std::fill(out + bottom * W, out + H * W, value);
  if (p.destX == 0 && p.windowW == W) return;
  for (int64_t y = top; y < bottom; y++) {
    float* row = out + y * W;
    std::fill(row, row + p.destX, value);
    std::fill(row + p.destX + p.windowW, row + W, value);
  }
}

}  // namespace

// letterboxInto(src, srcW, srcH, spec, inputW, inputH, dst, offset = 0, sourceW = srcW, sourceH = srcH): Geometry
Napi::Value LetterboxInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = u8Arg(info, 0, "src");
  const int64_t w = dimArg(info, 1, "srcW");
  const int64_t h = dimArg(info, 2, "srcH");
  checkLength(env, src.length, w, h, 3, "src", false);
  const Spec spec = parseSpec(env, info[3]);
  const int64_t W = dimArg(info, 4, "inputW");
  const int64_t H = dimArg(info, 5, "inputH");
  auto dst = f32Arg(info, 6, "dst");
  const int64_t offset = static_cast<int64_t>(numArg(info, 7, "offset", 0, 9007199254740991.0, true, true, 0));
  const int64_t sw = info[8].IsUndefined() ? w : dimArg(info, 8, "sourceW");
  const int64_t sh = info[9].IsUndefined() ? h : dimArg(info, 9, "sourceH");
  const int channels = spec.colour == 2 ? 1 : 3;
  const int64_t size = channels * W * H;
  if (static_cast<int64_t>(dst.length) < offset + size) {
    throwRange(env, "Expected an output of at least " + std::to_string(offset + size) + " floats but received " +
                        std::to_string(dst.length));
  }
  const Placement p = plan(env, spec, sw, sh, W, H);

  const uint8_t* px;
  size_t stride;
  int64_t srcX, srcY;
  std::vector<uint8_t> scratch;
  if (w == p.resizedW && h == p.resizedH) {
    px = src.data;
    stride = static_cast<size_t>(w) * 3;
    srcX = p.windowX;
    srcY = p.windowY;
  } else {
    AxisTable xt, yt;
    axisTable(xt, w, p.resizedW, p.windowX, p.windowW, 3);
    axisTable(yt, h, p.resizedH, p.windowY, p.windowH, 1);
    scratch.resize(static_cast<size_t>(p.windowW * p.windowH * 3));
    resampleBgr(src.data, static_cast<size_t>(w) * 3, 0, xt, yt, scratch.data());
    px = scratch.data();
    stride = static_cast<size_t>(p.windowW) * 3;
    srcX = 0;
    srcY = 0;
  }

  float* out = dst.data + offset;
  const bool covers = p.destX == 0 && p.destY == 0 && p.windowW == W && p.windowH == H;
  const double scale = spec.scale;
  if (channels == 1) {
    const float pad = static_cast<float>((spec.padValue * scale - spec.mean[0]) / spec.std[0]);
    if (!covers) std::fill(out, out + size, pad);
    const double k = scale / spec.std[0];
    const double m = spec.mean[0] / spec.std[0];
    for (int64_t y = 0; y < p.windowH; y++) {
      const uint8_t* s = px + (srcY + y) * stride + srcX * 3;
      float* o = out + (p.destY + y) * W + p.destX;
      for (int64_t x = 0; x < p.windowW; x++, s += 3) {
        o[x] = static_cast<float>((0.114 * s[0] + 0.587 * s[1] + 0.299 * s[2]) * k - m);
      }
    }
  } else {
    const int order[3] = {spec.colour == 1 ? 2 : 0, 1, spec.colour == 1 ? 0 : 2};
    float lut[3][256];
    float pads[3];
    for (int c = 0; c < 3; c++) {
      for (int v = 0; v < 256; v++) lut[c][v] = static_cast<float>((v * scale - spec.mean[c]) / spec.std[c]);
      pads[c] = static_cast<float>((spec.padValue * scale - spec.mean[c]) / spec.std[c]);
    }
    const int b0 = order[0], b1 = order[1], b2 = order[2];
    if (!spec.nhwc) {
      const int64_t plane = W * H;
      if (!covers)
        for (int c = 0; c < 3; c++) fillBorder(out + c * plane, W, H, p, pads[c]);
      float* o0 = out;
      float* o1 = out + plane;
      float* o2 = out + 2 * plane;
      for (int64_t y = 0; y < p.windowH; y++) {
        const uint8_t* s = px + (srcY + y) * stride + srcX * 3;
        const int64_t o = (p.destY + y) * W + p.destX;
        for (int64_t x = 0; x < p.windowW; x++, s += 3) {
          o0[o + x] = lut[0][s[b0]];
          o1[o + x] = lut[1][s[b1]];
          o2[o + x] = lut[2][s[b2]];
        }
      }
    } else {
      if (!covers) {
        for (int64_t i = 0; i < W * H; i++) {
          out[3 * i] = pads[0];
          out[3 * i + 1] = pads[1];
          out[3 * i + 2] = pads[2];
        }
      }
      for (int64_t y = 0; y < p.windowH; y++) {
        const uint8_t* s = px + (srcY + y) * stride + srcX * 3;
        float* o = out + ((p.destY + y) * W + p.destX) * 3;
        for (int64_t x = 0; x < p.windowW; x++, s += 3, o += 3) {
          o[0] = lut[0][s[b0]];
          o[1] = lut[1][s[b1]];
          o[2] = lut[2][s[b2]];
        }
      }
    }
  }

  Napi::Object g = Napi::Object::New(env);
  g.Set("scaleX", p.scaleX);
  g.Set("scaleY", p.scaleY);
  g.Set("offsetX", p.offsetX);
  g.Set("offsetY", p.offsetY);
  g.Set("sourceWidth", static_cast<double>(sw));
  g.Set("sourceHeight", static_cast<double>(sh));
  g.Set("inputWidth", static_cast<double>(W));
  g.Set("inputHeight", static_cast<double>(H));
  return g;
}

}  // namespace sightline
