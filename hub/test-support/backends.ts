/**
 * Test support: the two store backends every hub suite runs against. PGlite in a temp directory, and the
 * machine's PostgreSQL (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) in a schema of its
 * own per suite, dropped afterwards. PostgreSQL is skipped with a warning when unreachable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The Store type through the package (not the relative path), so the declarations the test project reads resolve.
import type { Store } from '@sightline/hub';
import { sql } from 'drizzle-orm';
import { openStore } from '../src/store/db.ts';

/** The machine's PostgreSQL (override with TEST_DATABASE_URL). */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Where one suite's hub keeps its data. */
export interface TestLocation {
  dataDir: string;
  /** Empty for PGlite. */
  databaseUrl: string;
  databaseSchema?: string;
}

export interface TestBackend {
  name: 'pglite' | 'postgres';
  /** A reason to skip, or false. */
  skip: string | false;
  create(): TestLocation;
  /** Opens a store at `loc` (migrated; PGlite in `<dataDir>/pglite`, or the suite's PostgreSQL schema). */
  open(loc: TestLocation): Promise<Store>;
  dispose(loc: TestLocation): Promise<void>;
}

/** A store at `loc`; an empty `databaseUrl` means PGlite whatever DATABASE_URL says. */
function openAt(loc: TestLocation): Promise<Store> {
  return openStore({ dataDir: loc.dataDir, databaseUrl: loc.databaseUrl, schema: loc.databaseSchema });
}

let counter = 0;

async function pgSkipReason(): Promise<string | false> {
  const schema = `probe_${process.pid}_${++counter}`;
  try {
    const s = await openStore({ databaseUrl: PG_URL, schema, connectTimeoutMs: 2000 });
    await s.db.execute(sql.raw(`drop schema ${schema} cascade`));
    await s.close();
    return false;
  } catch (err) {
    const why = `PostgreSQL at ${PG_URL} is unreachable, skipping its half of the suite (${String(err)})`;
    console.warn(why);
    return why;
  }
}

/** Both backends (probing PostgreSQL once). */
export async function testBackends(prefix: string): Promise<TestBackend[]> {
  const skip = await pgSkipReason();
  return [
    {
      name: 'pglite',
      skip: false,
      create: () => ({ dataDir: mkdtempSync(join(tmpdir(), `sightline-${prefix}-`)), databaseUrl: '' }),
      open: openAt,
      dispose: async (loc) => rmSync(loc.dataDir, { recursive: true, force: true }),
    },
    {
      name: 'postgres',
      skip,
      create: () => ({
        dataDir: mkdtempSync(join(tmpdir(), `sightline-${prefix}-`)),
        databaseUrl: PG_URL,
        databaseSchema: `${prefix.replace(/\W/g, '_')}_${process.pid}_${++counter}`,
      }),
      open: openAt,
      dispose: async (loc) => {
        rmSync(loc.dataDir, { recursive: true, force: true });
        const s = await openStore({ databaseUrl: PG_URL, schema: loc.databaseSchema });
        await s.db.execute(sql.raw(`drop schema if exists ${loc.databaseSchema} cascade`));
        await s.close();
      },
    },
  ];
}

/** A track point of edge e1 / stream s1 / run r1, track 1, `daysAgo` days old, with batch `seq` (retention tests). */
export function agedTrackPoint(daysAgo: number, seq: number) {
  return {
    edgeId: 'e1',
    streamId: 's1',
    run: 'r1',
    seq,
    trackId: 1,
    ts: new Date(Date.now() - daysAgo * 86_400_000),
    x1: 0,
    y1: 0,
    x2: 1,
    y2: 1,
    score: 1,
  };
}
