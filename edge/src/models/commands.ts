/** The `sightline models list | verify | fetch` commands as plain functions: options in, text (or JSON) out, results returned. */
import { dirname } from 'node:path';
import { describeError, type Manifest, ModelError } from '@sightline/shared';
import { ensureAvailable, type FetchOptions } from './fetch.ts';
import {
  type CatalogueDirs,
  type CatalogueItem,
  catalogue,
  type EntryKind,
  loadManifest,
  selectItems,
} from './manifest.ts';
import { formatBytes } from './progress.ts';
import { checkFile, type FileStatus } from './verify.ts';

/** Options every models command takes. */
export interface CommandOptions extends CatalogueDirs {
  /** Where results are printed. Default process.stdout. */
  out?: NodeJS.WritableStream;
  /** Manifest file to read. Default <repo>/models/manifest.json. */
  manifestPath?: string;
  /** An already loaded manifest (skips manifestPath). */
  manifest?: Manifest;
}

/** Which entries verify / fetch act on. */
export interface SelectOptions {
  /** Entry ids from any section (models, files, media); unknown ids give MODEL_UNKNOWN before anything runs. Default: every model and file. */
  ids?: readonly string[];
  /** With no ids, include the sample media too. Default false. */
  media?: boolean;
}

/** One row of `models list`. */
export interface ListRow {
  id: string;
  kind: EntryKind;
  /** The model task, or "labels" / "media" for other files. */
  task: string;
  file: string;
  bytes: number;
  licence: string;
  url: string;
  path: string;
  status: FileStatus['status'];
  message?: string;
}

/** One row of `models verify`. */
export interface VerifyRow {
  id: string;
  path: string;
  status: FileStatus['status'];
  message?: string;
}

/** One row of `models fetch`. */
export interface FetchRow {
  id: string;
  path: string;
  /** present: already verified; fetched: downloaded now; failed: see error. */
  action: 'present' | 'fetched' | 'failed';
  error?: string;
}

async function manifestOf(options: CommandOptions): Promise<Manifest> {
  return options.manifest ?? (await loadManifest(options.manifestPath));
}

function dirsOf(options: CommandOptions): CatalogueDirs {
  return { modelsDir: options.modelsDir, mediaDir: options.mediaDir };
}

function pick(manifest: Manifest, options: CommandOptions & SelectOptions): CatalogueItem[] {
  if (options.ids?.length) return selectItems(manifest, options.ids, dirsOf(options));
  return catalogue(manifest, dirsOf(options)).filter((item) => options.media || item.kind !== 'media');
}

function taskOf(item: CatalogueItem): string {
  if (item.kind === 'model' && 'task' in item.entry) return item.entry.task;
  return item.kind === 'file' ? 'labels' : 'media';
}

/** "Apache-2.0 (YOLOX by Megvii)" -> "Apache-2.0": the part before any explanation. */
function shortLicence(licence: string): string {
  return licence.split(/ \(|;/)[0]!.trim();
}

/** Lay rows out in padded columns. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** `models list`: every entry of the manifest with its size, licence and on-disk status (hashes each file present). */
export async function listModels(options: CommandOptions & { json?: boolean } = {}): Promise<ListRow[]> {
  const out = options.out ?? process.stdout;
  const manifest = await manifestOf(options);
  const rows: ListRow[] = [];
  for (const item of catalogue(manifest, dirsOf(options))) {
    const check = await checkFile(item.path, item.entry);
    rows.push({
      id: item.entry.id,
      kind: item.kind,
      task: taskOf(item),
      file: item.entry.file,
      bytes: item.entry.bytes,
      licence: item.entry.licence,
      url: item.entry.url,
      path: item.path,
      status: check.status,
      ...(check.message ? { message: check.message } : {}),
    });
  }
  if (options.json) {
    out.write(`${JSON.stringify(rows, null, 2)}\n`);
    return rows;
  }
  const marker = (r: ListRow) =>
    r.id === manifest.defaultModel || r.id === manifest.defaultMedia ? '*' : '';
  out.write(
    table(
      ['ID', 'TASK', 'FILE', 'SIZE', 'LICENCE', 'STATUS'],
      rows.map((r) => [
        r.id + marker(r),
        r.task,
        r.file,
        formatBytes(r.bytes),
        shortLicence(r.licence),
        r.status,
      ]),
    ),
  );
  const modelRow = rows.find((r) => r.kind !== 'media');
  const mediaRow = rows.find((r) => r.kind === 'media');
  out.write(
    `* default. Models in ${modelRow ? dirname(modelRow.path) : '-'}${mediaRow ? `, media in ${dirname(mediaRow.path)}` : ''}.\n`,
  );
  const missing = rows.filter((r) => r.status !== 'verified' && r.kind !== 'media').length;
  if (missing)
    out.write(`${missing} model file(s) not verified; run \`sightline models fetch\` to download them.\n`);
  return rows;
}

/** What `models verify --json` and `models fetch --json` print: every row, and how many failed. */
export interface CommandReport<Row> {
  results: Row[];
  failures: number;
}

/**
 * `models verify`: check size and sha256 of the selected files; prints one line each and a summary, or with
 * `json` one JSON object `{ results: VerifyRow[], failures }` (nothing else).
 */
export async function verifyModels(
  options: CommandOptions & SelectOptions & { json?: boolean } = {},
): Promise<CommandReport<VerifyRow>> {
  const out = options.out ?? process.stdout;
  const manifest = await manifestOf(options);
  const items = pick(manifest, options);
  const results: VerifyRow[] = [];
  const width = Math.max(...items.map((i) => i.entry.id.length));
  for (const item of items) {
    const check = await checkFile(item.path, item.entry, { useCache: false });
    results.push({
      id: item.entry.id,
      path: item.path,
      status: check.status,
      ...(check.message ? { message: check.message } : {}),
    });
    const label = check.status === 'verified' ? 'ok' : check.status.toUpperCase();
    if (!options.json) {
      out.write(`${label.padEnd(10)} ${item.entry.id.padEnd(width)}  ${check.message ?? item.path}\n`);
    }
  }
  const failures = results.filter((r) => r.status !== 'verified').length;
  if (options.json) {
    out.write(`${JSON.stringify({ results, failures }, null, 2)}\n`);
    return { results, failures };
  }
  out.write(
    failures
      ? `${failures} of ${results.length} file(s) failed verification.\n`
      : `All ${results.length} file(s) verified.\n`,
  );
  return { results, failures };
}

/**
 * `models fetch`: download the selected files that are missing or corrupt (all with force); keeps going past
 * failures. Prints one line per file and a summary, or with `json` one JSON object `{ results: FetchRow[],
 * failures }` (download progress still goes to `progress`, stderr by default).
 */
export async function fetchModels(
  options: CommandOptions &
    SelectOptions &
    Omit<FetchOptions, 'url'> & { force?: boolean; json?: boolean } = {},
): Promise<CommandReport<FetchRow>> {
  const out = options.out ?? process.stdout;
  const manifest = await manifestOf(options);
  const items = pick(manifest, options);
  const results: FetchRow[] = [];
  for (const item of items) {
    try {
      const [done] = await ensureAvailable([item], {
        force: options.force,
        progress: options.progress,
        timeoutMs: options.timeoutMs,
        maxRedirects: options.maxRedirects,
        signal: options.signal,
      });
      const action = done!.action;
      results.push({ id: item.entry.id, path: item.path, action });
      if (!options.json) out.write(`${action.padEnd(8)} ${item.entry.id}  ${item.path}\n`);
    } catch (err) {
      if (!(err instanceof ModelError)) throw err;
      results.push({ id: item.entry.id, path: item.path, action: 'failed', error: describeError(err) });
      if (!options.json) out.write(`failed   ${item.entry.id}  ${describeError(err)}\n`);
    }
  }
  const failures = results.filter((r) => r.action === 'failed').length;
  if (options.json) {
    out.write(`${JSON.stringify({ results, failures }, null, 2)}\n`);
    return { results, failures };
  }
  const fetched = results.filter((r) => r.action === 'fetched').length;
  out.write(
    `${fetched} fetched, ${results.length - fetched - failures} already present, ${failures} failed.\n`,
  );
  return { results, failures };
}
