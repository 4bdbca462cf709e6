import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createHubApp } from './app.ts';
import { FleetState } from './fleet-state.ts';

const stream = {
  streamId: 'cam1',
  source: 'vtest.avi',
  state: 'running',
  framesDecoded: 10,
  framesInferred: 9,
  droppedOverflow: 0,
  droppedStale: 1,
  fps: 10,
  latencyP50Ms: 40,
  latencyP95Ms: 80,
  activeTracks: 4,
  reconnects: 0,
};
const report = { version: '0.1.0', model: 'yolox_nano', provider: 'cpu', streams: [stream] };

function post(app: ReturnType<typeof createHubApp>, path: string, body: string, type = 'application/json') {
  return app.request(path, { method: 'POST', body, headers: { 'content-type': type } });
}

describe('hub app', () => {
  test('health answers ok', async () => {
    const res = await createHubApp({ fleet: new FleetState() }).request('/health');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });

  test('an edge report shows up in the status with online state', async () => {
    let now = 1_000_000;
    const fleet = new FleetState(() => now);
    const app = createHubApp({ fleet });
    const res = await post(app, '/api/v1/edges/edge-1/status', JSON.stringify(report));
    assert.equal(res.status, 200);
    const status = (await (await app.request('/api/v1/status')).json()) as {
      edges: { edgeId: string; status: string; streams: { activeTracks: number }[] }[];
    };
    assert.equal(status.edges[0]?.edgeId, 'edge-1');
    assert.equal(status.edges[0]?.status, 'online');
    assert.equal(status.edges[0]?.streams[0]?.activeTracks, 4);
    now += 10_000;
    assert.equal(fleet.edges()[0]?.status, 'stale');
    now += 60_000;
    assert.equal(fleet.edges()[0]?.status, 'offline');
  });

  test('the status page is HTML that polls the status API', async () => {
    const res = await createHubApp({ fleet: new FleetState() }).request('/');
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /\/api\/v1\/status/);
  });

  describe('rejects malformed reports with a JSON error and keeps what it had', () => {
    const cases: [string, string, string, number, string, RegExp][] = [
      ['invalid JSON', '/api/v1/edges/e1/status', '{"version":', 400, 'BAD_REQUEST', /not valid JSON/],
      [
        'a wrong type',
        '/api/v1/edges/e1/status',
        JSON.stringify({ ...report, streams: 'x' }),
        400,
        'VALIDATION_FAILED',
        /^streams:/,
      ],
      [
        'a wrong nested type',
        '/api/v1/edges/e1/status',
        JSON.stringify({ ...report, streams: [{ ...stream, fps: 'fast' }] }),
        400,
        'VALIDATION_FAILED',
        /^streams\.0\.fps:/,
      ],
      [
        'an unknown field',
        '/api/v1/edges/e1/status',
        JSON.stringify({ ...report, extra: 1 }),
        400,
        'VALIDATION_FAILED',
        /extra/,
      ],
      [
        'a bad edge id',
        '/api/v1/edges/..%2Fx/status',
        JSON.stringify(report),
        400,
        'BAD_REQUEST',
        /invalid edge id/,
      ],
    ];
    for (const [name, path, body, status, code, message] of cases) {
      test(name, async () => {
        const fleet = new FleetState();
        const app = createHubApp({ fleet });
        const res = await post(app, path, body);
        assert.equal(res.status, status);
        const json = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(json.error.code, code);
        assert.match(json.error.message, message);
        assert.equal(fleet.edges().length, 0);
      });
    }

    test('an oversized body gets 413', async () => {
      const app = createHubApp({ fleet: new FleetState(), maxBodyBytes: 100 });
      const res = await post(app, '/api/v1/edges/e1/status', JSON.stringify(report));
      assert.equal(res.status, 413);
    });

    test('a non-JSON content type gets 415', async () => {
      const app = createHubApp({ fleet: new FleetState() });
      const res = await post(app, '/api/v1/edges/e1/status', 'x', 'text/plain');
      assert.equal(res.status, 415);
    });
  });

  test('unknown routes get a JSON 404', async () => {
    const res = await createHubApp({ fleet: new FleetState() }).request('/nope');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });
});
