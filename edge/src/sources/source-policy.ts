/** Which sources an edge may open: allowed schemes, and the folders local files must lie in (sources in config). */
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SOURCE_SCHEMES, SourceError, type SourceScheme } from '@sightline/shared';
import { redactUrl, sourceScheme } from './source-url.ts';

/** What a StreamSource checks before it opens anything. */
export interface SourcePolicy {
  /** Schemes allowed ("file" also covers plain paths). Required. */
  schemes: readonly SourceScheme[];
  /**
   * Folders a local file must lie in once symlinks and `..` are resolved (relative ones from the working
   * directory); [] allows no local file. Default: any file (the operator's own sources).
   */
  localRoots?: readonly string[];
}

/** The error of a source outside the policy; says what is allowed, never what exists on this host. */
function refused(display: string, why: string): SourceError {
  return new SourceError('SOURCE_REFUSED', `Source ${display} refused: ${why}`);
}

/** SOURCE_REFUSED when the scheme of `url` is not in policy.schemes (an unknown scheme is left to the parser). */
export function checkSourceScheme(url: string, policy: SourcePolicy): SourceError | undefined {
  const scheme = sourceScheme(url);
  if (!(SOURCE_SCHEMES as readonly string[]).includes(scheme)) return undefined;
  if (policy.schemes.includes(scheme as SourceScheme)) return undefined;
  const what = scheme === 'file' ? 'local files' : `${scheme}:// sources`;
  return refused(
    redactUrl(url),
    `this edge does not open ${what} (sources.schemes: ${policy.schemes.join(', ')})`,
  );
}

/**
 * `path` with every symlink resolved, also when it does not exist: the deepest folder that exists is resolved
 * and the missing rest joined to it, so a missing file behind a symlink counts where the symlink points.
 */
export async function realPathOf(path: string): Promise<string> {
  const rest: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(await realpath(at), ...rest);
    } catch {
      const up = dirname(at);
      if (up === at) return join(at, ...rest);
      rest.unshift(basename(at));
      at = up;
    }
  }
}

/** Whether `path` is `root` or lies inside it (both absolute and resolved). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/**
 * The real path to open for local file `input` (shown as `display`) under `policy`: `input` itself when the
 * policy has no localRoots, else its real path when that lies in a root, else SOURCE_REFUSED with one message
 * whether the file exists or not.
 */
export async function resolveLocalSource(
  input: string,
  display: string,
  policy: SourcePolicy,
): Promise<string | SourceError> {
  if (!policy.localRoots) return input;
  const real = await realPathOf(input);
  const roots = await Promise.all(policy.localRoots.map((r) => realPathOf(r)));
  if (roots.some((root) => isInside(real, root))) return real;
  return refused(
    display,
    'this edge opens local files only inside the folders of sources.localRoots (default: its media folder)',
  );
}
