/**
 * WHIP ingest from a real browser: headless chromium publishes its fake camera (H.264, its own encoder) to the
 * edge's WHIP server; the edge decodes, infers and tracks it as stream `whip://cam-browser` next to a file
 * stream, and DELETE from the page ends it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeRuntime, WhipServer } from '@sightline/edge';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import type { BrowserContext } from 'playwright-core';
import { modelsDir } from '../e2e/helpers.ts';
import { launchChromium, noChromium } from '../helpers/browser.ts';
import { media } from '../helpers/wait.ts';

const TOKEN = 'browser-whip-token-0123456789';

async function until<T>(what: string, ms: number, poll: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = poll();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('WHIP: chromium publishes a camera to the edge', { skip: noChromium }, () => {
  const profile = mkdtempSync(join(tmpdir(), 'sightline-whip-chromium-'));
  let runtime: EdgeRuntime;
  let whip: WhipServer;
  let browser: BrowserContext;
  const results: FrameResult[] = [];

  before(async () => {
    runtime = new EdgeRuntime(
      parseEdgeConfig({
        edgeId: 'whip-browser',
        modelsDir: modelsDir(),
        streams: [{ id: 'file', source: media('vtest_h264.mp4'), realtime: true, loop: true }],
        inference: { sessions: 1 },
      }),
    );
    runtime.on('result', (r: FrameResult) => {
      if (r.streamId === 'cam-browser') results.push(r);
    });
    await runtime.start();
    whip = new WhipServer({ runtime, port: 0, token: TOKEN });
    await whip.listen();
    browser = await launchChromium(profile, { width: 640, height: 480 }, [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
    ]);
  });
  after(async () => {
    await browser?.close();
    await whip?.close();
    await runtime?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  test('the camera becomes a tracked stream of the edge; DELETE from the page removes it', async () => {
    const page = await browser.newPage();
    await page.goto(`${whip.url}/`); // any page of the WHIP server's origin (a 404 body): fetch is same-origin
    const posted = await page.evaluate(
      async ({ token }) => {
        const camera = await navigator.mediaDevices.getUserMedia({
          video: { width: 640, height: 480, frameRate: 15 },
        });
        const pc = new RTCPeerConnection();
        const transceiver = pc.addTransceiver(camera.getVideoTracks()[0]!, { direction: 'sendonly' });
        const caps = RTCRtpSender.getCapabilities('video');
        transceiver.setCodecPreferences((caps?.codecs ?? []).filter((c) => c.mimeType === 'video/H264'));
        await pc.setLocalDescription(await pc.createOffer());
        // No trickle on this server: send the offer with every candidate in it.
        for (let i = 0; i < 50 && pc.iceGatheringState !== 'complete'; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const res = await fetch('/whip/cam-browser', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
          body: pc.localDescription!.sdp,
        });
        const answer = await res.text();
        if (res.status !== 201) return { status: res.status, answer };
        await pc.setRemoteDescription({ type: 'answer', sdp: answer });
        (window as unknown as { whipPc: RTCPeerConnection }).whipPc = pc;
        return { status: res.status, answer, location: res.headers.get('location') };
      },
      { token: TOKEN },
    );
    assert.equal(posted.status, 201, posted.answer);
    assert.match(posted.answer, /a=rtpmap:\d+ H264\/90000/);
    assert.match(posted.location ?? '', /^\/whip\/cam-browser\/[0-9a-f-]{36}$/);

    const stats = await until('20 decoded frames of cam-browser', 30_000, () => {
      const s = runtime.stats().find((x) => x.streamId === 'cam-browser');
      return s && s.framesDecoded >= 20 ? s : undefined;
    });
    assert.equal(stats.source, 'whip://cam-browser');
    assert.equal(stats.state, 'running');
    const last = await until('10 results of cam-browser', 30_000, () =>
      results.length >= 10 ? results.at(-1) : undefined,
    );
    assert.equal(last.width, 640);
    assert.equal(last.height, 480);
    const session = whip.sessions().find((s) => s.streamId === 'cam-browser');
    assert.equal(session?.state, 'connected');
    // Frames arrive in order, and the file stream kept running beside the camera.
    const seqs = results.map((r) => r.seq);
    assert.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
      'results in decode order',
    );
    assert.equal(runtime.stats().find((x) => x.streamId === 'file')?.state, 'running');
    console.log(
      `# chromium WHIP: ${stats.framesDecoded} frames decoded, ${results.length} results, ` +
        `${session?.packets} packets, PLIs ${session?.plis}`,
    );

    const deleted = await page.evaluate(
      async ({ token, location }) => {
        const res = await fetch(location, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${token}` },
        });
        (window as unknown as { whipPc: RTCPeerConnection }).whipPc.close();
        return res.status;
      },
      { token: TOKEN, location: posted.location! },
    );
    assert.equal(deleted, 200);
    assert.equal(
      runtime.stats().find((x) => x.streamId === 'cam-browser'),
      undefined,
      'the stream is gone after DELETE',
    );
    assert.equal(whip.sessions().length, 0);
    await page.close();
  });
});
