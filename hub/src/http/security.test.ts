import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type HubServer, startHub } from '../server.ts';
import { corsOriginsFromEnv, parseCorsOrigins } from './security.ts';

const ALLOWED = 'https://dashboard.example.com';
const OTHER = 'https://evil.example.net';

/** Asserts the security headers every hub response carries; returns the CSP's nonce, if any. */
function assertSecurityHeaders(res: Response, where: string): string | undefined {
  const h = res.headers;
  assert.equal(h.get('x-content-type-options'), 'nosniff', `${where}: nosniff`);
  assert.equal(h.get('x-frame-options'), 'DENY', `${where}: X-Frame-Options`);
  assert.equal(h.get('referrer-policy'), 'no-referrer', `${where}: Referrer-Policy`);
  assert.equal(h.get('cross-origin-opener-policy'), 'same-origin', `${where}: COOP`);
  assert.equal(h.get('cross-origin-resource-policy'), 'same-origin', `${where}: CORP`);
  assert.equal(h.get('strict-transport-security'), null, `${where}: no HSTS (the TLS proxy's call)`);
  assert.equal(h.get('x-powered-by'), null, `${where}: no X-Powered-By`);
  const csp = h.get('content-security-policy');
  assert.ok(csp, `${where}: a Content-Security-Policy`);
  const directives = new Map(
    csp.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name!, values] as const;
    }),
  );
  assert.deepEqual(directives.get('default-src'), ["'self'"], `${where}: default-src`);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], `${where}: frame-ancestors`);
  assert.deepEqual(directives.get('object-src'), ["'none'"], `${where}: object-src`);
  assert.deepEqual(directives.get('base-uri'), ["'none'"], `${where}: base-uri`);
  assert.deepEqual(directives.get('connect-src'), ["'self'"], `${where}: connect-src`);
  assert.deepEqual(directives.get('img-src'), ["'self'", 'data:', 'blob:'], `${where}: img-src`);
  assert.deepEqual(directives.get('media-src'), ["'self'", 'blob:', 'mediastream:'], `${where}: media-src`);
  const scripts = directives.get('script-src') ?? [];
  assert.equal(scripts[0], "'self'", `${where}: script-src 'self'`);
  assert.match(scripts[1] ?? '', /^'nonce-[A-Za-z0-9+/]{22}==?'$/, `${where}: script-src nonce`);
  assert.equal(scripts.length, 2, `${where}: script-src has nothing else (no unsafe-inline / unsafe-eval)`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${where}: nothing unsafe or wildcard`);
  assert.deepEqual(directives.get('style-src'), scripts, `${where}: style-src like script-src`);
  assert.equal(h.get('access-control-allow-origin'), null, `${where}: no CORS by default`);
  return /'nonce-([^']+)'/.exec(csp)?.[1];
}

describe('hub security headers', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-security-'));
  let hub: HubServer;
  let viewer: string;

  before(async () => {
    hub = await startHub({ port: 0, dataDir, databaseUrl: '', media: { enabled: false } });
    viewer = (await hub.tokens.create({ role: 'viewer' })).token;
  });
  after(async () => {
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('every kind of response carries them: pages, API documents, health, an API route, a 404, a refusal', async () => {
    const auth = { authorization: `Bearer ${viewer}` };
    const cases: [string, RequestInit, number][] = [
      ['/', {}, 200],
      ['/viewer', {}, 200],
      ['/viewer/viewer.js', {}, 200],
      ['/api/v1/docs', {}, 200],
      ['/api/v1/openapi.json', {}, 200],
      ['/health', {}, 200],
      ['/api/v1/edges', { headers: auth }, 200],
      ['/api/v1/edges', {}, 401],
      ['/api/v1/nope', { headers: auth }, 404],
      ['/nope', {}, 404],
    ];
    const nonces = new Set<string | undefined>();
    for (const [path, init, status] of cases) {
      const res = await fetch(hub.url + path, init);
      assert.equal(res.status, status, path);
      nonces.add(assertSecurityHeaders(res, `${path} (${status})`));
      await res.body?.cancel();
    }
    assert.equal(nonces.size, cases.length, 'a fresh nonce per response');
  });

  test('the status page and the docs page mark their inline script and style with the nonce, and only those', async () => {
    for (const path of ['/', '/api/v1/docs']) {
      const res = await fetch(hub.url + path);
      const nonce = assertSecurityHeaders(res, path);
      const html = await res.text();
      const tags = html.match(/<(script|style)\b[^>]*>/g) ?? [];
      assert.deepEqual(tags, [`<style nonce="${nonce}">`, `<script nonce="${nonce}">`], path);
      assert.doesNotMatch(html, /\sstyle="|\son[a-z]+=/, `${path}: no inline style attribute or on* handler`);
    }
    const viewerHtml = await (await fetch(`${hub.url}/viewer`)).text();
    assert.doesNotMatch(
      viewerHtml,
      /<script(?![^>]*\ssrc=)|<style|\sstyle="|\son[a-z]+=/,
      'viewer: no inline code',
    );
  });

  test('no CORS without configured origins: no allow-origin, and a preflight is not approved', async () => {
    const res = await fetch(`${hub.url}/api/v1/edges`, {
      headers: { authorization: `Bearer ${viewer}`, origin: ALLOWED },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    await res.body?.cancel();
    const pre = await fetch(`${hub.url}/api/v1/edges`, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    assert.equal(pre.headers.get('access-control-allow-methods'), null);
    assert.equal(pre.headers.get('access-control-allow-headers'), null);
    assertSecurityHeaders(pre, 'OPTIONS preflight');
    await pre.body?.cancel();
  });
});

describe('hub CORS for configured origins', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sightline-cors-'));
  let hub: HubServer;
  let viewer: string;

  before(async () => {
    hub = await startHub({
      port: 0,
      dataDir,
      databaseUrl: '',
      media: { enabled: false },
      cors: [`${ALLOWED}/`, 'http://localhost:5173'],
    });
    viewer = (await hub.tokens.create({ role: 'viewer' })).token;
  });
  after(async () => {
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const preflight = (origin: string) =>
    fetch(`${hub.url}/api/v1/edges`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });

  test('an allowed origin gets its preflight approved and may read answers (no credentials)', async () => {
    const pre = await preflight(ALLOWED);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /\bauthorization\b/);
    assert.equal(pre.headers.get('access-control-allow-credentials'), null);
    assert.match(pre.headers.get('vary') ?? '', /Origin/);
    const res = await fetch(`${hub.url}/api/v1/edges`, {
      headers: { authorization: `Bearer ${viewer}`, origin: ALLOWED },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(res.headers.get('vary') ?? '', /Origin/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', 'the security headers stay');
    await res.body?.cancel();
    const refused = await fetch(`${hub.url}/api/v1/edges`, { headers: { origin: ALLOWED } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), ALLOWED, 'its page can read the error');
    await refused.body?.cancel();
  });

  test('another origin gets nothing CORS, on a request or a preflight', async () => {
    const res = await fetch(`${hub.url}/api/v1/edges`, {
      headers: { authorization: `Bearer ${viewer}`, origin: OTHER },
    });
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.match(res.headers.get('vary') ?? '', /Origin/);
    await res.body?.cancel();
    const pre = await preflight(OTHER);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    assert.equal(pre.headers.get('access-control-allow-methods'), null);
    await pre.body?.cancel();
    const none = await fetch(`${hub.url}/health`);
    assert.equal(none.headers.get('access-control-allow-origin'), null, 'no Origin, no CORS');
    await none.body?.cancel();
  });
});

describe('CORS origin configuration', () => {
  test('origins are normalised; a path, a wildcard or another scheme is refused', () => {
    assert.deepEqual(
      parseCorsOrigins(['https://a.example/', ' http://localhost:5173 ', 'https://a.example']),
      ['https://a.example', 'http://localhost:5173'],
    );
    for (const bad of [
      '*',
      'https://a.example/app',
      'a.example',
      'ftp://a.example',
      'https://a.example?x=1',
    ]) {
      assert.throws(() => parseCorsOrigins([bad]), RangeError, bad);
    }
  });

  test('$SIGHTLINE_CORS_ORIGINS is a comma or space separated list; unset means none', () => {
    assert.deepEqual(corsOriginsFromEnv({}), []);
    assert.deepEqual(
      corsOriginsFromEnv({ SIGHTLINE_CORS_ORIGINS: 'https://a.example, https://b.example:8443' }),
      ['https://a.example', 'https://b.example:8443'],
    );
    assert.throws(() => corsOriginsFromEnv({ SIGHTLINE_CORS_ORIGINS: '*' }), RangeError);
  });
});
