/**
 * Model stages in the live viewer: an edge runs detect -> segment -> classify on vtest_h264.mp4 (crops of people
 * classified every 2 frames, the frame segmented every 3); the viewer in headless chromium gets each track's crop
 * labels (`k`) and the frame's segmentation (`seg`) on the `meta` channel, keeps the last segmentation between the
 * frames that have one, and its "segmentation" and "classes" layers each draw alone; with every layer off nothing is
 * drawn. Screenshot: test/artifacts/live-view-stages.png.
 *
 * On vtest (a street seen from above, people ~15 px tall at DeepLab's 257 px) DeepLab labels ~90-99% background and
 * the rest mostly "aeroplane" (PASCAL class 1): the test checks that what is inked is what the map says, whatever
 * classes the model finds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { parseEdgeConfig } from '@sightline/shared';
import type { BrowserContext, Page } from 'playwright-core';
import { modelsDir } from '../e2e/helpers.ts';
import { inkedPixels, launchChromium, noLiveVideo } from '../helpers/browser.ts';
import { media } from '../helpers/wait.ts';

const ARTIFACTS = resolve(import.meta.dirname, '..', 'artifacts');
const KEY = 'stages-edge/street';
const LAYERS = ['boxes', 'labels', 'ids', 'trails', 'masks', 'classes', 'segmentation'];

interface Seg {
  classes: { c: number; l: string; f: number }[];
  map?: { w: number; h: number; runs: number[] };
}
interface DrawnMeta {
  w: number;
  h: number;
  tracks: { id: number; l: string; b: number[]; k?: { l: string; s: number }[] }[];
}
interface Viewer {
  lastDrawn(k: string): DrawnMeta | undefined;
  segmentation(k: string): { seg: Seg; w: number; h: number; ageMs: number } | undefined;
  frames(k: string): unknown[];
}

const skip = noLiveVideo;

/**
 * Switches the layers so that exactly `on` are checked, then waits until two frames were drawn with them (under load
 * the video comes in bursts: the canvas can keep a drawing from before the switch for a while).
 */
async function only(page: Page, on: string[]): Promise<void> {
  for (const name of LAYERS) await page.setChecked(`#layers input[name="${name}"]`, on.includes(name));
  const drawn = await page.evaluate(
    (key) => (window as unknown as { sightlineViewer: Viewer }).sightlineViewer.frames(key).length,
    KEY,
  );
  await page.waitForFunction(
    ([key, n]) =>
      (window as unknown as { sightlineViewer: Viewer }).sightlineViewer.frames(key).length >= n + 2,
    [KEY, drawn] as const,
    { timeout: 30_000, polling: 50 },
  );
}

describe('model stages in the live viewer', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-stages-hub-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'sightline-stages-edge-'));
  const profile = mkdtempSync(join(tmpdir(), 'sightline-stages-chromium-'));
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
        edgeId: 'stages-edge',
        modelsDir: modelsDir(),
        streams: [
          {
            id: 'street',
            source: media('vtest_h264.mp4'),
            loop: true,
            realtime: true,
            stages: 'detect -> segment -> classify',
          },
        ],
        classify: { classes: ['person'], every: 2, minHeight: 40 },
        segment: { every: 3 },
        inference: { sessions: 2 },
        hub: { url: hub.url, enrollmentToken, stateDir, flushMs: 200 },
        // Three models on a busy 2-core box: hold frames for their results up to 2 s (crop labels do not hold them;
        // the detector and segmentation do).
        webrtc: { holdMs: 2000 },
      }),
    );
    browser = await launchChromium(profile, { width: 1280, height: 800 }, [
      '--autoplay-policy=no-user-gesture-required',
    ]);
  });
  after(async () => {
    await browser?.close();
    await agent?.close();
    await hub?.close();
    for (const d of [dataDir, stateDir, profile]) rmSync(d, { recursive: true, force: true });
  });

  test('crop labels and the segmentation reach the viewer, and their layers draw them', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${hub.url}/viewer#token=${viewer}`);
    await page.locator(`section.tile[data-key="${KEY}"]`).waitFor({ timeout: 30_000 });
    try {
      await page.waitForFunction(
        (key) => {
          const v = (window as unknown as { sightlineViewer: Viewer }).sightlineViewer;
          return !!v.lastDrawn(key)?.tracks.some((t) => t.k?.length) && !!v.segmentation(key)?.seg.map;
        },
        KEY,
        { timeout: 90_000, polling: 200 },
      );
    } catch (err) {
      // Say why: no frame drawn with its metadata (an edge too slow for holdMs sends them all skipped), or no labels.
      const why = await page.evaluate((key) => {
        const v = (window as unknown as { sightlineViewer: Viewer & { stats(k: string): unknown } })
          .sightlineViewer;
        return { stats: v.stats(key), last: v.lastDrawn(key)?.tracks.length, seg: !!v.segmentation(key) };
      }, KEY);
      assert.fail(`no labelled tracks and segmentation drawn: ${JSON.stringify(why)} (${err})`);
    }
    const { meta, shown } = await page.evaluate((key) => {
      const v = (window as unknown as { sightlineViewer: Viewer }).sightlineViewer;
      return { meta: v.lastDrawn(key)!, shown: v.segmentation(key)! };
    }, KEY);

    // Crop labels: at most 3 per track, best first, scores to 2 decimals.
    const labelled = meta.tracks.filter((t) => t.k?.length);
    assert.ok(labelled.length > 0);
    for (const t of labelled) {
      assert.ok(t.k!.length <= 3, JSON.stringify(t.k));
      t.k!.forEach((c, i) => {
        assert.ok(
          c.s > 0 && c.s <= 1 && Math.abs(Math.round(c.s * 100) - c.s * 100) < 1e-9,
          JSON.stringify(c),
        );
        if (i > 0) assert.ok(c.s <= t.k![i - 1]!.s, 'best first');
      });
    }
    // The segmentation kept by the tile: the runs fill the map, the areas add up, it is recent.
    const { seg } = shown;
    const map = seg.map!;
    let cells = 0;
    for (let i = 1; i < map.runs.length; i += 2) cells += map.runs[i]!;
    assert.equal(cells, map.w * map.h, 'the runs fill the map');
    assert.equal(map.runs.length % 2, 0);
    const total = seg.classes.reduce((n, c) => n + c.f, 0);
    assert.ok(Math.abs(total - 1) < 0.01, `areas sum to 1 (${total})`);
    assert.equal(shown.w, meta.w);
    assert.ok(shown.ageMs <= 3000, `the segmentation is recent (${shown.ageMs} ms)`);
    console.log(
      `# segmentation ${map.w}x${map.h}, ${map.runs.length / 2} runs: ${seg.classes.map((c) => `${c.l}(${c.c}) ${(c.f * 100).toFixed(2)}%`).join(', ')}`,
    );
    console.log(
      `# crop labels: ${labelled.map((t) => `#${t.id} ${t.k!.map((c) => `${c.l} ${c.s}`).join(' / ')}`).join('; ')}`,
    );
    // The legend lists the classes of the segmentation drawn.
    const legendEl = page.locator(`section.tile[data-key="${KEY}"] .legend`);
    await legendEl.filter({ hasText: /background/ }).waitFor({ timeout: 5000 }); // refreshed every second
    const legend = (await legendEl.textContent()) ?? '';
    assert.match(legend, /background \d+\.\d%/);
    console.log(`# legend: ${legend}`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-view-stages.png') });

    // The segmentation layer alone: the inked pixels are the map's non-background cells scaled to the canvas.
    await only(page, ['segmentation']);
    // Measured when a segmentation with some non-background cells is drawn (under load the frames that have one can
    // be more than HOLD_MS apart; DeepLab finds only background on some vtest frames, "aeroplane" on most).
    const seen = (await (
      await page.waitForFunction(
        (key) => {
          const v = (window as unknown as { sightlineViewer: Viewer }).sightlineViewer;
          const s = v.segmentation(key);
          const m = s?.seg.map;
          if (!m) return undefined;
          const c = document.querySelector(`section.tile[data-key="${key}"] canvas`) as HTMLCanvasElement;
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let inked = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) inked++;
          let fg = 0;
          for (let i = 0; i + 1 < m.runs.length; i += 2) if (m.runs[i] !== 0) fg += m.runs[i + 1]!;
          if (fg === 0) return undefined; // only background on this one: wait for one with some other class
          return {
            inked,
            expected: (fg / (m.w * m.h)) * c.width * c.height,
            classes: s!.seg.classes.map((x) => x.l),
          };
        },
        KEY,
        { timeout: 30_000, polling: 100 },
      )
    ).jsonValue())!;
    console.log(
      `# segmentation layer alone: ${seen.inked} pixels inked, ${Math.round(seen.expected)} expected from the map (${seen.classes.join(', ')})`,
    );
    assert.ok(seen.inked > 0, 'the segmentation layer inks the non-background cells');
    assert.ok(
      Math.abs(seen.inked - seen.expected) <= 0.1 * seen.expected + 200,
      `inked ${seen.inked} vs the map's ${seen.expected}`,
    );

    // The classes layer alone: the crop labels' text lines.
    await only(page, ['classes']);
    const classesOnly = await inkedPixels(page, KEY);
    console.log(`# classes layer alone: ${classesOnly} pixels inked`);
    assert.ok(classesOnly > 300, `crop label pixels drawn: ${classesOnly}`);
    await page.screenshot({ path: join(ARTIFACTS, 'live-view-stages-classes.png') });

    // Every layer off: nothing; the legend goes with the segmentation layer.
    await only(page, []);
    assert.equal(await inkedPixels(page, KEY), 0, 'no overlay with every layer off');
    await page.waitForTimeout(1100);
    assert.equal(await legendEl.isHidden(), true);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
