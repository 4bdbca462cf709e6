/** SQL helpers the repositories share: array parameters for one-statement bulk writes, and affected-row counts. */
import type { StoreDb } from './db.ts';

/** Rows per INSERT statement (points, tracks): one statement unnests arrays of up to this many rows. */
export const ROWS_PER_STATEMENT = 10_000;

/** What writes take: an open store's database or a transaction on it. */
export type StoreExecutor = Pick<StoreDb, 'execute'>;
/** Anything holding a database to write to: a {@link Store}, or `{ db: tx }` inside a transaction. */
export interface StoreHandle {
  db: StoreExecutor;
}

/** A PostgreSQL array literal of numbers (`{1,2.5,NaN}`), sent as one text parameter and cast in SQL. */
export function numArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

/** A PostgreSQL array literal of strings, each quoted and escaped (`{"a","b\\"c",NULL}`); null is NULL. */
export function textArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    out += v == null ? 'NULL' : `"${v.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${out}}`;
}

/** Rows an INSERT/UPDATE/DELETE touched: node-postgres reports `rowCount`, PGlite `affectedRows`. */
export function affectedRows(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return r.rowCount ?? r.affectedRows ?? 0;
}
