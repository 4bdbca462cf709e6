import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEdgeConfig } from '@sightline/shared';
import { redactConfig } from './edge-agent.ts';

test('redactConfig drops every token and hides source passwords, a raw @ in one included', () => {
  const hubToken = `slt_${'a'.repeat(16)}_${'b'.repeat(43)}`;
  const config = parseEdgeConfig({
    edgeId: 'e',
    streams: [
      { id: 'a', source: 'rtsp://admin:hunter2@cam-a/s1' },
      { id: 'b', source: 'rtsp://admin:p@ss@cam-b/s1' },
      { id: 'c', source: './clip.mp4' },
    ],
    hub: { url: 'http://hub:8080', token: hubToken },
    whip: { port: 0, token: 'whip-secret-0123456789' },
  });
  const shown = redactConfig(config);
  const text = JSON.stringify(shown);
  for (const secret of [hubToken, 'hunter2', 'p@ss', 'whip-secret-0123456789']) {
    assert.ok(!text.includes(secret), `${secret} is not shown`);
  }
  assert.deepEqual(
    (shown.streams as { source: string }[]).map((s) => s.source),
    ['rtsp://admin:***@cam-a/s1', 'rtsp://admin:***@cam-b/s1', './clip.mp4'],
  );
  assert.equal((shown.whip as { port: number }).port, 0, 'the rest of the config stays');
});
