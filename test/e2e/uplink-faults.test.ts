/**
 * Store-and-forward under faults: the hub stops in the middle of a run and comes back; the edge restarts once
 * while the hub is away (its unacknowledged batches wait in the on-disk outbox). At the end the hub holds
 * exactly the track points the edge produced: nothing lost, nothing counted twice.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub, storeSchema } from '@sightline/hub';
import { testBackends } from '@sightline/hub/testing';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { eq, sql } from 'drizzle-orm';
import { media } from '../helpers/wait.ts';
import { modelsDir } from './helpers.ts';

const backends = await testBackends('uplink_faults');
const EDGE = 'edge-faults';
const { trackPoints } = storeSchema;

/** Points the uplink sends for one frame: tracks confirmed and matched on it. */
const pointsOf = (r: FrameResult) =>
  r.tracks.filter((t) => t.status === 'confirmed' && t.timeSinceUpdate === 0).length;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function storedPoints(hub: HubServer): Promise<number> {
  const [row] = await hub.store.db
    .select({ n: sql<number>`count(*)::int` })
    .from(trackPoints)
    .where(eq(trackPoints.edgeId, EDGE));
  return Number(row?.n ?? 0);
}

for (const backend of backends) {
  describe(`uplink faults on ${backend.name}`, { skip: backend.skip, timeout: 240_000 }, () => {
    test('hub stopped and restarted mid-run, edge restarted once: the hub ends with exactly the points produced', async () => {
      const loc = backend.create();
      const stateDir = mkdtempSync(join(tmpdir(), 'sightline-faults-edge-'));
      let hub: HubServer | undefined;
      let agent: EdgeAgent | undefined;
      try {
        hub = await startHub({ port: 0, ...loc, heartbeatMs: 300 });
        const hubUrl = hub.url;
        const port = Number(new URL(hubUrl).port);
        const enrollmentToken = (await hub.tokens.create({ role: 'enroll', edgeId: EDGE })).token;
        let produced = 0;
        const config = (frames: number, enroll?: string) =>
          parseEdgeConfig({
            edgeId: EDGE,
            modelsDir: modelsDir(),
            streams: ['cam1', 'cam2'].map((id) => ({
              id,
              source: media('vtest_h264.mp4'),
              realtime: true,
              maxFrames: frames,
            })),
            hub: { url: hubUrl, stateDir, flushMs: 200, ...(enroll ? { enrollmentToken: enroll } : {}) },
            webrtc: { enabled: false }, // this test is about the uplink; live video would only add load
          });
        const count = (a: EdgeAgent) => a.runtime.on('result', (r) => (produced += pointsOf(r)));

        // Run 1: connected, then the hub goes away under it.
        agent = await EdgeAgent.start(config(1000, enrollmentToken));
        count(agent);
        // Wait for the first stored points (seconds on a loaded box), then the hub goes away.
        for (let waited = 0; waited < 15_000 && (await storedPoints(hub)) === 0; waited += 250)
          await sleep(250);
        await sleep(1000);
        const beforeOutage = await storedPoints(hub);
        assert.ok(beforeOutage > 0, 'points reached the hub before the outage');
        await hub.close();
        hub = undefined;
        await sleep(1500);
        // The edge restarts while the hub is down: what it could not deliver waits on disk.
        await agent.close();
        const waiting = agent.uplink!.stats().outboxMessages;
        assert.ok(waiting > 0, 'unacknowledged batches were left in the outbox');
        agent = undefined;

        // Run 2: a new process (new run id) on the same state dir, its saved credential, and a finite stream.
        const run2 = config(40);
        agent = await EdgeAgent.start(run2);
        count(agent);
        const ended = new Promise<void>((resolve) => agent!.runtime.once('end', () => resolve()));
        await sleep(1500);
        hub = await startHub({ port, ...loc, heartbeatMs: 300 });
        await ended;
        // Everything acknowledged, then the hub must hold exactly what was produced.
        const deadline = Date.now() + 60_000;
        while (agent.uplink!.stats().outboxMessages > 0 || (await storedPoints(hub)) < produced) {
          if (Date.now() > deadline) break;
          await sleep(200);
        }
        await agent.close();
        agent = undefined;
        const stored = await storedPoints(hub);
        assert.ok(produced > beforeOutage, `produced ${produced} points in all`);
        assert.equal(stored, produced, `hub holds ${stored} points, the edge produced ${produced}`);
        const runs = await hub.store.db
          .select({ run: trackPoints.run })
          .from(trackPoints)
          .where(eq(trackPoints.edgeId, EDGE))
          .groupBy(trackPoints.run);
        assert.equal(runs.length, 2, 'points of both edge runs are stored');
      } finally {
        await agent?.close();
        await hub?.close();
        await backend.dispose(loc);
        rmSync(stateDir, { recursive: true, force: true });
      }
    });
  });
}
