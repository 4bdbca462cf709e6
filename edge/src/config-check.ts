/**
 * Checks of the config fields that name something else (a model in the manifest, a class label of the detector)
 * against what they name, so that a typo fails the start with a clear ConfigError ("did you mean person?")
 * instead of failing every frame later. EdgeRuntime.start() runs them before any stream starts, and
 * applyConfig() before it changes anything.
 */
import {
  ConfigError,
  type EdgeConfig,
  type Manifest,
  type ModelEntry,
  SOURCE_SCHEMES,
  type SourceScheme,
} from '@sightline/shared';
import { DETECTION_ADAPTERS } from './adapters/adapter.ts';
import { loadManifest, modelsDir, resolveLabels } from './models/manifest.ts';
import { sourceScheme } from './sources/source-url.ts';

/**
 * Edit distance between `a` and `b` (optimal string alignment: insertions, deletions, substitutions and swaps of
 * two neighbouring characters each count 1), ignoring case.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    const row = new Array<number>(t.length + 1).fill(0);
    row[0] = i;
    rows.push(row);
  }
  for (let j = 0; j <= t.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[s.length]![t.length]!;
}

/**
 * The names among `candidates` closest to `value` (at most `max`, nearest first, ties in candidate order): those
 * within an edit distance of a third of the longer name (at least 1), so "persn" finds "person" but "xyz" finds
 * nothing. A name that differs only in case always counts.
 */
export function closestNames(value: string, candidates: readonly string[], max = 3): string[] {
  const scored: { name: string; d: number; i: number }[] = [];
  candidates.forEach((name, i) => {
    if (name === value) return;
    const d = editDistance(value, name);
    const limit = Math.max(1, Math.floor(Math.max(value.length, name.length) / 3));
    if (d <= limit) scored.push({ name, d, i });
  });
  scored.sort((x, y) => x.d - y.d || x.i - y.i);
  return [...new Set(scored.map((s) => s.name))].slice(0, max);
}

/** `did you mean "person"?` (or `"a" or "b"`), or '' when no candidate is close. */
export function didYouMean(value: string, candidates: readonly string[]): string {
  const close = closestNames(value, candidates);
  if (close.length === 0) return '';
  const quoted = close.map((c) => `"${c}"`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
  return `did you mean ${list}?`;
}

/** What the config's names are checked against. */
export interface ConfigReferences {
  manifest: Manifest;
  /** The model detectorLabels belong to; a config naming another detector gets no class check from them. */
  detectorModel?: string;
  /**
   * The class labels of the detector model, in output order: null when the model has no label list; undefined
   * when they are not known here (no such model, or its label file is not on this machine): then
   * detector.classes and reid.classes are not checked (loading the model reports what is missing).
   */
  detectorLabels?: readonly string[] | null;
}

/** Where to find the manifest and the label files for loadConfigReferences. */
export interface ConfigReferenceOptions {
  /** An already loaded manifest. Default: read manifestPath. */
  manifest?: Manifest;
  /** Default <repo>/models/manifest.json. */
  manifestPath?: string;
  /** Where label files live. Default config.modelsDir, else modelsDir(). */
  modelsDir?: string;
}

/** Load the manifest and the detector's labels: what checkConfigReferences needs for `config`. */
export async function loadConfigReferences(
  config: EdgeConfig,
  options: ConfigReferenceOptions = {},
): Promise<ConfigReferences> {
  const manifest = options.manifest ?? (await loadManifest(options.manifestPath));
  const entry = manifest.models.find((m) => m.id === config.detector.model);
  if (!entry) return { manifest };
  if (entry.labels === undefined) return { manifest, detectorModel: entry.id, detectorLabels: null };
  const dir = options.modelsDir ?? config.modelsDir ?? modelsDir();
  try {
    const labels = await resolveLabels(manifest, entry, { modelsDir: dir });
    return { manifest, detectorModel: entry.id, detectorLabels: labels ?? null };
  } catch {
    // The label file is missing or unreadable: loading the model says so (MODEL_MISSING with the fetch command).
    return { manifest };
  }
}

function known(names: readonly string[], max = 12): string {
  return names.length <= max
    ? names.join(', ')
    : `${names.slice(0, max).join(', ')}, ... (${names.length} in all)`;
}

function unknownName(what: string, value: string, candidates: readonly string[]): string {
  const hint = didYouMean(value, candidates);
  return `"${value}" is not ${what}; ${hint || `known: ${known(candidates)}`}`;
}

/** Problems with the classes in `classes` (at `path`) against the detector's labels. */
function classIssues(
  path: string,
  classes: readonly string[] | undefined,
  model: ModelEntry,
  labels: readonly string[] | null | undefined,
): string[] {
  if (!classes || labels === undefined) return [];
  if (labels === null) {
    return [`${path}: detector model ${model.id} has no class labels, so it cannot keep only some classes`];
  }
  return classes.flatMap((name, i) =>
    labels.includes(name)
      ? []
      : [`${path}.${i}: ${unknownName(`a class label of detector model ${model.id}`, name, labels)}`],
  );
}

/**
 * Every field of `config` that names something it does not find: detector.model (a detection model of the
 * manifest), detector.classes (labels of that model), reid.model (a model of the manifest; suggestions among
 * the re-ID models), reid.classes and classify.classes (labels of the detector, whose detections those stages
 * take), classify.model and segment.model (models of that task), and streams.N.source (a scheme that
 * sources.schemes allows). Each problem reads
 * "path: problem", with the closest valid names when some are close. Empty when all is well.
 */
export function configReferenceIssues(config: EdgeConfig, refs: ConfigReferences): string[] {
  const { manifest } = refs;
  const issues: string[] = [];
  const detectors = manifest.models.filter((m) => DETECTION_ADAPTERS.includes(m.adapter));
  const detector = manifest.models.find((m) => m.id === config.detector.model);
  if (!detector) {
    issues.push(
      `detector.model: ${unknownName(
        'a model in the manifest',
        config.detector.model,
        detectors.map((m) => m.id),
      )}`,
    );
  } else if (!DETECTION_ADAPTERS.includes(detector.adapter)) {
    issues.push(
      `detector.model: "${detector.id}" is a ${detector.task} model, not a detector (adapter ${DETECTION_ADAPTERS.join(
        ', ',
      )}); detectors: ${known(detectors.map((m) => m.id))}`,
    );
  }
  if (config.reid) {
    const reidModels = manifest.models.filter((m) => m.task === 'reid').map((m) => m.id);
    const reid = manifest.models.find((m) => m.id === config.reid!.model);
    // A model of another task is refused by ReidStage.create(), also before any stream starts.
    if (!reid)
      issues.push(`reid.model: ${unknownName('a model in the manifest', config.reid.model, reidModels)}`);
  }
  for (const [stage, task] of [
    ['classify', 'classification'],
    ['segment', 'segmentation'],
  ] as const) {
    const id = config[stage]?.model;
    if (id === undefined) continue;
    const fitting = manifest.models
      .filter((m) => m.task === task && m.adapter !== 'yolov8-seg')
      .map((m) => m.id);
    const model = manifest.models.find((m) => m.id === id);
    if (!model) issues.push(`${stage}.model: ${unknownName('a model in the manifest', id, fitting)}`);
    else if (!fitting.includes(id)) {
      issues.push(
        `${stage}.model: "${id}" is a ${model.task} model (adapter ${model.adapter}); ${stage} models: ${known(fitting)}`,
      );
    }
  }
  return [...issues, ...classReferenceIssues(config, refs), ...sourceSchemeIssues(config)];
}

/**
 * Streams whose scheme sources.schemes leaves out ("streams.0.source: rtsp:// is not in sources.schemes (file)"):
 * a config that contradicts itself fails the start instead of one stream. Unknown schemes are the parser's.
 */
export function sourceSchemeIssues(config: EdgeConfig): string[] {
  const allowed = config.sources?.schemes;
  if (!allowed) return [];
  return config.streams.flatMap((s, i) => {
    const scheme = sourceScheme(s.source);
    if (!(SOURCE_SCHEMES as readonly string[]).includes(scheme) || allowed.includes(scheme as SourceScheme))
      return [];
    const what = scheme === 'file' ? 'a local file' : `${scheme}://`;
    return [`streams.${i}.source: ${what} is not allowed by sources.schemes (${allowed.join(', ')})`];
  });
}

/**
 * The class-label problems alone: detector.classes and reid.classes against the detector's labels (when the
 * detector is a known detection model and its labels are in `refs`). What a live config change can get wrong.
 */
export function classReferenceIssues(config: EdgeConfig, refs: ConfigReferences): string[] {
  const detector = refs.manifest.models.find((m) => m.id === config.detector.model);
  if (!detector || !DETECTION_ADAPTERS.includes(detector.adapter)) return [];
  const labels = refs.detectorModel === config.detector.model ? refs.detectorLabels : undefined;
  return [
    ...classIssues('detector.classes', config.detector.classes, detector, labels),
    ...(config.reid ? classIssues('reid.classes', config.reid.classes, detector, labels) : []),
    ...(config.classify ? classIssues('classify.classes', config.classify.classes, detector, labels) : []),
  ];
}

/** Throw ConfigError (CONFIG_INVALID) listing every problem configReferenceIssues finds. */
export function checkConfigReferences(config: EdgeConfig, refs: ConfigReferences, origin = 'config'): void {
  const issues = configReferenceIssues(config, refs);
  if (issues.length) throw new ConfigError(`Invalid ${origin}`, issues);
}
