/**
 * Faults of the overflow path with real worker processes (`sightline worker`, each its own node process) and a
 * Redis of the test's own (a `redis-server` child on a free port, so it can be stopped and started): a worker
 * killed while it holds entries, Redis stopped and started again, a worker pool that stops answering, malformed
 * entries. The hub and the edge run in this process (one slot of local inference, four 10 fps streams: more than
 * it can infer, so it offloads). Figures go to the fault report (docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { PrivateRedis } from '@sightline/hub/testing';
import { OVERFLOW_GROUP, overflowKeys, parseEdgeConfig } from '@sightline/shared';
import { Redis } from 'ioredis';
import { modelsDir } from '../e2e/helpers.ts';
import { media } from '../helpers/wait.ts';
import { baseEnv, CliProcess, ROOT, sleep } from './fleet.ts';

const PREFIX = 'sightline:';
const keys = overflowKeys(PREFIX);
const STREAM = keys.requests('yolox_nano');

/** Appends one scenario's figures to test/artifacts/overflow-faults.jsonl (and prints them). */
function record(entry: Record<string, unknown>): void {
  const line = JSON.stringify({ ...entry, at: new Date().toISOString() });
  mkdirSync(join(ROOT, 'test', 'artifacts'), { recursive: true });
  appendFileSync(join(ROOT, 'test', 'artifacts', 'overflow-faults.jsonl'), `${line}\n`);
  console.log(line);
}

async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** Redis, hub, edge and workers of one scenario. */
class OverflowRig {
  readonly dir = mkdtempSync(join(tmpdir(), 'sightline-overflow-fault-'));
  redis!: PrivateRedis;
  hub!: HubServer;
  edge!: EdgeAgent;
  /** A client of the test's own (fails fast while Redis is down). */
  probe!: Redis;
  viewer = '';
  readonly workers = new Map<string, CliProcess>();
  published = 0;

  static async start(options: { maxQueue?: number } = {}): Promise<OverflowRig> {
    const r = new OverflowRig();
    r.redis = await PrivateRedis.start();
    r.probe = new Redis(r.redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    r.probe.on('error', () => {});
    r.hub = await startHub({
      port: 0,
      dataDir: join(r.dir, 'hub'),
      redisUrl: r.redis.url,
      overflow: { prefix: PREFIX, ...(options.maxQueue ? { maxQueue: options.maxQueue } : {}) },
    });
    r.viewer = (await r.hub.tokens.create({ role: 'viewer' })).token;
    return r;
  }

  startWorker(id: string, claimIdleMs = 1500): CliProcess {
    const w = new CliProcess(id, baseEnv({}));
    w.start([
      'worker',
      '--model',
      'yolox_nano',
      '--redis',
      this.redis.url,
      '--sessions',
      '1',
      '--id',
      id,
      '--claim-idle-ms',
      String(claimIdleMs),
    ]);
    this.workers.set(id, w);
    return w;
  }

  async workerLive(id: string): Promise<void> {
    await until(`worker ${id} registered`, 60_000, () =>
      this.hub.overflow.snapshot().workers.some((w) => w.id === id),
    );
  }

  async startEdge(stalenessMs: number): Promise<void> {
    const token = (await this.hub.tokens.create({ role: 'edge', edgeId: 'edge-of' })).token;
    this.edge = await EdgeAgent.start(
      parseEdgeConfig({
        edgeId: 'edge-of',
        modelsDir: modelsDir(),
        streams: [1, 2, 3, 4].map((i) => ({
          id: `cam${i}`,
          source: media('vtest_h264.mp4'),
          loop: true,
          realtime: true,
          stalenessMs,
        })),
        inference: { sessions: 1, intraOpThreads: 1, inflightPerSession: 1 },
        hub: { url: this.hub.url, token, stateDir: join(this.dir, 'edge') },
        webrtc: { enabled: false },
        thumbnails: { enabled: false },
        overflow: { enabled: true, maxInFlight: 4, maxBatch: 4, backoffMs: 500 },
      }),
    );
    this.edge.runtime.on('result', () => this.published++);
  }

  stats() {
    return this.edge.overflow!.stats();
  }

  /** Entries a consumer holds (read and not acknowledged). */
  async pendingOf(consumer: string): Promise<string[]> {
    const rows = (await this.probe.xpending(STREAM, OVERFLOW_GROUP, '-', '+', 1000, consumer)) as [string][];
    return rows.map((r) => r[0]);
  }

  async dispose(): Promise<void> {
    await this.edge?.close();
    for (const w of this.workers.values()) {
      w.child?.kill('SIGCONT');
      await w.stop(5000);
    }
    await this.hub?.close();
    this.probe?.disconnect();
    await this.redis?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('overflow workers under faults (real worker processes, a Redis of the test own)', {
  timeout: 600_000,
}, () => {
  test('a worker killed while it holds entries: another takes them over and answers them', async () => {
    const rig = await OverflowRig.start();
    try {
      rig.startWorker('worker-a');
      rig.startWorker('worker-b');
      await rig.workerLive('worker-a');
      await rig.workerLive('worker-b');
      await rig.startEdge(6000);
      await until('20 offloaded frames answered', 90_000, () => rig.stats().answeredFrames >= 20);
      let held: string[] = [];
      await until('worker-a holding entries', 30_000, async () => {
        held = await rig.pendingOf('worker-a');
        return held.length > 0;
      });
      const before = rig.stats();
      await rig.workers.get('worker-a')!.kill9();
      const tookOverMs = await until(
        `the ${held.length} entries of worker-a answered by another`,
        30_000,
        async () => {
          const stillHeld = new Set(await rig.pendingOf('worker-a'));
          const pendingAll = (await rig.probe.xpending(STREAM, OVERFLOW_GROUP, '-', '+', 1000)) as [string][];
          const open = new Set(pendingAll.map((r) => r[0]));
          return held.every((id) => !stillHeld.has(id) && !open.has(id));
        },
      );
      await until(
        'offloading to carry on with worker-b',
        30_000,
        () => rig.stats().answeredFrames > before.answeredFrames + 10,
      );
      const after = rig.stats();
      assert.equal(after.duplicates, 0, JSON.stringify(after));
      record({
        scenario: 'overflow: worker killed -9 holding entries',
        offloadedFrames: after.frames,
        answeredFrames: after.answeredFrames,
        late: after.late - before.late,
        duplicates: after.duplicates,
        entriesHeld: held.length,
        tookOverMs,
        shed: after.shed - before.shed,
      });
    } finally {
      await rig.dispose();
    }
  });

  test('Redis stopped: the edge runs local-only and counts it; offloading resumes once Redis is back', async () => {
    const rig = await OverflowRig.start();
    try {
      rig.startWorker('worker-r');
      await rig.workerLive('worker-r');
      await rig.startEdge(3000);
      await until('10 offloaded frames answered', 90_000, () => rig.stats().answeredFrames >= 10);
      await rig.redis.stop();
      const down = rig.stats();
      const publishedAtStop = rig.published;
      await until('the edge told Redis is down', 20_000, () => rig.stats().unavailable > down.unavailable);
      await sleep(3000);
      assert.ok(
        rig.published > publishedAtStop + 20,
        `still publishing: ${publishedAtStop} -> ${rig.published}`,
      );
      assert.ok(rig.workers.get('worker-r')!.running, 'the worker rides out the outage');
      const whileDown = rig.stats();
      assert.equal(whileDown.answeredFrames, down.answeredFrames, 'nothing answered while Redis is down');

      await rig.redis.start();
      const resumedMs = await until(
        'offloaded frames answered again',
        60_000,
        () => rig.stats().answeredFrames > whileDown.answeredFrames + 5,
      );
      const after = rig.stats();
      record({
        scenario: 'overflow: Redis stopped and started (empty)',
        offloadedFrames: after.frames,
        answeredFrames: after.answeredFrames,
        late: after.late,
        duplicates: after.duplicates,
        unavailable: after.unavailable - down.unavailable,
        resumedMs,
      });
    } finally {
      await rig.dispose();
    }
  });

  test('a worker pool that stops answering cannot fill Redis: the queue stays at its cap, then requests are shed', async () => {
    const rig = await OverflowRig.start({ maxQueue: 24 });
    try {
      const w = rig.startWorker('worker-s');
      await rig.workerLive('worker-s');
      await rig.startEdge(2000);
      await until('5 offloaded frames answered', 90_000, () => rig.stats().answeredFrames >= 5);
      w.child!.kill('SIGSTOP');
      const stopped = rig.stats();
      let longest = 0;
      const watch = setInterval(() => {
        void rig.probe.xlen(STREAM).then(
          (n) => (longest = Math.max(longest, n)),
          () => {},
        );
      }, 100);
      try {
        await until(
          'the hub to forget the silent worker',
          20_000,
          () => rig.hub.overflow.snapshot().workers.length === 0,
        );
        await until('requests shed', 20_000, () => rig.stats().shed > stopped.shed);
        await sleep(2000);
      } finally {
        clearInterval(watch);
      }
      assert.ok(longest <= 24, `the request stream held ${longest} entries, cap 24`);
      w.child!.kill('SIGCONT');
      await rig.workerLive('worker-s');
      await until(
        'offloading resumes',
        60_000,
        () => rig.stats().answeredFrames > stopped.answeredFrames + 5,
      );
      const after = rig.stats();
      record({
        scenario: 'overflow: worker pool silent (SIGSTOP), queue capped',
        offloadedFrames: after.frames,
        answeredFrames: after.answeredFrames,
        late: after.late,
        duplicates: after.duplicates,
        longestQueue: longest,
        shed: after.shed - stopped.shed,
      });
    } finally {
      await rig.dispose();
    }
  });

  test('malformed entries are acknowledged and reported; the worker process keeps serving', async () => {
    const rig = await OverflowRig.start();
    try {
      const w = rig.startWorker('worker-m');
      await rig.workerLive('worker-m');
      await rig.startEdge(3000);
      await until('5 offloaded frames answered', 90_000, () => rig.stats().answeredFrames >= 5);
      const garbage: string[][] = [
        ['req', 'not msgpack at all'],
        ['hub', 'nohub', 'edge', 'edge-of', 'at', String(Date.now())],
        ['hub', rig.hub.overflow.hubId, 'edge', 'edge-of', 'at', 'soon', 'req', '\u00c1\u00c1'],
      ];
      for (const fields of garbage) await rig.probe.xadd(STREAM, '*', ...fields);
      const before = rig.stats();
      await until('the worker to count 3 malformed entries', 30_000, async () => {
        const res = await fetch(`${rig.hub.url}/api/v1/workers`, {
          headers: { authorization: `Bearer ${rig.viewer}` },
        });
        const body = (await res.json()) as { workers: { id: string; malformed: number }[] };
        return (body.workers.find((x) => x.id === 'worker-m')?.malformed ?? 0) >= 3;
      });
      await until(
        'offloading to carry on',
        30_000,
        () => rig.stats().answeredFrames > before.answeredFrames + 5,
      );
      assert.ok(w.running, `the worker is still running\n${w.log.slice(-2000)}`);
      const pending = (await rig.probe.xpending(STREAM, OVERFLOW_GROUP)) as [number, ...unknown[]];
      assert.ok(pending[0] <= 4, `malformed entries are acknowledged (pending ${pending[0]})`);
    } finally {
      await rig.dispose();
    }
  });
});
