import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { askRtsp, explainRtspAnswer, explainRtspOpen } from './rtsp-probe.ts';

const D = 'rtsp://admin:***@cam:554/s';

test('puts every kind of answer into words', () => {
  const say = (a: Parameters<typeof explainRtspAnswer>[0]) => explainRtspAnswer(a, D, 5000, 'Invalid data');
  assert.deepEqual(say({ kind: 'silent' }), {
    code: 'SOURCE_UNREACHABLE',
    message: `${D}: no answer within 5 s (the RTSP server accepted the connection but did not reply)`,
  });
  assert.equal(
    say({ kind: 'unreachable', reason: 'ECONNREFUSED' }).message,
    `Cannot reach ${D}: ECONNREFUSED`,
  );
  assert.match(say({ kind: 'closed' }).message, /closed the connection without an RTSP answer$/);
  assert.equal(
    say({ kind: 'other', firstLine: 'HTTP/1.1 404 Not Found' }).message,
    `${D} is not an RTSP server: it answered with HTTP ("HTTP/1.1 404 Not Found")`,
  );
  assert.equal(say({ kind: 'other', firstLine: 'SSH-2.0-OpenSSH' }).code, 'SOURCE_INVALID');
  assert.match(say({ kind: 'rtsp', status: 401, reason: 'Unauthorized' }).message, /refused the user name/);
  assert.deepEqual(say({ kind: 'rtsp', status: 503, reason: 'Service Unavailable' }), {
    code: 'SOURCE_UNREACHABLE',
    message: `${D}: the RTSP server answered 503 Service Unavailable`,
  });
  assert.equal(say({ kind: 'rtsp', status: 404, reason: 'Not Found' }).code, 'SOURCE_INVALID');
  assert.match(
    say({ kind: 'rtsp', status: 200, reason: 'OK' }).message,
    /answers, but its stream could not be read \(Invalid data\)/,
  );
});

test('askRtsp sends OPTIONS without the credentials and reads the status line', async () => {
  let request = '';
  const server = createServer((socket) =>
    socket.once('data', (d) => {
      request = d.toString();
      socket.end('RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n');
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  try {
    const answer = await askRtsp(`rtsp://admin:hunter2@127.0.0.1:${port}/cam?x=1`, 2000);
    assert.deepEqual(answer, { kind: 'rtsp', status: 200, reason: 'OK' });
    assert.match(
      request,
      new RegExp(`^OPTIONS rtsp://127\\.0\\.0\\.1:${port}/cam\\?x=1 RTSP/1\\.0\\r\\nCSeq: 1\\r\\n`),
    );
    assert.ok(!request.includes('hunter2') && !/authorization/i.test(request));
  } finally {
    server.close();
  }
});

test('an open that used up its timeout is "no answer" without asking the server again', async () => {
  const info = {
    code: 'SOURCE_UNREACHABLE' as const,
    message: 'x',
    diagnose: { rtsp: true as const, detail: 'Invalid data' },
  };
  // Port 9 on this host is never asked: the answer comes from the time the open took.
  const why = await explainRtspOpen(
    info,
    { input: 'rtsp://127.0.0.1:9/s', display: 'rtsp://h/s', openTimeoutMs: 2000 },
    1950,
  );
  assert.equal(
    why.message,
    'rtsp://h/s: no answer within 2 s (the RTSP server accepted the connection but did not reply)',
  );
});
