/** Plans a live config change: merge a partial EdgeConfig over the current one, validate it, diff it. */
import { isDeepStrictEqual } from 'node:util';
import {
  ConfigError,
  type EdgeConfig,
  type EdgeConfigInput,
  parseEdgeConfig,
  SightlineError,
} from '@sightline/shared';
import { type ConfigReferences, classReferenceIssues } from '../config-check.ts';

type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** A partial EdgeConfig: any subset of fields, nested objects partial too (arrays are given whole). */
export type ConfigPatch = DeepPartial<EdgeConfigInput>;

/** What applying a patch changes. */
export interface ConfigChange {
  /** The new effective config (validated, stream ids filled in). */
  config: EdgeConfig;
  /** Dotted paths that changed; `streams.<id>` for each stream added, removed or changed. */
  applied: string[];
  streams: { added: string[]; removed: string[]; restarted: string[] };
  /** Some tracker setting changed: every stream needs a new tracker. */
  trackerChanged: boolean;
}

/** Fields (dotted paths, or prefixes ending in ".") that apply without a restart. */
const LIVE = ['detector.confidence', 'inference.maxWaitMs', 'tracker.', 'thumbnails.', 'thumbnails'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Objects merge key by key; arrays and other values replace; undefined in the patch leaves a field as it is. */
function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    out[k] = k in base ? deepMerge(base[k], v) : v;
  }
  return out;
}

/** Dotted paths of the leaves (non-object values; arrays count as leaves) that differ between `a` and `b`. */
function changedPaths(a: unknown, b: unknown, prefix: string, out: string[]): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k, out);
    }
  } else if (!isDeepStrictEqual(a, b)) {
    out.push(prefix || '(root)');
  }
  return out;
}

/**
 * Merge `patch` over `current` and validate the result with the full EdgeConfig schema (ConfigError naming each
 * bad field). A tracker patch of another `type` replaces the tracker instead of merging into it. Throws
 * SightlineError CONFIG_RESTART_REQUIRED, listing the fields, when the patch changes one that only applies at start.
 * With `refs` (what the running edge checked its config against), detector.classes and reid.classes are checked
 * against the detector's labels first: a typo there is a ConfigError naming the field and the closest labels
 * (other fields that only apply at start, detector.model included, still give CONFIG_RESTART_REQUIRED).
 */
export function planConfigChange(
  current: EdgeConfig,
  input: ConfigPatch,
  refs?: ConfigReferences,
): ConfigChange {
  const patch: unknown = input;
  if (!isPlainObject(patch)) {
    throw new ConfigError('Invalid config patch', ['(root): expected an object with the fields to change']);
  }
  const base = { ...current } as Record<string, unknown>;
  const tracker = patch.tracker;
  if (isPlainObject(tracker) && tracker.type !== undefined && tracker.type !== current.tracker.type) {
    delete base.tracker;
  }
  const merged = deepMerge(base, patch) as Record<string, unknown>;
  // Every stream may have been removed at run time: validate the rest against a stand-in stream then.
  const noStreams = !('streams' in patch) && Array.isArray(merged.streams) && merged.streams.length === 0;
  if (noStreams) merged.streams = [{ id: 'none', source: 'none' }];
  const config = parseEdgeConfig(merged, 'config patch');
  if (noStreams) config.streams = [];
  const classIssues = refs ? classReferenceIssues(config, refs) : [];
  if (classIssues.length) throw new ConfigError('Invalid config patch', classIssues);

  const { streams: oldStreams, ...oldRest } = current;
  const { streams: newStreams, ...newRest } = config;
  const paths = changedPaths(oldRest, newRest, '', []);
  const restart = paths.filter(
    (p) => p === 'tracker.type' || !LIVE.some((l) => (l.endsWith('.') ? p.startsWith(l) : p === l)),
  );
  if (restart.length) {
    throw new SightlineError(
      'CONFIG_RESTART_REQUIRED',
      `These fields only change with a restart of the edge; nothing was applied:\n  - ${restart.join('\n  - ')}`,
    );
  }

  const before = new Map(oldStreams.map((s) => [s.id!, s]));
  const after = new Map(newStreams.map((s) => [s.id!, s]));
  const added = [...after.keys()].filter((id) => !before.has(id));
  const removed = [...before.keys()].filter((id) => !after.has(id));
  const restarted = [...after.keys()].filter(
    (id) => before.has(id) && !isDeepStrictEqual(before.get(id), after.get(id)),
  );
  const applied = [...paths, ...[...removed, ...restarted, ...added].map((id) => `streams.${id}`)];
  return {
    config,
    applied,
    streams: { added, removed, restarted },
    trackerChanged: paths.some((p) => p.startsWith('tracker.')),
  };
}
