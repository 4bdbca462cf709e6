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

      // The same file under another spelling is not the operator's source: the media-folder rule applies.
      await runtime.addStream({ id: 'remote', source: `${dir}/./own.mp4` });
      await waitForStreamState(runtime, 'remote', 'failed', 10_000);
      assert.match(statsOf(runtime, 'remote').lastError ?? '', /^SOURCE_REFUSED: Source .* refused: /);
      await runtime.addStream({ id: 'passwd', source: 'file:///etc/passwd' });
      await waitForStreamState(runtime, 'passwd', 'failed', 10_000);
      assert.match(statsOf(runtime, 'passwd').lastError ?? '', /^SOURCE_REFUSED: /);

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
