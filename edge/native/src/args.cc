#include "args.h"

#include <cmath>
#include <sstream>

namespace sightline {

std::string describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
      return "a boolean";
    case napi_number: {
      std::ostringstream s;
      s << "the number " << v.As<Napi::Number>().DoubleValue();
      return s.str();
    }
    case napi_string:
      return "a string";
    case napi_symbol:
      return "a symbol";
    case napi_function:
      return "a function";
    case napi_bigint:
      return "a bigint";
    default:
      break;
  }
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array:
        return "an Int8Array";
      case napi_uint8_array:
        return "a Uint8Array";
      case napi_uint8_clamped_array:
        return "a Uint8ClampedArray";
      case napi_int16_array:
        return "an Int16Array";
      case napi_uint16_array:
        return "a Uint16Array";
      case napi_int32_array:
        return "an Int32Array";
      case napi_uint32_array:
        return "a Uint32Array";
      case napi_float32_array:
        return "a Float32Array";
      case napi_float64_array:
        return "a Float64Array";
      default:
        return "a typed array";
    }
  }
  if (v.IsArray()) return "an array";
  if (v.IsArrayBuffer()) return "an ArrayBuffer";
  return "an object";
}

void throwType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
void throwRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

Span<uint8_t> u8Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array || ta.TypedArrayType() == napi_uint8_clamped_array) {
      auto a = v.As<Napi::Uint8Array>();
      return {a.Data(), a.ElementLength()};
    }
  }
  throwType(info.Env(), std::string("Expected a Uint8Array for ") + name + " but received " + describe(v));
}

Span<float> f32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    auto a = v.As<Napi::Float32Array>();
    return {a.Data(), a.ElementLength()};
  }
  throwType(info.Env(), std::string("Expected a Float32Array for ") + name + " but received " + describe(v));
}

double numValue(Napi::Env env, const Napi::Value& v, const std::string& name, double min, double max, bool integer) {
  if (!v.IsNumber()) throwType(env, "Expected a number for " + name + " but received " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max || (integer && std::floor(d) != d)) {
    std::ostringstream s;
    s << "Expected " << (integer ? "an integer" : "a finite number") << " in [" << min << ", " << max << "] for "
      << name << " but received " << d;
    throwRange(env, s.str());
  }
  return d;
}

double numArg(const Napi::CallbackInfo& info, size_t i, const char* name, double min, double max, bool integer,
              bool optional, double fallback) {
  Napi::Value v = info[i];
  if (optional && v.IsUndefined()) return fallback;
  return numValue(info.Env(), v, name, min, max, integer);
}

uint32_t dimArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return static_cast<uint32_t>(numArg(info, i, name, 1, kMaxSide, true));
}

void checkLength(Napi::Env env, size_t have, uint64_t w, uint64_t h, uint64_t channels, const char* name, bool exact) {
  uint64_t need = w * h * channels;
  if (exact ? have != need : have < need) {
    std::ostringstream s;
    s << "Expected " << name << " to hold " << (exact ? "" : "at least ") << w << "x" << h << "x" << channels << " = "
      << need << " elements but it holds " << have;
    throwRange(env, s.str());
  }
}

}  // namespace sightline
