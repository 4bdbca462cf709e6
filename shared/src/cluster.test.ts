import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClusterMessageSchema, EdgePresenceSchema } from './cluster.ts';

describe('hub <-> hub messages', () => {
  test('a command, its answer and a presence record parse; malformed ones are refused with the field named', () => {
    const cmd = {
      t: 'cmd',
      id: 'c1',
      from: 'hub-a',
      edgeId: 'lobby',
      op: 'applyConfig',
      args: { detector: {} },
    };
    assert.equal(ClusterMessageSchema.parse(cmd).t, 'cmd');
    const res = { t: 'res', id: 'c1', result: { t: 'result', id: 'c1', ok: true } };
    assert.equal(ClusterMessageSchema.parse(res).t, 'res');
    assert.equal(
      ClusterMessageSchema.parse({ t: 'res', id: 'c1', failure: { code: 'EDGE_OFFLINE', message: 'gone' } })
        .t,
      'res',
    );
    const presence = {
      hubId: 'hub-a',
      hubUrl: 'http://a:8080',
      version: '0.1.0',
      streams: [],
      lastHeartbeat: 1,
    };
    assert.deepEqual(EdgePresenceSchema.parse(presence), presence);

    const bad: [unknown, RegExp][] = [
      [{ ...cmd, op: 'rm -rf' }, /op/],
      [{ ...cmd, edgeId: '../x' }, /edgeId/],
      [{ ...cmd, from: undefined }, /from/],
      [{ t: 'nope', id: 'x' }, /t/],
      [{ t: 'res', id: 'c1', result: { ok: 'yes' } }, /result/],
    ];
    for (const [msg, field] of bad) {
      const r = ClusterMessageSchema.safeParse(msg);
      assert.equal(r.success, false, JSON.stringify(msg));
      assert.match(r.error!.issues.map((i) => i.path.join('.')).join(' '), field);
    }
    assert.equal(EdgePresenceSchema.safeParse({ ...presence, lastHeartbeat: 'now' }).success, false);
    assert.equal(EdgePresenceSchema.safeParse({ ...presence, streams: [{ streamId: 1 }] }).success, false);
  });
});
