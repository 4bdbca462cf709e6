import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StreamSource } from '@sightline/edge';
import type { SourceError } from '@sightline/shared';
import { serveFile } from '../fixtures/http-file-server.ts';
import { collectFrames, media, waitForState } from './helpers.ts';

describe('HTTP source', () => {
  test('reads frames of an mp4 served by a local HTTP server', async () => {
    const server = await serveFile(media('vtest_h264.mp4'));
    const source = new StreamSource({
      streamId: 'web',
      url: server.url,
      realtime: false,
      fit: { width: 416, height: 416 },
    });
    try {
      source.start();
      const frames = await collectFrames(source, 30, 20_000);
      assert.ok(server.requests >= 1);
      frames.forEach((f, i) => {
        assert.equal(f.seq, i);
        assert.equal(f.width, 416);
        assert.equal(f.height, 312);
        if (i > 0) assert.equal(f.pts - frames[i - 1]!.pts, 9000);
      });
    } finally {
      await source.close();
      await server.close();
    }
  });

  test('a 404 is reported as SOURCE_INVALID naming the URL, and retried like any network source', async () => {
    const server = await serveFile(media('vtest_h264.mp4'));
    const url = server.url.replace('video.mp4', 'missing.mp4');
    const source = new StreamSource({ streamId: 'web404', url, reconnect: { initialDelayMs: 100 } });
    try {
      const first = new Promise<SourceError>((resolve) => source.once('error', resolve));
      source.start();
      const err = await first;
      assert.equal(err.code, 'SOURCE_INVALID');
      assert.ok(err.message.includes(url), err.message);
      await waitForState(source, 'reconnecting', 5000);
    } finally {
      await source.close();
      await server.close();
    }
  });
});
