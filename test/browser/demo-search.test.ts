/**
 * The demo's headline feature in a real browser: `sightline demo` (the command `npm start` runs) on its two sample
 * streams, the printed viewer URL opened in chromium, a click on a person, and the panel lists similar tracks, each
 * with a thumbnail and the name of the stream it was seen on. Through the API, the same search spans both streams.
 * Screenshot: test/artifacts/demo-search.png.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { modelsDir } from '../e2e/helpers.ts';
import { largestTrackCentre, launchChromium, noLiveVideo } from '../helpers/browser.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test', 'artifacts');
const STREAMS = ['vtest', 'one-by-one-person-detection'];

interface SearchHit {
  id: string;
  streamId: string;
  thumbnail?: string;
  score: number;
}

describe('the demo: find this person', { skip: noLiveVideo }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-demo-search-'));
  const profile = mkdtempSync(join(tmpdir(), 'sightline-demo-chromium-'));
  let demo: ChildProcess;
  let output = '';
  let hubUrl = '';
  let token = '';
  let browser: BrowserContext;

  before(async () => {
    demo = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'sightline.js'), 'demo', '--port', '0', '--data-dir', dataDir],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          MODELS_DIR: modelsDir(),
          SIGHTLINE_FROM_SOURCE: '1',
          SIGHTLINE_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    demo.stderr!.setEncoding('utf8').on('data', (s: string) => {
      output += s;
    });
    [hubUrl, token] = await new Promise<[string, string]>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`no viewer URL after 90 s:\n${output}`)), 90_000);
      demo.stdout!.setEncoding('utf8').on('data', (s: string) => {
        output += s;
        const m = /Open (http:\/\/\S+?)\/viewer#token=(\S+) in a browser/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolvePromise([m[1]!, m[2]!]);
        }
      });
      demo.once('close', (code) => reject(new Error(`demo exited ${code}:\n${output}`)));
    });
    browser = await launchChromium(profile, { width: 1600, height: 900 }, [
      '--autoplay-policy=no-user-gesture-required',
    ]);
  });
  after(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null) {
      const closed = new Promise((r) => demo.once('close', r));
      demo.kill('SIGINT');
      await closed;
    }
    for (const d of [dataDir, profile]) rmSync(d, { recursive: true, force: true });
  });

  /** Click the largest person drawn on `key`'s tile; the id clicked. */
  async function clickPerson(page: Page, key: string, skip: Set<number>): Promise<number | undefined> {
    const target = await largestTrackCentre(page, key, { label: 'person', skip: [...skip] });
    if (!target) return undefined;
    await page.mouse.click(target.x, target.y);
    return target.id;
  }

  test('a clicked person lists similar tracks with thumbnails and stream names; the search spans both streams', async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${hubUrl}/viewer#token=${token}`);
    for (const s of STREAMS) {
      await page.locator(`section.tile[data-key="demo-edge/${s}"]`).waitFor({ timeout: 60_000 });
    }
    // Tracks reach the hub every half second with their embeddings; a person just appeared may have none stored
    // yet: try the largest people in turn until one's panel lists results (the viewer shows that case as an error).
    const key = `demo-edge/${STREAMS[0]}`;
    const tried = new Set<number>();
    const deadline = Date.now() + 90_000;
    let found = 0;
    while (!found) {
      assert.ok(
        Date.now() < deadline,
        `no clicked person listed similar tracks (tried ${[...tried].join(', ')})`,
      );
      await page.waitForTimeout(1000);
      const id = await clickPerson(page, key, tried);
      if (id === undefined) continue;
      tried.add(id);
      await page.locator('#track').waitFor({ state: 'visible', timeout: 5000 });
      await page
        .waitForFunction(
          () => {
            const body = document.querySelector('#track-body')?.textContent ?? '';
            return !/Loading…|Searching…/.test(body);
          },
          undefined,
          { timeout: 15_000 },
        )
        .catch(() => undefined);
      found = await page.locator('#track-body .similar figure').count();
      if (!found && tried.size > 8) tried.clear();
    }

    // Each listed track shows a loaded thumbnail and the stream it was seen on.
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('#track-body .similar figure img')).every(
          (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0,
        ),
      undefined,
      { timeout: 10_000 },
    );
    const figures = await page.locator('#track-body .similar figure').evaluateAll((els) =>
      els.map((el) => ({
        stream: el.querySelector('.stream')?.textContent ?? '',
        img: (el.querySelector('img') as HTMLImageElement | null)?.naturalWidth ?? 0,
        score: el.querySelector('.score')?.textContent ?? '',
      })),
    );
    assert.ok(figures.length >= 1);
    assert.ok(
      figures.some((f) => f.img > 0),
      `a similar track with a thumbnail: ${JSON.stringify(figures)}`,
    );
    for (const f of figures) {
      assert.ok(STREAMS.includes(f.stream), `stream name shown: ${JSON.stringify(f)}`);
      assert.match(f.score, /^\d+% similar$/);
    }
    assert.equal(await page.locator('#track-body .error').count(), 0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'demo-search.png') });

    // The same search through the API with a larger k: people from both streams (the index holds every stream).
    const title = (await page.locator('#track-title').textContent()) ?? '';
    const trackId = Number(/#(\d+)/.exec(title)?.[1]);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const list = (await (
      await fetch(`${hubUrl}/api/v1/tracks?edgeId=demo-edge&streamId=${STREAMS[0]}&limit=500`, {
        headers: auth,
      })
    ).json()) as { tracks: { id: string; trackId: number }[] };
    const track = list.tracks.find((t) => t.trackId === trackId);
    assert.ok(track, `track #${trackId} is stored`);
    // Where else was this person seen: the same search narrowed to the other stream finds tracks there (once that
    // stream's first people have been stored with their embeddings; the clip shows one person at a time).
    const other = STREAMS[1]!;
    const searchOther = async (): Promise<SearchHit[]> => {
      const res = await fetch(`${hubUrl}/api/v1/search`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ track: track.id, k: 10, filters: { streamId: other } }),
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { results: SearchHit[] }).results;
    };
    let elsewhere = await searchOther();
    for (
      const until = Date.now() + 90_000;
      !elsewhere.length && Date.now() < until;
      elsewhere = await searchOther()
    ) {
      await new Promise((r) => setTimeout(r, 2000));
    }
    assert.ok(elsewhere.length > 0, `the search finds tracks on ${other}`);
    assert.ok(elsewhere.every((h) => h.streamId === other && h.score > 0));
    assert.deepEqual(pageErrors, []);

    // An error from the search is shown as an error, not as a result: the hub answering 503 here.
    await page.route('**/api/v1/search', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'STORE_UNAVAILABLE', message: 'the store is unavailable' } }),
      }),
    );
    await page.click('#track-close');
    const again = await clickPerson(page, key, new Set());
    assert.ok(again !== undefined);
    const alert = page.locator('#track-body .similar .error[role="alert"]');
    await alert.waitFor({ timeout: 15_000 });
    assert.match((await alert.textContent()) ?? '', /the store is unavailable/);
    assert.equal(await page.locator('#track-body .similar figure').count(), 0);
    await page.close();
  });
});
