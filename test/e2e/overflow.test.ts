/**
 * The overflow path end to end with real parts: an edge with one inference slot and more streams than it can
 * infer, a hub with Redis, and a worker running the same model. Frames the edge cannot take go to the worker and
 * their results come back and are published in frame order; the worker shows in GET /api/v1/workers. Without a
 * worker the hub sheds and the edge carries on local-only, counting what it could not offload.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { OverflowWorker } from '@sightline/worker';
import { deleteRedisKeys, REDIS_URL } from '../helpers/redis.ts';
import { media, until } from '../helpers/wait.ts';
import { modelsDir } from './helpers.ts';

const prefix = `sightline-e2e-${process.pid}:`;

describe('overflow: edge -> hub -> Redis -> worker -> edge', { timeout: 240_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-overflow-hub-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'sightline-overflow-edge-'));
  let hub: HubServer;
  let worker: OverflowWorker | undefined;
  let agent: EdgeAgent;
  let viewer: string;
  const results = new Map<string, FrameResult[]>();

  before(async () => {
    hub = await startHub({ port: 0, dataDir, heartbeatMs: 300, redisUrl: REDIS_URL, overflow: { prefix } });
    viewer = (await hub.tokens.create({ role: 'viewer' })).token;
    const token = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-overflow' })).token;
    worker = new OverflowWorker({
      models: ['yolox_nano'],
      redisUrl: REDIS_URL,
      prefix,
      modelsDir: modelsDir(),
      inference: { sessions: 1, intraOpThreads: 1 },
      workerId: 'worker-e2e',
      heartbeatMs: 300,
    });
    await worker.start();
    await until('the hub to see the worker', 10_000, () =>
      hub.overflow.snapshot().workers.some((w) => w.id === 'worker-e2e') ? true : undefined,
    );
    // One local slot, four streams at 10 fps: more than one session of yolox_nano keeps up with here.
    agent = await EdgeAgent.start(
      parseEdgeConfig({
        edgeId: 'edge-overflow',
        modelsDir: modelsDir(),
        streams: [1, 2, 3, 4].map((i) => ({
          id: `cam${i}`,
          source: media('vtest_h264.mp4'),
          loop: true,
          realtime: true,
          stalenessMs: 2000,
        })),
        inference: { sessions: 1, intraOpThreads: 1, inflightPerSession: 1 },
        hub: { url: hub.url, token, stateDir },
        webrtc: { enabled: false },
        overflow: { enabled: true, maxInFlight: 4, maxBatch: 4 },
      }),
    );
    agent.runtime.on('result', (r) => {
      const list = results.get(r.streamId) ?? [];
      list.push(r);
      results.set(r.streamId, list);
    });
  });

  after(async () => {
    await agent?.close();
    await worker?.close();
    await hub?.close();
    await deleteRedisKeys(prefix);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('frames the edge cannot take are inferred by the worker and published in frame order', async () => {
    const overflow = agent.overflow!;
    assert.ok(overflow, 'the agent runs the overflow backend');
    await until('40 frames answered by the worker', 90_000, () =>
      overflow.stats().answeredFrames >= 40 ? true : undefined,
    );
    const s = overflow.stats();
    assert.ok(s.localFrames > 0, 'the local pool still infers');
    assert.ok(s.frames >= s.answeredFrames, JSON.stringify(s));
    assert.equal(s.duplicates, 0, JSON.stringify(s));
    // Every stream's results come in strictly increasing frame order, whichever path each frame took.
    let published = 0;
    for (const [stream, list] of results) {
      for (let i = 1; i < list.length; i++) {
        assert.ok(
          list[i]!.seq > list[i - 1]!.seq,
          `${stream}: seq ${list[i]!.seq} after ${list[i - 1]!.seq}`,
        );
      }
      published += list.length;
    }
    assert.ok(published >= s.answeredFrames, `published ${published}, answered remotely ${s.answeredFrames}`);
    // People are found in offloaded frames too (vtest has several in every frame).
    const withDetections = [...results.values()].flat().filter((r) => r.detections.length > 0).length;
    assert.ok(withDetections > published / 2, `${withDetections} of ${published} frames have detections`);

    const res = await fetch(`${hub.url}/api/v1/workers`, { headers: { authorization: `Bearer ${viewer}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      redis: string;
      workers: { id: string; models: string[]; processed: number }[];
    };
    assert.equal(body.redis, 'connected');
    const w = body.workers.find((x) => x.id === 'worker-e2e');
    assert.ok(w, JSON.stringify(body));
    assert.deepEqual(w.models, ['yolox_nano']);
    assert.ok(w.processed > 0, JSON.stringify(w));
  });

  test('with the worker gone the hub sheds; the edge stays local-only and keeps publishing', async () => {
    await worker!.close();
    worker = undefined;
    const overflow = agent.overflow!;
    await until('the hub to forget the worker', 15_000, () =>
      hub.overflow.snapshot().workers.length === 0 ? true : undefined,
    );
    const before = overflow.stats();
    await until('a shed request', 20_000, () => (overflow.stats().shed > before.shed ? true : undefined));
    const atShed = overflow.stats();
    const publishedAtShed = [...results.values()].reduce((n, l) => n + l.length, 0);
    await new Promise((r) => setTimeout(r, 5000));
    const later = overflow.stats();
    const publishedLater = [...results.values()].reduce((n, l) => n + l.length, 0);
    assert.ok(
      publishedLater > publishedAtShed + 5,
      `still publishing: ${publishedAtShed} -> ${publishedLater}`,
    );
    assert.ok(later.localFrames > atShed.localFrames, 'the local pool carries on');
    // Backoff: about one request per backoffMs (1 s) is tried while nothing serves the model.
    assert.ok(
      later.requests - atShed.requests <= 8,
      `${later.requests - atShed.requests} requests in 5 s of backoff: ${JSON.stringify({ atShed, later })}`,
    );
    assert.equal(later.answeredFrames, before.answeredFrames, 'nothing answered without a worker');
  });
});
