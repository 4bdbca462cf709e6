/** Decoder choices shared by the config schema and the decode workers (a subpath, so workers need not load zod). */

/** What `decoder.hwaccel` may ask for. */
export const HWACCELS = ['auto', 'cuda', 'vaapi', 'videotoolbox', 'none'] as const;
export type Hwaccel = (typeof HWACCELS)[number];
