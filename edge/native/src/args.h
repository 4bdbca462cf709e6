// Argument checking for the kernels: every entry point validates its arguments and throws a TypeError (wrong type)
// or RangeError (bad value) with a message naming the argument, so bad input never reaches the pixel loops.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sightline {

template <typename T>
struct Span {
  T* data;
  size_t length;
};

// Largest width or height any kernel accepts (also keeps every size product far below 2^63).
constexpr double kMaxSide = 1 << 20;

std::string describe(const Napi::Value& v);
[[noreturn]] void throwType(Napi::Env env, const std::string& msg);
[[noreturn]] void throwRange(Napi::Env env, const std::string& msg);

Span<uint8_t> u8Arg(const Napi::CallbackInfo& info, size_t i, const char* name);
Span<float> f32Arg(const Napi::CallbackInfo& info, size_t i, const char* name);
// A finite number in [min, max] (an integer when `integer`); `fallback` when undefined and `optional`.
double numArg(const Napi::CallbackInfo& info, size_t i, const char* name, double min, double max, bool integer,
              bool optional = false, double fallback = 0);
double numValue(Napi::Env env, const Napi::Value& v, const std::string& name, double min, double max, bool integer);
uint32_t dimArg(const Napi::CallbackInfo& info, size_t i, const char* name);
// Throw unless `have` >= w * h * channels (or == when `exact`).
void checkLength(Napi::Env env, size_t have, uint64_t w, uint64_t h, uint64_t channels, const char* name, bool exact);

}  // namespace sightline
