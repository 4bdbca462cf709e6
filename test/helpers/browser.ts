/** Debian's chromium for the browser tests, launched the way the project's guide asks. */
import { existsSync } from 'node:fs';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { findMediasoupWorker } from './mediasoup.ts';

/** Path of the browser; CHROMIUM_PATH or Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or false when they can. */
export const noChromium: string | false = existsSync(CHROMIUM) ? false : `no ${CHROMIUM}`;

/** Headless chromium with a fresh profile directory (playwright passes it as --user-data-dir). */
export function launchChromium(
  profile: string,
  viewport: { width: number; height: number },
  extraArgs: string[] = [],
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/** Why the live-video browser tests cannot run here (no chromium, no mediasoup-worker), or false when they can. */
export const noLiveVideo: string | false =
  noChromium ||
  (findMediasoupWorker() ? false : 'no mediasoup-worker (node scripts/build-mediasoup-worker.mjs)');

/** Pixels of a viewer tile's overlay canvas (the stream `key`) that hold any drawing. */
export function inkedPixels(page: Page, key: string): Promise<number> {
  return page.evaluate((k) => {
    const c = document.querySelector(`section.tile[data-key="${k}"] canvas`) as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  }, key);
}

/**
 * Where on the page the largest track drawn on `key`'s tile is (its box centre), optionally only tracks labelled
 * `label` and not in `skip`; undefined when none is drawn. The viewer must expose window.sightlineViewer.
 */
export function largestTrackCentre(
  page: Page,
  key: string,
  options: { label?: string; skip?: number[] } = {},
): Promise<{ x: number; y: number; id: number } | undefined> {
  return page.evaluate(
    ([k, label, skipped]) => {
      // (No named helper functions in here: tsx would wrap them in a __name() the page does not have.)
      const viewer = (window as unknown as { sightlineViewer: SightlineViewer }).sightlineViewer;
      const meta = viewer.lastDrawn(k);
      const t = meta?.tracks
        .filter((x) => (label === undefined || x.l === label) && !skipped.includes(x.id))
        .sort(
          (a, b) => (b.b[2]! - b.b[0]!) * (b.b[3]! - b.b[1]!) - (a.b[2]! - a.b[0]!) * (a.b[3]! - a.b[1]!),
        )[0];
      if (!meta || !t) return undefined;
      const c = document.querySelector(`section.tile[data-key="${k}"] canvas`) as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const scale = Math.min(r.width / c.width, r.height / c.height);
      const x =
        r.left + (r.width - c.width * scale) / 2 + ((t.b[0]! + t.b[2]!) / 2) * (c.width / meta.w) * scale;
      const y =
        r.top + (r.height - c.height * scale) / 2 + ((t.b[1]! + t.b[3]!) / 2) * (c.height / meta.h) * scale;
      return { x, y, id: t.id };
    },
    [key, options.label, options.skip ?? []] as const,
  );
}

/** What the viewer (hub/web/viewer.js) exposes for tests. */
interface SightlineViewer {
  lastDrawn(
    key: string,
  ): { w: number; h: number; tracks: { id: number; l: string; b: number[] }[] } | undefined;
}
