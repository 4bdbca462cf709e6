import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEdgeConfig } from './config.ts';
import { ID_PATTERN, IdSchema } from './ids.ts';
import {
  EdgeMediaMessageSchema,
  FrameMetaSchema,
  HubToEdgeMediaMessageSchema,
  HubToViewerMessageSchema,
  ViewerToHubMessageSchema,
} from './signalling.ts';
import { BATCH_LIMITS, BatchSchema, EdgeMessageSchema, HubMessageSchema } from './uplink.ts';

const batch = (over: Record<string, unknown> = {}) => ({
  t: 'batch',
  streamId: 'cam1',
  run: 'r1',
  seq: 1,
  points: [],
  tracks: [],
  thumbnails: [],
  embeddings: [],
  events: [],
  ...over,
});

test('one id rule: a letter or digit first, then letters, digits, _ . -, at most 64', () => {
  for (const ok of ['a', 'cam1', 'edge-1', 'A.b_c-d', '0', 'x'.repeat(64)]) {
    assert.ok(ID_PATTERN.test(ok), ok);
    assert.ok(IdSchema.safeParse(ok).success, ok);
  }
  for (const bad of ['', '_x', '-x', '.x', '..', 'a/b', 'a b', 'x'.repeat(65), 'é']) {
    assert.ok(!IdSchema.safeParse(bad).success, bad);
  }
});

test('the uplink, the signalling and the config refuse the same ids', () => {
  for (const id of ['_cam', '-cam', '.cam']) {
    assert.ok(!BatchSchema.safeParse(batch({ streamId: id })).success, `batch streamId ${id}`);
    assert.ok(!BatchSchema.safeParse(batch({ run: id })).success, `batch run ${id}`);
    const publish = { t: 'publish', streamId: id, sdp: 'v=0', video: { codec: 'h264' } };
    assert.ok(!EdgeMediaMessageSchema.safeParse(publish).success, `publish ${id}`);
    assert.throws(
      () => parseEdgeConfig({ edgeId: id, streams: [{ source: 'a.mp4' }] }),
      /edgeId/,
      `config ${id}`,
    );
    assert.throws(
      () => parseEdgeConfig({ streams: [{ id, source: 'a.mp4' }] }),
      /streams\.0\.id/,
      `stream ${id}`,
    );
  }
  assert.ok(BatchSchema.safeParse(batch()).success);
  assert.equal(parseEdgeConfig({ edgeId: 'e1', streams: [{ id: 'cam', source: 'a.mp4' }] }).edgeId, 'e1');
});

test('batch limits are the schema limits', () => {
  const events = Array.from({ length: BATCH_LIMITS.events + 1 }, () => ({ kind: 'k', ts: 1 }));
  assert.ok(!BatchSchema.safeParse(batch({ events })).success);
  assert.ok(BatchSchema.safeParse(batch({ events: events.slice(1) })).success);
});

test('every protocol is discriminated by `t`; `type` names no message', () => {
  assert.ok(!EdgeMessageSchema.safeParse({ ...batch(), t: undefined, type: 'batch' }).success);
  assert.ok(HubMessageSchema.safeParse({ t: 'welcome', protocol: 1, heartbeatMs: 5000 }).success);
  assert.ok(EdgeMediaMessageSchema.safeParse({ t: 'unpublish', streamId: 'cam1' }).success);
  assert.ok(!EdgeMediaMessageSchema.safeParse({ type: 'unpublish', streamId: 'cam1' }).success);
  assert.ok(HubToEdgeMediaMessageSchema.safeParse({ t: 'answer', streamId: 'cam1', sdp: 'v=0' }).success);
  assert.ok(ViewerToHubMessageSchema.safeParse({ t: 'auth', token: 'x' }).success);
  assert.ok(!ViewerToHubMessageSchema.safeParse({ type: 'auth', token: 'x' }).success);
  assert.ok(HubToViewerMessageSchema.safeParse({ t: 'streams', streams: [] }).success);
});

test('hub -> edge uplink messages parse as the hub sends them, unknown fields kept out', () => {
  const ack = HubMessageSchema.parse({ t: 'ack', streamId: 'cam1', run: 'r1', seq: 3, later: true });
  assert.deepEqual(ack, { t: 'ack', streamId: 'cam1', run: 'r1', seq: 3 });
  // An error echoes what the refused message held, valid id or not.
  assert.ok(
    HubMessageSchema.safeParse({ t: 'error', code: 'BAD_MESSAGE', message: 'm', seq: 1.5, streamId: '../x' })
      .success,
  );
  assert.ok(HubMessageSchema.safeParse({ t: 'error', code: 'STORE_UNAVAILABLE', message: 'm' }).success);
  assert.ok(!HubMessageSchema.safeParse({ t: 'ack', streamId: 5 }).success);
  assert.ok(!HubMessageSchema.safeParse({ t: 'welcome', protocol: 1, heartbeatMs: 'soon' }).success);
  assert.ok(!HubMessageSchema.safeParse({ t: 'command', id: 'c1', op: 'selfDestruct', args: {} }).success);
});

test('a published video keeps fields it does not know (viewers get it as sent)', () => {
  const msg = EdgeMediaMessageSchema.parse({
    t: 'publish',
    streamId: 'cam1',
    sdp: 'v=0',
    video: { codec: 'h264', width: 640, height: 480, extra: 'kept' },
  });
  assert.equal(msg.t === 'publish' && msg.video.extra, 'kept');
});

test('a frame metadata record', () => {
  const meta = {
    v: 1,
    rtp: 90_000,
    seq: 4,
    pts: 3600,
    w: 640,
    h: 480,
    t: 1_700_000_000_000.5,
    sent: 1_700_000_000_010.1,
    tracks: [{ id: 1, c: 0, l: 'person', s: 0.9, b: [1, 2, 3, 4], k: [{ l: 'suit', s: 0.61 }] }],
    masks: [{ id: 1, box: [1, 2, 3, 4], w: 2, h: 2, counts: [1, 2, 1] }],
    cls: [{ l: 'street sign', s: 0.4 }],
    seg: { classes: [{ c: 0, l: 'background', f: 1 }], map: { w: 2, h: 2, runs: [0, 4] } },
    skipped: false,
  };
  assert.deepEqual(FrameMetaSchema.parse(meta), meta);
  // k, cls and seg are optional: an older edge's record still parses.
  const { cls: _cls, seg: _seg, ...old } = meta;
  assert.ok(
    FrameMetaSchema.safeParse({ ...old, tracks: [{ id: 1, c: 0, l: 'person', s: 0.9, b: [1, 2, 3, 4] }] })
      .success,
  );
  assert.ok(
    !FrameMetaSchema.safeParse({ ...meta, seg: { classes: [], map: { w: 2, h: 2, runs: [0, 2, 1] } } })
      .success,
  );
  assert.ok(!FrameMetaSchema.safeParse({ ...meta, v: 2 }).success);
  assert.ok(!FrameMetaSchema.safeParse({ ...meta, tracks: [{ id: 1 }] }).success);
});
