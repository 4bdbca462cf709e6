/** Download catalogue files: follow redirects, stream to a temp file while hashing, verify, then rename into place. */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelError, SightlineError } from '@sightline/shared';
import type { CatalogueEntry, CatalogueItem } from './manifest.ts';
import { DownloadProgress, type ProgressStream } from './progress.ts';
import { checkFile, forgetVerified } from './verify.ts';

/** What a download needs from its entry. */
export type FetchSpec = Pick<CatalogueEntry, 'id' | 'file' | 'url' | 'sha256' | 'bytes'>;

/** Options for fetchFile and ensureAvailable. */
export interface FetchOptions {
  /** Give up when the server sends nothing (no response, no body bytes) for this long. Default 30000 ms. */
  timeoutMs?: number;
  /** Redirects followed before giving up. Default 5. */
  maxRedirects?: number;
  /** Where progress goes; false for none. Default process.stderr (a bar on a TTY, plain lines otherwise). */
  progress?: ProgressStream | false;
  /** Download from this URL instead of the entry's (a mirror). Default entry.url. */
  url?: string;
  /** Cancels the download (the temp file is removed). */
  signal?: AbortSignal;
}

/** A finished download. */
export interface FetchResult {
  id: string;
  path: string;
  /** The URL the bytes finally came from, after redirects. */
  url: string;
  bytes: number;
  ms: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function checkOptions(options: FetchOptions): { timeoutMs: number; maxRedirects: number } {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRedirects = options.maxRedirects ?? 5;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(
      `Expected a positive number for timeoutMs but received ${timeoutMs} of type ${typeof timeoutMs}`,
    );
  }
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new RangeError(
      `Expected a non-negative integer for maxRedirects but received ${maxRedirects} of type ${typeof maxRedirects}`,
    );
  }
  return { timeoutMs, maxRedirects };
}

function fetchFailed(spec: FetchSpec, url: string, reason: string, cause?: unknown): ModelError {
  return new ModelError('FETCH_FAILED', `Cannot fetch ${spec.file} (${spec.id}) from ${url}: ${reason}`, {
    cause,
  });
}

/** One GET; resolves with the response headers, rejects on connection errors and header timeouts. */
function request(url: URL, timeoutMs: number, signal?: AbortSignal): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(
      url,
      { headers: { 'user-agent': 'sightline-models', accept: '*/*' }, signal },
      resolve,
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new SightlineError('FETCH_FAILED', `timed out: no response within ${timeoutMs} ms`)),
    );
    req.on('error', reject);
  });
}

/** GET following redirects; rejects with FETCH_FAILED for non-2xx answers and connection errors. */
async function openResponse(
  spec: FetchSpec,
  start: string,
  timeoutMs: number,
  maxRedirects: number,
  signal?: AbortSignal,
): Promise<{ res: IncomingMessage; url: string }> {
  let url: URL;
  try {
    url = new URL(start);
  } catch (err) {
    throw fetchFailed(spec, start, 'not a valid URL', err);
  }
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw fetchFailed(spec, url.href, `unsupported protocol ${url.protocol} (only http and https)`);
    }
    let res: IncomingMessage;
    try {
      res = await request(url, timeoutMs, signal);
    } catch (err) {
      throw fetchFailed(spec, url.href, (err as Error).message, err);
    }
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      res.resume();
      const location = res.headers.location;
      if (!location) throw fetchFailed(spec, url.href, `HTTP ${status} redirect without a Location header`);
      if (hop >= maxRedirects)
        throw fetchFailed(spec, start, `more than ${maxRedirects} redirects (last to ${location})`);
      url = new URL(location, url);
      continue;
    }
    if (status < 200 || status > 299) {
      res.resume();
      throw fetchFailed(spec, url.href, `HTTP ${status} ${res.statusMessage ?? ''}`.trim());
    }
    return { res, url: url.href };
  }
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/**
 * Download `spec` to `dest`: bytes go to a temp file beside it while being hashed; the size and sha256
 * must match the entry before the temp file is renamed over `dest`. Any failure removes the temp file and
 * throws FETCH_FAILED (network, HTTP status, timeout, truncated body) or MODEL_CHECKSUM (wrong bytes),
 * naming the URL and the reason; an existing `dest` is left untouched on failure.
 */
export async function fetchFile(
  spec: FetchSpec,
  dest: string,
  options: FetchOptions = {},
): Promise<FetchResult> {
  const { timeoutMs, maxRedirects } = checkOptions(options);
  const started = performance.now();
  const source = options.url ?? spec.url;
  await mkdir(dirname(dest), { recursive: true });
  const temp = join(
    dirname(dest),
    `.${basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.part`,
  );
  const progressStream = options.progress === undefined ? process.stderr : options.progress;
  let progress: DownloadProgress | undefined;
  let url = source;
  try {
    const opened = await openResponse(spec, source, timeoutMs, maxRedirects, options.signal);
    url = opened.url;
    const { res } = opened;
    const lengthHeader = res.headers['content-length'];
    const announced = lengthHeader === undefined ? undefined : Number(lengthHeader);
    if (announced !== undefined && announced !== spec.bytes) {
      res.resume();
      throw new ModelError(
        'MODEL_CHECKSUM',
        `Cannot fetch ${spec.file} (${spec.id}) from ${url}: the server offers ${announced} bytes but ${spec.bytes} ` +
          `were expected (sha256 ${spec.sha256}); the upstream file may have changed`,
      );
    }
    if (progressStream)
      progress = new DownloadProgress({ stream: progressStream, label: spec.file, total: spec.bytes });
    const hash = createHash('sha256');
    let received = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        if (received > spec.bytes) {
          done(
            new SightlineError('FETCH_FAILED', `the server sent more than the expected ${spec.bytes} bytes`),
          );
          return;
        }
        hash.update(chunk);
        progress?.update(received);
        done(null, chunk);
      },
    });
    res.setTimeout(timeoutMs, () =>
      res.destroy(new SightlineError('FETCH_FAILED', `timed out: no data for ${timeoutMs} ms`)),
    );
    try {
      await pipeline(res, meter, createWriteStream(temp, { flags: 'wx' }), { signal: options.signal });
    } catch (err) {
      const reason = (err as Error).message;
      const short = announced !== undefined && received < announced;
      throw fetchFailed(
        spec,
        url,
        short ? `body truncated after ${received} of ${announced} bytes (${reason})` : reason,
        err,
      );
    }
    const actual = hash.digest('hex');
    if (received !== spec.bytes || actual !== spec.sha256) {
      throw new ModelError(
        'MODEL_CHECKSUM',
        `Downloaded ${spec.file} (${spec.id}) from ${url} but it does not match the manifest: ` +
          `${received} bytes with sha256 ${actual}, expected ${spec.bytes} bytes with sha256 ${spec.sha256}` +
          `${received < spec.bytes ? ' (truncated)' : ''}; nothing was written`,
      );
    }
    const handle = await open(temp, 'r+');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, dest);
    forgetVerified(dest);
    progress?.finish();
    return { id: spec.id, path: dest, url, bytes: received, ms: Math.round(performance.now() - started) };
  } catch (err) {
    await removeQuietly(temp);
    const wrapped =
      err instanceof SightlineError
        ? err
        : fetchFailed(spec, url, (err as Error).message ?? String(err), err);
    progress?.finish(wrapped.code);
    throw wrapped;
  }
}

/** What ensureAvailable did for one item. */
export interface EnsureResult {
  id: string;
  path: string;
  /** present: already verified on disk; fetched: downloaded now (replacing a missing or corrupt file). */
  action: 'present' | 'fetched';
}

/** Options for ensureAvailable. */
export interface EnsureOptions extends Omit<FetchOptions, 'url'> {
  /** Download even when the file on disk verifies. Default false. */
  force?: boolean;
}

/**
 * Make every item present and verified, downloading only what is missing or wrong, one at a time in order.
 * Throws on the first item that cannot be fetched (FETCH_FAILED / MODEL_CHECKSUM) or read (MODEL_INVALID).
 */
export async function ensureAvailable(
  items: readonly Pick<CatalogueItem, 'entry' | 'path'>[],
  options: EnsureOptions = {},
): Promise<EnsureResult[]> {
  checkOptions(options);
  const results: EnsureResult[] = [];
  for (const { entry, path } of items) {
    if (!options.force) {
      const check = await checkFile(path, entry);
      if (check.status === 'verified') {
        results.push({ id: entry.id, path, action: 'present' });
        continue;
      }
      if (check.status === 'unreadable')
        throw new ModelError('MODEL_INVALID', check.message ?? `Cannot read ${path}`);
    }
    await fetchFile(entry, path, options);
    results.push({ id: entry.id, path, action: 'fetched' });
  }
  return results;
}
