/**
 * The weight table of the NLM denoiser (edge/src/enhance/denoise.ts). The native kernel is handed this very table
 * (V8's Math.exp) rather than building its own from the C library's exp, which differs in the last bit for about
 * 280 of its 3072 entries: with one table both give the same bytes.
 */
export const NLM_LUT_STEPS = 256;
export const NLM_LUT_SIZE = 12 * NLM_LUT_STEPS;
/** NLM_EXP_LUT[i] = exp(-(i + 0.5) / NLM_LUT_STEPS): the weight for D / h^2 in [i, i + 1) / NLM_LUT_STEPS. */
export const NLM_EXP_LUT: Float64Array = Float64Array.from({ length: NLM_LUT_SIZE }, (_, i) =>
  Math.exp(-(i + 0.5) / NLM_LUT_STEPS),
);
