import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { StreamSource } from '@sightline/edge';
import type { SourceError } from '@sightline/shared';
import { FakeRtspServer } from '../fixtures/fake-rtsp-server.ts';
import { freePort, RtspServer, rtspServerUnavailable } from '../fixtures/rtsp-server.ts';
import { media, waitFor, waitForState } from './helpers.ts';

const noFfmpeg = spawnSync('ffprobe', ['-version']).error ? 'ffprobe not found' : false;

/** Start a source on `url` and return the first error it reports (it then retries, as a camera would). */
async function firstError(
  url: string,
  options: { openTimeoutMs?: number; backend?: 'node-av' | 'ffmpeg' } = {},
): Promise<{ error: SourceError; source: StreamSource; ms: number }> {
  const source = new StreamSource({
    streamId: 'cam',
    url,
    openTimeoutMs: options.openTimeoutMs ?? 1000,
    backend: options.backend,
    reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
  });
  const t0 = performance.now();
  const error = waitFor<SourceError>(source, 'error', ((e: SourceError) => e) as never, 20_000, 'an error');
  source.start();
  try {
    return { error: await error, source, ms: performance.now() - t0 };
  } catch (err) {
    await source.close();
    throw err;
  }
}

for (const backend of ['node-av', 'ffmpeg'] as const) {
  describe(`RTSP errors say what the server did (${backend} backend)`, {
    skip: backend === 'ffmpeg' && noFfmpeg,
  }, () => {
    const servers: FakeRtspServer[] = [];
    const start = async (kind: Parameters<typeof FakeRtspServer.start>[0]) => {
      const server = await FakeRtspServer.start(kind);
      servers.push(server);
      return server;
    };
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
    });

    test('a server that accepts and says nothing: "no answer within 1 s", within the open timeout', async () => {
      const server = await start('silent');
      const { error, source, ms } = await firstError(server.url('admin:hunter2'), { backend });
      try {
        assert.equal(error.code, 'SOURCE_UNREACHABLE');
        assert.match(error.message, /^rtsp:\/\/admin:\*\*\*@127\.0\.0\.1:\d+\/cam: no answer within 1 s/);
        assert.ok(!error.message.includes('hunter2'));
        // Bounded by the open timeout (1 s here), not FFmpeg's default of waiting for ever.
        assert.ok(ms < 8000, `the error came after ${ms.toFixed(0)} ms`);
        assert.equal(source.state, 'reconnecting');
      } finally {
        await source.close();
      }
    });

    test('an HTTP server: "not an RTSP server", quoting its status line', async () => {
      const server = await start('http');
      const { error, source } = await firstError(server.url(), { backend });
      await source.close();
      assert.equal(error.code, 'SOURCE_INVALID');
      assert.match(
        error.message,
        /:\d+\/cam is not an RTSP server: it answered with HTTP \("HTTP\/1\.1 400 Bad Request"\)$/,
      );
      assert.doesNotMatch(error.message, /not a media file/);
    });

    test('a server answering garbage: "not an RTSP server", with control characters masked', async () => {
      const server = await start('garbage');
      const { error, source } = await firstError(server.url(), { backend });
      await source.close();
      assert.equal(error.code, 'SOURCE_INVALID');
      assert.match(error.message, /is not an RTSP server: it answered "hello there\?"$/);
    });

    test('a server that hangs up at once: "closed the connection"', async () => {
      const server = await start('hangup');
      const { error, source } = await firstError(server.url(), { backend });
      await source.close();
      assert.equal(error.code, 'SOURCE_UNREACHABLE');
      assert.match(error.message, /closed the connection without an RTSP answer$/);
    });

    test('RTSP 401 with credentials: "refused the user name or password", the password nowhere', async () => {
      const server = await start('auth');
      const { error, source } = await firstError(server.url('admin:hunter2'), { backend });
      try {
        assert.equal(error.code, 'SOURCE_INVALID');
        assert.equal(
          error.message,
          `rtsp://admin:***@127.0.0.1:${server.port}/cam: the RTSP server refused the user name or password (401 Unauthorized)`,
        );
        assert.ok(!JSON.stringify(source.stats()).includes('hunter2'));
        assert.equal(source.state, 'reconnecting', 'a camera keeps being retried');
      } finally {
        await source.close();
      }
    });

    test('RTSP 401 without credentials: says to give a user name and password', async () => {
      const server = await start('auth');
      const { error, source } = await firstError(server.url(), { backend });
      await source.close();
      assert.equal(error.code, 'SOURCE_INVALID');
      assert.match(error.message, /the RTSP server wants a user name and password \(401 Unauthorized\)/);
    });
  });
}

describe('lastError of an RTSP source', { skip: rtspServerUnavailable() }, () => {
  test('is set while the camera is away and cleared once it answers', async () => {
    const port = await freePort();
    const source = new StreamSource({
      streamId: 'cam',
      url: `rtsp://127.0.0.1:${port}/test`,
      fit: { width: 160, height: 160 },
      reconnect: { initialDelayMs: 200, maxDelayMs: 500 },
    });
    let server: RtspServer | undefined;
    source.on('frame', () => source.release());
    source.on('error', () => {}); // expected while the camera is away; kept in stats().lastError
    try {
      source.start();
      await waitForState(source, 'reconnecting', 10_000);
      assert.match(source.stats().lastError ?? '', /^SOURCE_UNREACHABLE: Cannot reach rtsp:/);
      const running = waitForState(source, 'running', 30_000);
      server = await RtspServer.start({ file: media('vtest_h264.mp4'), port });
      await running;
      assert.equal(source.stats().lastError, undefined);
    } finally {
      await source.close();
      await server?.stop();
    }
  });
});
