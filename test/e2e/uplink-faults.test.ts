/**
 * Store-and-forward under faults: the hub stops in the middle of a run and comes back; the edge restarts once
 * while the hub is away (its unacknowledged batches wait in the on-disk outbox). At the end the hub holds
 * exactly the track points the edge produced: nothing lost, nothing counted twice.
 *
 * And a crash: the edge process is killed with SIGKILL in the middle of a batch window; the next start recovers
 * the window from the uplink journal, and the hub ends with every point the edge's JSON-lines sink witnessed but
 * those of the frame in flight, none twice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub, storeSchema } from '@sightline/hub';
import { testBackends } from '@sightline/hub/testing';
import { type FrameResult, parseEdgeConfig } from '@sightline/shared';
import { and, eq, sql } from 'drizzle-orm';
import { media } from '../helpers/wait.ts';
import { modelsDir } from './helpers.ts';

const backends = await testBackends('uplink_faults');
const EDGE = 'edge-faults';
const { trackPoints } = storeSchema;

/** Points the uplink sends for one frame: tracks confirmed and matched on it. */
const pointsOf = (r: FrameResult) =>
  r.tracks.filter((t) => t.status === 'confirmed' && t.timeSinceUpdate === 0).length;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ROOT = resolve(import.meta.dirname, '..', '..');

/** `stream|track|ts` of every point a JSON-lines witness holds (a torn last line is skipped), and each stream's last frame time. */
function witnessed(file: string): { points: Set<string>; lastTs: Map<string, number> } {
  const points = new Set<string>();
  const lastTs = new Map<string, number>();
  if (!existsSync(file)) return { points, lastTs };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    let r: FrameResult;
    try {
      r = JSON.parse(line) as FrameResult;
    } catch {
      continue;
    }
    const ts = Math.max(0, Math.round(r.capturedAt));
    let any = false;
    for (const t of r.tracks) {
      if (t.status !== 'confirmed' || t.timeSinceUpdate !== 0) continue;
      points.add(`${r.streamId}|${t.trackId}|${ts}`);
      any = true;
    }
    if (any && ts > (lastTs.get(r.streamId) ?? -1)) lastTs.set(r.streamId, ts);
  }
  return { points, lastTs };
}

/** `stream|track|ts` of the points the hub holds for one run of the edge, with how often each is stored. */
async function storedOf(hub: HubServer, run: string): Promise<Map<string, number>> {
  const rows = await hub.store.db
    .select({ streamId: trackPoints.streamId, trackId: trackPoints.trackId, ts: trackPoints.ts })
    .from(trackPoints)
    .where(and(eq(trackPoints.edgeId, EDGE), eq(trackPoints.run, run)));
  const out = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.streamId}|${r.trackId}|${new Date(r.ts).getTime()}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

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

    test('edge killed with SIGKILL mid-batch: after a restart the hub holds every witnessed point but the frame in flight', async (t) => {
      const loc = backend.create();
      const dir = mkdtempSync(join(tmpdir(), 'sightline-kill9-'));
      const stateDir = join(dir, 'edge-state');
      const witness = join(dir, 'witness-1.jsonl');
      let hub: HubServer | undefined;
      let agent: EdgeAgent | undefined;
      let child: ReturnType<typeof spawn> | undefined;
      let childLog = '';
      try {
        hub = await startHub({ port: 0, ...loc, heartbeatMs: 300 });
        const enrollmentToken = (await hub.tokens.create({ role: 'enroll', edgeId: EDGE })).token;
        // A long window (4 s), so that a crash before the journal lost seconds of points of both streams.
        const flushMs = 4000;
        const configFile = join(dir, 'edge-1.json');
        writeFileSync(
          configFile,
          JSON.stringify({
            edgeId: EDGE,
            modelsDir: modelsDir(),
            streams: ['cam1', 'cam2'].map((id) => ({
              id,
              source: media('vtest_h264.mp4'),
              loop: true,
              realtime: true,
              maxFrames: 2000,
            })),
            sinks: [{ type: 'jsonl', path: witness }],
            hub: { url: hub.url, stateDir, flushMs, enrollmentToken },
            thumbnails: { enabled: false },
            webrtc: { enabled: false },
          }),
        );
        // Its own node process, so that SIGKILL hits the edge and nothing else.
        child = spawn(
          process.execPath,
          [
            '--conditions=sightline-source',
            '--import',
            'tsx',
            join(ROOT, 'cli', 'src', 'main.ts'),
            'edge',
            'run',
            '--config',
            configFile,
          ],
          {
            cwd: ROOT,
            env: { ...process.env, SIGHTLINE_LOG_LEVEL: 'warn' },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        const keep = (b: Buffer) => {
          childLog = (childLog + b.toString()).slice(-10_000);
        };
        child.stdout!.on('data', keep);
        child.stderr!.on('data', keep);
        const exited = new Promise<void>((r) => child!.once('exit', () => r()));
        // The first window reaches the hub (the edge is up, enrolled and connected)...
        for (let waited = 0; (await storedPoints(hub)) === 0; waited += 250) {
          assert.ok(waited < 120_000 && child.exitCode === null, `no points stored; edge log:\n${childLog}`);
          await sleep(250);
        }
        // ...then it is killed halfway through the next one.
        await sleep(flushMs / 2);
        child.kill('SIGKILL');
        await exited;
        child = undefined;
        const journals = readdirSync(join(stateDir, 'journal')).filter((f) => f.endsWith('.wal'));
        assert.equal(journals.length, 1, 'the killed run left its journal');
        const run1 = journals[0]!.slice(0, -'.wal'.length);
        const seen = witnessed(witness);
        assert.ok(seen.points.size > 0, 'the witness holds points');

        // A new process on the same state dir: it recovers the window and sends it with run 1's stream, run, seq.
        let produced = 0;
        agent = await EdgeAgent.start(
          parseEdgeConfig({
            edgeId: EDGE,
            modelsDir: modelsDir(),
            streams: [{ id: 'cam1', source: media('vtest_h264.mp4'), realtime: true, maxFrames: 20 }],
            hub: { url: hub.url, stateDir, flushMs: 200 },
            thumbnails: { enabled: false },
            webrtc: { enabled: false },
          }),
        );
        agent.runtime.on('result', (r) => (produced += pointsOf(r)));
        const ended = new Promise<void>((r) => agent!.runtime.once('end', () => r()));
        await ended;
        const others = async () => {
          const [row] = await hub!.store.db
            .select({ n: sql<number>`count(*)::int` })
            .from(trackPoints)
            .where(and(eq(trackPoints.edgeId, EDGE), sql`${trackPoints.run} <> ${run1}`));
          return Number(row?.n ?? 0);
        };
        const deadline = Date.now() + 60_000;
        while (agent.uplink!.stats().outboxMessages > 0 || (await others()) < produced) {
          if (Date.now() > deadline) break;
          await sleep(200);
        }
        await agent.close();
        agent = undefined;
        assert.deepEqual(
          readdirSync(join(stateDir, 'journal')),
          [],
          'the recovered journal is deleted, and the clean run deletes its own',
        );

        const stored = await storedOf(hub, run1);
        const doubled = [...stored].filter(([, n]) => n > 1);
        assert.deepEqual(doubled, [], 'no point of the killed run is stored twice');
        const lost = [...seen.points].filter((k) => !stored.has(k));
        const notInFlight = lost.filter((k) => {
          const [stream, , ts] = k.split('|');
          return Number(ts) !== seen.lastTs.get(stream!);
        });
        t.diagnostic(
          `killed run: witnessed ${seen.points.size} points, hub holds ${stored.size}, lost ${lost.length} (all of the frame in flight: ${notInFlight.length === 0}), window ${flushMs} ms`,
        );
        assert.deepEqual(notInFlight, [], 'only points of the last witnessed frame of a stream may be lost');
        assert.equal(await others(), produced, 'the clean second run is stored exactly');
      } finally {
        child?.kill('SIGKILL');
        await agent?.close();
        await hub?.close();
        await backend.dispose(loc);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
