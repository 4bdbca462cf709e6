/**
 * The hot pixel kernels, native when @sightline/native (edge/native, N-API C++) is built, TypeScript otherwise.
 * `kernels` is the one to use; `nativeKernels` is the native set or undefined; `kernelsDescription` is one line
 * for logs. SIGHTLINE_NATIVE=0 in the environment forces the TypeScript kernels. See docs/native.md.
 */
import { createRequire } from 'node:module';
import { NATIVE_ABI_VERSION, type NativeBinding, wrapBinding } from './binding.ts';
import { tsKernels } from './ts-kernels.ts';
import type { Kernels } from './types.ts';

export { NATIVE_ABI_VERSION, type NativeBinding, wrapBinding } from './binding.ts';
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

const FUNCTIONS = ['letterboxInto', 'cropResize', 'denoiseNlm', 'bgrToYcbcr', 'motionMask'] as const;

/** The addon module or why it is not usable. */
function loadBinding(): { binding: NativeBinding } | { reason: string } {
  let mod: NativeBinding;
  try {
    mod = createRequire(import.meta.url)('@sightline/native') as NativeBinding;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { reason: `@sightline/native is not built (${msg})` };
  }
  if (mod?.abiVersion !== NATIVE_ABI_VERSION || FUNCTIONS.some((f) => typeof mod[f] !== 'function')) {
    return {
      reason: `@sightline/native is stale (abi ${mod?.abiVersion}, want ${NATIVE_ABI_VERSION}): rebuild it with npm run build -w @sightline/native`,
    };
  }
  return { binding: mod };
}

/** Pick the kernels for `env` (SIGHTLINE_NATIVE=0: TypeScript); the module does this once at import. */
export function selectKernels(env: NodeJS.ProcessEnv = process.env): KernelSelection {
  if (env.SIGHTLINE_NATIVE === '0') {
    return {
      kernels: tsKernels,
      native: undefined,
      description: 'pixel kernels: TypeScript (SIGHTLINE_NATIVE=0)',
    };
  }
  const loaded = loadBinding();
  if ('reason' in loaded) {
    return {
      kernels: tsKernels,
      native: undefined,
      description: `pixel kernels: TypeScript (${loaded.reason})`,
    };
  }
  const native = wrapBinding(loaded.binding);
  return { kernels: native, native, description: 'pixel kernels: native (@sightline/native, N-API C++)' };
}

const selected = selectKernels();

/** The native kernels when the addon loaded (and SIGHTLINE_NATIVE is not 0), else undefined. */
export const nativeKernels: Kernels | undefined = selected.native;
/** Native kernels when available, TypeScript otherwise. */
export const kernels: Kernels = selected.kernels;
/** Which kernels `kernels` is, in one line for logs. */
export const kernelsDescription: string = selected.description;
