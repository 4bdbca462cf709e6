/**
 * Track thumbnails on disk, content-addressed: `<dataDir>/thumbnails/<aa>/<sha256>.jpg`, where `aa` is the first
 * two hex digits. A file is written once (temp file, fsync, rename), so readers never see a partial JPEG and a
 * replayed thumbnail costs one stat.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SightlineError } from '@sightline/shared';

/** Options of {@link ThumbnailStore}. */
export interface ThumbnailStoreOptions {
  /** Hub data directory; thumbnails go under `<dataDir>/thumbnails`. Default `./data`. */
  dataDir?: string;
  /** fsync each new file before renaming it into place (durable once the batch is acked). Default true. */
  fsync?: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The bytes every JPEG starts with (SOI marker, then the first segment's marker). */
const JPEG_MAGIC = [0xff, 0xd8, 0xff] as const;

/** Throws THUMBNAIL_INVALID unless `sha256` is 64 lowercase hex digits (so it can never name another path). */
export function checkSha256(sha256: unknown): asserts sha256 is string {
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    throw new SightlineError(
      'THUMBNAIL_INVALID',
      `thumbnail id must be a sha256 in 64 lowercase hex digits, got ${JSON.stringify(String(sha256).slice(0, 80))}`,
    );
  }
}

/**
 * Throws THUMBNAIL_INVALID unless `bytes` hash to `sha256` and start like a JPEG (FF D8 FF).
 * Cheap enough to run on every thumbnail of a batch before anything of it is written.
 */
export function verifyThumbnail(sha256: string, bytes: Uint8Array): void {
  checkSha256(sha256);
  if (bytes.length < JPEG_MAGIC.length || JPEG_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new SightlineError(
      'THUMBNAIL_INVALID',
      `thumbnail ${sha256} is not a JPEG (starts with ${Buffer.from(bytes.subarray(0, 4)).toString('hex') || 'nothing'}, expected ffd8ff)`,
    );
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new SightlineError(
      'THUMBNAIL_INVALID',
      `thumbnail ${sha256} does not match its bytes (their sha256 is ${actual})`,
    );
  }
}

/** Content-addressed JPEG thumbnails under `<dataDir>/thumbnails`. */
export class ThumbnailStore {
  /** The `thumbnails` folder. */
  readonly root: string;
  private readonly fsync: boolean;

  constructor(options: ThumbnailStoreOptions = {}) {
    this.root = resolve(options.dataDir ?? './data', 'thumbnails');
    this.fsync = options.fsync ?? true;
  }

  /** Where thumbnail `sha256` lives (whether or not it exists); throws THUMBNAIL_INVALID for a malformed id. */
  path(sha256: string): string {
    checkSha256(sha256);
    return join(this.root, sha256.slice(0, 2), `${sha256}.jpg`);
  }

  /**
   * Stores a thumbnail after checking its sha256 and JPEG magic (THUMBNAIL_INVALID otherwise). Returns true when
   * the file was written, false when it was already there.
   */
  async put(sha256: string, bytes: Uint8Array): Promise<boolean> {
    verifyThumbnail(sha256, bytes);
    const path = this.path(sha256);
    if (await exists(path)) return false;
    await mkdir(join(this.root, sha256.slice(0, 2)), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(bytes);
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return true;
  }

  /** Whether thumbnail `sha256` is stored. */
  async has(sha256: string): Promise<boolean> {
    return exists(this.path(sha256));
  }

  /** The JPEG bytes of `sha256`, or undefined when it is not stored; throws THUMBNAIL_INVALID for a malformed id. */
  async read(sha256: string): Promise<Buffer | undefined> {
    const path = this.path(sha256);
    try {
      return await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}
