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
