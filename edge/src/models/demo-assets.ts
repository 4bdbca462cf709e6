/**
 * Make sure the demo's files are on disk, downloading what is missing: the detector and its labels, the re-ID model
 * (appearance embeddings for "find this person") and the sample videos, one stream each.
 */
import { type EnsureResult, ensureAvailable } from './fetch.ts';
import {
  type CatalogueDirs,
  type CatalogueItem,
  findMedia,
  itemsForModel,
  loadManifest,
  mediaPath,
} from './manifest.ts';
import type { ProgressStream } from './progress.ts';

/** Options for ensureDemoAssets. */
export interface DemoAssetsOptions extends CatalogueDirs {
  /** Model id. Default the manifest's defaultModel. */
  model?: string;
  /** Media ids, or false for none (the user gave sources). Default the manifest's demoMedia (else defaultMedia). */
  media?: string | readonly string[] | false;
  /** Re-ID model id, or false for none. Default the manifest's demoReidModel (none when it names none). */
  reidModel?: string | false;
  /** Manifest file. Default <repo>/models/manifest.json. */
  manifestPath?: string;
  /** Where download progress goes; false for none. Default process.stderr. */
  progress?: ProgressStream | false;
  /** Download inactivity timeout. Default 30000 ms. */
  timeoutMs?: number;
}

/** The demo's files, verified and in place. */
export interface DemoAssets {
  modelId: string;
  modelPath: string;
  /** Re-ID model id, when one was asked for. */
  reidModelId?: string;
  /** The sample videos in order; empty when media was false. */
  media: { id: string; path: string }[];
  /** One entry per file: present or fetched. */
  results: EnsureResult[];
}

/** Verify the demo's files and fetch the missing or corrupt ones (FETCH_FAILED / MODEL_CHECKSUM on failure). */
export async function ensureDemoAssets(options: DemoAssetsOptions = {}): Promise<DemoAssets> {
  const manifest = await loadManifest(options.manifestPath);
  const dirs: CatalogueDirs = { modelsDir: options.modelsDir, mediaDir: options.mediaDir };
  const modelId = options.model ?? manifest.defaultModel;
  const items = itemsForModel(manifest, modelId, dirs);
  const modelPath = items[0]!.path;
  const reidModelId = options.reidModel === false ? undefined : (options.reidModel ?? manifest.demoReidModel);
  if (reidModelId !== undefined) items.push(...itemsForModel(manifest, reidModelId, dirs));
  const mediaIds =
    options.media === false
      ? []
      : typeof options.media === 'string'
        ? [options.media]
        : (options.media ?? manifest.demoMedia ?? [manifest.defaultMedia]);
  const mediaItems: CatalogueItem[] = mediaIds.map((id) => {
    const entry = findMedia(manifest, id);
    return { kind: 'media', entry, path: mediaPath(entry, dirs.mediaDir) };
  });
  items.push(...mediaItems);
  const results = await ensureAvailable(items, { progress: options.progress, timeoutMs: options.timeoutMs });
  return {
    modelId,
    modelPath,
    ...(reidModelId !== undefined ? { reidModelId } : {}),
    media: mediaItems.map((m) => ({ id: m.entry.id, path: m.path })),
    results,
  };
}
