/** Check a catalogue file on disk against its manifest entry: size first, then a streamed sha256. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ModelError } from '@sightline/shared';
import type { CatalogueEntry } from './manifest.ts';

/** What verifying a file needs from its entry. */
export type VerifySpec = Pick<CatalogueEntry, 'id' | 'file' | 'sha256' | 'bytes'>;

/** Options for verifyFile. */
export interface VerifyOptions {
  /** Trust an earlier successful check of the same path while its size, mtime, ctime and inode are unchanged. Default true. */
  useCache?: boolean;
}

/** Path -> "size:mtime:ctime:ino:sha256" of files that verified; only successes are remembered. */
const verified = new Map<string, string>();

function stamp(st: { size: number; mtimeMs: number; ctimeMs: number; ino: number }, sha256: string): string {
  return `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${sha256}`;
}

/** Forget cached verifications (all, or one path); fetch calls this after replacing a file. */
export function forgetVerified(path?: string): void {
  if (path === undefined) verified.clear();
  else verified.delete(path);
}

/** Hex sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The command that downloads an entry again. */
export function fetchCommand(id: string, force = false): string {
  return `sightline models fetch ${id}${force ? ' --force' : ''}`;
}

/**
 * Verify `path` against `spec`. Resolves when size and sha256 match. Throws ModelError:
 * MODEL_MISSING (no file; names the path, the expected sha256 and the fetch command),
 * MODEL_CHECKSUM (wrong size or hash; names the file, expected and actual sha256),
 * MODEL_INVALID (the path is not a regular file or cannot be read).
 */
export async function verifyFile(path: string, spec: VerifySpec, options: VerifyOptions = {}): Promise<void> {
  const useCache = options.useCache ?? true;
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    verified.delete(path);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ModelError(
        'MODEL_MISSING',
        `${spec.file} (${spec.id}) is missing: ${path} does not exist (expected sha256 ${spec.sha256}, ${spec.bytes} bytes). ` +
          `Run \`${fetchCommand(spec.id)}\` to download it.`,
        { cause: err },
      );
    }
    throw new ModelError('MODEL_INVALID', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isFile()) {
    verified.delete(path);
    throw new ModelError(
      'MODEL_INVALID',
      `${path} is not a regular file (expected ${spec.file} for ${spec.id})`,
    );
  }
  if (useCache && verified.get(path) === stamp(st, spec.sha256)) return;
  verified.delete(path);
  let actual: string;
  try {
    actual = await sha256File(path);
  } catch (err) {
    throw new ModelError('MODEL_INVALID', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const sizeWrong = st.size !== spec.bytes;
  if (sizeWrong || actual !== spec.sha256) {
    const what = sizeWrong
      ? `has ${st.size} bytes but ${spec.bytes} were expected${st.size < spec.bytes ? ' (truncated)' : ''}`
      : 'has the right size but the wrong content';
    throw new ModelError(
      'MODEL_CHECKSUM',
      `${path} (${spec.id}) ${what}: sha256 ${actual}, expected ${spec.sha256}. ` +
        `Run \`${fetchCommand(spec.id, true)}\` to download it again.`,
    );
  }
  verified.set(path, stamp(st, spec.sha256));
}

/** Outcome of checking one file without throwing. */
export interface FileStatus {
  /** verified: size and sha256 match; missing: no file; corrupt: wrong size or hash; unreadable: not a file or no access. */
  status: 'verified' | 'missing' | 'corrupt' | 'unreadable';
  /** The error's message when not verified. */
  message?: string;
}

/** verifyFile as a status instead of an exception (non-ModelErrors still throw). */
export async function checkFile(
  path: string,
  spec: VerifySpec,
  options: VerifyOptions = {},
): Promise<FileStatus> {
  try {
    await verifyFile(path, spec, options);
    return { status: 'verified' };
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    const status =
      err.code === 'MODEL_MISSING' ? 'missing' : err.code === 'MODEL_CHECKSUM' ? 'corrupt' : 'unreadable';
    return { status, message: err.message };
  }
}
