/**
 * Fuzzing a real hub (PGlite) at its wire boundaries: every API route with a body or query (generated JSON mutated
 * from corpus/api-bodies.json, arbitrary JSON, raw text) and the uplink WebSocket (msgpack frames mutated from
 * corpus/uplink-*.msgpack). No response may be a 500, no valid batch may be refused by the store, and the hub must
 * answer /health afterwards.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode, Encoder } from '@msgpack/msgpack';
import { type HubServer, startHub } from '@sightline/hub';
import { EdgeMessageSchema, type HubMessage, UPLINK_PATH, UPLINK_PROTOCOL } from '@sightline/shared';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { corpusBytes, corpusText, edgeValue, mutatedBytes, mutatedValue, params, show } from './fuzz.ts';

type Role = 'viewer' | 'operator' | 'admin' | 'edge' | 'enroll';
interface Operation {
  'x-required-role': Role;
  parameters?: { name: string; in: string; schema?: { type?: string; enum?: unknown[] } }[];
  requestBody?: unknown;
}
type OpenApiDoc = { paths: Record<string, Record<string, Operation>> };

const BODY_SEEDS = JSON.parse(corpusText('api-bodies.json')) as Record<string, unknown>;
const FRAME_SEEDS = ['hello', 'heartbeat', 'batch', 'result'].map((n) => corpusBytes(`uplink-${n}.msgpack`));
const PATH_SAMPLE: Record<string, string> = {
  edgeId: 'edge-1',
  streamId: 'cam1',
  tokenId: '0123456789abcdef',
  sha256: 'a'.repeat(64),
  trackKey: 'edge-1:cam1:run1:1',
  quarantineId: '1',
};
const encoder = new Encoder({ ignoreUndefined: true });

/** A raw uplink connection that keeps what the hub sends and how it closed. */
class Uplink {
  readonly got: HubMessage[] = [];
  closeCode: number | undefined;
  readonly ws: WebSocket;
  constructor(url: string, token: string) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + UPLINK_PATH, {
      headers: { authorization: `Bearer ${token}` },
    });
    this.ws.on('message', (d) => this.got.push(decode(d as Buffer) as HubMessage));
    this.ws.on('close', (code) => {
      this.closeCode = code;
    });
    this.ws.on('error', () => {});
  }
  async open(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return this;
  }
  get closed(): boolean {
    return this.closeCode !== undefined;
  }
  send(frame: Uint8Array | unknown): void {
    this.ws.send(frame instanceof Uint8Array ? frame : encoder.encode(frame));
  }
  /** Waits for a message matching `pred` (removing it and what came before into the returned list). */
  async until(pred: (m: HubMessage) => boolean, ms = 10_000): Promise<HubMessage[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.got.findIndex(pred);
      if (i >= 0) return this.got.splice(0, i + 1);
      if (this.closed) return this.got.splice(0);
      if (Date.now() > deadline) throw new Error(`no answer in ${ms} ms; got ${JSON.stringify(this.got)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

describe('fuzz: hub boundaries', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-fuzz-hub-'));
  let hub: HubServer;
  let doc: OpenApiDoc;
  const token = {} as Record<Role, string>;
  let fakeEdge: Uplink;

  const health = async () => {
    const res = await fetch(`${hub.url}/health`);
    assert.equal(res.status, 200, 'the hub answers /health');
    await res.body?.cancel();
  };

  before(async () => {
    hub = await startHub({
      port: 0,
      dataDir,
      databaseUrl: '',
      rateLimit: { ratePerSec: 100_000, burst: 100_000 },
      commandTimeoutMs: 3000,
      media: { enabled: false },
    } as Parameters<typeof startHub>[0]);
    for (const role of ['viewer', 'operator', 'admin', 'enroll'] as const) {
      token[role] = (await hub.tokens.create({ role })).token;
    }
    token.edge = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-1' })).token;
    doc = (await (await fetch(`${hub.url}/api/v1/openapi.json`)).json()) as OpenApiDoc;
    // edge-1 is connected and answers every command, so fleet routes run to the end (audit record included).
    fakeEdge = await new Uplink(hub.url, token.edge).open();
    fakeEdge.ws.on('message', (d) => {
      const m = decode(d as Buffer) as { t: string; id?: string; args?: unknown };
      if (m.t === 'command') fakeEdge.send({ t: 'result', id: m.id, ok: true, data: { applied: m.args } });
    });
    fakeEdge.send(decode(FRAME_SEEDS[0]!));
    await fakeEdge.until((m) => m.t === 'welcome');
  });
  after(async () => {
    fakeEdge?.ws.terminate();
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, role: Role, body?: string, type = 'application/json') => {
    const res = await fetch(hub.url + path, {
      method: method.toUpperCase(),
      headers: {
        authorization: `Bearer ${token[role]}`,
        ...(body !== undefined ? { 'content-type': type } : {}),
      },
      body,
    });
    return { status: res.status, text: await res.text() };
  };

  test('every route with a body answers generated bodies without a 500', async () => {
    const routes = Object.entries(doc.paths).flatMap(([template, item]) =>
      Object.entries(item)
        .filter(
          ([method, op]) =>
            method !== 'get' &&
            method !== 'delete' &&
            (op.requestBody || BODY_SEEDS[`${method} ${template}`] !== undefined),
        )
        .map(([method, op]) => ({ key: `${method} ${template}`, method, template, op })),
    );
    for (const r of routes) assert.ok(r.key in BODY_SEEDS, `${r.key} has no seed in corpus/api-bodies.json`);
    assert.ok(routes.length >= 7, `walked ${routes.length} routes`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.nat(),
        fc.oneof(
          { weight: 6, arbitrary: fc.constant('mutate' as const) },
          { weight: 1, arbitrary: fc.constant('json' as const) },
          { weight: 1, arbitrary: fc.constant('text' as const) },
        ),
        fc.context(),
        async (route, pick, how, ctx) => {
          const seed = BODY_SEEDS[route.key];
          const body =
            how === 'mutate'
              ? fc.sample(mutatedValue(seed, 3), { seed: pick, numRuns: 1 })[0]
              : how === 'json'
                ? fc.sample(fc.jsonValue(), { seed: pick, numRuns: 1 })[0]
                : fc.sample(fc.string({ unit: 'binary' }), { seed: pick, numRuns: 1 })[0];
          const text = typeof body === 'string' && how !== 'json' ? body : JSON.stringify(body);
          const path = route.template.replace(/\{(\w+)\}/g, (_, n: string) => PATH_SAMPLE[n] ?? 'x');
          const type = route.key.includes('/whep/') ? 'application/sdp' : 'application/json';
          ctx.log(`${route.key} ${show(text)}`);
          const res = await call(route.method, path, route.op['x-required-role'], text ?? '', type);
          assert.ok(res.status < 500 || res.status === 503, `${res.status} ${res.text}`);
          assert.doesNotMatch(
            res.text,
            /Failed query|\bselect\b.*\bfrom\b|at .*\.ts:\d+/i,
            'no SQL or stack in answers',
          );
        },
      ),
      params(150),
    );
    await health();
  });

  test('every route with query parameters answers generated values without a 500', async () => {
    const routes = Object.entries(doc.paths).flatMap(([template, item]) =>
      Object.entries(item).flatMap(([method, op]) => {
        const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        return method === 'get' && (query.length > 0 || pathParams.length > 0)
          ? [{ template, role: op['x-required-role'], query, pathParams }]
          : [];
      }),
    );
    const value = fc.oneof(
      edgeValue.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
      fc.constantFrom(
        'edge-1',
        'cam1',
        'run1',
        '1',
        '0',
        '-1',
        '1750000000000',
        'now',
        '2026-01-01T00:00:00Z',
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.dictionary(fc.constantFrom('x', 'limit'), value, { maxKeys: 2 }),
        fc.array(value, { minLength: 8, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        async (route, extra, values, use) => {
          const qs = new URLSearchParams(extra);
          route.query.forEach((name, i) => {
            if (use[i]) qs.set(name, values[i]!);
          });
          let i = 0;
          const path = route.template.replace(/\{(\w+)\}/g, (_, n: string) =>
            encodeURIComponent(use[7 - i] ? values[7 - i++]! : (PATH_SAMPLE[n] ?? 'x')),
          );
          const res = await call('get', `${path}?${qs}`, route.role);
          assert.ok(
            res.status < 500 || res.status === 503,
            `GET ${path}?${qs}: ${res.status} ${res.text.slice(0, 300)}`,
          );
        },
      ),
      params(200),
    );
    await health();
  });

  test('uplink frames: every one is answered, none makes the store fail, valid batches are acked', async () => {
    const edgeToken = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-1' })).token;
    let up: Uplink | undefined;
    let probe = 0;
    const connect = async () => {
      up?.ws.terminate();
      up = await new Uplink(hub.url, edgeToken).open();
      up.send(FRAME_SEEDS[0]!);
      await up.until((m) => m.t === 'welcome');
      return up;
    };
    const frame = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .constantFrom(...FRAME_SEEDS)
          .chain((s) => mutatedValue(decode(s), 4))
          .map((v) => encoder.encode(v)),
      },
      { weight: 2, arbitrary: fc.constantFrom(...FRAME_SEEDS).chain((s) => mutatedBytes(s, 4)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    );
    await fc.assert(
      fc.asyncProperty(frame, async (bytes) => {
        const c = up && !up.closed ? up : await connect();
        const seq = ++probe;
        c.send(bytes);
        // A batch that can never be stored, answered in order after anything the frame queued.
        c.send({ t: 'batch', streamId: 'probe', run: 'probe', seq, points: 'x' });
        const got = await c.until((m) => m.t === 'error' && m.streamId === 'probe' && m.seq === seq);
        const where = `frame ${show(bytes)} got ${JSON.stringify(got)}`;
        assert.ok(
          c.closeCode === undefined || [4002, 4003].includes(c.closeCode),
          `closed ${c.closeCode}: ${where}`,
        );
        for (const m of got) {
          if (m.t !== 'error') continue;
          assert.ok(!['STORE_FAILED', 'STORE_UNAVAILABLE', 'INTERNAL'].includes(m.code), where);
          assert.doesNotMatch(m.message, /^[0-9A-Z]{5}: /, `the database refused it: ${where}`);
        }
        let raw: unknown;
        try {
          raw = decode(bytes);
        } catch {
          return;
        }
        const parsed = EdgeMessageSchema.safeParse(raw);
        if (parsed.success && parsed.data.t === 'batch' && !c.closed) {
          const b = parsed.data;
          const mine = got.filter((m) => 'seq' in m && m.seq === b.seq && m.streamId === b.streamId);
          assert.ok(
            mine.some((m) => m.t === 'ack') ||
              mine.some((m) => m.t === 'error' && /^(THUMBNAIL|EMBEDDING|BATCH)_INVALID$/.test(m.code)),
            `a valid batch was neither acked nor refused for its content: ${where}`,
          );
        }
      }),
      params(200),
    );
    up?.ws.terminate();
    await health();
  });

  test('the uplink protocol version in the seed hello is the current one', () => {
    assert.equal((decode(FRAME_SEEDS[0]!) as { protocol: number }).protocol, UPLINK_PROTOCOL);
  });
});
