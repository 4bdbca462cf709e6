/** Debian's chromium for the browser tests, launched the way the project's guide asks. */
import { existsSync } from 'node:fs';
import { type BrowserContext, chromium } from 'playwright-core';

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
