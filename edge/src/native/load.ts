/**
 * Loading @sightline/native: the addon (or the build SIGHTLINE_NATIVE_PATH names) wrapped as Kernels, or why not.
 * Kept apart from ./index.ts so that the TypeScript kernels (edge/src/enhance/denoise.ts) can dispatch to the
 * native ones without an import cycle: nothing here imports the TypeScript kernels.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { NATIVE_ABI_VERSION, type NativeBinding, wrapBinding } from './binding.ts';
import type { Kernels } from './types.ts';

const FUNCTIONS = ['letterboxInto', 'cropResize', 'denoiseNlm', 'bgrToYcbcr', 'motionMask'] as const;

/** The native kernels for `env`, or why they are not used (SIGHTLINE_NATIVE=0, not built, stale). */
export type NativeSelection =
  | { native: Kernels; description: string }
  | { native: undefined; reason: string };

/** The addon module or why it is not usable. SIGHTLINE_NATIVE_PATH: load that .node file instead. */
function loadBinding(env: NodeJS.ProcessEnv): { binding: NativeBinding } | { reason: string } {
  const path = env.SIGHTLINE_NATIVE_PATH ? resolve(env.SIGHTLINE_NATIVE_PATH) : undefined;
  let mod: NativeBinding;
  try {
    mod = createRequire(import.meta.url)(path ?? '@sightline/native') as NativeBinding;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return {
      reason: path
        ? `SIGHTLINE_NATIVE_PATH ${path} does not load (${msg})`
        : `@sightline/native is not built (${msg})`,
    };
  }
  if (mod?.abiVersion !== NATIVE_ABI_VERSION || FUNCTIONS.some((f) => typeof mod[f] !== 'function')) {
    return {
      reason: `${path ?? '@sightline/native'} is stale (abi ${mod?.abiVersion}, want ${NATIVE_ABI_VERSION}): rebuild it with npm run build -w @sightline/native`,
    };
  }
  return { binding: mod };
}

/** Look for the native kernels as `env` says (SIGHTLINE_NATIVE=0: none; SIGHTLINE_NATIVE_PATH: that build). */
export function selectNative(env: NodeJS.ProcessEnv = process.env): NativeSelection {
  if (env.SIGHTLINE_NATIVE === '0') return { native: undefined, reason: 'SIGHTLINE_NATIVE=0' };
  const loaded = loadBinding(env);
  if ('reason' in loaded) return { native: undefined, reason: loaded.reason };
  const from = env.SIGHTLINE_NATIVE_PATH ? ` from ${resolve(env.SIGHTLINE_NATIVE_PATH)}` : '';
  return {
    native: wrapBinding(loaded.binding),
    description: `pixel kernels: native (@sightline/native, N-API C++${from})`,
  };
}

/** This process's selection, made once when the module loads. */
export const nativeSelection: NativeSelection = selectNative();

/** The native kernels when the addon loaded (and SIGHTLINE_NATIVE is not 0), else undefined. */
export const nativeKernels: Kernels | undefined = nativeSelection.native;
