import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EnrollError, enrollEdge, loadCredential, saveCredential } from './enroll.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-enroll-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function fakeHub(answer: (body: Record<string, unknown>) => { status: number; body: string }): Promise<{
  url: string;
  server: Server;
  requests: { url?: string; method?: string; authorization?: string; body: unknown }[];
}> {
  const requests: { url?: string; method?: string; authorization?: string; body: unknown }[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      requests.push({ url: req.url, method: req.method, authorization: req.headers.authorization, body });
      const a = answer(body);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, requests };
}

test('enrollEdge posts the enrollment token and returns the credential on 201', async () => {
  const hub = await fakeHub((b) => ({
    status: 201,
    body: JSON.stringify({ edgeId: b.edgeId, token: 'slt_edge_secret' }),
  }));
  try {
    const cred = await enrollEdge({
      hubUrl: hub.url,
      enrollmentToken: 'enr_123',
      edgeId: 'edge-1',
      name: 'Lobby',
    });
    assert.deepEqual(cred, { hubUrl: hub.url, edgeId: 'edge-1', token: 'slt_edge_secret' });
    assert.deepEqual(hub.requests, [
      {
        url: '/api/v1/enroll',
        method: 'POST',
        authorization: 'Bearer enr_123',
        body: { edgeId: 'edge-1', name: 'Lobby' },
      },
    ]);
  } finally {
    hub.server.close();
  }
});

test("a hub error JSON becomes an error carrying the hub's code and message", async () => {
  const hub = await fakeHub(() => ({
    status: 401,
    body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'token refused (expired)' } }),
  }));
  try {
    await assert.rejects(enrollEdge({ hubUrl: hub.url, enrollmentToken: 'old', edgeId: 'edge-1' }), (err) => {
      assert.ok(err instanceof EnrollError);
      assert.equal(err.code, 'UNAUTHORIZED');
      assert.equal(err.status, 401);
      assert.match(err.message, /HTTP 401 UNAUTHORIZED\): token refused \(expired\)/);
      return true;
    });
  } finally {
    hub.server.close();
  }
});

test('a hub error code outside the catalogue becomes BAD_RESPONSE, the message naming it', async () => {
  const hub = await fakeHub(() => ({
    status: 401,
    body: JSON.stringify({ error: { code: 'ENROLLMENT_INVALID', message: 'enrollment token expired' } }),
  }));
  try {
    await assert.rejects(enrollEdge({ hubUrl: hub.url, enrollmentToken: 'old', edgeId: 'edge-1' }), (err) => {
      assert.ok(err instanceof EnrollError);
      assert.equal(err.code, 'BAD_RESPONSE');
      assert.equal(err.status, 401);
      assert.match(err.message, /HTTP 401 ENROLLMENT_INVALID\): enrollment token expired/);
      return true;
    });
  } finally {
    hub.server.close();
  }
});

test('a 201 without a token and a non-JSON error are clear errors', async () => {
  let answer = { status: 201, body: '{"edgeId":"edge-1"}' };
  const hub = await fakeHub(() => answer);
  try {
    await assert.rejects(
      enrollEdge({ hubUrl: hub.url, enrollmentToken: 't', edgeId: 'edge-1' }),
      /no \{ edgeId, token \}/,
    );
    answer = { status: 502, body: 'Bad Gateway' };
    await assert.rejects(
      enrollEdge({ hubUrl: hub.url, enrollmentToken: 't', edgeId: 'edge-1' }),
      /HTTP 502\): Bad Gateway/,
    );
  } finally {
    hub.server.close();
  }
});

test('a hub that is not listening gives a clear error', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await assert.rejects(enrollEdge({ hubUrl: url, enrollmentToken: 't', edgeId: 'edge-1' }), (err) => {
    assert.ok(err instanceof EnrollError);
    assert.equal(err.code, 'HUB_UNREACHABLE');
    assert.match(err.message, new RegExp(`cannot reach hub at ${url} to enroll: .*ECONNREFUSED`));
    return true;
  });
});

test('credential.json: saved atomically with mode 0600, loaded back, undefined when missing', async () => {
  const dir = join(tempDir(), 'state');
  assert.equal(await loadCredential(dir), undefined);
  const cred = { hubUrl: 'https://hub.example', edgeId: 'edge-1', token: 'slt_edge_secret' };
  const path = await saveCredential(dir, cred);
  assert.equal(path, join(dir, 'credential.json'));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(await loadCredential(dir), cred);
  await saveCredential(dir, { ...cred, token: 'rotated' });
  assert.equal((await loadCredential(dir))?.token, 'rotated');
  assert.deepEqual(readdirSync(dir), ['credential.json'], 'no temp file left');
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test('a malformed credential.json is a clear error naming the file', async () => {
  const dir = tempDir();
  const path = join(dir, 'credential.json');
  writeFileSync(path, '{"hubUrl": "http://hub", ');
  await assert.rejects(loadCredential(dir), (err: Error) => {
    assert.ok(err.message.includes(path));
    assert.match(err.message, /malformed edge credential .*not JSON/);
    return true;
  });
  writeFileSync(path, JSON.stringify({ hubUrl: 'http://hub', edgeId: 'edge-1', token: '' }));
  await assert.rejects(loadCredential(dir), /malformed edge credential .*missing or empty token/);
  writeFileSync(path, '[]');
  await assert.rejects(loadCredential(dir), /malformed edge credential/);
});
