/** `mkdir -p` that fails instead of hanging (Node 20's recursive mkdir loops forever on e.g. /proc/x/y). */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Create `dir` and its missing parents, one level at a time; throws the fs error (ENOENT, ENOTDIR, EACCES...). */
export function makeDirsSync(dir: string): void {
  const missing: string[] = [];
  for (let cur = resolve(dir); ; cur = dirname(cur)) {
    try {
      if (statSync(cur).isDirectory()) break;
      throw notDirectory(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(cur) === cur) throw err;
      missing.push(cur);
    }
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

function notDirectory(path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOTDIR: not a directory, mkdir '${path}'`);
  err.code = 'ENOTDIR';
  err.path = path;
  return err;
}

/** makeDirsSync as a promise (a few stat/mkdir calls when a sink opens; not worth a second implementation). */
export async function makeDirs(dir: string): Promise<void> {
  makeDirsSync(dir);
}
