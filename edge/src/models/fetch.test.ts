import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type ModelEntry, ModelError } from '@sightline/shared';
import { ensureAvailable, fetchFile } from './fetch.ts';
import { findModel, loadManifest } from './manifest.ts';
import { sha256File, verifyFile } from './verify.ts';

const MODELS = process.env.MODELS_DIR;

/** A real HTTP server on 127.0.0.1 with a random port; `url(path)` builds its URLs. */
async function serve(
  handler: RequestListener,
): Promise<{ server: Server; url: (p: string) => string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('fetchFile against a local HTTP server', () => {
  let body: Buffer;
  let spec: ModelEntry;
  let dir = '';
  let srv: Awaited<ReturnType<typeof serve>>;
  let requests: string[] = [];

  before(async () => {
    assert.ok(MODELS, 'MODELS_DIR must be set (run through scripts/run-tests.mjs)');
    const entry = findModel(await loadManifest(), 'super_resolution');
    spec = entry;
    body = await readFile(join(MODELS, entry.file));
    dir = await mkdtemp(join(tmpdir(), 'fetch-'));
    srv = await serve((req, res) => {
      requests.push(req.url ?? '');
      switch (req.url) {
        case '/model.onnx':
          res.writeHead(200, { 'content-length': body.length });
          res.end(body);
          return;
        case '/chunked.onnx':
          res.writeHead(200);
          res.write(body.subarray(0, 1000));
          setTimeout(() => res.end(body.subarray(1000)), 5);
          return;
        case '/redirect':
          res.writeHead(302, { location: '/model.onnx' });
          res.end();
          return;
        case '/loop':
          res.writeHead(301, { location: '/loop' });
          res.end();
          return;
        case '/truncated':
          res.writeHead(200, { 'content-length': body.length });
          res.write(body.subarray(0, body.length >> 1), () => res.destroy());
          return;
        case '/short-chunked':
          res.writeHead(200);
          res.end(body.subarray(0, 5000));
          return;
        case '/wrong-bytes': {
          const copy = Buffer.from(body);
          copy[copy.length - 10] = copy[copy.length - 10]! ^ 0xff;
          res.writeHead(200, { 'content-length': copy.length });
          res.end(copy);
          return;
        }
        case '/wrong-length':
          res.writeHead(200, { 'content-length': 17 });
          res.end('<html>hi</html>\n!');
          return;
        case '/stall':
          res.writeHead(200, { 'content-length': body.length });
          res.write(body.subarray(0, 100));
          return;
        case '/silent':
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not here');
      }
    });
  });
  after(async () => {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Files in the temp dir other than those named (no partial downloads left behind). */
  async function leftovers(...expected: string[]): Promise<string[]> {
    return (await readdir(dir)).filter((f) => !expected.includes(f));
  }

  async function failing(path: string, code: string, patterns: RegExp[], options = {}): Promise<void> {
    const dest = join(dir, `${code}-${path.replace(/\W/g, '')}.onnx`);
    await assert.rejects(
      fetchFile(spec, dest, { progress: false, url: srv.url(path), ...options }),
      (err: unknown) => {
        assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
        assert.equal(err.code, code, err.message);
        assert.ok(
          err.message.includes(srv.url(path)) || err.message.includes('127.0.0.1'),
          `names the URL: ${err.message}`,
        );
        for (const re of patterns) assert.match(err.message, re);
        return true;
      },
    );
    assert.deepEqual(await leftovers(), [], 'no file or temp file is left behind');
  }

  test('downloads, verifies and renames into place, with progress lines', async () => {
    const dest = join(dir, 'ok', spec.file);
    const progress = new PassThrough();
    let text = '';
    progress.on('data', (c: Buffer) => {
      text += c.toString();
    });
    const result = await fetchFile(spec, dest, { progress, url: srv.url('/model.onnx') });
    assert.equal(result.bytes, spec.bytes);
    assert.equal(result.path, dest);
    assert.equal(await sha256File(dest), spec.sha256);
    await verifyFile(dest, spec);
    assert.deepEqual(await readdir(join(dir, 'ok')), [spec.file]);
    assert.match(text, /super_resolution\.onnx: downloading 234\.9 KiB/);
    assert.match(text, /super_resolution\.onnx: done, 234\.9 KiB/);
    await rm(join(dir, 'ok'), { recursive: true });
  });

  test('accepts a chunked body without content-length', async () => {
    const dest = join(dir, 'chunked.onnx');
    await fetchFile(spec, dest, { progress: false, url: srv.url('/chunked.onnx') });
    assert.equal(await sha256File(dest), spec.sha256);
    await rm(dest);
  });

  test('follows a redirect', async () => {
    requests = [];
    const dest = join(dir, 'redirected.onnx');
    const result = await fetchFile(spec, dest, { progress: false, url: srv.url('/redirect') });
    assert.deepEqual(requests, ['/redirect', '/model.onnx']);
    assert.equal(result.url, srv.url('/model.onnx'));
    assert.equal(await sha256File(dest), spec.sha256);
    await rm(dest);
  });

  test('gives up on a redirect loop', async () => {
    await failing('/loop', 'FETCH_FAILED', [/more than 2 redirects/], { maxRedirects: 2 });
  });

  test('a 404 is FETCH_FAILED with the status', async () => {
    await failing('/missing.onnx', 'FETCH_FAILED', [/HTTP 404 Not Found/]);
  });

  test('connection refused is FETCH_FAILED with the reason', async () => {
    const closed = await serve(() => {});
    const url = closed.url('/model.onnx');
    await closed.close();
    const dest = join(dir, 'refused.onnx');
    await assert.rejects(fetchFile(spec, dest, { progress: false, url }), (err: unknown) => {
      assert.ok(err instanceof ModelError);
      assert.equal(err.code, 'FETCH_FAILED');
      assert.ok(err.message.includes(url), err.message);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
    assert.deepEqual(await leftovers(), []);
  });

  test('a body cut short of its content-length is FETCH_FAILED naming the byte counts', async () => {
    await failing('/truncated', 'FETCH_FAILED', [
      new RegExp(`body truncated after \\d+ of ${spec.bytes} bytes`),
    ]);
  });

  test('a chunked body that ends early is MODEL_CHECKSUM (truncated)', async () => {
    await failing('/short-chunked', 'MODEL_CHECKSUM', [
      /5000 bytes with sha256 [0-9a-f]{64}/,
      /\(truncated\)/,
    ]);
  });

  test('wrong bytes of the right size are MODEL_CHECKSUM naming both hashes', async () => {
    const wrong = Buffer.from(body);
    wrong[wrong.length - 10] = wrong[wrong.length - 10]! ^ 0xff;
    const { createHash } = await import('node:crypto');
    const actual = createHash('sha256').update(wrong).digest('hex');
    await failing('/wrong-bytes', 'MODEL_CHECKSUM', [new RegExp(actual), new RegExp(spec.sha256)]);
  });

  test('a content-length that differs from the manifest is refused before downloading', async () => {
    await failing('/wrong-length', 'MODEL_CHECKSUM', [/offers 17 bytes but 240587 were expected/]);
  });

  test('a server that stops sending times out', async () => {
    await failing('/stall', 'FETCH_FAILED', [/timed out: no data for 150 ms/], { timeoutMs: 150 });
    await failing('/silent', 'FETCH_FAILED', [/timed out: no response within 150 ms/], { timeoutMs: 150 });
  });

  test('a failed download leaves an existing file untouched', async () => {
    const dest = join(dir, 'keep.onnx');
    await writeFile(dest, 'old contents');
    await assert.rejects(
      fetchFile(spec, dest, { progress: false, url: srv.url('/wrong-bytes') }),
      ModelError,
    );
    assert.equal(await readFile(dest, 'utf8'), 'old contents');
    assert.deepEqual(await leftovers('keep.onnx'), []);
    await rm(dest);
  });

  test('rejects unsupported protocols and bad options', async () => {
    await failing('/x', 'FETCH_FAILED', [/unsupported protocol ftp:/], { url: 'ftp://127.0.0.1/x' });
    await assert.rejects(
      fetchFile(spec, join(dir, 'x.onnx'), { timeoutMs: -1 }),
      /Expected a positive number for timeoutMs but received -1 of type number/,
    );
  });

  test('ensureAvailable fetches only what is missing or corrupt', async () => {
    const sub = join(dir, 'ensure');
    const asItems = [{ entry: { ...spec, url: srv.url('/model.onnx') }, path: join(sub, spec.file) }];
    const opts = { progress: false as const };
    requests = [];
    assert.deepEqual(
      (await ensureAvailable(asItems, opts)).map((r) => r.action),
      ['fetched'],
    );
    assert.deepEqual(
      (await ensureAvailable(asItems, opts)).map((r) => r.action),
      ['present'],
    );
    assert.equal(requests.length, 1);
    await writeFile(join(sub, spec.file), 'corrupt');
    assert.deepEqual(
      (await ensureAvailable(asItems, opts)).map((r) => r.action),
      ['fetched'],
    );
    assert.deepEqual(
      (await ensureAvailable(asItems, { ...opts, force: true })).map((r) => r.action),
      ['fetched'],
    );
    assert.equal(requests.length, 3);
    await verifyFile(join(sub, spec.file), spec);
    await rm(sub, { recursive: true });
  });
});
