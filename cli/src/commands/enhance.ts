/** `sightline enhance in.mp4 out.mp4`: denoise, white-balance, stretch contrast and/or super-resolve a video. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { enhanceVideo, kernels, openSuperResolution } from '@sightline/edge';
import { numberFlag } from '../flags.ts';
import { LOG_USAGE } from '../logging.ts';
import { ProgressBar } from '../progress.ts';
import { UsageError } from '../usage-error.ts';

export const ENHANCE_USAGE = `Usage: sightline enhance <in> <out.mp4> [--denoise] [--white-balance] [--contrast] [--sr] [options]

  --denoise           non-local means denoising (fast integral-image variant; luma weights on B, G, R)
  --denoise-h <h>     its filter strength on the 0..255 scale (default 10; about the noise sigma for heavy noise)
  --white-balance     automatic white balance (gray-world on the mid-tones: clipped and extreme pixels left out)
  --contrast          contrast stretch (1st..99th luma percentile) with an automatic gamma toward mid-grey
  --sr                x3 super-resolution of the luma with super_resolution.onnx (Cb/Cr bicubic); proves the
                      plumbing more than quality: on real photos this model is 2-3 dB below plain bicubic
  --frames <n>        stop after n frames (default: all)
  --crf <n>           x264 quality, 0 (best) .. 51 (default 18)
  --models-dir <dir>  directory holding the model files (default $MODELS_DIR or models/cache)
${LOG_USAGE}
Reads any video FFmpeg decodes, runs the chosen steps in the order above on every frame and writes H.264
(libx264, yuv420p) in MP4 at the input's frame rate, with a progress bar on stderr. At least one step is needed.

Exit codes:
  0   written
  1   the input cannot be read or decoded, the model is missing, or the output cannot be written
  2   usage error (unknown flag, bad flag value, no step chosen)
`;

export async function runEnhance(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      denoise: { type: 'boolean', default: false },
      'denoise-h': { type: 'string' },
      'white-balance': { type: 'boolean', default: false },
      contrast: { type: 'boolean', default: false },
      sr: { type: 'boolean', default: false },
      frames: { type: 'string' },
      crf: { type: 'string' },
      'models-dir': { type: 'string' },
    },
  });
  const [input, output, extra] = positionals;
  if (!input || !output) throw new UsageError('enhance needs an input video and an output .mp4', 'enhance');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`, 'enhance');
  if (!/\.mp4$/i.test(output))
    throw new UsageError(`the output must be an .mp4 file, got "${output}"`, 'enhance');
  if (resolve(input) === resolve(output)) throw new UsageError('the output must not be the input', 'enhance');
  if (!existsSync(dirname(resolve(output)))) {
    throw new UsageError(`the output folder ${dirname(resolve(output))} does not exist`, 'enhance');
  }
  if (!values.denoise && !values['white-balance'] && !values.contrast && !values.sr) {
    throw new UsageError('choose at least one of --denoise, --white-balance, --contrast, --sr', 'enhance');
  }
  const h = numberFlag(
    'enhance',
    'denoise-h',
    values['denoise-h'],
    'a number 0.5..100',
    (n) => n >= 0.5 && n <= 100,
  );
  const frames = numberFlag(
    'enhance',
    'frames',
    values.frames,
    'a positive integer',
    (n) => Number.isInteger(n) && n > 0,
  );
  const crf = numberFlag(
    'enhance',
    'crf',
    values.crf,
    'an integer 0..51',
    (n) => Number.isInteger(n) && n >= 0 && n <= 51,
  );
  // Throws ModelError (exit 1) when the model is unknown or not fetched.
  const session = values.sr ? await openSuperResolution(values['models-dir']) : undefined;
  const bar = new ProgressBar(process.stderr);
  const t0 = performance.now();
  try {
    const result = await enhanceVideo(input, output, {
      ...(values.denoise ? { denoise: h !== undefined ? { h } : true } : {}),
      // The native kernel when the addon is built, else the TypeScript one.
      denoiser: (image, options) => kernels.denoiseNlm(image, options),
      whiteBalance: values['white-balance'],
      contrast: values.contrast,
      ...(session ? { superResolution: session } : {}),
      ...(frames ? { maxFrames: frames } : {}),
      ...(crf !== undefined ? { crf } : {}),
      onProgress: (done, total) =>
        bar.update(
          total ? Math.min(done, total) - 1 : 0,
          total || 1,
          total ? 1 : 0,
          `frame ${done}${total ? ` of ${total}` : ''}`,
        ),
    });
    bar.done();
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(
      `${output}: ${result.frames} frames, ${result.width}x${result.height}, ${result.fps.toFixed(2)} fps, H.264 MP4 (${s.toFixed(1)} s, ${(result.frames / s).toFixed(1)} frames/s)\n`,
    );
    return 0;
  } finally {
    bar.done();
    await session?.release();
  }
}
