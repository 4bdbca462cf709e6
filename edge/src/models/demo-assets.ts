/** Make sure the demo's model, its labels and its sample video are on disk, downloading what is missing. */
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
  /** Media id, or false for none (the user gave a source). Default the manifest's defaultMedia. */
  media?: string | false;
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
  /** Undefined when media was false. */
  mediaId?: string;
  mediaPath?: string;
  /** One entry per file: present or fetched. */
  results: EnsureResult[];
}

/** Verify the demo's files and fetch the missing or corrupt ones (FETCH_FAILED / MODEL_CHECKSUM on failure). */
export async function ensureDemoAssets(options: DemoAssetsOptions = {}): Promise<DemoAssets> {
  const manifest = await loadManifest(options.manifestPath);
  const dirs: CatalogueDirs = { modelsDir: options.modelsDir, mediaDir: options.mediaDir };
  const modelId = options.model ?? manifest.defaultModel;
  const items = itemsForModel(manifest, modelId, dirs);
  const mediaId = options.media === false ? undefined : (options.media ?? manifest.defaultMedia);
  let mediaItem: CatalogueItem | undefined;
  if (mediaId !== undefined) {
    const entry = findMedia(manifest, mediaId);
    mediaItem = { kind: 'media', entry, path: mediaPath(entry, dirs.mediaDir) };
  }
  if (mediaItem) items.push(mediaItem);
  const results = await ensureAvailable(items, { progress: options.progress, timeoutMs: options.timeoutMs });
  return {
    modelId,
    modelPath: items[0]!.path,
    ...(mediaItem ? { mediaId, mediaPath: mediaItem.path } : {}),
    results,
  };
}
