// Sightline native kernels: module registration. Every entry point runs inside guard(), which turns C++
// exceptions other than JavaScript errors (std::bad_alloc for an absurd size) into a JavaScript RangeError/Error
// instead of terminating the process.
#include <napi.h>

#include <new>
#include <stdexcept>

#include "kernels.h"

namespace sightline {
namespace {

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guard(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "Out of memory for the requested image sizes");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("letterboxInto", Napi::Function::New(env, guard<LetterboxInto>, "letterboxInto"));
  exports.Set("cropResize", Napi::Function::New(env, guard<CropResize>, "cropResize"));
  exports.Set("denoiseNlm", Napi::Function::New(env, guard<DenoiseNlm>, "denoiseNlm"));
  exports.Set("bgrToYcbcr", Napi::Function::New(env, guard<BgrToYcbcr>, "bgrToYcbcr"));
  exports.Set("motionMask", Napi::Function::New(env, guard<MotionMask>, "motionMask"));
  // NATIVE_ABI_VERSION of edge/src/native/binding.ts. 2: denoiseNlm takes the weight table (expLut).
  exports.Set("abiVersion", Napi::Number::New(env, 2));
  return exports;
}

}  // namespace
}  // namespace sightline

static Napi::Object InitSightline(Napi::Env env, Napi::Object exports) { return sightline::Init(env, exports); }

NODE_API_MODULE(sightline_native, InitSightline)
