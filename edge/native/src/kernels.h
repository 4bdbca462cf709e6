#pragma once
#include <napi.h>

namespace sightline {

Napi::Value LetterboxInto(const Napi::CallbackInfo& info);
Napi::Value CropResize(const Napi::CallbackInfo& info);
Napi::Value DenoiseNlm(const Napi::CallbackInfo& info);
Napi::Value BgrToYcbcr(const Napi::CallbackInfo& info);
Napi::Value MotionMask(const Napi::CallbackInfo& info);

}  // namespace sightline
