import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import vm from 'node:vm';
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
  inferErrors: 7,
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
    const fleet = new FleetState({ now: () => now });
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

  test("the status page's script renders each stream's counters, inference errors included", async () => {
    const fleet = new FleetState();
    const app = createHubApp({ fleet });
    assert.equal((await post(app, '/api/v1/edges/edge-1/status', JSON.stringify(report))).status, 200);
    const html = await (await app.request('/')).text();
    const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1];
    assert.ok(script, 'the page has a script');
    // Run the page's script against the app: its fetch('/api/v1/status') goes to the hub app itself.
    const root = { innerHTML: '' };
    vm.runInNewContext(script, {
      document: { getElementById: () => root },
      fetch: (url: string) => app.request(url),
      setInterval: () => 0,
    });
    const deadline = Date.now() + 2000;
    while (!root.innerHTML.includes('data-stream') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    assert.match(root.innerHTML, /<th>infer errors<\/th>/);
    assert.match(root.innerHTML, /<td class="infer-errors">7<\/td>/);
    assert.match(root.innerHTML, /<td class="inferred">9<\/td>/);
  });

  test('a report without inferErrors (an older edge) is accepted with 0', async () => {
    const fleet = new FleetState();
    const { inferErrors: _, ...old } = stream;
    const res = await post(
      createHubApp({ fleet }),
      '/api/v1/edges/e1/status',
      JSON.stringify({ ...report, streams: [old] }),
    );
    assert.equal(res.status, 200);
    assert.equal(fleet.edges()[0]?.streams[0]?.inferErrors, 0);
  });

  test('an edge not heard from for evictAfterMs is dropped from the fleet', async () => {
    let now = 1_000_000;
    const fleet = new FleetState({ now: () => now, evictAfterMs: 60_000 });
    const app = createHubApp({ fleet });
    await post(app, '/api/v1/edges/old/status', JSON.stringify(report));
    now += 30_000;
    await post(app, '/api/v1/edges/young/status', JSON.stringify(report));
    now += 30_000;
    assert.deepEqual(
      fleet.edges().map((e) => [e.edgeId, e.status]),
      [
        ['old', 'offline'],
        ['young', 'stale'],
      ],
      'offline edges stay listed until evictAfterMs',
    );
    now += 1;
    const status = (await (await app.request('/api/v1/status')).json()) as { edges: { edgeId: string }[] };
    assert.deepEqual(
      status.edges.map((e) => e.edgeId),
      ['young'],
    );
    now += 30_000;
    assert.deepEqual(fleet.edges(), []);
  });

  test('a new edge beyond maxEdges gets 507 FLEET_FULL; known edges still report; eviction frees a place', async () => {
    let now = 1_000_000;
    const fleet = new FleetState({ now: () => now, maxEdges: 2, evictAfterMs: 60_000 });
    const app = createHubApp({ fleet });
    const body = JSON.stringify(report);
    assert.equal((await post(app, '/api/v1/edges/e1/status', body)).status, 200);
    now += 40_000;
    assert.equal((await post(app, '/api/v1/edges/e2/status', body)).status, 200);
    const full = await post(app, '/api/v1/edges/e3/status', body);
    assert.equal(full.status, 507);
    const json = (await full.json()) as { error: { code: string; message: string } };
    assert.equal(json.error.code, 'FLEET_FULL');
    assert.match(json.error.message, /at most 2 edges; "e3"/);
    assert.deepEqual(
      fleet.edges().map((e) => e.edgeId),
      ['e1', 'e2'],
    );
    now += 10_000;
    assert.equal((await post(app, '/api/v1/edges/e1/status', body)).status, 200, 'a known edge reports on');
    now += 51_000; // e2 was last heard 61 s ago: evicted; e1 51 s ago: kept
    assert.equal((await post(app, '/api/v1/edges/e3/status', body)).status, 200);
    assert.deepEqual(
      fleet.edges().map((e) => e.edgeId),
      ['e1', 'e3'],
    );
    assert.throws(
      () => new FleetState({ maxEdges: 0 }),
      /Expected a positive integer for maxEdges but received 0/,
    );
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
      const json = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(json.error.code, 'PAYLOAD_TOO_LARGE');
      assert.match(json.error.message, /larger than 100 bytes/);
    });

    test('an oversized body sent without a length is cut off at the limit, not read to its end', {
      timeout: 10_000,
    }, async () => {
      const app = createHubApp({ fleet: new FleetState(), maxBodyBytes: 1000 });
      let pulled = 0;
      const chunk = new Uint8Array(256).fill(0x20);
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += chunk.length;
          if (pulled > 64 << 20) controller.close();
          else controller.enqueue(chunk.slice());
        },
      });
      const init = { method: 'POST', body, duplex: 'half', headers: { 'content-type': 'application/json' } };
      const res = await app.request('/api/v1/edges/e1/status', init as RequestInit);
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
      assert.ok(pulled < 1000 + 8 * chunk.length, `read ${pulled} bytes of a 64 MiB body`);
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
