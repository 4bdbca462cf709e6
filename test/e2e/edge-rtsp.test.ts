import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EdgeRuntime } from '@sightline/edge';
import { parseEdgeConfig } from '@sightline/shared';
import { RtspServer, rtspServerUnavailable } from '../fixtures/rtsp-server.ts';
import {
  MAX_RESULT_GAP_MS,
  media,
  ResultGapMeter,
  statsOf,
  waitForResults,
  waitForStreamState,
} from './helpers.ts';

const skip = rtspServerUnavailable();

describe('edge runtime with an RTSP camera that goes away and comes back', { skip }, () => {
  let server: RtspServer;
  before(async () => {
    server = await RtspServer.start({ file: media('vtest_h264.mp4') });
  });
  after(async () => {
    await server?.stop();
  });

  test('the RTSP stream reconnects and resumes with increasing seq; the file stream never pauses', async (t) => {
    const runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'e2e-rtsp',
        streams: [
          { id: 'cam', source: server.url },
          { id: 'file', source: media('vtest_h264.mp4'), realtime: true, loop: true },
        ],
        detector: { classes: ['person'] },
      }),
    );
    const meter = new ResultGapMeter(runtime, 'file');
    const camSeqs: number[] = [];
    const camStates: string[] = [];
    runtime.on('result', (r) => {
      if (r.streamId === 'cam') camSeqs.push(r.seq);
    });
    runtime.on('stream-state', (id, s) => {
      if (id === 'cam') camStates.push(s);
    });
    try {
      await runtime.start();
      await Promise.all([
        waitForResults(runtime, 'cam', 10, 60_000),
        waitForResults(runtime, 'file', 5, 60_000),
      ]);
      meter.begin();
      const lastBefore = camSeqs.at(-1)!;
      const reconnecting = waitForStreamState(runtime, 'cam', 'reconnecting', 20_000);
      await server.stop();
      const why = await reconnecting;
      assert.match(why ?? '', /^SOURCE_UNREACHABLE: /);
      assert.match(statsOf(runtime, 'cam').lastError ?? '', /^SOURCE_UNREACHABLE: /);
      // The outage: the file stream goes on producing results while the camera retries a closed port.
      await waitForResults(runtime, 'file', 10, 20_000);
      assert.equal(statsOf(runtime, 'cam').state, 'reconnecting');
      const duringOutage = camSeqs.length;
      const running = waitForStreamState(runtime, 'cam', 'running', 30_000);
      await server.start();
      await running;
      assert.equal(statsOf(runtime, 'cam').lastError, undefined, 'the camera is back: no error to show');
      await waitForResults(runtime, 'cam', 10, 30_000);
      const gap = meter.end();

      const cam = statsOf(runtime, 'cam');
      t.diagnostic(
        `cam: ${cam.reconnects} reconnects, seq ${lastBefore} -> ${camSeqs[duringOutage]}; file: ${meter.results} results, largest gap ${gap.toFixed(0)} ms`,
      );
      assert.ok(cam.reconnects >= 1, `reconnects ${cam.reconnects}`);
      assert.equal(cam.state, 'running');
      const resumed = camSeqs.slice(duringOutage);
      assert.ok(resumed[0]! > lastBefore, `seq ${resumed[0]} after the reconnect follows ${lastBefore}`);
      for (let i = 1; i < camSeqs.length; i++) {
        assert.ok(camSeqs[i]! > camSeqs[i - 1]!, `cam seq increases: ${camSeqs[i - 1]} -> ${camSeqs[i]}`);
      }
      assert.equal(camStates[0], 'running', 'the runtime starts every stream in starting');
      assert.ok(camStates.includes('reconnecting'));
      assert.equal(camStates.at(-1), 'running');

      const file = statsOf(runtime, 'file');
      assert.equal(file.state, 'running');
      assert.ok(meter.results >= 20, `file stream produced ${meter.results} results during the test`);
      assert.ok(
        gap < MAX_RESULT_GAP_MS,
        `largest gap between file results during the outage was ${gap.toFixed(0)} ms`,
      );
    } finally {
      await runtime.close();
    }
  });
});
