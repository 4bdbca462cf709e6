/** The options of non-local means denoising (own module: the native kernels' types take them too). */
/** Options for denoiseNlm. */
export interface DenoiseOptions {
  /** Filter strength on the 0..255 scale: larger removes more noise and more detail. Default 10. */
  h?: number;
  /** Side of the square patch compared around each pixel, odd, 1..9. Default 3. */
  patchSize?: number;
  /** Side of the square search window of candidate neighbours, odd, 3..21. Default 7. */
  searchSize?: number;
}
