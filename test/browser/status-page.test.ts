/**
 * The hub's status page in a real browser (Debian's chromium driven by playwright-core): with a viewer token in
 * the URL fragment it lists the enrolled edge and its stream with live and stored track counts; a wrong token
 * gets a clear message; with Redis, a live overflow worker is listed with its models, provider and rates, and
 * leaves the list when it closes. Saves screenshots to test/artifacts/status-page.png and status-page-workers.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { parseEdgeConfig } from '@sightline/shared';
import { OverflowWorker } from '@sightline/worker';
import type { BrowserContext } from 'playwright-core';
import { modelsDir } from '../e2e/helpers.ts';
import { launchChromium, noChromium } from '../helpers/browser.ts';
import { watchCspViolations } from '../helpers/csp.ts';
import { deleteRedisKeys, REDIS_URL } from '../helpers/redis.ts';
import { media } from '../helpers/wait.ts';

const ARTIFACTS = resolve(import.meta.dirname, '..', 'artifacts');

describe('status page in a browser', { skip: noChromium }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-ui-hub-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'sightline-ui-edge-'));
  const profile = mkdtempSync(join(tmpdir(), 'sightline-ui-chromium-'));
  let hub: HubServer;
  let agent: EdgeAgent;
  let worker: OverflowWorker;
  const prefix = `sightline-ui-${process.pid}:`;
  let browser: BrowserContext;
  let viewer: string;
  let cspViolations: string[] = [];

  before(async () => {
    hub = await startHub({
      port: 0,
      dataDir,
      databaseUrl: '',
      heartbeatMs: 500,
      redisUrl: REDIS_URL,
      overflow: { prefix },
    });
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
    worker = new OverflowWorker({
      models: ['yolox_nano'],
      redisUrl: REDIS_URL,
      prefix,
      modelsDir: modelsDir(),
      inference: { sessions: 1 },
      workerId: 'gpu-worker-1',
      heartbeatMs: 300,
    });
    await worker.start();
    browser = await launchChromium(profile, { width: 1280, height: 480 });
    cspViolations = await watchCspViolations(browser);
  });
  after(async () => {
    await browser?.close();
    await agent?.close();
    await worker?.close();
    await hub?.close();
    await deleteRedisKeys(prefix);
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

  test('lists the live overflow worker with its models, provider and rates; it leaves the list once closed', async () => {
    const page = await browser.newPage();
    await page.goto(`${hub.url}/#token=${viewer}`);
    const row = page.locator('#workers tr[data-worker="gpu-worker-1"]');
    await row.waitFor({ timeout: 30_000 });
    assert.equal(await row.locator('.models').textContent(), 'yolox_nano');
    assert.equal(await row.locator('.provider').textContent(), 'cpu');
    assert.match((await row.locator('.rate').textContent()) ?? '', /^\d+\.\d$/, 'a rate in fps');
    assert.match((await row.locator('.processed').textContent()) ?? '', /^\d+$/);
    assert.match((await row.locator('td').nth(1).textContent()) ?? '', /^(idle|busy|saturated)$/);
    await page.locator('#workers tr[data-queue="yolox_nano"]').waitFor({ timeout: 10_000 });
    assert.match(
      (await page.locator('#workers tr[data-queue="yolox_nano"] .lag').textContent()) ?? '',
      /^\d+$/,
    );
    // The edges are still shown alongside.
    await page.locator('section[data-edge="lobby-edge"]').waitFor({ timeout: 10_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-workers.png'), fullPage: true });
    await worker.close();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    await page.getByText('No live worker.').waitFor({ timeout: 5_000 });
    await page.close();
  });

  test('the status page and the API docs page work under the CSP: no violation reported', async () => {
    const page = await browser.newPage();
    await page.goto(`${hub.url}/api/v1/docs`);
    await page.locator('#ops .op').first().waitFor({ timeout: 10_000 });
    assert.equal(
      await page
        .locator('#ops .op .m')
        .first()
        .evaluate((el) => getComputedStyle(el).textTransform),
      'uppercase',
      'the inline style applies',
    );
    await page.close();
    assert.deepEqual(cspViolations, [], 'no Content Security Policy violation');
    // The check is real: a script injected without the nonce is refused, and reported.
    const probe = await browser.newPage();
    await probe.goto(`${hub.url}/`);
    const ran = await probe.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.injected = true';
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 200));
      return (window as { injected?: boolean }).injected === true;
    });
    assert.equal(ran, false, 'an inline script without the nonce does not run');
    for (let i = 0; i < 20 && cspViolations.length === 0; i++) await probe.waitForTimeout(100);
    await probe.close();
    assert.match(cspViolations.join('\n'), /script-src/, 'and the violation is seen');
  });
});
