/**
 * Edge readiness over its metrics server: /ready answers 503 (with Retry-After) while the hub link is down and 200
 * once the uplink is connected, with each stream's state; /health answers 200 throughout, in the hub's shape.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EdgeAgent } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { type HealthReport, parseEdgeConfig } from '@sightline/shared';
import { media, until } from '../helpers/wait.ts';
import { modelsDir } from './helpers.ts';

const EDGE = 'edge-ready';

async function get(url: string): Promise<{ status: number; retryAfter: string | null; body: HealthReport }> {
  const res = await fetch(url);
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as HealthReport,
  };
}

describe('edge /ready follows the hub link', { timeout: 120_000 }, () => {
  test('503 with Retry-After while the hub is down, 200 once connected; streams listed; /health like the hub', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sightline-ready-hub-'));
    const stateDir = mkdtempSync(join(tmpdir(), 'sightline-ready-edge-'));
    let hub: HubServer | undefined;
    let agent: EdgeAgent | undefined;
    try {
      // A hub on a free port gives the edge its credential, then goes away: the edge starts with its hub down.
      hub = await startHub({ port: 0, dataDir, heartbeatMs: 300, media: { enabled: false } });
      const hubUrl = hub.url;
      const port = Number(new URL(hubUrl).port);
      const token = (await hub.tokens.create({ role: 'edge', edgeId: EDGE })).token;
      const hubHealth = await get(`${hubUrl}/health`);
      await hub.close();
      hub = undefined;

      agent = await EdgeAgent.start(
        parseEdgeConfig({
          edgeId: EDGE,
          modelsDir: modelsDir(),
          streams: [{ id: 'cam1', source: media('vtest_h264.mp4'), loop: true, realtime: true }],
          inference: { sessions: 1 },
          metrics: { port: 0 },
          hub: { url: hubUrl, token, stateDir, flushMs: 200 },
          webrtc: { enabled: false },
        }),
      );
      const url = agent.metricsUrl!;
      const down = await get(`${url}/ready`);
      assert.equal(down.status, 503, JSON.stringify(down.body));
      assert.equal(down.retryAfter, '5');
      assert.equal(down.body.status, 'unavailable');
      assert.equal(down.body.checks.hub?.status, 'unavailable');
      assert.match(down.body.checks.hub?.detail ?? '', /^(connecting to|disconnected from) http/);
      assert.ok(down.body.checks['stream:cam1'], 'the stream is listed');

      const health = await get(`${url}/health`);
      assert.equal(health.status, 200, 'alive while not ready');
      assert.equal(health.body.status, 'ok');
      assert.deepEqual(Object.keys(health.body).sort(), Object.keys(hubHealth.body).sort());
      assert.deepEqual(Object.keys(down.body).sort(), Object.keys(health.body).sort());

      hub = await startHub({ port, dataDir, heartbeatMs: 300, media: { enabled: false } });
      const up = await until('edge ready', 60_000, async () => {
        const r = await get(`${url}/ready`);
        return r.status === 200 && r.body.checks['stream:cam1']?.status === 'ok' ? r : undefined;
      });
      assert.equal(up.retryAfter, null);
      assert.equal(up.body.status, 'ok');
      assert.deepEqual(up.body.checks.hub, { status: 'ok', detail: `connected to ${hubUrl}` });
      assert.deepEqual(up.body.checks['stream:cam1'], { status: 'ok', detail: 'running' });
    } finally {
      await agent?.close();
      await hub?.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
