import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConfigError,
  type EdgeConfig,
  parseEdgeConfig,
  SightlineError,
  type StreamConfig,
  type StreamStats,
} from '@sightline/shared';
import { type RegisteredStream, StreamRegistry, type StreamRegistryHost } from './stream-registry.ts';

interface FakeStream extends RegisteredStream {
  state: StreamStats['state'];
  /** Which open() this is (1, 2, ...); a carried stream keeps the first one's `origin`. */
  serial: number;
  origin: number;
  retired: boolean;
  tracker: number;
}

/** A host that records what the registry asks of it, in order. */
function fakeHost(options: { ready?: () => Promise<void>; canStart?: boolean } = {}) {
  const log: string[] = [];
  let serial = 0;
  let trackers = 0;
  const host: StreamRegistryHost<FakeStream> = {
    ready: options.ready ?? (() => Promise.resolve()),
    open(config: StreamConfig & { id: string }, carry?: FakeStream): FakeStream {
      serial++;
      log.push(`open ${config.id}${carry ? ' (carry)' : ''}`);
      return {
        config,
        state: carry?.state ?? 'starting',
        serial,
        origin: carry?.origin ?? serial,
        retired: false,
        tracker: ++trackers,
      };
    },
    start(s, announce) {
      log.push(`start ${s.config.id}${announce ? ' (announce)' : ''}`);
      s.state = 'running';
    },
    async retire(s) {
      log.push(`retire ${s.config.id}`);
      s.retired = true;
    },
    stop(s) {
      log.push(`stop ${s.config.id}`);
      s.state = 'stopped';
    },
    checkCanStart() {
      if (options.canStart === false)
        throw new SightlineError('INFERENCE_FAILED', 'inference stopped for good');
    },
    stats: (s) => ({ streamId: s.config.id, state: s.state }) as StreamStats,
    forget: (id) => log.push(`forget ${id}`),
    reconfigure: (next, old) =>
      log.push(`reconfigure maxWaitMs ${old.inference.maxWaitMs} -> ${next.inference.maxWaitMs}`),
    retrack(s) {
      s.tracker = ++trackers;
      log.push(`retrack ${s.config.id}`);
    },
    removed: (id) => log.push(`removed ${id}`),
    checkEnd: () => log.push('checkEnd'),
    applied: (change) => log.push(`applied ${change.applied.join(',')}`),
  };
  return { host, log };
}

const config = (streams: { id: string; source: string }[]): EdgeConfig => parseEdgeConfig({ streams });

function registry(options: Parameters<typeof fakeHost>[0] = {}) {
  const { host, log } = fakeHost(options);
  const r = new StreamRegistry<FakeStream>({
    host,
    config: config([
      { id: 'a', source: 'a.mp4' },
      { id: 'b', source: 'b.mp4' },
    ]),
    edgeId: 'e1',
  });
  r.openAll();
  log.length = 0;
  return { r, log };
}

describe('StreamRegistry', () => {
  test('openAll opens every configured stream, then starts them', () => {
    const { host, log } = fakeHost();
    const r = new StreamRegistry<FakeStream>({
      host,
      config: config([
        { id: 'a', source: 'a.mp4' },
        { id: 'b', source: 'b.mp4' },
      ]),
      edgeId: 'e1',
    });
    r.openAll();
    assert.deepEqual(log, ['open a', 'open b', 'start a', 'start b']);
    assert.deepEqual(
      [...r.values()].map((s) => s.config.id),
      ['a', 'b'],
    );
  });

  test('addStream validates, picks the first free camN, announces the start and adds it to the config', async () => {
    const { r, log } = registry();
    const stats = await r.addStream({ source: 'c.mp4' });
    assert.equal(stats.streamId, 'cam3');
    assert.deepEqual(log, ['open cam3', 'start cam3 (announce)']);
    assert.deepEqual(
      r.config.streams.map((s) => s.id),
      ['a', 'b', 'cam3'],
    );
    await assert.rejects(r.addStream({ id: 'a', source: 'x.mp4' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues, ['id: stream "a" already exists']);
      return true;
    });
    await assert.rejects(r.addStream({ source: 'x.mp4', colour: 'blue' } as never), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues, ['colour: unknown field']);
      return true;
    });
    assert.equal(r.size, 3, 'a rejected stream is not added');
  });

  test('removeStream retires, forgets and removes a stream; an unknown id is STREAM_UNKNOWN', async () => {
    const { r, log } = registry();
    await r.removeStream('a');
    assert.deepEqual(log, ['retire a', 'forget a', 'removed a', 'checkEnd']);
    assert.equal(r.get('a'), undefined);
    assert.deepEqual(
      r.config.streams.map((s) => s.id),
      ['b'],
    );
    await assert.rejects(r.removeStream('zz'), {
      code: 'STREAM_UNKNOWN',
      message: 'no stream "zz" on edge e1',
    });
  });

  test('stopStream stops then retires once; startStream reopens a stopped stream carrying it', async () => {
    const { r, log } = registry();
    assert.equal((await r.stopStream('a')).state, 'stopped');
    assert.equal((await r.stopStream('a')).state, 'stopped');
    assert.deepEqual(log, ['stop a', 'retire a']);
    const before = r.get('a')!;
    log.length = 0;
    assert.equal((await r.startStream('a')).state, 'running');
    assert.deepEqual(log, ['retire a', 'forget a', 'open a (carry)', 'start a']);
    const after = r.get('a')!;
    assert.notEqual(after, before);
    assert.equal(after.origin, before.serial, 'the new stream carries the old one');
    log.length = 0;
    await r.startStream('a');
    assert.deepEqual(log, [], 'a live stream is left alone');
  });

  test('startStream refuses when the host cannot start streams any more', async () => {
    const { r } = registry({ canStart: false });
    await r.stopStream('a');
    await assert.rejects(r.startStream('a'), { code: 'INFERENCE_FAILED' });
  });

  test('applyConfig: removed, then the rest of the config, restarted, re-tracked, added; then applied', async () => {
    const { r, log } = registry();
    const b = r.get('b')!;
    const tracker = b.tracker;
    const { applied } = await r.applyConfig({
      streams: [
        { id: 'b', source: 'b.mp4' },
        { id: 'c', source: 'c.mp4' },
      ],
      inference: { maxWaitMs: 7 },
      tracker: { type: 'bytetrack', highThreshold: 0.7 },
    });
    assert.deepEqual([...applied].sort(), [
      'inference.maxWaitMs',
      'streams.a',
      'streams.c',
      'tracker.highThreshold',
    ]);
    assert.deepEqual(log, [
      'retire a',
      'forget a',
      'removed a',
      'reconfigure maxWaitMs 5 -> 7',
      'retrack b',
      'open c',
      'start c (announce)',
      `applied ${applied.join(',')}`,
    ]);
    assert.equal(r.get('b'), b, 'an unchanged stream keeps running');
    assert.notEqual(b.tracker, tracker, 'with a new tracker');
    assert.equal(r.config.inference.maxWaitMs, 7);
  });

  test('applyConfig restarts a changed stream under its id with fresh counters', async () => {
    const { r, log } = registry();
    await r.applyConfig({
      streams: [
        { id: 'a', source: 'a.mp4' },
        { id: 'b', source: 'b2.mp4' },
      ],
    });
    assert.deepEqual(log.slice(1), [
      'retire b',
      'forget b',
      'open b',
      'start b (announce)',
      'applied streams.b',
    ]);
    assert.equal(r.get('b')!.origin, r.get('b')!.serial, 'not carried');
  });

  test('a rejected patch changes nothing', async () => {
    const { r, log } = registry();
    await assert.rejects(r.applyConfig({ detector: { model: 'yolox_s' } }), {
      code: 'CONFIG_RESTART_REQUIRED',
    });
    assert.deepEqual(log, []);
    assert.equal(r.size, 2);
  });

  test('control operations run one at a time, after the host is ready, and report why not', async () => {
    let open!: () => void;
    const ready = new Promise<void>((resolve) => {
      open = resolve;
    });
    const { r, log } = registry({ ready: () => ready });
    const first = r.stopStream('a');
    const second = r.removeStream('a');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log, [], 'nothing runs before the host is ready');
    open();
    await first;
    await second;
    assert.deepEqual(log, ['stop a', 'retire a', 'retire a', 'forget a', 'removed a', 'checkEnd']);
    await r.settled();
    const closed = registry({ ready: () => Promise.reject(new SightlineError('CLOSED', 'closed')) });
    await assert.rejects(closed.r.addStream({ source: 'x.mp4' }), { code: 'CLOSED' });
    await assert.rejects(closed.r.stopStream('a'), { code: 'CLOSED' }, 'the chain goes on after a failure');
  });
});
