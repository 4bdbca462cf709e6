/**
 * A hub whose mediasoup worker cannot start: it still starts, says live video is off and why, and the media
 * endpoints answer MEDIA_UNAVAILABLE (WHEP 503, edge socket 503, viewer socket an error after auth).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { type HubServer, startHub } from '../server.ts';

describe('a hub without a working mediasoup worker', () => {
  let hub: HubServer;
  let dir: string;
  const tok: Record<string, string> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sightline-nomedia-'));
    // A "worker" that exits at once: mediasoup reads MEDIASOUP_WORKER_BIN when first imported (this process).
    const fake = join(dir, 'mediasoup-worker');
    writeFileSync(fake, '#!/bin/sh\nexit 42\n');
    chmodSync(fake, 0o755);
    process.env.MEDIASOUP_WORKER_BIN = fake;
    hub = await startHub({ port: 0, dataDir: join(dir, 'data'), media: { workers: 1 } });
    tok.viewer = (await hub.tokens.create({ role: 'viewer' })).token;
    tok.edge = (await hub.tokens.create({ role: 'edge', edgeId: 'e1' })).token;
  });
  after(async () => {
    await hub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the hub runs with live video off, saying why', async () => {
    assert.equal(hub.media.available, false);
    assert.ok(hub.media.unavailableReason, 'a reason');
    assert.equal((await fetch(`${hub.url}/health`)).status, 200);
  });

  test('WHEP answers 503 MEDIA_UNAVAILABLE', async () => {
    const res = await fetch(`${hub.url}/api/v1/whep/e1/cam`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok.viewer}`, 'content-type': 'application/sdp' },
      body: 'v=0\r\n',
    });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'MEDIA_UNAVAILABLE');
    assert.match(body.error.message, /live video is off/);
  });

  test('the edge socket is refused with 503, the viewer socket gets MEDIA_UNAVAILABLE after auth', async () => {
    const ws = hub.url.replace(/^http/, 'ws');
    const edge = new WebSocket(`${ws}/api/v1/media/edge`, {
      headers: { authorization: `Bearer ${tok.edge}` },
    });
    const status = await new Promise<number>((ok) => {
      edge.once('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
      edge.once('open', () => ok(101));
      edge.once('error', () => {});
    });
    assert.equal(status, 503);
    const viewer = new WebSocket(`${ws}/api/v1/media/view`);
    const got: { type: string; code?: string }[] = [];
    viewer.on('message', (d) => got.push(JSON.parse(String(d))));
    await new Promise((ok) => viewer.once('open', ok));
    viewer.send(JSON.stringify({ t: 'auth', token: tok.viewer }));
    const code = await new Promise<number>((ok) => viewer.once('close', (c) => ok(c)));
    assert.equal(got[0]?.code, 'MEDIA_UNAVAILABLE');
    assert.equal(code, 1013);
  });
});
