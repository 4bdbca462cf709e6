/**
 * An image as DATA.md's verified outputs saw it: decoded by libjpeg-turbo (Debian's djpeg, what cv2.imread and the
 * reference pipeline used) into a BMP that FFmpeg reads losslessly. FFmpeg's own JPEG decoder differs by 1-4
 * levels in about 30 % of the pixels (IDCT and chroma upsampling), enough to move an INT8 model's boxes and scores.
 * Without djpeg on the machine, loadImageBgr's decode (callers widen their tolerances then).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ImageBuffer } from '../frame.ts';
import { loadImageBgr } from './image.ts';

/** Whether Debian's djpeg (libjpeg-turbo) is on the PATH. */
export const hasDjpeg: boolean = !spawnSync('djpeg', ['-version']).error;

/** The JPEG at `path` as packed BGR24, decoded as the reference outputs were (djpeg), else by FFmpeg. */
export function referenceImage(path: string): ImageBuffer {
  if (!hasDjpeg) return loadImageBgr(path);
  const dir = mkdtempSync(join(tmpdir(), 'sightline-reference-'));
  try {
    const bmp = join(dir, `${basename(path)}.bmp`);
    const r = spawnSync('djpeg', ['-bmp', '-outfile', bmp, path]);
    if (r.status !== 0) throw new Error(`djpeg failed on ${path}: ${r.stderr}`);
    return loadImageBgr(bmp);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
