/**
 * Instance masks end to end: an edge running the YOLOv8n-seg model publishes vtest_h264.mp4; the viewer in
 * headless chromium receives each track's mask in the frame's metadata and its "masks" layer fills them on the
 * overlay (alone, with every other layer off), and draws nothing once that layer is off too.
 * Screenshot: test/artifacts/live-view-masks.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { parseEdgeConfig } from '@sightline/shared';
import type { BrowserContext } from 'playwright-core';
import { modelsDir } from '../e2e/helpers.ts';
import { inkedPixels, launchChromium, noLiveVideo } from '../helpers/browser.ts';
import { media } from '../helpers/wait.ts';

const ARTIFACTS = resolve(import.meta.dirname, '..', 'artifacts');
const KEY = 'seg-edge/street';

interface DrawnMeta {
  w: number;
  h: number;
  tracks: { id: number; b: number[] }[];
  masks?: { id: number; box: number[]; w: number; h: number; counts: number[] }[];
}

const skip = noLiveVideo;

describe('instance masks in the live viewer', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-masks-hub-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'sightline-masks-edge-'));
  const profile = mkdtempSync(join(tmpdir(), 'sightline-masks-chromium-'));
  let hub: HubServer;
  let agent: EdgeAgent;
  let browser: BrowserContext;
  let viewer: string;

  before(async () => {
    hub = await startHub({ port: 0, dataDir, databaseUrl: '', heartbeatMs: 500 });
    viewer = (await hub.tokens.create({ role: 'viewer' })).token;
    const enrollmentToken = (await hub.tokens.create({ role: 'enroll' })).token;
    agent = await EdgeAgent.start(
      parseEdgeConfig({
        edgeId: 'seg-edge',
        modelsDir: modelsDir(),
        streams: [{ id: 'street', source: media('vtest_h264.mp4'), loop: true, realtime: true }],
        detector: { model: 'yolov8n_seg_int8_320' },
        // ~130 ms a frame on this CPU: two sessions keep up with 10 fps; hold frames long enough for a busy box.
        inference: { sessions: 2 },
        hub: { url: hub.url, enrollmentToken, stateDir, flushMs: 200 },
        webrtc: { holdMs: 2000 },
      }),
    );
    browser = await launchChromium(profile, { width: 1280, height: 720 }, [
      '--autoplay-policy=no-user-gesture-required',
    ]);
  });
  after(async () => {
    await browser?.close();
    await agent?.close();
    await hub?.close();
    for (const d of [dataDir, stateDir, profile]) rmSync(d, { recursive: true, force: true });
  });

  test("each track's mask arrives with its frame and the masks layer fills it", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${hub.url}/viewer#token=${viewer}`);
    await page.locator(`section.tile[data-key="${KEY}"]`).waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      (key) =>
        ((
          window as unknown as { sightlineViewer: { lastDrawn(k: string): DrawnMeta | undefined } }
        ).sightlineViewer.lastDrawn(key)?.masks?.length ?? 0) >= 2,
      KEY,
      { timeout: 60_000, polling: 200 },
    );
    const meta = (await page.evaluate(
      (key) =>
        (
          window as unknown as { sightlineViewer: { lastDrawn(k: string): DrawnMeta | undefined } }
        ).sightlineViewer.lastDrawn(key),
      KEY,
    ))!;
    const ids = new Set(meta.tracks.map((t) => t.id));
    for (const m of meta.masks!) {
      assert.ok(ids.has(m.id), `mask ${m.id} belongs to a track drawn on the frame`);
      assert.equal(
        m.counts.reduce((a, b) => a + b, 0),
        m.w * m.h,
      );
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-view-masks.png') });

    // Masks alone: everything else off, the masks still fill pixels; then masks off too: nothing.
    for (const name of ['boxes', 'labels', 'ids', 'trails'])
      await page.uncheck(`#layers input[name="${name}"]`);
    await page.waitForTimeout(500);
    const masksOnly = await inkedPixels(page, KEY);
    assert.ok(masksOnly > 1000, `mask pixels drawn: ${masksOnly}`);
    await page.uncheck('#layers input[name="masks"]');
    await page.waitForTimeout(500);
    assert.equal(await inkedPixels(page, KEY), 0, 'no overlay with every layer off');
    console.log(
      `# masks: ${meta.masks!.length} on the frame checked, ${masksOnly} pixels with only the masks layer`,
    );
    assert.deepEqual(errors, []);
    await page.close();
  });
});
