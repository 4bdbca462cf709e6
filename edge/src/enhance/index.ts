/** Image enhancement kernels over packed BGR24: NLM denoising, white balance, contrast/gamma, x3 super-resolution. */
export {
  autoContrast,
  type ContrastOptions,
  gammaCorrect,
  type WhiteBalanceOptions,
  whiteBalance,
  whiteBalanceGains,
} from './colour.ts';
export { type DenoiseOptions, denoiseNlm } from './denoise.ts';
export {
  bgrToYcbcr,
  SR_TILE,
  SR_TILE_OUT,
  type SuperResolutionOptions,
  type SuperResolutionRunner,
  type SuperResolutionSession,
  superResolveLumaX3,
  superResolveX3,
  upscaleBicubicX3,
  upscalePlaneBicubicX3,
  type YCbCrPlanes,
  ycbcrToBgr,
} from './super-resolution.ts';
export {
  type EnhanceSteps,
  type EnhanceVideoOptions,
  type EnhanceVideoResult,
  enhanceImage,
  enhanceVideo,
  openSuperResolution,
} from './video.ts';
