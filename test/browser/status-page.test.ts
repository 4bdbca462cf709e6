/**
 * The hub's status page in a real browser (Debian's chromium driven by playwright-core): with a viewer token in
 * the URL fragment it lists the enrolled edge and its stream with live and stored track counts; a wrong token
 * gets a clear message. Saves a screenshot to test/artifacts/status-page.png.
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
import { launchChromium, noChromium } from '../helpers/browser.ts';
import { media } from '../helpers/wait.ts';

const ARTIFACTS = resolve(import.meta.dirname, '..', 'artifacts');

describe('status page in a browser', { skip: noChromium }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-ui-hub-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'sightline-ui-edge-'));
  const profile = mkdtempSync(join(tmpdir(), 'sightline-ui-chromium-'));
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
        edgeId: 'lobby-edge',
        modelsDir: modelsDir(),
        streams: [{ id: 'entrance', source: media('vtest_h264.mp4'), loop: true, realtime: true }],
        inference: { sessions: 1 },
        hub: { url: hub.url, enrollmentToken, stateDir, flushMs: 200 },
      }),
    );
    browser = await launchChromium(profile, { width: 1280, height: 480 });
  });
  after(async () => {
    await browser?.close();
    await agent?.close();
    await hub?.close();
    for (const d of [dataDir, stateDir, profile]) rmSync(d, { recursive: true, force: true });
  });

  test('lists the edge online with its stream counting up and tracks stored; the token leaves the URL', async () => {
    const page = await browser.newPage();
    await page.goto(`${hub.url}/#token=${viewer}`);
    const row = page.locator('section[data-edge="lobby-edge"] tr[data-stream="entrance"]');
    await row.waitFor({ timeout: 30_000 });
    await page.waitForFunction(
      () => {
        const r = document.querySelector('section[data-edge="lobby-edge"] tr[data-stream="entrance"]');
        return (
          Number(r?.querySelector('.stored')?.textContent) > 0 &&
          Number(r?.querySelector('.inferred')?.textContent) > 0
        );
      },
      undefined,
      { timeout: 60_000 },
    );
    const first = Number(await row.locator('.inferred').textContent());
    await page.waitForFunction(
      (n) =>
        Number(
          document.querySelector('section[data-edge="lobby-edge"] tr[data-stream="entrance"] .inferred')
            ?.textContent,
        ) > n,
      first,
      { timeout: 15_000 },
    );
    assert.match((await page.locator('section[data-edge="lobby-edge"] h2').textContent()) ?? '', /online/);
    assert.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    await page.close();
  });

  test('a wrong token gets a clear message and a place to enter another', async () => {
    const page = await browser.newPage();
    await page.goto(`${hub.url}/#token=slt_0123456789abcdef_${'A'.repeat(43)}`);
    await page.getByText('Token refused').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#login').isVisible(), true);
    await page.fill('#token', viewer);
    await page.click('#login button');
    await page.locator('section[data-edge="lobby-edge"]').waitFor({ timeout: 10_000 });
    await page.close();
  });
});
