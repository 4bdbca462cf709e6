import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeRuntime } from '@sightline/edge';
import { parseEdgeConfig } from '@sightline/shared';
import { statsOf, waitForStreamState } from '../e2e/helpers.ts';
import { media } from './helpers.ts';

describe("edge runtime source policy: the operator's streams against streams added at run time", () => {
  let dir: string;
  let own: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sightline-policy-rt-'));
    own = join(dir, 'own.mp4');
    copyFileSync(media('vtest_h264.mp4'), own); // outside the media folder
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a config stream opens a file anywhere; an added stream only inside the media folder', async () => {
    const runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'policy',
        streams: [{ id: 'own', source: own, loop: true }],
        inference: { sessions: 1 },
        thumbnails: { enabled: false },
      }),
    );
    try {
      await runtime.start();
      await waitForStreamState(runtime, 'own', 'running', 30_000);

      // The same file under another spelling is not the operator's source: the media-folder rule applies, and
      // addStream refuses it at once (the hub's API answers with the refusal), adding no stream.
      const refusal = { name: 'SourceError', code: 'SOURCE_REFUSED', message: /^Source .* refused: / };
      await assert.rejects(runtime.addStream({ id: 'remote', source: `${dir}/./own.mp4` }), refusal);
      await assert.rejects(runtime.addStream({ id: 'passwd', source: 'file:///etc/passwd' }), refusal);
      await assert.rejects(runtime.addStream({ id: 'nothing', source: `${dir}/missing.mp4` }), refusal);
      assert.deepEqual(
        runtime.stats().map((s) => s.streamId),
        ['own'],
        'no refused stream was added',
      );

      await runtime.addStream({ id: 'sample', source: media('vtest_h264.mp4'), loop: true });
      await waitForStreamState(runtime, 'sample', 'running', 30_000);

      // Changing the operator's stream (same source) restarts it, still allowed.
      await runtime.applyConfig({
        streams: [
          { id: 'own', source: own, loop: true, stalenessMs: 2000 },
          { id: 'sample', source: media('vtest_h264.mp4'), loop: true },
        ],
      });
      await waitForStreamState(runtime, 'own', 'running', 30_000);
      assert.equal(statsOf(runtime, 'own').lastError, undefined);
    } finally {
      await runtime.close();
    }
  });
});
