/**
 * The hot pixel kernels, native when @sightline/native (edge/native, N-API C++) is built, TypeScript otherwise.
 * `kernels` is the one to use; `nativeKernels` is the native set or undefined; `kernelsDescription` is one line
 * for logs. SIGHTLINE_NATIVE=0 in the environment forces the TypeScript kernels; SIGHTLINE_NATIVE_PATH=<file.node>
 * loads that build of the addon instead (the sanitizer build). See docs/native.md.
 */
import { type NativeSelection, nativeSelection, selectNative } from './load.ts';
import { tsKernels } from './ts-kernels.ts';
import type { Kernels } from './types.ts';

export { NATIVE_ABI_VERSION, type NativeBinding, wrapBinding } from './binding.ts';
export { nativeKernels } from './load.ts';
export { motionMask } from './motion.ts';
export { MAX_CROP_SIDE, tsKernels } from './ts-kernels.ts';
export type { CropBatch, CropBoxes, Kernels, MotionOptions, MotionResult } from './types.ts';

/** The outcome of looking for the addon. */
export interface KernelSelection {
  kernels: Kernels;
  native: Kernels | undefined;
  /** One line for logs: which kernels and why. */
  description: string;
}

/** Pick the kernels for `env` (SIGHTLINE_NATIVE=0: TypeScript; SIGHTLINE_NATIVE_PATH: that build of the addon). */
export function selectKernels(env: NodeJS.ProcessEnv = process.env): KernelSelection {
  return toSelection(selectNative(env));
}

function toSelection(s: NativeSelection): KernelSelection {
  if (!s.native) {
    return { kernels: tsKernels, native: undefined, description: `pixel kernels: TypeScript (${s.reason})` };
  }
  return { kernels: s.native, native: s.native, description: s.description };
}

// The module's choice is the one ./load.ts made at import, which edge/src/enhance/denoise.ts also follows.
const selected = toSelection(nativeSelection);

/** Native kernels when available, TypeScript otherwise. */
export const kernels: Kernels = selected.kernels;
/** Which kernels `kernels` is, in one line for logs. */
export const kernelsDescription: string = selected.description;
