/**
 * The hub over TLS (docs/tls.md) with a self-signed certificate made here with openssl: HTTPS for /health and the
 * API, WSS for the uplink and the signalling sockets; an edge that trusts the certificate (hub.ca) enrolls and
 * delivers batches, one that does not gets a plain-words error and keeps retrying; bad certificate files stop the
 * hub's start with the file's name.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  EdgeAgent,
  EnrollError,
  enrollEdge,
  type HubTls,
  hubRequest,
  loadHubCa,
  Outbox,
  UplinkClient,
} from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { type Batch, parseEdgeConfig } from '@sightline/shared';
import { WebSocket } from 'ws';
import { cliHarness } from './cli-harness.ts';
import { modelsDir } from './helpers.ts';

const openssl = spawnSync('openssl', ['version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'sightline-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed P-256 certificate for localhost and 127.0.0.1, valid one day; returns its cert and key paths. */
function selfSigned(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

function batch(seq: number): Batch {
  return {
    t: 'batch',
    streamId: 'cam1',
    run: 'r1',
    seq,
    points: [[1, 1_700_000_000_000 + seq, 1.5, 2, 30, 40, 0.9]],
    tracks: [
      {
        trackId: 1,
        label: 'person',
        classId: 0,
        firstSeen: 1_700_000_000_000,
        lastSeen: 1_700_000_000_000 + seq,
      },
    ],
    thumbnails: [],
    embeddings: [],
    events: [],
  };
}

function uplink(hubUrl: string, token: string, tls?: HubTls) {
  return new UplinkClient({
    hubUrl,
    token,
    edgeId: 'edge-tls',
    run: 'r1',
    outbox: Outbox.open({ dir: mkdtempSync(join(dir, 'outbox-')) }),
    hello: () => ({ version: '0.1.0', model: 'yolox_nano', provider: 'cpu', streams: [] }),
    heartbeat: () => ({ streams: [] }),
    onCommand: async () => ({ ok: true }),
    backoff: { initialDelayMs: 20, maxDelayMs: 100 },
    tls,
  });
}

/** GET over https trusting `ca`: status, headers and body. */
function httpsGetText(
  url: string,
  ca: string | undefined,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    }).on('error', reject);
  });
}

describe('the hub over TLS', { skip: !openssl && 'openssl is not installed', timeout: 120_000 }, () => {
  let hub: HubServer;
  let files: { cert: string; key: string };
  let tls: HubTls;
  let viewer: string;

  before(async () => {
    files = selfSigned('hub');
    tls = loadHubCa(files.cert);
    hub = await startHub({
      port: 0,
      dataDir: join(dir, 'data'),
      media: { enabled: false },
      heartbeatMs: 300,
      tlsCert: files.cert,
      tlsKey: files.key,
    });
    viewer = (await hub.tokens.create({ role: 'viewer' })).token;
  });
  after(async () => {
    await hub?.close();
  });

  test('serves /health and the API over HTTPS, with HSTS', async () => {
    assert.match(hub.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await httpsGetText(`${hub.url}/health`, tls.ca);
    assert.equal(health.status, 200);
    assert.equal(health.headers['strict-transport-security'], 'max-age=15552000');
    const edges = await hubRequest(`${hub.url}/api/v1/edges`, {
      headers: { authorization: `Bearer ${viewer}` },
      tls,
    });
    assert.equal(edges.status, 200);
    assert.deepEqual(JSON.parse(edges.text), { edges: [] });
  });

  test('refuses clients that do not trust the certificate, and plain HTTP', async () => {
    await assert.rejects(httpsGetText(`${hub.url}/health`, undefined), {
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    await assert.rejects(fetch(`${hub.url}/health`), (err: Error) => {
      assert.match(String((err.cause as Error | undefined)?.message), /self-signed certificate/);
      return true;
    });
    // Plain HTTP to the TLS port gets no HTTP answer.
    await assert.rejects(
      new Promise((resolve, reject) =>
        httpGet(hub.url.replace('https:', 'http:'), resolve)
          .on('error', reject)
          .setTimeout(5000, () => reject(new Error('timeout'))),
      ),
    );
  });

  test('an edge with hub.ca enrolls over HTTPS and delivers batches over WSS', async () => {
    const enrollmentToken = (await hub.tokens.create({ role: 'enroll', edgeId: 'edge-tls' })).token;
    const credential = await enrollEdge({ hubUrl: hub.url, enrollmentToken, edgeId: 'edge-tls', tls });
    assert.equal(credential.edgeId, 'edge-tls');
    const client = uplink(hub.url, credential.token, tls);
    assert.equal(client.url, hub.url.replace('https:', 'wss:') + '/api/v1/uplink');
    const acked: number[] = [];
    client.on('acked', (_s, _r, seq) => acked.push(seq));
    const connected = new Promise<void>((resolve) => client.once('connected', resolve));
    client.start();
    try {
      await connected;
      for (let seq = 1; seq <= 5; seq++) client.send(batch(seq));
      const deadline = Date.now() + 15_000;
      while (acked.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(acked, [1, 2, 3, 4, 5]);
      assert.equal((await hub.fleet.get('edge-tls'))?.connected, true);
    } finally {
      await client.close();
    }
  });

  test('an edge without the CA: enrolling fails in plain words, the uplink keeps retrying', async () => {
    const enrollmentToken = (await hub.tokens.create({ role: 'enroll', edgeId: 'edge-untrusting' })).token;
    await assert.rejects(
      enrollEdge({ hubUrl: hub.url, enrollmentToken, edgeId: 'edge-untrusting' }),
      (err: unknown) => {
        assert.ok(err instanceof EnrollError);
        assert.equal(err.code, 'HUB_CERT_REFUSED');
        assert.match(
          err.message,
          /the hub's certificate is not trusted: self-signed certificate; pass --hub-ca <file>/,
        );
        return true;
      },
    );
    const edgeToken = (await hub.tokens.create({ role: 'edge', edgeId: 'edge-tls' })).token;
    const client = uplink(hub.url, edgeToken);
    const reasons: string[] = [];
    client.on('connect-failed', (reason) => reasons.push(reason));
    client.start();
    try {
      const deadline = Date.now() + 10_000;
      while (reasons.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(reasons.length >= 3, `retried (${reasons.length} attempts)`);
      for (const r of reasons)
        assert.match(r, /the hub's certificate is not trusted: self-signed certificate/);
      assert.equal(client.connected, false);
    } finally {
      await client.close();
    }
    // A CA that did not sign the hub's certificate: the message names the bundle.
    const other = loadHubCa(selfSigned('other').cert);
    await assert.rejects(
      enrollEdge({ hubUrl: hub.url, enrollmentToken, edgeId: 'edge-untrusting', tls: other }),
      {
        code: 'HUB_CERT_REFUSED',
        message: /not signed by a CA in .*other\.crt \(hub\.ca, --hub-ca\)/,
      },
    );
  });

  test('the signalling WebSockets upgrade over WSS; unknown paths still get 404', async () => {
    const wss = hub.url.replace('https:', 'wss:');
    const ws = new WebSocket(`${wss}/api/v1/media/view`, { ca: tls.ca });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.close();
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const bad = new WebSocket(`${wss}/api/v1/nowhere`, { ca: tls.ca });
      bad.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode);
        bad.terminate();
      });
      bad.once('error', reject);
    });
    assert.equal(status, 404);
  });

  test('an EdgeAgent with hub.ca connects over WSS', async () => {
    const enrollmentToken = (await hub.tokens.create({ role: 'enroll', edgeId: 'edge-agent-tls' })).token;
    const agent = await EdgeAgent.start(
      parseEdgeConfig({
        edgeId: 'edge-agent-tls',
        modelsDir: modelsDir(),
        streams: [],
        inference: { sessions: 1 },
        webrtc: { enabled: false },
        hub: { url: hub.url, enrollmentToken, stateDir: mkdtempSync(join(dir, 'state-')), ca: files.cert },
      }),
    );
    try {
      const deadline = Date.now() + 20_000;
      while (!agent.uplink?.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(agent.uplink?.connected, true);
    } finally {
      await agent.close();
    }
  });
});

describe('bad TLS files', { skip: !openssl && 'openssl is not installed' }, () => {
  test('the hub refuses to start, naming the file', async () => {
    const a = selfSigned('a');
    const b = selfSigned('b');
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const data = join(dir, 'bad-data');
    const start = (tlsCert?: string, tlsKey?: string) =>
      startHub({ port: 0, dataDir: data, tlsCert, tlsKey });
    await assert.rejects(start(a.cert), {
      code: 'CONFIG_INVALID',
      message: /TLS needs both .* no key \(--tls-key/,
    });
    await assert.rejects(start(undefined, a.key), { message: /a key \(.*a\.key\) but no certificate/ });
    await assert.rejects(start(join(dir, 'missing.crt'), a.key), {
      message: /cannot read the TLS certificate .*missing\.crt \(--tls-cert\): .*ENOENT/,
    });
    await assert.rejects(start(a.cert, join(dir, 'missing.key')), {
      message: /cannot read the TLS key .*missing\.key \(--tls-key\)/,
    });
    await assert.rejects(start(garbage, a.key), {
      message: /garbage\.pem \(--tls-cert\) is not a PEM certificate/,
    });
    await assert.rejects(start(a.cert, garbage), {
      message: /garbage\.pem \(--tls-key\) is not a PEM private key/,
    });
    await assert.rejects(start(a.cert, b.key), {
      message: /the TLS key .*b\.key does not belong to the certificate .*a\.crt/,
    });
  });

  test('the edge refuses a missing or empty hub.ca', () => {
    const garbage = join(dir, 'garbage-ca.pem');
    writeFileSync(garbage, 'nothing here\n');
    assert.throws(() => loadHubCa(join(dir, 'nope.pem')), {
      code: 'CONFIG_INVALID',
      message: /cannot read the hub CA bundle .*nope\.pem \(hub\.ca, --hub-ca\)/,
    });
    assert.throws(() => loadHubCa(garbage), { message: /holds no PEM certificate/ });
  });
});

describe('sightline hub with --tls-cert / --tls-key', {
  skip: !openssl && 'openssl is not installed',
  timeout: 90_000,
}, () => {
  const cli = cliHarness('sightline-tls-cli-');

  test('one without the other is a usage error; a mismatched key exits 1 naming the files', async () => {
    const a = selfSigned('cli-a');
    const b = selfSigned('cli-b');
    const data = join(cli.dir, 'data');
    const half = await cli.run(
      ['hub', '--port', '0', '--data-dir', data, '--tls-cert', a.cert],
      undefined,
      30_000,
    );
    assert.equal(half.code, 2, half.stderr);
    assert.match(half.stderr, /--tls-cert needs --tls-key \(or \$SIGHTLINE_TLS_KEY\)/);
    const mismatch = await cli.run(
      ['hub', '--port', '0', '--data-dir', data, '--tls-cert', a.cert, '--tls-key', b.key],
      undefined,
      30_000,
    );
    assert.equal(mismatch.code, 1, mismatch.stderr);
    assert.match(mismatch.stderr, /does not belong to the certificate/);
  });

  test('starts on https:// and answers /health with the certificate trusted', async () => {
    const a = selfSigned('cli-ok');
    const child = cli.start([
      'hub',
      '--port',
      '0',
      '--data-dir',
      join(cli.dir, 'data-ok'),
      '--tls-cert',
      a.cert,
      '--tls-key',
      a.key,
    ]);
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (https:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`hub exited ${code}: ${out}`)));
    });
    const health = await httpsGetText(`${url}/health`, loadHubCa(a.cert).ca);
    assert.equal(health.status, 200);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });
});
