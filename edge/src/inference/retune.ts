/**
 * Re-tuning at start: when the stored tuning of a model on this host was measured for another model file or
 * another provider (`findTuning` calls it stale), the edge or worker measures the layouts again before it starts,
 * stores the result and starts with it, instead of running on defaults until someone re-runs `sightline tune`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionProvider, InferenceConfig, ModelEntry } from '@sightline/shared';
import type { ImageBuffer } from '../frame.ts';
import { loadImageBgr } from '../media/image.ts';
import type { LoadedModel } from '../models/load.ts';
import type { InferenceBackendFactory } from './backend.ts';
import { InferencePool } from './inference-pool.ts';
import {
  describeLayout,
  findTuning,
  type InferenceInput,
  LAYOUT_FIELDS,
  storeTuning,
  type Tuning,
  type TuningLog,
  withStoredTuning,
} from './tuning.ts';
import { runTuning } from './tuning-run.ts';

/** Options of retuneIfStale. */
export interface RetuneOptions {
  /** Where stored tunings are. Default defaultStateDir() ($SIGHTLINE_STATE_DIR or ~/.cache/sightline). */
  stateDir?: string;
  /** Seconds each layout is measured. Default 1 (`sightline tune` defaults to 3). */
  seconds?: number;
  /** Starts a backend for each layout. Default InferencePool.create. */
  factory?: InferenceBackendFactory;
  /** The image the frames copy. Default tuneImage(). */
  image?: ImageBuffer;
  log?: TuningLog;
}

/** A 640x480 BGR test pattern (gradients and blocks), for hosts without the sample media. */
export function syntheticImage(width = 640, height = 480): ImageBuffer {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const block = ((x >> 5) + (y >> 5)) & 1 ? 60 : 0;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = 128 + block;
    }
  }
  return { data, width, height };
}

/** What tuning measures on: $SIGHTLINE_MEDIA_DIR/bus.jpg when present, else the synthetic pattern. */
export function tuneImage(): ImageBuffer {
  const bus = join(process.env.SIGHTLINE_MEDIA_DIR ?? '', 'bus.jpg');
  return process.env.SIGHTLINE_MEDIA_DIR && existsSync(bus) ? loadImageBgr(bus) : syntheticImage();
}

/**
 * When `inference` (as written) leaves the layout to a stored tuning and the one stored for this host and model is
 * stale (another model file or provider), measure again, store it and return it; undefined otherwise (nothing
 * stored, a current tuning, explicit layout fields, or no layout could run: the model then starts on defaults).
 */
export async function retuneIfStale(
  model: Pick<LoadedModel, 'entry' | 'path' | 'labels'>,
  inference: InferenceInput | undefined,
  options: RetuneOptions = {},
): Promise<Tuning | undefined> {
  if (LAYOUT_FIELDS.some((f) => inference?.[f] !== undefined)) return undefined;
  const provider: ExecutionProvider = inference?.providers?.[0] ?? 'cpu';
  const found = findTuning(model.entry, provider, options.stateDir ? { stateDir: options.stateDir } : {});
  if (!found.stale) return undefined;
  const { log } = options;
  const seconds = options.seconds ?? 1;
  const budgetMs = found.stale.tuning.budgetMs;
  log?.warn(
    { model: model.entry.id, provider },
    `re-tuning ${model.entry.id} on ${provider} before it starts: ${found.stale.reason} (${seconds} s per layout)`,
  );
  const { tuning, table } = await runTuning({
    entry: model.entry,
    modelPath: model.path,
    labels: model.labels,
    provider,
    image: options.image ?? tuneImage(),
    seconds,
    budgetMs,
    factory: options.factory ?? ((o) => InferencePool.create(o)),
  });
  if (!tuning) {
    const why = table.find((r) => r.error)?.error ?? 'no call finished';
    log?.warn(
      { model: model.entry.id, provider },
      `re-tuning found no layout that runs (${why}); starting on defaults`,
    );
    return undefined;
  }
  storeTuning(tuning, options.stateDir);
  log?.info(
    { model: model.entry.id, provider, layout: tuning.layout },
    `re-tuned ${model.entry.id} on ${provider}: ${describeLayout(tuning.layout)}`,
  );
  return tuning;
}

/**
 * The inference settings and model entry a runtime starts a model with: with `inferenceInput` (the config as
 * written), a stale stored tuning is measured again first (unless retuneStale is false), then the stored tuning
 * fills the layout the config leaves unset (withStoredTuning). Without it, `inference` as it is.
 */
export async function startingLayout(
  model: Pick<LoadedModel, 'entry' | 'path' | 'labels'>,
  inference: InferenceConfig,
  options: {
    inferenceInput?: InferenceInput;
    stateDir?: string;
    retuneStale?: boolean;
    inferenceBackend?: InferenceBackendFactory;
  },
  log?: TuningLog,
): Promise<{ inference: InferenceConfig; entry: ModelEntry }> {
  if (options.inferenceInput && options.retuneStale !== false) {
    await retuneIfStale(model, options.inferenceInput, {
      ...(options.stateDir ? { stateDir: options.stateDir } : {}),
      ...(options.inferenceBackend ? { factory: options.inferenceBackend } : {}),
      ...(log ? { log } : {}),
    });
  }
  return withStoredTuning(model.entry, inference, options, log);
}
