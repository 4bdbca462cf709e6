/** The model catalogue: load and validate models/manifest.json, look entries up, and say where their files live. */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AssetEntry, Manifest, type ModelEntry, ModelError } from '@sightline/shared';
import { builtinLabels, loadLabelFile } from './labels.ts';

/** Repository root (three levels above this file: edge/src/models). */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Default manifest: `<repo>/models/manifest.json`. */
export const defaultManifestPath: string = join(repoRoot, 'models', 'manifest.json');

/** Which section of the manifest an entry comes from; models and files live in modelsDir(), media in mediaDir(). */
export type EntryKind = 'model' | 'file' | 'media';

/** Any entry with a file to fetch and verify. */
export type CatalogueEntry = ModelEntry | AssetEntry;

/** One entry of the catalogue together with where its file belongs on this machine. */
export interface CatalogueItem {
  kind: EntryKind;
  entry: CatalogueEntry;
  /** Absolute path of the file (modelsDir() or mediaDir() joined with entry.file). */
  path: string;
}

/** Directories for catalogue files; each defaults to modelsDir() / mediaDir(). */
export interface CatalogueDirs {
  /** Where models and label files live. Default modelsDir(). */
  modelsDir?: string;
  /** Where sample media live. Default mediaDir(). */
  mediaDir?: string;
}

/** Where model files live: $MODELS_DIR, or `<repo>/models/cache`. */
export function modelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MODELS_DIR ? resolve(env.MODELS_DIR) : join(repoRoot, 'models', 'cache');
}

/** Where sample media live: $SIGHTLINE_MEDIA_DIR, or `<repo>/media/cache`. */
export function mediaDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SIGHTLINE_MEDIA_DIR ? resolve(env.SIGHTLINE_MEDIA_DIR) : join(repoRoot, 'media', 'cache');
}

/** Absolute path of a model (or label) file in `dir` (default modelsDir()). */
export function modelPath(entry: CatalogueEntry, dir: string = modelsDir()): string {
  return resolve(dir, entry.file);
}

/** Absolute path of a media file in `dir` (default mediaDir()). */
export function mediaPath(entry: AssetEntry, dir: string = mediaDir()): string {
  return resolve(dir, entry.file);
}

/** "models[0].sha256" from a zod issue path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string[] {
  return issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

function invalid(source: string, problems: readonly string[]): ModelError {
  return new ModelError('MODEL_INVALID', `Invalid model manifest ${source}:\n  - ${problems.join('\n  - ')}`);
}

/** Cross-entry rules the schema cannot express: unique ids and references that resolve. */
function checkReferences(manifest: Manifest): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const sections = [
    ['models', manifest.models],
    ['files', manifest.files],
    ['media', manifest.media],
  ] as const;
  for (const [section, entries] of sections) {
    entries.forEach((entry, i) => {
      const where = `${section}[${i}].id`;
      const first = seen.get(entry.id);
      if (first) problems.push(`${where}: duplicate id "${entry.id}" (first used at ${first})`);
      else seen.set(entry.id, where);
    });
  }
  const modelIds = manifest.models.map((m) => m.id);
  if (!modelIds.includes(manifest.defaultModel)) {
    problems.push(
      `defaultModel: "${manifest.defaultModel}" is not a model id (known: ${modelIds.join(', ')})`,
    );
  }
  const mediaIds = manifest.media.map((m) => m.id);
  if (!mediaIds.includes(manifest.defaultMedia)) {
    problems.push(
      `defaultMedia: "${manifest.defaultMedia}" is not a media id (known: ${mediaIds.join(', ') || 'none'})`,
    );
  }
  (manifest.demoMedia ?? []).forEach((id, i) => {
    if (!mediaIds.includes(id)) {
      problems.push(`demoMedia[${i}]: "${id}" is not a media id (known: ${mediaIds.join(', ') || 'none'})`);
    }
  });
  const reidIds = manifest.models.filter((m) => m.task === 'reid').map((m) => m.id);
  if (manifest.demoReidModel !== undefined && !reidIds.includes(manifest.demoReidModel)) {
    problems.push(
      `demoReidModel: "${manifest.demoReidModel}" is not a re-ID model id (known: ${reidIds.join(', ') || 'none'})`,
    );
  }
  const fileIds = manifest.files.map((f) => f.id);
  manifest.models.forEach((model, i) => {
    if (model.labels !== undefined && !(model.labels in builtinLabels) && !fileIds.includes(model.labels)) {
      problems.push(
        `models[${i}].labels: "${model.labels}" is neither a built-in list (${Object.keys(builtinLabels).join(', ')}) nor a file id`,
      );
    }
    const batch = model.input.shape[0];
    if (batch !== -1 && model.maxBatch !== 1) {
      problems.push(`models[${i}].maxBatch: the input batch is fixed at ${batch}, so maxBatch must be 1`);
    }
  });
  return problems;
}

/** Parse and validate manifest text; errors are MODEL_INVALID naming `source` and each bad field's path. */
export function parseManifest(text: string, source = 'manifest'): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelError(
      'MODEL_INVALID',
      `Invalid model manifest ${source}: not JSON (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) throw invalid(source, formatIssues(parsed.error.issues));
  const problems = checkReferences(parsed.data);
  if (problems.length) throw invalid(source, problems);
  return parsed.data;
}

/** Read and validate a manifest file (default `<repo>/models/manifest.json`). */
export async function loadManifest(path: string = defaultManifestPath): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ModelError('MODEL_INVALID', `Cannot read model manifest ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseManifest(text, path);
}

function unknown(what: string, id: string, known: readonly string[]): ModelError {
  return new ModelError('MODEL_UNKNOWN', `Unknown ${what} "${id}"; known: ${known.join(', ')}`);
}

/** The model with this id; MODEL_UNKNOWN listing the known ids otherwise. */
export function findModel(manifest: Manifest, id: string): ModelEntry {
  const model = manifest.models.find((m) => m.id === id);
  if (!model)
    throw unknown(
      'model',
      id,
      manifest.models.map((m) => m.id),
    );
  return model;
}

/** The media entry with this id; MODEL_UNKNOWN listing the known media ids otherwise. */
export function findMedia(manifest: Manifest, id: string): AssetEntry {
  const media = manifest.media.find((m) => m.id === id);
  if (!media)
    throw unknown(
      'media',
      id,
      manifest.media.map((m) => m.id),
    );
  return media;
}

/** Every entry of the manifest (models, then files, then media) with its path on this machine. */
export function catalogue(manifest: Manifest, dirs: CatalogueDirs = {}): CatalogueItem[] {
  const mdir = dirs.modelsDir ?? modelsDir();
  const vdir = dirs.mediaDir ?? mediaDir();
  return [
    ...manifest.models.map((entry) => ({ kind: 'model' as const, entry, path: resolve(mdir, entry.file) })),
    ...manifest.files.map((entry) => ({ kind: 'file' as const, entry, path: resolve(mdir, entry.file) })),
    ...manifest.media.map((entry) => ({ kind: 'media' as const, entry, path: resolve(vdir, entry.file) })),
  ];
}

/** Catalogue items for these ids (any section), in the order given; MODEL_UNKNOWN naming every unknown id. */
export function selectItems(
  manifest: Manifest,
  ids: readonly string[],
  dirs: CatalogueDirs = {},
): CatalogueItem[] {
  const all = catalogue(manifest, dirs);
  const missing = ids.filter((id) => !all.some((item) => item.entry.id === id));
  if (missing.length) {
    throw new ModelError(
      'MODEL_UNKNOWN',
      `Unknown id${missing.length > 1 ? 's' : ''} ${missing.map((id) => `"${id}"`).join(', ')}; known: ${all
        .map((item) => item.entry.id)
        .join(', ')}`,
    );
  }
  return [...new Set(ids)].map((id) => all.find((item) => item.entry.id === id)!);
}

/** What a model needs on disk: the model file plus its label file when its labels are file-based. */
export function itemsForModel(manifest: Manifest, id: string, dirs: CatalogueDirs = {}): CatalogueItem[] {
  const model = findModel(manifest, id);
  const ids = [model.id];
  if (model.labels !== undefined && manifest.files.some((f) => f.id === model.labels)) ids.push(model.labels);
  return selectItems(manifest, ids, dirs);
}

/** The catalogue item of the label file a model uses, or undefined for built-in or no labels. */
export function labelFileFor(
  manifest: Manifest,
  model: ModelEntry,
  dirs: CatalogueDirs = {},
): CatalogueItem | undefined {
  if (model.labels === undefined || model.labels in builtinLabels) return undefined;
  return selectItems(manifest, [model.labels], dirs)[0];
}

/** A model's class labels: a built-in list, the lines of its label file, or undefined when it has none. */
export async function resolveLabels(
  manifest: Manifest,
  model: ModelEntry,
  dirs: CatalogueDirs = {},
): Promise<readonly string[] | undefined> {
  if (model.labels === undefined) return undefined;
  const builtin = builtinLabels[model.labels];
  if (builtin) return builtin;
  const item = labelFileFor(manifest, model, dirs);
  return item ? loadLabelFile(item.path) : undefined;
}
