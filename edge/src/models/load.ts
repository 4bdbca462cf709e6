/** Resolve a model id to a verified file on disk plus its labels: what the runtime needs before it starts sessions. */
import type { Manifest, ModelEntry } from '@sightline/shared';
import { findModel, labelFileFor, loadManifest, modelPath, modelsDir, resolveLabels } from './manifest.ts';
import { verifyFile } from './verify.ts';

/** A model ready to hand to the inference pool. */
export interface LoadedModel {
  entry: ModelEntry;
  /** Absolute path of the verified .onnx file. */
  path: string;
  /** Class labels in output order; empty when the model has none (re-ID, super-resolution). */
  labels: readonly string[];
  manifest: Manifest;
}

/** Options for loadModel. */
export interface LoadModelOptions {
  /** Directory holding model files. Default modelsDir() ($MODELS_DIR or <repo>/models/cache). */
  modelsDir?: string;
  /** Manifest file to read. Default <repo>/models/manifest.json. */
  manifestPath?: string;
  /** An already loaded manifest (skips reading manifestPath). */
  manifest?: Manifest;
  /** Check size and sha256 of the model and label files. Default true. */
  verify?: boolean;
}

/**
 * Look the model up, verify its file (and its label file) and load its labels. Throws ModelError:
 * MODEL_UNKNOWN (no such id), MODEL_MISSING (not downloaded; the message gives the fetch command),
 * MODEL_CHECKSUM (corrupt), MODEL_INVALID (bad manifest or label file).
 */
export async function loadModel(id: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  if (typeof id !== 'string' || id === '') {
    throw new TypeError(`Expected a non-empty string for id but received ${String(id)} of type ${typeof id}`);
  }
  const manifest = options.manifest ?? (await loadManifest(options.manifestPath));
  const entry = findModel(manifest, id);
  const dir = options.modelsDir ?? modelsDir();
  const path = modelPath(entry, dir);
  if (options.verify ?? true) {
    await verifyFile(path, entry);
    const labelItem = labelFileFor(manifest, entry, { modelsDir: dir });
    if (labelItem) await verifyFile(labelItem.path, labelItem.entry);
  }
  const labels = (await resolveLabels(manifest, entry, { modelsDir: dir })) ?? [];
  return { entry, path, labels, manifest };
}
