/**
 * Hub data dirs on the command line: commands that only read one (hub token list / revoke) refuse a missing one
 * instead of creating an empty database; commands that start one (hub, hub token create, demo) say when they did.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SightlineError } from '@sightline/shared';

/** The data dir a command uses: --data-dir, else $SIGHTLINE_DATA_DIR, else ./data (absolute). */
export function dataDirOf(value: string | undefined): string {
  return resolve(value ?? process.env.SIGHTLINE_DATA_DIR ?? './data');
}

/** Whether the hub's PGlite database is in `dataDir` (its `pglite/` folder). */
function hasDatabase(dataDir: string): boolean {
  return existsSync(join(dataDir, 'pglite'));
}

/**
 * Throw (exit 1) unless `dataDir` holds a hub database; with DATABASE_URL (PostgreSQL) there is nothing to check.
 * The message names the path and says how to make a data dir.
 */
export function requireDataDir(dataDir: string): void {
  if (process.env.DATABASE_URL || hasDatabase(dataDir)) return;
  const what = existsSync(dataDir)
    ? `${dataDir} holds no hub database (no pglite/ folder)`
    : `data dir ${dataDir} does not exist`;
  throw new SightlineError(
    'STORE_UNAVAILABLE',
    `${what}. Check --data-dir (or $SIGHTLINE_DATA_DIR); to create a data dir, run ` +
      `"sightline hub token create --role admin --data-dir ${dataDir}" or "sightline hub --data-dir ${dataDir}".`,
  );
}

/**
 * Note what is in `dataDir` now; the function returned says on stderr (once the command made it) that the data
 * dir, or the database in it, is new: "created data dir <path>".
 */
export function reportNewDataDir(dataDir: string): () => void {
  const existed = existsSync(dataDir);
  const hadDatabase = hasDatabase(dataDir) || Boolean(process.env.DATABASE_URL);
  return () => {
    if (!existed && existsSync(dataDir)) process.stderr.write(`created data dir ${dataDir}\n`);
    else if (!hadDatabase && hasDatabase(dataDir)) {
      process.stderr.write(`created a hub database in data dir ${dataDir}\n`);
    }
  };
}
